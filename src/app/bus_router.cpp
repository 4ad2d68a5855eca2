#include "app/bus_router.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

#include "chat/routing.hpp"
#include "config/config.hpp"

namespace redchat::app {

namespace asio = boost::asio;

static_assert(config::max_threads <= sizeof(bus_router::thread_mask) * 8,
              "a channel's threads are bits of one mask");

bus_router::bus_router(redis::bus_link& subscriber, std::chrono::milliseconds ready_timeout,
                       metrics::shard& stats, receive_fn receive)
    : subscriber_(subscriber),
      ready_timeout_(ready_timeout),
      stats_(stats),
      receive_(std::move(receive)) {
    std::vector<std::string> always;
    always.emplace_back(chat::routing::control_channel);  // first: the one the probe renews
    always.emplace_back(chat::routing::tutorial_channel);
    stats_.bus_channels.fetch_add(static_cast<std::int64_t>(always.size()),
                                  std::memory_order_relaxed);
    subscriber_.subscribe(
        std::move(always), [this](std::string_view channel, std::string_view payload) {
            stats_.bus_messages_received.fetch_add(1, std::memory_order_relaxed);
            if (channel == chat::routing::tutorial_channel ||
                channel == chat::routing::control_channel) {
                receive_(channel, payload, nullptr);
                return;
            }
            auto it = threads_.find(channel);
            if (it != threads_.end())
                receive_(channel, payload, &it->second);  // else: dropped meanwhile
        });
    subscriber_.on_active([this](std::string_view channel) { on_active(channel); });
}

void bus_router::want(std::size_t thread, std::string_view channel) {
    auto entry = threads_.find(channel);
    if (entry == threads_.end())
        entry = threads_.emplace(compact_string(channel), thread_mask{0}).first;
    const thread_mask bit = thread_mask{1} << thread;
    if ((entry->second & bit) != 0)
        return;
    const bool first = entry->second == 0;
    entry->second |= bit;
    if (first) {
        subscriber_.want_channel(channel);
        stats_.bus_channels.fetch_add(1, std::memory_order_relaxed);
    }
}

void bus_router::drop(std::size_t thread, std::string_view channel) {
    auto it = threads_.find(channel);
    if (it == threads_.end())
        return;
    const thread_mask bit = thread_mask{1} << thread;
    if ((it->second & bit) == 0)
        return;
    it->second &= ~bit;
    if (it->second == 0) {
        subscriber_.drop_channel(channel);
        threads_.erase(it);
        stats_.bus_channels.fetch_sub(1, std::memory_order_relaxed);
    }
}

void bus_router::on_active(std::string_view channel) {
    auto it = waiting_.find(std::string(channel));
    if (it == waiting_.end())
        return;
    for (auto* w : it->second) {
        if (--w->pending == 0)
            w->timer->cancel();  // it resumes later
    }
    waiting_.erase(it);
}

asio::awaitable<void> bus_router::ready(std::vector<std::string> channels) {
    std::sort(channels.begin(), channels.end());
    channels.erase(std::unique(channels.begin(), channels.end()), channels.end());
    std::erase_if(channels, [this](const std::string& c) { return subscriber_.channel_active(c); });
    if (channels.empty())
        co_return;
    asio::steady_timer timer(co_await asio::this_coro::executor, ready_timeout_);
    waiter w{channels.size(), &timer};
    for (const auto& c : channels)
        waiting_[c].push_back(&w);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    // Timed out: off the lists of the channels still pending.
    for (const auto& c : channels) {
        auto it = waiting_.find(c);
        if (it == waiting_.end())
            continue;
        std::erase(it->second, &w);
        if (it->second.empty())
            waiting_.erase(it);
    }
}

}  // namespace redchat::app
