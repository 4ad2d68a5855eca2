#include "socket_set.hpp"

#include <boost/asio/post.hpp>

#include <chrono>
#include <iostream>
#include <thread>

namespace redchat::bench {

socket_set::socket_set(worker_pool& pool, server_target target, source_addresses sources,
                       socketio_handler* inner)
    : pool_(pool), target_(std::move(target)), sources_(sources), inner_(inner) {}

socket_set::~socket_set() = default;

void socket_set::open(std::size_t count, std::size_t concurrency, cookie_source cookie_of) {
    count_ = count;
    cookie_of_ = std::move(cookie_of);
    const unsigned threads = pool_.size();
    by_worker_.resize(threads);
    openers_ = std::vector<opener>(threads);
    socketio_handler& self = *this;
    for (std::size_t i = 0; i < count; ++i) {
        const unsigned w = worker_of(i);
        by_worker_[w].push_back(std::make_unique<socketio_client>(pool_.context(w), self,
                                                                  static_cast<std::uint32_t>(i)));
        by_worker_[w].back()->set_connect_payload(connect_payload_);
    }
    for (unsigned w = 0; w < threads; ++w) {
        openers_[w].cap = std::max<std::size_t>(1, (concurrency + threads - 1) / threads);
        boost::asio::post(pool_.context(w), [this, w] { start_more(w); });
    }
}

void socket_set::start_more(unsigned w) {
    auto& o = openers_[w];
    auto& list = by_worker_[w];
    while (o.in_flight < o.cap && o.next < list.size() &&
           !closing_.load(std::memory_order_relaxed)) {
        auto& c = *list[o.next++];
        ++o.in_flight;
        c.connect(target_, sources_.for_socket(c.tag()), cookie_of_(c.tag()));
    }
}

bool socket_set::wait_open(double timeout_s) {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    auto next_report = start + std::chrono::seconds(1);
    for (;;) {
        std::size_t ready = 0, failed = 0;
        for (const auto& o : openers_) {
            ready += o.ready.load(std::memory_order_relaxed);
            failed += o.failed.load(std::memory_order_relaxed);
        }
        if (ready + failed >= count_) {
            if (failed > 0) {
                std::cerr << "connect: warning: " << failed << " of " << count_
                          << " sockets failed; the results cover the " << ready
                          << " that connected\n";
            }
            return true;
        }
        const auto now = clock::now();
        if (now - start > std::chrono::duration<double>(timeout_s)) {
            std::cerr << "connect: timed out after " << timeout_s << " s with " << ready << "/"
                      << count_ << " ready, " << failed << " failed\n";
            return false;
        }
        if (now >= next_report) {
            std::cerr << "connect: " << ready << "/" << count_ << " ready, " << failed
                      << " failed\n";
            next_report += std::chrono::seconds(1);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

void socket_set::close_all() {
    closing_.store(true);
    pool_.run_everywhere([this](unsigned w) {
        for (auto& c : by_worker_[w])
            c->close();
    });
}

std::uint64_t socket_set::pings_answered() {
    std::atomic<std::uint64_t> total{0};
    pool_.run_everywhere([this, &total](unsigned w) {
        std::uint64_t sum = 0;
        for (auto& c : by_worker_[w])
            sum += c->pings_answered();
        total += sum;
    });
    return total.load();
}

std::int64_t socket_set::last_settled_ns() const {
    std::int64_t last = 0;
    for (const auto& o : openers_)
        last = std::max(last, o.last_settled_ns.load(std::memory_order_relaxed));
    return last;
}

void socket_set::settled(unsigned w, bool ready) {
    auto& o = openers_[w];
    --o.in_flight;
    auto& n = ready ? o.ready : o.failed;
    n.store(n.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    o.last_settled_ns.store(now_ns(), std::memory_order_relaxed);
}

void socket_set::on_ready(socketio_client& c) {
    const unsigned w = worker_of(c.tag());
    settled(w, true);
    pool_.counters(w).add(counter::connected);
    pool_.histogram_of(w, histogram::connect).record(now_ns() - c.connect_started_ns());
    start_more(w);
    if (inner_ != nullptr && !c.closed())
        inner_->on_ready(c);
}

void socket_set::on_event(socketio_client& c, std::string_view args, std::int64_t now) {
    if (inner_ != nullptr)
        inner_->on_event(c, args, now);
}

void socket_set::on_ack(socketio_client& c, std::uint64_t id, std::string_view args,
                        std::int64_t now) {
    if (inner_ != nullptr)
        inner_->on_ack(c, id, args, now);
}

void socket_set::on_closed(socketio_client& c, close_cause cause, std::string_view detail) {
    const unsigned w = worker_of(c.tag());
    if (cause == close_cause::dropped) {
        if (closing_.load(std::memory_order_relaxed))
            return;
        pool_.counters(w).add(counter::dropped);
        report_failure("dropped", detail);
    } else {
        settled(w, false);
        pool_.counters(w).add(counter::connect_failed);
        report_failure(cause == close_cause::connect_failed ? "connect failed" : "handshake failed",
                       detail);
        start_more(w);
    }
    if (inner_ != nullptr)
        inner_->on_closed(c, cause, detail);
}

void socket_set::report_failure(std::string_view what, std::string_view detail) {
    std::lock_guard lock(report_mutex_);
    if (++reports_ <= 5)
        std::cerr << "socket " << what << ": " << detail << "\n";
    else if (reports_ == 6)
        std::cerr << "(further socket failures are counted, not printed)\n";
}

}  // namespace redchat::bench
