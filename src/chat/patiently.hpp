#pragma once
// A store call tried again after short pauses while it fails, for up to a time budget: for
// calls that must not give up at the first Redis hiccup (a connect's reads while Redis is still
// coming up, the steps of the demo load). Only for calls that are safe to repeat: the first
// attempt may have been applied even though its answer never came.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>

namespace redchat::chat {

// Pauses start at 50 ms and double up to 500 ms; the last failure is returned once the next
// pause would end past the budget.
template <typename Attempt>
auto patiently(std::chrono::milliseconds budget, Attempt attempt) -> decltype(attempt()) {
    namespace asio = boost::asio;
    const auto deadline = std::chrono::steady_clock::now() + budget;
    std::chrono::milliseconds pause{50};
    for (;;) {
        auto out = co_await attempt();
        if (out || std::chrono::steady_clock::now() + pause > deadline)
            co_return out;
        asio::steady_timer timer(co_await asio::this_coro::executor, pause);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        pause = std::min(pause * 2, std::chrono::milliseconds(500));
    }
}

}  // namespace redchat::chat
