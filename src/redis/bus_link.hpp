#pragma once
// What the bus router needs of Redis pub/sub: channels subscribed for good and channels that
// come and go, each confirmed once Redis carries it. One Redis is a redis::client made a
// subscriber (SUBSCRIBE); a Redis Cluster is a redis::cluster_bus (SSUBSCRIBE on the node of
// each channel's slot).

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace redchat::redis {

class bus_link {
  public:
    using message_handler = std::function<void(std::string_view channel, std::string_view payload)>;
    using channel_handler = std::function<void(std::string_view channel)>;

    virtual ~bus_link() = default;
    // The channels subscribed for good and where every message goes. Before start().
    virtual void subscribe(std::vector<std::string> channels, message_handler on_message) = 0;
    // Channels that change at run time, sent at the end of the loop turn.
    virtual void want_channel(std::string_view channel) = 0;
    virtual void drop_channel(std::string_view channel) = 0;
    // Redis confirmed the channel (and it is still wanted).
    virtual bool channel_active(std::string_view channel) const = 0;
    // Hears of each channel once Redis confirmed it (again after a reconnect or a move).
    virtual void on_active(channel_handler handler) = 0;
    virtual void start() = 0;
    virtual void stop() = 0;
    virtual bool ready() const = 0;
};

}  // namespace redchat::redis
