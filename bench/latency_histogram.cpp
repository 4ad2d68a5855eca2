#include "latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace redchat::bench {

// Values below 64 have a bucket each; above, the bucket is (exponent, top 6 bits after the
// leading one), which keeps the index continuous: 64..127 map to 64..127, 128..255 to 128..191...
std::size_t latency_histogram::index_of(std::uint64_t ns) {
    if (ns < sub_count)
        return static_cast<std::size_t>(ns);
    const int exponent = 63 - std::countl_zero(ns);
    const std::uint64_t sub = (ns >> (exponent - sub_bits)) & (sub_count - 1);
    return static_cast<std::size_t>(
        (static_cast<std::uint64_t>(exponent - sub_bits + 1) * sub_count) + sub);
}

std::uint64_t latency_histogram::midpoint_of(std::size_t index) {
    if (index < sub_count)
        return index;
    const std::uint64_t exponent = index / sub_count + sub_bits - 1;
    const std::uint64_t sub = index % sub_count;
    const std::uint64_t width = std::uint64_t{1} << (exponent - sub_bits);
    return ((sub_count + sub) << (exponent - sub_bits)) + width / 2;
}

void latency_histogram::record(std::int64_t ns) {
    const std::uint64_t v = ns < 0 ? 0 : static_cast<std::uint64_t>(ns);
    ++counts_[index_of(v)];
    ++count_;
    max_ns_ = std::max(max_ns_, v);
    sum_ns_ += static_cast<double>(v);
}

void latency_histogram::merge(const latency_histogram& other) {
    for (std::size_t i = 0; i < bucket_count; ++i)
        counts_[i] += other.counts_[i];
    count_ += other.count_;
    max_ns_ = std::max(max_ns_, other.max_ns_);
    sum_ns_ += other.sum_ns_;
}

double latency_histogram::percentile_ms(double percent) const {
    if (count_ == 0)
        return 0;
    const auto rank = std::max<std::uint64_t>(
        1, static_cast<std::uint64_t>(std::ceil(percent / 100.0 * static_cast<double>(count_))));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < bucket_count; ++i) {
        seen += counts_[i];
        if (seen >= rank)
            return static_cast<double>(std::min(midpoint_of(i), max_ns_)) / 1e6;
    }
    return max_ms();
}

double latency_histogram::mean_ms() const {
    return count_ == 0 ? 0 : sum_ns_ / static_cast<double>(count_) / 1e6;
}

}  // namespace redchat::bench
