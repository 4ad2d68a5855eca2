#pragma once
// The process's one bus subscriber, on thread 0, and which I/O threads need which channel
// (routing by room, chat/routing.hpp). Threads tell it their needs (posted here, in order); it
// subscribes a channel on the first thread's need and unsubscribes it after the last, and hands
// each message only to the threads that need its channel. The tutorial's and our control
// channel go to every thread. Touched only on the subscriber's thread.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/compact_string.hpp"
#include "core/metrics.hpp"
#include "redis/bus_link.hpp"

namespace redchat::app {

class bus_router {
  public:
    // The I/O threads that need a channel: bit i for thread i (config::max_threads is 64).
    using thread_mask = std::uint64_t;
    // `threads`: the threads a message goes to; null for every thread.
    using receive_fn = std::function<void(std::string_view channel, std::string_view payload,
                                          const thread_mask* threads)>;

    // Subscribes `subscriber` to the tutorial's and our control channel for good.
    bus_router(redis::bus_link& subscriber, std::chrono::milliseconds ready_timeout,
               metrics::shard& stats, receive_fn receive);

    void want(std::size_t thread, std::string_view channel);
    void drop(std::size_t thread, std::string_view channel);
    // Resumes once every channel of `channels` is subscribed, or after the timeout.
    boost::asio::awaitable<void> ready(std::vector<std::string> channels);

  private:
    struct waiter {
        std::size_t pending = 0;  // channels not active yet
        boost::asio::steady_timer* timer = nullptr;
    };
    void on_active(std::string_view channel);

    redis::bus_link& subscriber_;
    std::chrono::milliseconds ready_timeout_;
    metrics::shard& stats_;
    receive_fn receive_;
    // channel -> the threads that need it; compact keys and a mask: a 48-byte node, no other
    // block per channel
    std::unordered_map<compact_string, thread_mask, compact_string_hash, std::equal_to<>> threads_;
    std::unordered_map<std::string, std::vector<waiter*>> waiting_;  // channel -> its waiters
};

}  // namespace redchat::app
