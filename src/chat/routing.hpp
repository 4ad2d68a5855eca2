#pragma once
// Routing by room (docs/realtime.md "Routing"): which pub/sub channels carry which events, so
// that an instance subscribes only to what its sockets need and receives nothing else.
//
//   redchat:bus:room:{<room id>}    General's and a group room's events
//   redchat:bus:user:{<user id>}    a user's private rooms' events, show.room, group.changed
//   redchat:bus:{presence}          every user.connected / user.disconnected
//   redchat:bus:{presence}:<id>     that user's
//
// The braces are Redis Cluster hash tags: on a cluster a channel lives in the slot of its room,
// its user or presence, with the keys of the script that publishes on it.
//
// With the tutorial's bus on (the default), the tutorial's own events (messages of General and
// private rooms, show.room, presence) go on `MESSAGES` instead, where every instance and every
// tutorial server hears them; our events are routed either way. Pure functions, no I/O.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace redchat::chat::routing {

// The tutorial's channel, and ours that every instance always listens to (nothing is published
// on it any more: it keeps the subscriber connection subscribed, and is what its probe renews).
inline constexpr std::string_view tutorial_channel = "MESSAGES";
inline constexpr std::string_view control_channel = "redchat:events";

// A room's and a user's channel: the prefix, then the id in braces.
inline constexpr std::string_view room_prefix = "redchat:bus:room:{";
inline constexpr std::string_view user_prefix = "redchat:bus:user:{";
inline constexpr std::string_view presence_channel = "redchat:bus:{presence}";
inline constexpr std::string_view presence_prefix = "redchat:bus:{presence}:";

std::string room_channel(std::string_view room_id);
std::string user_channel(std::string_view user_id);
std::string presence_channel_of(std::string_view user_id);

// Where an event about `room_id` is published: a private room's to its two users, any other
// room's to the room. `tutorial_event`: one the tutorial knows (a message of General or of a
// private room, show.room), which goes on `MESSAGES` when `tutorial_bus` is on.
std::vector<std::string> room_event_channels(std::string_view room_id, bool tutorial_event,
                                             bool tutorial_bus);
// A read position: in General, where everyone is, only the reader's own sockets get it.
std::vector<std::string> read_channels(std::string_view room_id, std::string_view user_id);
// A user coming online or going offline.
std::vector<std::string> presence_channels(std::string_view user_id, bool tutorial_bus);

// Whom an event received on `channel` is for: every entitled socket (the tutorial's and our
// control channel, a room's channel), only the sockets of one user, only the sockets that watch
// everyone's presence, or only the watchers of one user. `id` views into `channel`.
struct scope {
    enum class kind : std::uint8_t { everyone, user, presence_all, presence_of };
    kind what = kind::everyone;
    std::string_view id;
};
scope scope_of(std::string_view channel);

}  // namespace redchat::chat::routing
