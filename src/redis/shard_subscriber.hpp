#pragma once
// One Redis Cluster node's sharded pub/sub connection (SSUBSCRIBE, Redis 7), for the cluster
// bus (redis/cluster_bus.hpp). hiredis 0.14 cannot route sharded messages (its async layer
// knows only SUBSCRIBE), so this connection is ours: Asio TCP, hiredis's reply parser, and the
// same subscription_set as the one-Redis subscriber.
//
// Channels change at run time (`want` / `drop`, sent at the end of the loop turn, one SSUBSCRIBE
// per channel: a cluster refuses channels of several slots in one). A channel the node refuses
// (`-MOVED`: its slot is served elsewhere) or ends on its own (an unrequested `sunsubscribe`:
// its slot migrated away) is reported through `on_moved`, for the bus to subscribe it on the
// slot's new owner. Like redis::client it has a handshake (AUTH, CLIENT SETNAME, PING) with a
// deadline, probes an idle link with PING, replaces a connection that misses a deadline, and
// reconnects with backoff, subscribing every wanted channel again.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/metrics.hpp"
#include "redis/cluster.hpp"
#include "redis/reply.hpp"
#include "redis/status_reporter.hpp"
#include "redis/subscriptions.hpp"

struct redisReader;

namespace redchat::redis {

class shard_subscriber {
  public:
    struct options {
        cluster::endpoint node;
        std::optional<std::string> username;
        std::optional<std::string> password;
        std::chrono::milliseconds timeout{2000};
        std::string name = "redchat-bus";
        status_reporter* reporter = nullptr;
        bool counted = true;  // in redis_connections_down while not up (see redis::client)
    };
    using message_handler = std::function<void(std::string_view channel, std::string_view payload)>;
    using channel_handler = std::function<void(std::string_view channel)>;
    struct handlers {
        message_handler on_message;
        channel_handler on_active;      // Redis confirmed the channel (again after a reconnect)
        channel_handler on_moved;       // the node does not (or no longer) serve the channel's slot
        std::function<void()> on_down;  // the connection ended (the node may be gone)
    };

    shard_subscriber(boost::asio::any_io_executor executor, options opts, metrics::shard& stats,
                     handlers on);
    ~shard_subscriber();
    shard_subscriber(const shard_subscriber&) = delete;
    shard_subscriber& operator=(const shard_subscriber&) = delete;

    void start();
    void stop();
    bool ready() const { return state_ == state::ready; }

    void want(const std::string& channel);
    void drop(const std::string& channel);
    bool active(std::string_view channel) const { return subs_.active(channel); }
    std::size_t wanted() const { return subs_.wanted(); }
    const cluster::endpoint& node() const { return opts_.node; }

  private:
    enum class state { stopped, created, down, connecting, handshaking, ready };
    enum class sent_kind { setup, ssubscribe, sunsubscribe, ping };
    struct sent {
        sent_kind kind;
        std::string channel;  // for ssubscribe / sunsubscribe
        std::chrono::steady_clock::time_point at;
    };

    boost::asio::awaitable<void> run();
    // One connection, from connecting until it ends; returns why it ended.
    boost::asio::awaitable<std::string> connection();
    // What a reply means; a non-empty result ends the connection with that cause.
    std::string handle(const reply& r);
    void send(std::vector<std::string> args, sent_kind kind, std::string channel = {});
    void flush();
    void schedule_subscriptions();
    void send_subscriptions();
    void tick();
    void set_state(state next);
    void end_connection(std::string cause);

    boost::asio::any_io_executor executor_;
    options opts_;
    metrics::shard& stats_;
    handlers on_;
    state state_ = state::stopped;
    std::optional<boost::asio::ip::tcp::socket> socket_;
    boost::asio::ip::tcp::resolver resolver_;
    std::unique_ptr<redisReader, void (*)(redisReader*)> reader_;
    subscription_set subs_;
    std::deque<sent> sent_;  // commands whose answer is still to come, oldest first
    std::string out_;        // to write once the write under way is done
    std::string writing_;    // the write under way
    bool write_busy_ = false;
    bool subscriptions_scheduled_ = false;
    std::string cause_;  // why the watchdog closed the connection
    std::chrono::steady_clock::time_point connect_started_{};
    std::chrono::steady_clock::time_point last_heard_{};
    std::chrono::milliseconds backoff_{0};
    bool ever_connected_ = false;
    boost::asio::steady_timer tick_timer_;
    boost::asio::steady_timer reconnect_timer_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace redchat::redis
