#pragma once
// The connected sockets of one I/O thread and who is entitled to which event. Touched only by
// its own thread; bus events reach it as one shared, already encoded packet.

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "chat/bus_event.hpp"
#include "chat/routing.hpp"
#include "chat/store.hpp"
#include "core/compact_string.hpp"
#include "core/outgoing_packet.hpp"
#include "core/token_bucket.hpp"

namespace redchat::chat {

// Encoded packets come from the transport, opaque here (core/outgoing_packet.hpp).
using redchat::outgoing_packet;
using redchat::packet_ptr;

class hub;

// What a hub tells the process's bus subscriber (app/bus_router): the channels its sockets
// need (chat/routing.hpp). `want` comes on the thread's first need of a channel, `drop` after
// its last; both return at once (the subscription follows later).
class bus_routes {
  public:
    virtual ~bus_routes() = default;
    virtual void want(std::string_view channel) = 0;
    virtual void drop(std::string_view channel) = 0;
    // Resumes once every channel of `channels` is subscribed, or once the bus gave up waiting
    // (Redis is down: the socket then misses events until the subscriber is back, as it would
    // have anyway).
    virtual boost::asio::awaitable<void> ready(std::vector<std::string> channels) = 0;
    // The same as a callback, run on the hub's thread.
    virtual void when_ready(std::vector<std::string> channels, std::function<void()> done) = 0;
};

// One connected Socket.IO socket, as the domain sees it.
// The rooms a socket is in: a sorted vector (one heap block for a socket in General alone,
// where a std::set took a node per room).
class room_set {
  public:
    using const_iterator = std::vector<std::string>::const_iterator;
    bool contains(std::string_view room) const;
    bool insert(std::string_view room);  // false when it was there
    // Adds every room of `rooms`: true when one was new.
    bool insert_all(const std::vector<std::string>& rooms);
    std::size_t erase(std::string_view room);
    const_iterator begin() const { return rooms_.begin(); }
    const_iterator end() const { return rooms_.end(); }
    std::size_t size() const { return rooms_.size(); }

  private:
    std::vector<std::string> rooms_;  // sorted, unique
};

class client_socket {
  public:
    client_socket() = default;
    client_socket(const client_socket&) = delete;
    client_socket& operator=(const client_socket&) = delete;
    // Leaves its hub: a hub never holds a socket that is gone, whatever path closed it.
    virtual ~client_socket();
    // Queues an encoded packet for this client (never blocks; may drop a slow client, but must
    // not re-enter the hub: leaving it happens later, from the event loop).
    virtual void deliver(const packet_ptr& packet) = 0;

    std::optional<user> account;  // nullopt: not logged in (may neither join nor send)
    // Rooms this socket is joined to (all checked memberships). Changed through the hub, which
    // routes their events here.
    const room_set& rooms() const { return rooms_; }
    // The redchat protocol version the client announced in its Socket.IO connect (0: none, the
    // tutorial's protocol exactly; 1: the events of docs/realtime.md "Protocol 1").
    std::uint8_t protocol = 0;
    // Presence by subscription (protocol 1, docs/realtime.md "Presence"): a socket that watches
    // gets user.connected / user.disconnected only for the users in `watched()`, set by
    // `presence.watch`; any other logged-in socket gets them for everyone.
    bool watches_presence = false;

    // What only a socket that does something needs, made on its first use: an idle connection
    // holds one pointer for all of it.
    struct activity {
        std::optional<token_bucket> send_bucket;              // message rate of this connection
        std::optional<token_bucket> read_bucket;              // rate of read-position updates
        std::chrono::steady_clock::time_point last_typing{};  // typing signals are throttled
        std::vector<std::string> watched;  // sorted, unique (set through hub::watch_presence)
    };
    activity& active();
    // The users this socket watches (empty: none, or it watches everyone).
    const std::vector<std::string>& watched() const;

    // Presence accounting of this socket (chat::realtime): counted once, joined before it
    // leaves. `joining`: the join is on its way to Redis; a disconnect meanwhile is remembered
    // in `leave_pending` and the leave follows the join. `failed`: the join did not count it
    // in Redis, so no leave may uncount it.
    enum class presence_state : std::uint8_t { none, joining, joined, failed };
    presence_state presence = presence_state::none;
    bool leave_pending = false;

    bool in_hub() const { return hub_ != nullptr; }

  private:
    friend class hub;
    // Declared here, after the small public fields, so that they all share one word (a chat
    // socket stays within jemalloc's 256-byte class).
    // It tells a socket from a later one at its address: unique per hub among the last 2^32
    // sockets it took in (a deferred delivery waits seconds at most, not 4 billion connects).
    std::uint32_t serial_ = 0;
    hub* hub_ = nullptr;  // the hub this socket is in, if any
    room_set rooms_;
    std::vector<const compact_string*> channels_;  // held in the hub's channel counts
    std::unique_ptr<activity> activity_;
};

class hub {
  public:
    hub() = default;
    hub(const hub&) = delete;
    hub& operator=(const hub&) = delete;
    ~hub();

    // Routes by room from now on: the hub tells `routes` which channels its sockets need
    // (null: no routing, as in tests without a bus). `tutorial_bus`: presence comes on
    // `MESSAGES`, so the presence channels are not needed. `private_rooms_by_room`: a private
    // room's events come on the room's channel (on a Redis Cluster), not on its users'.
    void route_through(bus_routes* routes, bool tutorial_bus, bool private_rooms_by_room = false);

    // A socket is in at most one hub, once; it leaves by remove() or by its destructor.
    void add(client_socket& socket);
    void remove(client_socket& socket);
    // Re-index after `account` changed (login on an open socket).
    void update_user(client_socket& socket, const std::optional<user>& before);
    // From now on `socket` gets presence only for `users` (sorted, unique; replaces what it
    // watched before).
    void watch_presence(client_socket& socket, std::vector<std::string> users);
    // Joins or leaves rooms (their events reach the socket from now on / no more).
    void join_rooms(client_socket& socket, const std::vector<std::string>& room_ids);
    void leave_room(client_socket& socket, const std::string& room_id);
    // Resumes once the bus carries every channel `socket` needs (at once without routing).
    boost::asio::awaitable<void> routes_ready(const client_socket& socket);

    // Delivers to the local sockets entitled to `ev`: members of a message's room (everyone
    // logged in for General, the two participants of a private room), the two users of a
    // show.room, and for presence events every logged-in socket that watches everyone plus
    // those that watch the user (found by index: the cost follows the receivers, not the
    // sockets of the thread). Our own events go only to sockets
    // of protocol 1: edits, deletes and reactions to the room's members, typing to the
    // room's members but the typist, a read position to the
    // room's members (in General, where everyone is, only to the reader's own sockets), a
    // group's change to its members and those who left (whose sockets leave the room at once,
    // as every member's socket joins it).
    // `scope` (the channel it came on, chat/routing.hpp) narrows the receivers: an event on a
    // user's channel goes only to that user's sockets, one on a presence channel only to the
    // sockets that watch everyone, or only to the user's watchers. Returns the number of sockets.
    std::size_t deliver(const bus_event& ev, const packet_ptr& packet,
                        const routing::scope& scope = {});
    // Channels this thread's sockets need (tests, metrics).
    std::size_t channels() const { return channel_refs_.size(); }

    std::size_t size() const { return sockets_.size(); }
    // Local sockets of a user (presence accounting, tests).
    std::size_t sockets_of(std::string_view user_id) const;

    // This thread's presence count of a user (chat::realtime: its sockets whose join was sent
    // and whose leave is not done; it outlives the sockets' time in the hub). Kept in the
    // user's entry beside its sockets: one record per user and thread.
    void count_presence(std::string_view user_id, int delta);
    // user id -> count, for the periodic rewrite of the instance's presence.
    std::unordered_map<std::string, int> presence_counts() const;

  private:
    // The event to one candidate socket, if it is entitled to it; a show.room or a group change
    // also moves the socket into or out of the room.
    std::size_t deliver_one(client_socket& s, const bus_event& ev, const packet_ptr& packet);
    std::size_t deliver_to_user(std::string_view user_id, const bus_event& ev,
                                const packet_ptr& packet);
    std::size_t deliver_to_all(const bus_event& ev, const packet_ptr& packet);
    std::size_t deliver_presence(const bus_event& ev, const packet_ptr& packet,
                                 const routing::scope& scope);
    void index_presence(client_socket& socket);
    void unindex_presence(client_socket& socket);
    // Recomputes the channels `socket` needs and adjusts the counts.
    void reroute(client_socket& socket);
    const compact_string* hold(std::string_view channel);
    void release(std::string_view channel);
    // Delivers `packet` to `s` once the bus carries `channel` (if `s` is still here then).
    void deliver_when_routed(client_socket& s, std::string channel, packet_ptr packet);

    std::unordered_set<client_socket*> sockets_;
    // A user's record on this thread: its sockets here and its presence count. The entry goes
    // once both are none. 64 bytes with its key in place, for the two indexes that took a
    // node each.
    struct user_entry {
        client_socket* first = nullptr;                     // a socket of the user, if any
        std::unique_ptr<std::vector<client_socket*>> more;  // its other sockets (rare)
        int presence = 0;
    };
    using user_index =
        std::unordered_map<compact_string, user_entry, compact_string_hash, std::equal_to<>>;
    void index_user(client_socket& socket);
    void unindex_user(std::string_view user_id, const client_socket* socket);
    void drop_if_unused(user_index::iterator it);

    user_index users_;
    std::unordered_set<client_socket*> presence_all_;                // logged in, watching everyone
    std::unordered_multimap<std::string, client_socket*> watchers_;  // watched user -> socket
    bus_routes* routes_ = nullptr;
    bool tutorial_bus_ = true;
    bool private_rooms_by_room_ = false;
    std::uint32_t next_serial_ = 0;
    // Channel -> sockets that need it. Node-based: sockets hold pointers to the keys.
    std::unordered_map<compact_string, std::uint32_t, compact_string_hash, std::equal_to<>>
        channel_refs_;
};

}  // namespace redchat::chat
