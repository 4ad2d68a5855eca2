// The process's wiring between threads: app::inbox, which hands bus events from the
// subscriber's thread to each I/O thread.

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <chrono>
#include <thread>
#include <utility>
#include <vector>

#include "app/inbox.hpp"

namespace redchat::app {
namespace {

namespace asio = boost::asio;

// Four threads push at once: the owner gets every item once, each thread's in the order it
// pushed them. (How many drains that takes depends on timing, so it is not asserted.)
TEST(inbox, delivers_every_item_once_in_each_senders_order) {
    constexpr int senders = 4;
    constexpr int per_sender = 20000;
    asio::io_context owner(1);
    std::vector<std::vector<int>> seen(senders);
    int total = 0;
    inbox<std::pair<int, int>> box(owner, [&](std::vector<std::pair<int, int>>& batch) {
        for (auto [from, seq] : batch)
            seen[static_cast<std::size_t>(from)].push_back(seq);
        total += static_cast<int>(batch.size());
        if (total == senders * per_sender)
            owner.stop();
    });
    asio::post(owner, [&] { box.start(); });
    std::vector<std::thread> threads;
    for (int s = 0; s < senders; ++s) {
        threads.emplace_back([&box, s] {
            for (int i = 0; i < per_sender; ++i)
                box.push({s, i});
        });
    }
    auto work = asio::make_work_guard(owner);
    owner.run_for(std::chrono::seconds(20));
    for (auto& t : threads)
        t.join();
    ASSERT_EQ(total, senders * per_sender);
    for (const auto& from : seen) {
        ASSERT_EQ(from.size(), static_cast<std::size_t>(per_sender));
        for (int i = 0; i < per_sender; ++i)
            ASSERT_EQ(from[static_cast<std::size_t>(i)], i);
    }
}

// Once stopped, the inbox holds no work on its loop (run() returns), drains nothing more, and
// a push from another thread after that is harmless.
TEST(inbox, once_stopped_it_keeps_no_work_and_drains_nothing) {
    asio::io_context owner(1);
    std::atomic<int> drained{0};
    inbox<int> box(owner, [&](std::vector<int>& batch) {
        drained += static_cast<int>(batch.size());
        owner.stop();
    });
    asio::post(owner, [&] { box.start(); });
    box.push(1);
    owner.run_for(std::chrono::seconds(20));  // until the first drain
    EXPECT_EQ(drained.load(), 1);
    owner.restart();
    asio::post(owner, [&] { box.stop(); });
    owner.run_for(std::chrono::seconds(20));
    EXPECT_TRUE(owner.stopped());  // out of work: the stopped inbox left no pending read
    std::thread late([&] { box.push(2); });
    late.join();
    owner.restart();
    owner.poll();
    EXPECT_EQ(drained.load(), 1);
}

}  // namespace
}  // namespace redchat::app
