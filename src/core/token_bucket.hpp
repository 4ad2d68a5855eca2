#pragma once
// A token bucket: `rate` tokens per second up to `burst`. Pure: the caller passes the time, so
// tests drive it with a manual clock.

#include <algorithm>
#include <chrono>

namespace redchat {

class token_bucket {
  public:
    using time_point = std::chrono::steady_clock::time_point;

    token_bucket(double rate_per_second, double burst, time_point now)
        : rate_(rate_per_second), burst_(burst), tokens_(burst), last_(now) {}

    // Takes one token if there is one.
    bool try_take(time_point now) {
        refill(now);
        if (tokens_ < 1.0)
            return false;
        tokens_ -= 1.0;
        return true;
    }

    // How long until a token is available (zero when one is).
    std::chrono::milliseconds wait_time(time_point now) {
        refill(now);
        if (tokens_ >= 1.0 || rate_ <= 0)
            return std::chrono::milliseconds(0);
        return std::chrono::milliseconds(static_cast<long long>((1.0 - tokens_) / rate_ * 1000.0) +
                                         1);
    }

    // True when the bucket holds its whole burst again (as good as a new one).
    bool full(time_point now) {
        refill(now);
        return tokens_ >= burst_;
    }

  private:
    void refill(time_point now) {
        if (now > last_) {
            const double elapsed = std::chrono::duration<double>(now - last_).count();
            tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
            last_ = now;
        }
    }

    double rate_;
    double burst_;
    double tokens_;
    time_point last_;
};

}  // namespace redchat
