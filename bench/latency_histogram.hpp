#pragma once
// A log-linear histogram of durations in nanoseconds: 64 buckets per power of two, so any
// percentile is within 1.6 % of the true value; recording is a few instructions and never
// allocates. One per thread; merged when the run is over.

#include <array>
#include <cstdint>

namespace redchat::bench {

class latency_histogram {
  public:
    void record(std::int64_t ns);
    void merge(const latency_histogram& other);

    std::uint64_t count() const { return count_; }
    // The value (ms) at or below which `percent` % of the samples fall; 0 when empty.
    double percentile_ms(double percent) const;
    double max_ms() const { return static_cast<double>(max_ns_) / 1e6; }
    double mean_ms() const;

  private:
    static constexpr int sub_bits = 6;
    static constexpr std::uint64_t sub_count = std::uint64_t{1} << sub_bits;
    static constexpr std::size_t bucket_count = (64 - sub_bits + 1) * sub_count;

    static std::size_t index_of(std::uint64_t ns);
    static std::uint64_t midpoint_of(std::size_t index);

    std::array<std::uint64_t, bucket_count> counts_{};
    std::uint64_t count_ = 0;
    std::uint64_t max_ns_ = 0;
    double sum_ns_ = 0;
};

}  // namespace redchat::bench
