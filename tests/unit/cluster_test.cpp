// Redis Cluster routing, sans-I/O: hash slots, CLUSTER SLOTS tables and redirections, against the
// values of the cluster specification.
#include <gtest/gtest.h>

#include "chat/routing.hpp"
#include "redis/cluster.hpp"
#include "redis/keys.hpp"

namespace redchat::redis::cluster {
namespace {

reply integer(std::int64_t v) {
    reply r;
    r.type = reply::kind::integer;
    r.integer = v;
    return r;
}
reply bulk(std::string s) {
    reply r;
    r.type = reply::kind::string;
    r.str = std::move(s);
    return r;
}
reply array(std::vector<reply> items) {
    reply r;
    r.type = reply::kind::array;
    r.elements = std::move(items);
    return r;
}
reply node(std::string host, std::int64_t port) {
    return array({bulk(std::move(host)), integer(port), bulk("node-id")});
}

TEST(cluster, crc16_and_key_slots_match_the_specification) {
    EXPECT_EQ(crc16("123456789"), 0x31C3);  // the check value the spec gives
    EXPECT_EQ(key_slot(""), 0);
    EXPECT_EQ(key_slot("foo"), 12182);
    EXPECT_EQ(key_slot("bar"), 5061);
}

TEST(cluster, hash_tags_put_keys_in_one_slot) {
    EXPECT_EQ(hash_tag("{user1000}.following"), "user1000");
    EXPECT_EQ(key_slot("{user1000}.following"), key_slot("{user1000}.followers"));
    EXPECT_EQ(hash_tag("foo{}{bar}"), "foo{}{bar}");  // an empty first tag: the whole key
    EXPECT_EQ(hash_tag("foo{{bar}}zap"), "{bar");     // up to the first } after the first {
    EXPECT_EQ(hash_tag("foo{bar}{zap}"), "bar");      // only the first tag counts
    EXPECT_EQ(hash_tag("no tag"), "no tag");
    EXPECT_EQ(hash_tag("open{only"), "open{only");
}

TEST(cluster, redirections_are_parsed_and_anything_else_is_not_one) {
    auto moved = parse_redirect("MOVED 3999 127.0.0.1:6381");
    ASSERT_TRUE(moved);
    EXPECT_FALSE(moved->ask);
    EXPECT_EQ(moved->slot, 3999);
    EXPECT_EQ(moved->to, (endpoint{"127.0.0.1", 6381}));
    auto ask = parse_redirect("ASK 12182 ::1:7002");  // IPv6: the port follows the last colon
    ASSERT_TRUE(ask);
    EXPECT_TRUE(ask->ask);
    EXPECT_EQ(ask->to, (endpoint{"::1", 7002}));
    auto unknown_host = parse_redirect("MOVED 1 :6380");  // the answering node's own host
    ASSERT_TRUE(unknown_host);
    EXPECT_EQ(unknown_host->to, (endpoint{"", 6380}));
    for (const char* not_one :
         {"ERR unknown command", "MOVED", "MOVED 16384 h:1", "MOVED x h:1", "MOVED 1 h",
          "MOVED 1 h:0", "MOVED 1 h:70000", "ASK 1 h:1 extra:2", "MOVED -1 h:1", "moved 1 h:1"}) {
        EXPECT_FALSE(parse_redirect(not_one)) << not_one;
    }
}

TEST(cluster, a_slot_table_is_read_from_cluster_slots_and_follows_moves) {
    const auto slots = array({
        array({integer(0), integer(5460), node("127.0.0.1", 7000), node("127.0.0.1", 7003)}),
        array({integer(5461), integer(10922), node("127.0.0.1", 7001)}),
        array({integer(10923), integer(16383), node("127.0.0.1", 7002)}),
    });
    auto table = slot_table::from_cluster_slots(slots);
    ASSERT_TRUE(table);
    EXPECT_TRUE(table->covers_all_slots());
    EXPECT_EQ(table->masters().size(), 3u);  // replicas are not masters
    EXPECT_EQ(*table->master_of(0), (endpoint{"127.0.0.1", 7000}));
    EXPECT_EQ(*table->master_of(key_slot("foo")), (endpoint{"127.0.0.1", 7002}));
    EXPECT_EQ(table->replicas_of(0), 1u);     // 7003 could take over from 7000
    EXPECT_EQ(table->replicas_of(5461), 0u);  // 7001 has none (listed)
    table->move(12182, endpoint{"127.0.0.1", 7005});
    EXPECT_EQ(table->replicas_of(12182), 0u);  // not known until the table is read again
    EXPECT_EQ(*table->master_of(12182), (endpoint{"127.0.0.1", 7005}));
    EXPECT_EQ(*table->master_of(12183), (endpoint{"127.0.0.1", 7002}));
    EXPECT_EQ(table->masters().size(), 4u);
}

TEST(cluster, a_partial_or_malformed_topology_is_told_apart) {
    auto partial = slot_table::from_cluster_slots(
        array({array({integer(0), integer(100), node("10.0.0.1", 6379)})}));
    ASSERT_TRUE(partial);
    EXPECT_FALSE(partial->covers_all_slots());
    EXPECT_EQ(partial->master_of(101), nullptr);
    for (const auto& bad : {
             bulk("not an array"),
             array({array({integer(5), integer(4), node("h", 1)})}),        // reversed range
             array({array({integer(0), integer(16384), node("h", 1)})}),    // past the last slot
             array({array({integer(0), integer(1), array({bulk("h")})})}),  // no port
             array({array({integer(0), integer(1), node("h", 0)})}),        // port 0
             array({array({integer(0), integer(1)})}),                      // no node
         }) {
        EXPECT_FALSE(slot_table::from_cluster_slots(bad));
    }
}

TEST(cluster, a_command_is_routed_by_its_first_key) {
    using cmd = std::vector<std::string>;
    EXPECT_EQ(routing_key(cmd{"GET", "user:1"}), "user:1");
    EXPECT_EQ(routing_key(cmd{"zadd", "room:0", "1", "m"}), "room:0");  // any case
    EXPECT_EQ(routing_key(cmd{"EVALSHA", "abc", "2", "{r}:a", "{r}:b", "arg"}), "{r}:a");
    EXPECT_EQ(routing_key(cmd{"EVAL", "return 1", "0", "arg"}), std::nullopt);  // no keys
    EXPECT_EQ(routing_key(cmd{"EVAL", "return 1", "1"}), std::nullopt);         // malformed
    EXPECT_EQ(routing_key(cmd{"SPUBLISH", "redchat:bus:room:{0}", "x"}), "redchat:bus:room:{0}");
    for (const auto& keyless :
         {cmd{"PING"}, cmd{"PUBLISH", "MESSAGES", "x"}, cmd{"CLUSTER", "SLOTS"},
          cmd{"SCRIPT", "LOAD", "x"}, cmd{"wait", "1", "100"}, cmd{}}) {
        EXPECT_EQ(routing_key(keyless), std::nullopt);
    }
}

TEST(cluster, a_master_announced_without_a_host_is_where_the_table_came_from) {
    auto table = slot_table::from_cluster_slots(
        array({array({integer(0), integer(16383), node("", 7000)})}));
    ASSERT_TRUE(table);
    table->fill_empty_hosts("10.0.0.9");
    EXPECT_EQ(*table->master_of(5), (endpoint{"10.0.0.9", 7000}));
}

TEST(cluster, a_channel_hashes_like_its_room_user_or_presence) {
    namespace routing = chat::routing;
    EXPECT_EQ(key_slot(routing::room_channel("1:2")), key_slot("1:2"));
    EXPECT_EQ(key_slot(routing::room_channel("g0123456789abcdef")), key_slot("g0123456789abcdef"));
    EXPECT_EQ(key_slot(routing::user_channel("42")), key_slot("42"));
    EXPECT_EQ(key_slot(routing::presence_channel), key_slot("presence"));
    EXPECT_EQ(key_slot(routing::presence_channel_of("42")), key_slot("presence"));
}

TEST(keys, one_redis_keeps_the_tutorials_names) {
    const auto& k = keys::single_redis;
    EXPECT_EQ(k.username("Pablo"), "username:Pablo");
    EXPECT_EQ(k.user("5"), "user:5");
    EXPECT_EQ(k.user_rooms("5"), "user:5:rooms");
    EXPECT_EQ(k.room("1:2"), "room:1:2");
    EXPECT_EQ(k.room_name("1:2"), "room:1:2:name");
    EXPECT_EQ(k.online_users(), "online_users");
    EXPECT_EQ(k.session("abc"), "session:abc");
    EXPECT_EQ(k.room_last("0"), "redchat:room-last:0");
    EXPECT_EQ(k.sent("1:2", "1", "c7"), "redchat:sent:1:c7");
    EXPECT_EQ(k.presence_counts(), "redchat:presence:counts");
    EXPECT_EQ(k.instance_alive("i"), "redchat:instance:i");
    EXPECT_EQ(k.failures("user:x"), "redchat:failures:user:x");
    EXPECT_EQ(k.lua_prelude(),
              "local function user_key(id) return 'user:' .. id end\n"
              "local function user_rooms_key(id) return 'user:' .. id .. ':rooms' end\n"
              "local function room_key(id) return 'room:' .. id end\n"
              "local function reads_key(id) return 'redchat:reads:' .. id end\n");
}

TEST(keys, on_a_cluster_what_one_script_touches_shares_a_slot) {
    namespace routing = chat::routing;
    const auto& k = keys::redis_cluster;
    for (const std::string room : {"0", "1:2", "g0123456789abcdef"}) {
        const auto slot = key_slot(k.room(room));
        for (const auto& key :
             {k.room_name(room), k.room_last(room), k.reads(room), k.reactions(room), k.group(room),
              k.group_members(room), k.sent(room, "7", "c1"), routing::room_channel(room)}) {
            EXPECT_EQ(key_slot(key), slot) << key;
        }
    }
    EXPECT_EQ(k.room("1:2"), "room:{1:2}");
    EXPECT_EQ(key_slot(k.user_rooms("7")), key_slot(k.user("7")));
    EXPECT_EQ(key_slot(routing::user_channel("7")), key_slot(k.user("7")));
    const auto presence = key_slot(k.online_users());
    for (const auto& key :
         {k.presence_counts(), k.presence_instances(), k.presence_of("i"), k.instance_alive("i"),
          std::string(routing::presence_channel), routing::presence_channel_of("7")}) {
        EXPECT_EQ(key_slot(key), presence) << key;
    }
    EXPECT_EQ(key_slot(k.failures("user:x")), key_slot(k.lockout("address:y")));
    EXPECT_TRUE(k.lua_prelude().starts_with(
        "local function user_key(id) return 'user:{' .. id .. '}' end\n"));
}

}  // namespace
}  // namespace redchat::redis::cluster
