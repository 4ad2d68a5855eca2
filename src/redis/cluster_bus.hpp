#pragma once
// Pub/sub over a Redis Cluster (issue 14): each channel is a sharded channel, subscribed
// (SSUBSCRIBE) on the master of its slot, through one redis::shard_subscriber per master.
//
// The slot table comes from a cluster_client of its own (it sends no commands but CLUSTER
// SLOTS). After every reading of the table each wanted channel is checked against its slot's
// owner and moved when that changed (a failover, a resharding); a node that refuses a channel
// or ends it (its slot migrated) makes the table be read again at once, as does a subscriber
// connection that fails.

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/metrics.hpp"
#include "redis/bus_link.hpp"
#include "redis/cluster.hpp"
#include "redis/cluster_client.hpp"
#include "redis/shard_subscriber.hpp"
#include "redis/status_reporter.hpp"

namespace redchat::redis {

class cluster_bus final : public bus_link {
  public:
    using options = cluster_client::options;

    cluster_bus(boost::asio::any_io_executor executor, options opts, metrics::shard& stats);
    ~cluster_bus() override;

    void subscribe(std::vector<std::string> channels, message_handler on_message) override;
    void want_channel(std::string_view channel) override;
    void drop_channel(std::string_view channel) override;
    bool channel_active(std::string_view channel) const override;
    void on_active(channel_handler handler) override { on_active_ = std::move(handler); }
    void start() override;
    void stop() override;
    // The slot table is known and the subscriber of every master that holds a channel is up.
    bool ready() const override;

    // Where `channel` is subscribed now (for tests); nullopt while it has no home.
    std::optional<cluster::endpoint> home_of(std::string_view channel) const;

  private:
    shard_subscriber& subscriber(const cluster::endpoint& node);
    // Subscribes `channel` on its slot's master, leaving the node it was on if that changed.
    void place(const std::string& channel);
    void moved(std::string_view channel);

    boost::asio::any_io_executor executor_;
    options opts_;
    metrics::shard& stats_;
    cluster_client topology_;
    message_handler on_message_;
    channel_handler on_active_;
    std::set<std::string, std::less<>> wanted_;  // the permanent channels and the changing ones
    std::unordered_map<std::string, std::string> home_;  // channel -> its subscriber's address
    std::map<std::string, std::unique_ptr<shard_subscriber>> subscribers_;  // by "host:port"
    bool started_ = false;
    health health_;
};

}  // namespace redchat::redis
