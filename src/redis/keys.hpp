#pragma once
// The Redis key layout shared with the reference servers (compat-spec §4) and our additive
// keys (docs/redis-schema.md). Every key name is spelled here and nowhere else: the Lua scripts
// of chat_store.cpp, which build `user:{id}` keys from ids and publish on the channel, get the
// prefixes and the channel name from here (see lua_script there).

#include <string>
#include <string_view>

namespace redchat::redis::keys {

inline constexpr std::string_view total_users = "total_users";
inline constexpr std::string_view online_users = "online_users";
inline constexpr std::string_view messages_channel = "MESSAGES";

inline std::string username(std::string_view name) {
    return "username:" + std::string(name);
}
inline constexpr std::string_view user_prefix = "user:";
inline constexpr std::string_view rooms_suffix = ":rooms";

inline std::string user(std::string_view id) {
    return std::string(user_prefix) + std::string(id);
}
inline std::string user_rooms(std::string_view id) {
    return user(id) + std::string(rooms_suffix);
}
inline constexpr std::string_view room_prefix = "room:";
inline std::string room(std::string_view id) {
    return std::string(room_prefix) + std::string(id);
}
inline std::string room_name(std::string_view id) {
    return "room:" + std::string(id) + ":name";
}
inline std::string session(std::string_view id) {
    return "session:" + std::string(id);
}

// Ours (docs/redis-schema.md): ordering state and presence bookkeeping.
inline std::string room_last(std::string_view id) {
    return "redchat:room-last:" + std::string(id);
}
inline constexpr std::string_view presence_counts = "redchat:presence:counts";
inline constexpr std::string_view presence_instances = "redchat:presence:instances";
inline std::string presence_of(std::string_view instance) {
    return "redchat:presence:" + std::string(instance);
}
inline std::string failures(std::string_view key) {
    return "redchat:failures:" + std::string(key);
}
inline std::string lockout(std::string_view key) {
    return "redchat:lockout:" + std::string(key);
}
inline std::string instance_alive(std::string_view instance) {
    return "redchat:instance:" + std::string(instance);
}

// Ours, for the features beyond the tutorial (docs/redis-schema.md). Our pub/sub channels are
// named in chat/routing.hpp.
// Per room, each reader's read position (a message date).
inline constexpr std::string_view reads_prefix = "redchat:reads:";
inline std::string reads(std::string_view room_id) {
    return std::string(reads_prefix) + std::string(room_id);
}
// Group rooms: the group's owner (a hash, for more fields later) and its members.
inline std::string group(std::string_view room_id) {
    return "redchat:group:" + std::string(room_id);
}
inline std::string group_members(std::string_view room_id) {
    return "redchat:group:" + std::string(room_id) + ":members";
}
// The name index for search: a sorted set of "<search key>\0<user id>", all scores 0.
inline constexpr std::string_view usernames_index = "redchat:usernames";
// Per room: message id -> its reactions, {"<emoji>":["<user id>",...]}.
inline std::string reactions(std::string_view room_id) {
    return "redchat:reactions:" + std::string(room_id);
}
// A message stored for a sender's client id (reliable send): its JSON, for a day.
inline std::string sent(std::string_view user_id, std::string_view client_id) {
    return "redchat:sent:" + std::string(user_id) + ":" + std::string(client_id);
}

}  // namespace redchat::redis::keys
