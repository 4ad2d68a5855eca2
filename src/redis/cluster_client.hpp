#pragma once
// A Redis Cluster as one command connection, for one I/O thread (issue 14).
//
// It keeps a redis::client per node it has talked to (pipelined, with deadlines and
// reconnection, as against one Redis) and routes each command to the master of its key's slot
// (redis/cluster.hpp holds the sans-I/O parts: slots, the slot table, redirections):
// - MOVED: the slot moved for good; the command goes to the new owner, the table is corrected
//   and read again in the background;
// - ASK: the slot is migrating; this command alone goes to the target, after ASKING;
// - TRYAGAIN (a multi-key command during a migration): tried again after a pause;
// - a node that cannot be reached: the table is read again (a replica may have been promoted)
//   and a command that was never sent is tried once more. A command lost in flight is not
//   retried (it may have run): the caller gets errc::redis_lost, as with one Redis.
// The table is also read again every few seconds, so that a failover that no command ran into
// is noticed too.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/metrics.hpp"
#include "redis/client.hpp"
#include "redis/cluster.hpp"
#include "redis/command_link.hpp"
#include "redis/reply.hpp"
#include "redis/status_reporter.hpp"

namespace redchat::redis {

// Counts a compound link (a cluster client, the cluster bus) once in redis_connections_down
// while it is not ready, checked every 100 ms: its node connections come and go with the
// cluster's topology, and a dead node stops mattering once a replica took over.
class health {
  public:
    health(boost::asio::any_io_executor executor, metrics::shard& stats, bool counted);
    ~health();
    // Checks `ready` until stop(); counted as down from the start.
    void start(std::function<bool()> ready);
    void stop();

  private:
    void check();
    void set_down(bool down);

    boost::asio::steady_timer timer_;
    metrics::shard& stats_;
    bool counted_;
    bool down_ = false;
    std::function<bool()> ready_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

class cluster_client final : public command_link {
  public:
    struct options {
        std::vector<cluster::endpoint> seeds;  // any nodes of the cluster; the rest is found
        std::optional<std::string> username;
        std::optional<std::string> password;
        std::chrono::milliseconds timeout{2000};  // per call, as for redis::client
        std::string name = "redchat";             // CLIENT SETNAME, suffixed with the node
        status_reporter* reporter = nullptr;
        std::chrono::milliseconds refresh_interval{5000};  // the table is read again this often
        // Counts once in redis_connections_down while not ready() (/readyz); its connections to
        // the nodes do not count themselves.
        bool counted = true;
    };

    // What it did, for tests and metrics.
    struct counters {
        std::uint64_t redirects = 0;  // MOVED and ASK followed
        std::uint64_t refreshes = 0;  // slot tables read
        std::uint64_t retries = 0;    // commands sent again after a node failed them unsent
    };

    cluster_client(boost::asio::any_io_executor executor, options opts, metrics::shard& stats);
    ~cluster_client() override;
    cluster_client(const cluster_client&) = delete;
    cluster_client& operator=(const cluster_client&) = delete;

    // Connects to the seeds and reads the slot table (and keeps doing so).
    void start() override;
    // Stops every node's connection: calls in flight fail with errc::shutting_down.
    void stop() override;
    // Every slot has a master, and the connection to each master is up.
    bool ready() const override;

    // One command, routed by its key (cluster::routing_key); a command without a key goes to
    // any master. An error reply is errc::redis_error (errc::redis_noscript for NOSCRIPT).
    boost::asio::awaitable<result<reply>> exec(command cmd) override;
    boost::asio::awaitable<result<reply>> exec_replicated(
        command cmd, int replicas, std::chrono::milliseconds timeout) override;
    // Several commands, answered in order. Those for one node are pipelined together; any
    // error reply fails the whole call, as with redis::client::exec_all.
    boost::asio::awaitable<result<std::vector<reply>>> exec_all(std::vector<command> cmds) override;

    const counters& stats() const { return counters_; }
    // Reads the slot table again soon (a subscriber's node failed or refused a channel).
    void refresh_soon() { request_refresh(); }
    // Called after each reading of the slot table (it may have changed).
    void on_table_read(std::function<void()> handler) { on_table_read_ = std::move(handler); }
    // The master that serves `slot` now, as far as this client knows.
    std::optional<cluster::endpoint> master_of(std::uint16_t slot) const;

  private:
    // The connection to `node`, made on first use. Kept for the client's life: a node that
    // stops being a master answers MOVED, and calls may be in flight on it at any time.
    client& node(const cluster::endpoint& node);
    // The master for `key` (any master for none); nullptr when the table has no owner for it.
    client* route(const std::optional<std::string_view>& key);
    // Reads the slot table from the first node that answers; callers that come while it is
    // being read wait for that reading.
    boost::asio::awaitable<void> refresh();
    // A refresh in the background: now, or shortly after the one under way or just done.
    void request_refresh();
    void schedule_periodic_refresh();
    // Resumes once `c` is up, or after the call deadline.
    boost::asio::awaitable<void> until_ready(client& c);
    // One command and the redirections it meets.
    // With `wait_replicas` > 0, WAIT follows it on the node that runs it (exec_replicated).
    boost::asio::awaitable<result<reply>> run_one(command cmd, int wait_replicas = 0,
                                                  std::chrono::milliseconds wait_timeout = {});
    // What an error reply that is not a redirection means to the caller.
    boost::system::error_code error_of(const reply& r);

    boost::asio::any_io_executor executor_;
    options opts_;
    metrics::shard& stats_;
    std::map<std::string, std::unique_ptr<client>> nodes_;  // "host:port" -> connection
    std::optional<cluster::slot_table> table_;
    bool refreshing_ = false;
    std::vector<boost::asio::steady_timer*> refresh_waiters_;
    std::chrono::steady_clock::time_point last_refresh_{};
    boost::asio::steady_timer refresh_timer_;
    boost::asio::steady_timer followup_timer_;  // a refresh asked for while one could not start
    bool followup_pending_ = false;
    bool stopped_ = false;
    // Background coroutines hold this: one that resumes after the client is gone returns.
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    counters counters_;
    std::function<void()> on_table_read_;
    health health_;
};

}  // namespace redchat::redis
