#pragma once
// One pipelined Redis command connection, owned by one I/O thread.
//
// Many calls may be in flight; replies come back in order. Every call has a deadline: a call
// that misses it fails with errc::redis_timeout and the connection, evidently stuck, is
// replaced. A lost connection fails its in-flight calls with errc::redis_lost (they may have
// run) and is re-established with exponential backoff. While disconnected, calls fail at once
// with errc::redis_unavailable (the HTTP layer answers 503) instead of queueing without bound.
//
// A connection counts as up only once Redis has answered its handshake (AUTH, SELECT, then a
// PING, or the SUBSCRIBE confirmation of a subscriber) within the deadline. An idle connection
// is probed (PING, or a repeated SUBSCRIBE) so that a link that went silent without closing is
// noticed and replaced; TCP keepalive is on as well.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
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
#include "redis/bus_link.hpp"
#include "redis/command_link.hpp"
#include "redis/reply.hpp"
#include "redis/status_reporter.hpp"
#include "redis/subscriptions.hpp"

struct redisAsyncContext;

namespace redchat::redis {

using clock_type = std::chrono::steady_clock;

// WAIT's answer after a command (exec_replicated): the command's reply when at least `replicas`
// confirmed, else errc::redis_unreplicated.
result<reply> confirmed(std::vector<reply>& replies, int replicas);

class client final : public command_link, public bus_link {
  public:
    struct options {
        config::redis_endpoint endpoint;
        std::chrono::milliseconds timeout{2000};
        std::string name = "redchat";         // CLIENT SETNAME, for `CLIENT LIST`
        status_reporter* reporter = nullptr;  // shared by the process's connections; optional
        // Counts in redis_connections_down while not up (/readyz). A cluster's node connections
        // do not: the cluster client counts for all of them (a dead node is no longer needed).
        bool counted = true;
    };

    client(boost::asio::any_io_executor executor, options opts, metrics::shard& stats);
    ~client() override;
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    // Makes this a subscriber connection: on every (re)connect it subscribes to `channels` (for
    // good) and to those wanted meanwhile, and calls `on_message` with each message's channel
    // and payload. Call before start(); exec is not used on it then.
    void subscribe(std::vector<std::string> channels, message_handler on_message) override;
    // A subscriber's changing channels: subscribed or unsubscribed at the end of the loop turn,
    // several in one command. `on_active` hears of each channel once Redis confirmed it (also
    // again after a reconnect).
    void want_channel(std::string_view channel) override;
    void drop_channel(std::string_view channel) override;
    bool channel_active(std::string_view channel) const override { return subs_.active(channel); }
    void on_active(channel_handler handler) override { on_active_ = std::move(handler); }

    // Starts connecting (and reconnecting whenever the connection is lost).
    void start() override;
    // Fails every call in flight with errc::shutting_down and stops reconnecting.
    void stop() override;
    bool ready() const override { return state_ == state::ready; }

    // One command. An error reply is errc::redis_error.
    boost::asio::awaitable<result<reply>> exec(command cmd) override;
    boost::asio::awaitable<result<reply>> exec_replicated(
        command cmd, int replicas, std::chrono::milliseconds timeout) override;
    // Several commands written together and answered together, in order. Any error reply
    // fails the whole call with errc::redis_error (use MULTI/EXEC or a script for atomicity).
    boost::asio::awaitable<result<std::vector<reply>>> exec_all(std::vector<command> cmds) override;
    // The same, with error replies returned as replies (kind::error, the text in `str`): for
    // a caller that reads them, as a cluster client reads MOVED and ASK.
    boost::asio::awaitable<result<std::vector<reply>>> exec_raw(std::vector<command> cmds);
    const options& settings() const { return opts_; }

    struct batch;  // one call in flight (internal)

  private:
    // created -> disconnected -> connecting (TCP) -> handshaking (setup commands answered) ->
    // ready. A created connection counts as down: /readyz must not say ready before every
    // thread has even started its connection.
    enum class state { stopped, created, disconnected, connecting, handshaking, ready };

    void connect();
    // Connects to `host` (an address: names are resolved first, off the I/O thread's path).
    void connect_to(const std::string& host);
    void schedule_reconnect();
    // Drops the connection (failing the calls in flight) and reconnects later; `cause` is
    // reported as the reason Redis is unavailable.
    void fail_connection(std::string cause);
    void tick();
    void probe(clock_type::time_point now);
    void set_state(state next);
    void submit(std::vector<command> cmds, std::shared_ptr<batch> b);
    boost::asio::awaitable<result<std::vector<reply>>> run(std::vector<command> cmds,
                                                           bool keep_errors);
    void handshake_reply(const char* step, const void* raw);
    void handshake_progress();  // up once every step is answered
    // Sends what the subscription set says (SUBSCRIBE / UNSUBSCRIBE), now or at the end of the
    // loop turn.
    void send_subscriptions();
    void schedule_subscriptions();

    static void on_connect(const redisAsyncContext* ac, int status);
    static void on_setup_reply(redisAsyncContext* ac, void* reply, void* privdata);
    static void on_subscription(redisAsyncContext* ac, void* reply, void* privdata);
    static void on_disconnect(const redisAsyncContext* ac, int status);

    boost::asio::any_io_executor executor_;
    options opts_;
    metrics::shard& stats_;
    redisAsyncContext* ctx_ = nullptr;
    state state_ = state::stopped;
    clock_type::time_point connect_started_{};
    clock_type::time_point last_used_{};    // the last call sent, or message received
    clock_type::time_point confirm_due_{};  // a subscriber's probe must be confirmed by then
    int confirms_pending_ = 0;  // SUBSCRIBE confirmations (handshake or probe) still to come
    int setup_pending_ = 0;     // handshake replies still to come
    std::chrono::milliseconds backoff_{0};
    bool ever_connected_ = false;
    boost::asio::steady_timer reconnect_timer_;
    boost::asio::steady_timer tick_timer_;
    boost::asio::ip::tcp::resolver resolver_;     // host names: hiredis would block resolving them
    std::deque<std::weak_ptr<batch>> in_flight_;  // oldest first: deadlines are monotonic
    std::vector<std::string> channels_;           // subscribed for good; the first is probed
    message_handler on_message_;
    subscription_set subs_;
    channel_handler on_active_;
    bool subscriptions_scheduled_ = false;
};

}  // namespace redchat::redis
