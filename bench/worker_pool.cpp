#include "worker_pool.hpp"

#include <boost/asio/post.hpp>

#include <chrono>
#include <latch>

namespace redchat::bench {

namespace asio = boost::asio;

counter_values operator-(const counter_values& after, const counter_values& before) {
    counter_values d{};
    for (std::size_t i = 0; i < counter_count; ++i)
        d[i] = after[i] - before[i];
    return d;
}

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

worker_pool::worker_pool(unsigned threads) {
    for (unsigned i = 0; i < threads; ++i)
        workers_.push_back(std::make_unique<worker>());
    for (auto& w : workers_)
        w->thread = std::thread([ioc = &w->ioc] { ioc->run(); });
}

worker_pool::~worker_pool() {
    stop();
}

counter_values worker_pool::snapshot() const {
    counter_values sum{};
    for (const auto& w : workers_) {
        for (std::size_t i = 0; i < counter_count; ++i)
            sum[i] += w->counters.get(static_cast<counter>(i));
    }
    return sum;
}

latency_histogram worker_pool::merged(histogram h) const {
    latency_histogram all;
    for (const auto& w : workers_)
        all.merge(w->histograms[static_cast<std::size_t>(h)]);
    return all;
}

void worker_pool::run_everywhere(const std::function<void(unsigned)>& fn) {
    if (stopped_) {
        // No thread runs handlers any more: nothing can race with fn.
        for (unsigned i = 0; i < workers_.size(); ++i)
            fn(i);
        return;
    }
    std::latch done(static_cast<std::ptrdiff_t>(workers_.size()));
    for (unsigned i = 0; i < workers_.size(); ++i) {
        asio::post(workers_[i]->ioc, [&fn, &done, i] {
            fn(i);
            done.count_down();
        });
    }
    done.wait();
}

void worker_pool::stop() {
    if (stopped_)
        return;
    stopped_ = true;
    for (auto& w : workers_) {
        w->guard.reset();
        w->ioc.stop();
    }
    for (auto& w : workers_) {
        if (w->thread.joinable())
            w->thread.join();
    }
}

}  // namespace redchat::bench
