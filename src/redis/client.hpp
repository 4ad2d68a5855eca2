#pragma once
// One pipelined Redis command connection, owned by one I/O thread.
//
// Many calls may be in flight; replies come back in order. Every call has a deadline: a call
// that misses it fails with errc::redis_timeout and the connection, evidently stuck, is
// replaced. A lost connection fails its in-flight calls with errc::redis_unavailable and is
// re-established with exponential backoff. While disconnected, calls fail at once (the HTTP
// layer answers 503) instead of queueing without bound.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/redis_url.hpp"
#include "core/error.hpp"
#include "core/metrics.hpp"
#include "redis/reply.hpp"

struct redisAsyncContext;

namespace redchat::redis {

using command = std::vector<std::string>;

class client {
  public:
    struct options {
        config::redis_endpoint endpoint;
        std::chrono::milliseconds timeout{2000};
        std::string name = "redchat";  // CLIENT SETNAME, for `CLIENT LIST`
    };

    client(boost::asio::any_io_executor executor, options opts, metrics::shard& stats);
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    // Makes this a subscriber connection: on every (re)connect it subscribes to `channel` and
    // calls `on_message` with each payload. Call before start(); exec is not used on it then.
    using message_handler = std::function<void(std::string_view payload)>;
    void subscribe(std::string channel, message_handler on_message);

    // Starts connecting (and reconnecting whenever the connection is lost).
    void start();
    // Fails every call in flight with errc::shutting_down and stops reconnecting.
    void stop();
    bool ready() const { return state_ == state::ready; }

    // One command. An error reply is errc::redis_error.
    boost::asio::awaitable<result<reply>> exec(command cmd);
    // Several commands written together and answered together, in order. Any error reply
    // fails the whole call with errc::redis_error (use MULTI/EXEC or a script for atomicity).
    boost::asio::awaitable<result<std::vector<reply>>> exec_all(std::vector<command> cmds);

    struct batch;  // one call in flight (internal)

  private:
    enum class state { stopped, disconnected, connecting, ready };

    void connect();
    void schedule_reconnect();
    void drop_connection();
    void tick();
    void set_state(state next);
    void submit(std::vector<command> cmds, std::shared_ptr<batch> b);

    static void on_connect(const redisAsyncContext* ac, int status);
    static void on_subscription(redisAsyncContext* ac, void* reply, void* privdata);
    static void on_disconnect(const redisAsyncContext* ac, int status);

    boost::asio::any_io_executor executor_;
    options opts_;
    metrics::shard& stats_;
    redisAsyncContext* ctx_ = nullptr;
    state state_ = state::stopped;
    std::chrono::steady_clock::time_point connect_started_{};
    std::chrono::milliseconds backoff_{0};
    bool ever_connected_ = false;
    boost::asio::steady_timer reconnect_timer_;
    boost::asio::steady_timer tick_timer_;
    std::deque<std::weak_ptr<batch>> in_flight_;
    std::string channel_;
    message_handler on_message_;  // oldest first: deadlines are monotonic
};

}  // namespace redchat::redis
