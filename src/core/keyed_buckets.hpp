#pragma once
// Token buckets by key (a user id), shared by every I/O thread: a user whose connections sit on
// several threads still gets one rate. Sharded mutexes guard a bucket update, never I/O.

#include <algorithm>
#include <array>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/token_bucket.hpp"

namespace redchat {

class keyed_buckets {
  public:
    using time_point = token_bucket::time_point;

    keyed_buckets(double rate_per_second, double burst) : rate_(rate_per_second), burst_(burst) {}

    // Takes a token from `key`'s bucket. Zero when taken, otherwise how long until one is free.
    std::chrono::milliseconds try_take(std::string_view key, time_point now) {
        auto& s = shards_[std::hash<std::string_view>{}(key) % shard_count];
        std::lock_guard lock(s.mutex);
        auto it = s.buckets.find(key);
        if (it == s.buckets.end()) {
            if (s.buckets.size() >= s.prune_at)
                prune(s, now);
            it = s.buckets.emplace(std::string(key), token_bucket(rate_, burst_, now)).first;
        }
        if (it->second.try_take(now))
            return std::chrono::milliseconds(0);
        return std::max(std::chrono::milliseconds(1), it->second.wait_time(now));
    }

    // Keys holding a bucket (tests).
    std::size_t size() {
        std::size_t n = 0;
        for (auto& s : shards_) {
            std::lock_guard lock(s.mutex);
            n += s.buckets.size();
        }
        return n;
    }

    static constexpr std::size_t shard_count = 16;
    static constexpr std::size_t prune_above = 4096;  // per shard

  private:
    struct string_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const {
            return std::hash<std::string_view>{}(s);
        }
    };
    struct shard {
        std::mutex mutex;
        std::unordered_map<std::string, token_bucket, string_hash, std::equal_to<>> buckets;
        std::size_t prune_at = prune_above;
    };

    // A full bucket is the same as no bucket: forgetting it bounds memory by the active keys.
    // The next sweep waits until the shard doubles, so sweeps cost O(1) per insert amortised.
    static void prune(shard& s, time_point now) {
        for (auto it = s.buckets.begin(); it != s.buckets.end();)
            it = it->second.full(now) ? s.buckets.erase(it) : std::next(it);
        s.prune_at = std::max(prune_above, 2 * s.buckets.size());
    }

    double rate_;
    double burst_;
    std::array<shard, shard_count> shards_;
};

}  // namespace redchat
