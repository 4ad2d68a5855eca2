#pragma once
// The connected sockets of one I/O thread and who is entitled to which event. Touched only by
// its own thread; bus events reach it as one shared, already encoded packet.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "chat/bus_event.hpp"
#include "chat/store.hpp"
#include "core/outgoing_packet.hpp"
#include "core/token_bucket.hpp"

namespace redchat::chat {

// Encoded packets come from the transport, opaque here (core/outgoing_packet.hpp).
using redchat::outgoing_packet;
using redchat::packet_ptr;

class hub;

// One connected Socket.IO socket, as the domain sees it.
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
    std::set<std::string> rooms;  // rooms this socket is joined to (all checked memberships)
    std::optional<token_bucket> send_bucket;  // message rate of this connection
    // The redchat protocol version the client announced in its Socket.IO connect (0: none, the
    // tutorial's protocol exactly; 1: the events of docs/realtime.md "Protocol 1").
    int protocol = 0;
    std::chrono::steady_clock::time_point last_typing{};  // typing signals are throttled
    // Presence by subscription (protocol 1, docs/realtime.md "Presence"): a socket that watches
    // gets user.connected / user.disconnected only for the users in `watched` (sorted, unique),
    // set by `presence.watch`; any other logged-in socket gets them for everyone.
    bool watches_presence = false;
    std::vector<std::string> watched;
    std::optional<token_bucket> read_bucket;  // rate of read-position updates

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
    hub* hub_ = nullptr;  // the hub this socket is in, if any
};

class hub {
  public:
    hub() = default;
    hub(const hub&) = delete;
    hub& operator=(const hub&) = delete;
    ~hub();

    // A socket is in at most one hub, once; it leaves by remove() or by its destructor.
    void add(client_socket& socket);
    void remove(client_socket& socket);
    // Re-index after `account` changed (login on an open socket).
    void update_user(client_socket& socket, const std::optional<user>& before);
    // From now on `socket` gets presence only for `users` (sorted, unique; replaces what it
    // watched before).
    void watch_presence(client_socket& socket, std::vector<std::string> users);

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
    // Returns the number of sockets.
    std::size_t deliver(const bus_event& ev, const packet_ptr& packet);

    std::size_t size() const { return sockets_.size(); }
    // Local sockets of a user (presence accounting, tests).
    std::size_t sockets_of(const std::string& user_id) const { return by_user_.count(user_id); }

  private:
    std::size_t deliver_to_user(const std::string& user_id, const packet_ptr& packet,
                                int min_protocol = 0);
    std::size_t deliver_extension(const bus_event& ev, const packet_ptr& packet);
    std::size_t deliver_group_change(const bus_event& ev, const packet_ptr& packet);
    std::size_t deliver_presence(const bus_event& ev, const packet_ptr& packet);
    void index_presence(client_socket& socket);
    void unindex_presence(client_socket& socket);

    std::unordered_set<client_socket*> sockets_;
    std::unordered_multimap<std::string, client_socket*> by_user_;
    std::unordered_set<client_socket*> presence_all_;                // logged in, watching everyone
    std::unordered_multimap<std::string, client_socket*> watchers_;  // watched user -> socket
};

}  // namespace redchat::chat
