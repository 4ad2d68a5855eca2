#pragma once
// The chat events of a connected socket (compat-spec §2 and §6): joining rooms, sending
// messages, presence. Protocol-free: the Socket.IO layer decodes packets into calls here and
// encodes the outcomes.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/array.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "chat/hub.hpp"
#include "chat/store.hpp"
#include "config/config.hpp"
#include "core/keyed_buckets.hpp"

namespace redchat::chat {

struct event_outcome {
    std::optional<std::string> error;  // a reason for the client, as an `error` event
    std::string ack_json = "[]";       // the ack arguments when the client asked for one
    bool rate_limited = false;
};

// The newest protocol this server speaks beyond the tutorial's (docs/realtime.md).
inline constexpr int newest_protocol = 1;

// What a client announced in its Socket.IO connect payload (the socket.io-client `auth`
// option): `{"redchat":1}`, its protocol, capped at newest_protocol (0 when it announced none);
// and, from protocol 1 on, `"presence":"watched"`: presence only for the users it watches
// (`presence.watch`), from its first moment.
struct connect_options {
    int protocol = 0;
    bool watches_presence = false;
};
connect_options announced_options(std::string_view connect_payload);

// The most users one socket may watch.
inline constexpr std::size_t max_watched_users = 1000;

class realtime {
  public:
    using clock_fn = std::function<double()>;  // seconds since the epoch

    // `user_rates`: the per-user message buckets, shared by every thread's realtime.
    realtime(store& db, hub& local, const config::server_config& cfg, std::string server_id,
             std::string instance_id, clock_fn now, keyed_buckets& user_rates);

    // Before the Socket.IO connect is answered: the socket joins the hub and all of its user's
    // rooms, and the bus carries their channels, so that a client that sees its connect misses
    // nothing sent after it. Sockets without a user are accepted but stay idle. False when its
    // user's rooms could not be read (Redis failed for twice its timeout): the transport then
    // closes the connection without an answer, and the client reconnects by itself.
    boost::asio::awaitable<bool> connecting(client_socket& socket);
    // Who the login session `session_id` belongs to: nullopt for none (anonymous). An error
    // only when Redis kept failing for twice its timeout: the transport then closes the
    // connection, for the client to come back, rather than let it in as nobody.
    boost::asio::awaitable<result<std::optional<user>>> identify(std::string session_id);
    // After the Socket.IO connect of a logged-in socket: counts its connection for presence.
    boost::asio::awaitable<void> connected(client_socket& socket);
    boost::asio::awaitable<void> disconnected(client_socket& socket);

    boost::asio::awaitable<event_outcome> on_event(client_socket& socket, std::string name,
                                                   boost::json::array args);

    const std::string& server_id() const { return server_id_; }
    // From now on, closing sockets leave presence alone: the instance's whole presence is
    // removed at once by a sweep of itself.
    void begin_shutdown() { shutting_down_ = true; }
    // The bus is congested (chat/bus_lag.hpp): new messages wait up to max_bus_wait before they
    // are stored, until it is clear again. Set on this thread by a post from the subscriber's.
    void set_bus_congested(bool congested);
    static constexpr std::chrono::milliseconds max_bus_wait{1000};
    // Events being handled now (shutdown waits for their Redis writes).
    std::size_t in_flight() const { return in_flight_; }
    // This thread's presence as it should be in Redis: per user, the sockets whose join was
    // sent and whose leave is not done. The instance rewrites its whole presence from these
    // periodically, so that counts lost to failures converge instead of drifting.
    // (Counted in the hub's record of each user: hub::count_presence.)
    std::unordered_map<std::string, int> presence_snapshot() const {
        return hub_.presence_counts();
    }

  private:
    boost::asio::awaitable<event_outcome> join(client_socket& socket, boost::json::array args);
    boost::asio::awaitable<event_outcome> send(client_socket& socket, boost::json::array args);
    boost::asio::awaitable<event_outcome> typing(client_socket& socket, boost::json::array args);
    boost::asio::awaitable<event_outcome> mark_read(client_socket& socket, boost::json::array args);
    boost::asio::awaitable<event_outcome> sync(client_socket& socket, boost::json::array args);
    boost::asio::awaitable<event_outcome> edit(client_socket& socket, boost::json::array args,
                                               bool remove);
    boost::asio::awaitable<event_outcome> react(client_socket& socket, boost::json::array args);
    boost::asio::awaitable<event_outcome> watch_presence(client_socket& socket,
                                                         boost::json::array args);
    // The per-connection and per-user message buckets: nullopt when the socket may go on, a
    // refusal when it is sending too fast.
    std::optional<event_outcome> over_rate(client_socket& socket);
    // Whether the socket may change something in the room now (its rate, its membership).
    boost::asio::awaitable<std::optional<event_outcome>> may_change(client_socket& socket,
                                                                    std::string room_id);
    boost::asio::awaitable<bool> is_member(client_socket& socket, std::string room_id);
    boost::asio::awaitable<void> wait_for_bus();
    boost::asio::awaitable<void> leave(client_socket& socket, user account);
    void forget_local(const std::string& user_id);

    store& db_;
    hub& hub_;
    const config::server_config& cfg_;
    std::string server_id_;
    std::string instance_id_;
    clock_fn now_;
    bool shutting_down_ = false;
    std::size_t in_flight_ = 0;
    bool bus_congested_ = false;
    std::vector<boost::asio::steady_timer*> bus_waiters_;  // messages held back, woken when clear
    keyed_buckets& user_rates_;
};

}  // namespace redchat::chat
