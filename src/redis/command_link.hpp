#pragma once
// What the chat store needs of Redis: commands, pipelined, each with a deadline. One Redis is a
// redis::client; a Redis Cluster is a redis::cluster_client, which routes each command to the
// node of its key.

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "redis/reply.hpp"

namespace redchat::redis {

using command = std::vector<std::string>;

class command_link {
  public:
    virtual ~command_link() = default;
    // One command. An error reply is errc::redis_error (errc::redis_noscript for NOSCRIPT).
    virtual boost::asio::awaitable<result<reply>> exec(command cmd) = 0;
    // Several commands, answered in order; any error reply fails the whole call.
    virtual boost::asio::awaitable<result<std::vector<reply>>> exec_all(
        std::vector<command> cmds) = 0;
    // One command, then WAIT on the same connection: its reply once `replicas` replicas have
    // it, errc::redis_unreplicated when fewer confirm within `timeout` (it ran on the master).
    virtual boost::asio::awaitable<result<reply>> exec_replicated(
        command cmd, int replicas, std::chrono::milliseconds timeout) = 0;
    // Up: every connection it needs has answered its handshake.
    virtual bool ready() const = 0;
    // Connects (and keeps reconnecting); stops for good, failing the calls in flight.
    virtual void start() = 0;
    virtual void stop() = 0;
};

}  // namespace redchat::redis
