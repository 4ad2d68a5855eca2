#pragma once
// The tool's I/O threads: one io_context each, plus each thread's counters and latency
// histograms. Every socket lives on one thread for life; the main thread only drives phases
// (posts work, sleeps, reads counters).

#include "latency_histogram.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

namespace redchat::bench {

enum class counter : std::size_t {
    connected,       // Socket.IO connections that reached "40" (ready)
    connect_failed,  // TCP, upgrade or Socket.IO connect refused
    dropped,         // ready connections the server closed
    sent,            // chat messages sent
    acked,           // messages acknowledged as stored
    ack_errors,      // acknowledgements carrying {"error":...}
    error_events,    // "error" events received
    delivered,       // "message" events received by any socket
    requests,        // HTTP requests answered 2xx (history)
    request_errors,  // HTTP requests failed or answered otherwise
    reads_sent,      // room.read requests sent (receipts)
    reads_acked,     // room.read requests acknowledged with a position
    receipts,        // room.read events received (receipts)
    count_
};
inline constexpr std::size_t counter_count = static_cast<std::size_t>(counter::count_);

using counter_values = std::array<std::uint64_t, counter_count>;

counter_values operator-(const counter_values& after, const counter_values& before);
inline std::uint64_t get(const counter_values& v, counter c) {
    return v[static_cast<std::size_t>(c)];
}

// Counters written by one thread only and read by any: a relaxed load and store, not a locked
// read-modify-write, on the hot path.
class counter_shard {
  public:
    void add(counter c, std::uint64_t n = 1) {
        auto& v = values_[static_cast<std::size_t>(c)];
        v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    std::uint64_t get(counter c) const {
        return values_[static_cast<std::size_t>(c)].load(std::memory_order_relaxed);
    }

  private:
    std::array<std::atomic<std::uint64_t>, counter_count> values_{};
};

enum class histogram : std::size_t {
    delivery,  // send to receipt by every socket (sender's clock = receiver's clock)
    ack,       // send to acknowledgement
    connect,   // connect() to Socket.IO ready
    request,   // HTTP request to full response
    count_
};

class worker_pool {
  public:
    explicit worker_pool(unsigned threads);
    ~worker_pool();
    worker_pool(const worker_pool&) = delete;
    worker_pool& operator=(const worker_pool&) = delete;

    unsigned size() const { return static_cast<unsigned>(workers_.size()); }
    boost::asio::io_context& context(unsigned w) { return workers_[w]->ioc; }
    counter_shard& counters(unsigned w) { return workers_[w]->counters; }
    // Written by worker w only; read them after stop().
    latency_histogram& histogram_of(unsigned w, histogram h) {
        return workers_[w]->histograms[static_cast<std::size_t>(h)];
    }

    // Sums of every worker's counters; callable from any thread while running.
    counter_values snapshot() const;
    // All workers' histograms merged; only after stop().
    latency_histogram merged(histogram h) const;

    // Runs fn(w) on every worker and returns when all have run.
    void run_everywhere(const std::function<void(unsigned)>& fn);

    // Stops and joins the threads; pending handlers are dropped, never run. Objects whose
    // handlers capture raw pointers must outlive this call (and may then be destroyed before
    // the pool, whose io_contexts they still reference).
    void stop();

    // True while the measured interval runs: latencies are recorded only then.
    std::atomic<bool> measuring{false};

  private:
    struct worker {
        boost::asio::io_context ioc{1};
        boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard{
            ioc.get_executor()};
        counter_shard counters;
        std::array<latency_histogram, static_cast<std::size_t>(histogram::count_)> histograms;
        std::thread thread;
    };
    std::vector<std::unique_ptr<worker>> workers_;
    bool stopped_ = false;
};

// Monotonic clock in nanoseconds, comparable across threads of this machine.
std::int64_t now_ns();

}  // namespace redchat::bench
