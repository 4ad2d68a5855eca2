#pragma once
// The Socket.IO connections of a scenario: socket i lives on worker i % threads, presents
// cookie_of(i) and binds to source address i % sources. Opening keeps at most `concurrency`
// handshakes in flight; connection outcomes go to the counters (connected, connect_failed,
// dropped) and the connect histogram, everything else to the scenario's handler.

#include "endpoints.hpp"
#include "socketio_client.hpp"
#include "worker_pool.hpp"

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

namespace redchat::bench {

class socket_set final : private socketio_handler {
  public:
    using cookie_source = std::function<std::string_view(std::size_t socket_index)>;

    // `inner` (may be null) gets every callback after the set's bookkeeping. The pool must be
    // stopped before this object is destroyed.
    socket_set(worker_pool& pool, server_target target, source_addresses sources,
               socketio_handler* inner);
    ~socket_set() override;

    // Every socket's Socket.IO connect payload (e.g. {"redchat":1}). Before open().
    void set_connect_payload(std::string payload) { connect_payload_ = std::move(payload); }
    // Creates `count` sockets and starts opening them; returns at once. Call once.
    void open(std::size_t count, std::size_t concurrency, cookie_source cookie_of);
    // Waits until every socket is ready or failed, printing progress to stderr; false when
    // `timeout_s` passed first.
    bool wait_open(double timeout_s);

    std::size_t size() const { return count_; }
    unsigned worker_of(std::size_t index) const {
        return static_cast<unsigned>(index % pool_.size());
    }
    // Only on worker_of(index)'s thread.
    socketio_client& at(std::size_t index) {
        return *by_worker_[worker_of(index)][index / pool_.size()];
    }
    // Socket indexes of worker w, in order.
    template <class F>
    void for_each_on_worker(unsigned w, F&& fn) {
        for (auto& c : by_worker_[w])
            fn(*c);
    }

    // When the last socket so far became ready or failed (now_ns clock); 0 before any did.
    std::int64_t last_settled_ns() const;

    // Closes every socket (without counting them as dropped) and waits until done.
    void close_all();
    // Engine.IO pings answered by all sockets so far.
    std::uint64_t pings_answered();

  private:
    void start_more(unsigned w);
    void on_ready(socketio_client& c) override;
    void on_event(socketio_client& c, std::string_view args, std::int64_t now_ns) override;
    void on_ack(socketio_client& c, std::uint64_t id, std::string_view args,
                std::int64_t now_ns) override;
    void on_closed(socketio_client& c, close_cause cause, std::string_view detail) override;
    void report_failure(std::string_view what, std::string_view detail);

    struct opener {
        std::size_t next = 0;  // next local index to connect
        std::size_t in_flight = 0;
        std::size_t cap = 1;
        std::atomic<std::int64_t> last_settled_ns{0};
        std::atomic<std::size_t> ready{0};  // this set's sockets only, unlike the pool counters
        std::atomic<std::size_t> failed{0};
    };
    void settled(unsigned w, bool ready);

    worker_pool& pool_;
    server_target target_;
    source_addresses sources_;
    socketio_handler* inner_;
    cookie_source cookie_of_;
    std::size_t count_ = 0;
    std::vector<std::vector<std::unique_ptr<socketio_client>>> by_worker_;
    std::vector<opener> openers_;  // one per worker, written by that worker only
    std::atomic<bool> closing_{false};
    std::mutex report_mutex_;
    std::size_t reports_ = 0;  // failure details printed so far (a few, not thousands)
    std::string connect_payload_;
};

}  // namespace redchat::bench
