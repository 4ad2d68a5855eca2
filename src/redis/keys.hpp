#pragma once
// The Redis key layout: the one shared with the reference servers (compat-spec §4) plus our
// additive keys (docs/redis-schema.md), and its Redis Cluster form. Every key name is spelled
// here and nowhere else: the Lua scripts of chat_store.cpp, which build keys from ids, get
// their key functions from lua_prelude().
//
// On a cluster every script's keys must share a hash slot, so the cluster layout puts hash tags
// in the names: a room's keys carry `{<room id>}`, a user's `{<user id>}`, presence's
// `{presence}`, login throttling's `{login}`. A tutorial server cannot use a cluster, so that
// layout need not be the tutorial's.

#include <string>
#include <string_view>

namespace redchat::redis::keys {

inline constexpr std::string_view total_users = "total_users";
inline constexpr std::string_view messages_channel = "MESSAGES";
// The value of `username:<name>` is "user:<id>" in both layouts.
inline constexpr std::string_view user_value_prefix = "user:";
// The name index for search: a sorted set of "<search key>\0<user id>", all scores 0.
inline constexpr std::string_view usernames_index = "redchat:usernames";

class layout {
  public:
    explicit constexpr layout(bool cluster) : cluster_(cluster) {}
    bool cluster() const { return cluster_; }

    std::string username(std::string_view name) const { return cat("username:", name); }
    std::string user(std::string_view id) const { return tagged("user:", id); }
    std::string user_rooms(std::string_view id) const { return user(id) + ":rooms"; }
    std::string room(std::string_view id) const { return tagged("room:", id); }
    std::string room_name(std::string_view id) const { return room(id) + ":name"; }
    std::string session(std::string_view id) const { return cat("session:", id); }

    // Ours: ordering state, reads, reactions, groups (per room); reliable send (per room and
    // sender, so that the message script sees it).
    std::string room_last(std::string_view id) const { return tagged("redchat:room-last:", id); }
    std::string reads(std::string_view room_id) const { return tagged("redchat:reads:", room_id); }
    std::string reactions(std::string_view room_id) const {
        return tagged("redchat:reactions:", room_id);
    }
    std::string group(std::string_view room_id) const { return tagged("redchat:group:", room_id); }
    std::string group_members(std::string_view room_id) const {
        return group(room_id) + ":members";
    }
    std::string sent(std::string_view room_id, std::string_view user_id,
                     std::string_view client_id) const {
        std::string out = cluster_ ? tagged("redchat:sent:", room_id) + ":" : "redchat:sent:";
        out.append(user_id);
        out.push_back(':');
        out.append(client_id);
        return out;
    }

    // Presence bookkeeping: one slot on a cluster.
    std::string online_users() const {
        return cluster_ ? "redchat:{presence}:online" : "online_users";
    }
    std::string presence_counts() const { return presence("counts"); }
    std::string presence_instances() const { return presence("instances"); }
    std::string presence_of(std::string_view instance) const { return presence(instance); }
    // On a cluster, where a presence script cannot read `user:{<id>}`: the names of users that
    // came online, for their announcements.
    std::string presence_names() const { return presence("names"); }
    std::string instance_alive(std::string_view instance) const {
        return cluster_ ? cat("redchat:{presence}:alive:", instance)
                        : cat("redchat:instance:", instance);
    }

    // Login throttling: one slot on a cluster (a login's checks are counted in one script).
    std::string failures(std::string_view key) const { return login("failures:", key); }
    std::string lockout(std::string_view key) const { return login("lockout:", key); }

    // Lua functions building the keys scripts derive from ids: user_key, user_rooms_key,
    // room_key, reads_key.
    std::string lua_prelude() const;

  private:
    static std::string cat(std::string_view a, std::string_view b) {
        std::string out(a);
        out.append(b);
        return out;
    }
    std::string tagged(std::string_view prefix, std::string_view id) const {
        std::string out(prefix);
        if (cluster_)
            out.push_back('{');
        out.append(id);
        if (cluster_)
            out.push_back('}');
        return out;
    }
    std::string presence(std::string_view what) const {
        return cat(cluster_ ? "redchat:{presence}:" : "redchat:presence:", what);
    }
    std::string login(std::string_view what, std::string_view key) const {
        return cat(cluster_ ? "redchat:{login}:" : "redchat:", cat(what, key));
    }

    bool cluster_;
};

// The tutorial's layout (one Redis) and the cluster's.
inline constexpr layout single_redis{false};
inline constexpr layout redis_cluster{true};

}  // namespace redchat::redis::keys
