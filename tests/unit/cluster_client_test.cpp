// redis::cluster_client against a real Redis Cluster started here: six redis-server processes
// on free loopback ports (3 masters, 3 replicas, made a cluster with CLUSTER MEET and REPLICATE).
// Routing by slot, MOVED and ASK during a real slot migration, and a master killed; the same
// for the cluster bus (sharded pub/sub).

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "chat/routing.hpp"
#include "chat/store.hpp"
#include "core/metrics.hpp"
#include "redis/chat_store.hpp"
#include "redis/cluster.hpp"
#include "redis/cluster_bus.hpp"
#include "redis/cluster_client.hpp"
#include "redis_process.hpp"

namespace redchat::redis {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// The output of a shell command (redis-cli, to set the cluster up and look at it from outside).
std::string shell(const std::string& command) {
    std::string out;
    FILE* p = ::popen((command + " 2>&1").c_str(), "r");
    if (p == nullptr)
        return out;
    std::array<char, 4096> buf{};
    while (std::fgets(buf.data(), static_cast<int>(buf.size()), p) != nullptr)
        out += buf.data();
    ::pclose(p);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r'))
        out.pop_back();
    return out;
}

std::string cli(unsigned short port, const std::string& args) {
    return shell("redis-cli -p " + std::to_string(port) + " " + args);
}

// Six nodes made one cluster by hand (what `redis-cli --cluster create` does, without its
// one-second polls): three masters with a third of the slots each, the others their replicas.
// Each node's cluster bus is on a port of its own; a replica syncs at once (no diskless delay).
class redis_cluster {
  public:
    redis_cluster() {
        std::vector<unsigned short> bus_ports;
        for (int i = 0; i < 6; ++i) {
            bus_ports.push_back(free_port());
            nodes_.push_back(std::make_unique<redis_process>(std::vector<std::string>{
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", "1000", "--cluster-port", std::to_string(bus_ports[i]),
                "--repl-diskless-sync-delay", "0"}));
        }
        for (const auto& n : nodes_)
            wait_for([&] { return cli(n->port(), "PING") == "PONG"; });
        // Distinct epochs, so that no two masters claim their slots with the same one.
        for (std::size_t i = 0; i < nodes_.size(); ++i)
            note(cli(nodes_[i]->port(), "CLUSTER SET-CONFIG-EPOCH " + std::to_string(i + 1)));
        const std::array<std::string, 3> ranges{"0 5460", "5461 10922", "10923 16383"};
        for (std::size_t i = 0; i < ranges.size(); ++i)
            note(cli(nodes_[i]->port(), "CLUSTER ADDSLOTSRANGE " + ranges[i]));
        for (std::size_t i = 1; i < nodes_.size(); ++i) {
            note(cli(nodes_[0]->port(), "CLUSTER MEET 127.0.0.1 " +
                                            std::to_string(nodes_[i]->port()) + " " +
                                            std::to_string(bus_ports[i])));
        }
        // A node can replicate a master it knows.
        for (std::size_t i = 3; i < nodes_.size(); ++i) {
            const std::string master = cli(nodes_[i - 3]->port(), "CLUSTER MYID");
            wait_for([&] { return cli(nodes_[i]->port(), "CLUSTER REPLICATE " + master) == "OK"; });
        }
        // Ready: every node knows every other one, sees three replicas, has every slot served,
        // and each replica has synced (one that never did cannot take over).
        for (const auto& n : nodes_) {
            wait_for([&] {
                const auto [masters, replicas] = roles(cli(n->port(), "CLUSTER NODES"));
                return masters == 3 && replicas == 3 &&
                       cli(n->port(), "CLUSTER INFO").find("cluster_state:ok") != std::string::npos;
            });
        }
        for (std::size_t i = 3; i < nodes_.size(); ++i) {
            wait_for([&] {
                return cli(nodes_[i]->port(), "INFO replication").find("master_link_status:up") !=
                       std::string::npos;
            });
        }
        note(cli(nodes_[0]->port(), "CLUSTER NODES"));
    }

    std::vector<cluster::endpoint> seeds(std::size_t n) const {
        std::vector<cluster::endpoint> out;
        for (std::size_t i = 0; i < n; ++i)
            out.push_back({"127.0.0.1", nodes_[i]->port()});
        return out;
    }
    redis_process* process(unsigned short port) {
        for (auto& n : nodes_) {
            if (n->port() == port)
                return n.get();
        }
        return nullptr;
    }
    // What setting the cluster up answered, for a failure message.
    const std::string& creation_log() const { return created_; }

    static void wait_for(const std::function<bool()>& done) {
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while (!done() && std::chrono::steady_clock::now() < deadline)
            ::usleep(50'000);
    }

  private:
    // Masters and replicas in a CLUSTER NODES answer that are plain members (no handshake
    // going on, no failure suspected): "<id> <addr> <flags> ..." per line, flags like
    // "myself,master".
    static std::pair<int, int> roles(const std::string& nodes) {
        std::pair<int, int> out{0, 0};
        std::istringstream lines(nodes);
        for (std::string line; std::getline(lines, line);) {
            std::istringstream fields(line);
            std::string id, addr, flags;
            fields >> id >> addr >> flags;
            std::set<std::string> set;
            std::istringstream parts(flags);
            for (std::string f; std::getline(parts, f, ',');)
                set.insert(f);
            if (set.count("handshake") || set.count("noaddr") || set.count("fail") ||
                set.count("fail?"))
                continue;
            out.first += set.count("master") ? 1 : 0;
            out.second += set.count("slave") ? 1 : 0;
        }
        return out;
    }
    void note(const std::string& answer) { created_ += answer + "\n"; }

    std::vector<std::unique_ptr<redis_process>> nodes_;
    std::string created_;
};

// A cluster, a command client and a bus on it. (Each test makes its own cluster, in about
// two seconds: the tests are few and each covers much.)
class cluster_test : public loop_fixture {
  protected:
    void SetUp() override {
        ASSERT_NE(cli(seeds_port(), "CLUSTER INFO").find("cluster_state:ok"), std::string::npos)
            << cluster_.creation_log();
        cluster_client::options o;
        o.seeds = cluster_.seeds(1);  // one node is enough to find the others
        o.timeout = 1000ms;
        o.name = "test";
        client_ = std::make_unique<cluster_client>(ioc_.get_executor(), o, stats_.for_thread(0));
        client_->start();
        o.seeds = cluster_.seeds(2);
        o.name = "test-bus";
        bus_ = std::make_unique<cluster_bus>(ioc_.get_executor(), o, stats_.for_thread(0));
        bus_->subscribe({"always"}, [this](std::string_view channel, std::string_view payload) {
            got_.emplace_back(std::string(channel) + "=" + std::string(payload));
        });
        bus_->on_active([this](std::string_view channel) { activated_.emplace_back(channel); });
        bus_->start();
        run_until([&] { return client_->ready() && bus_->ready(); });
    }
    void TearDown() override {
        bus_->stop();
        client_->stop();
        ioc_.restart();
        ioc_.poll();
    }
    unsigned short seeds_port() const { return cluster_.seeds(1)[0].port; }

    std::optional<std::string> get(const std::string& key) {
        auto r = await(client_->exec({"GET", key}));
        if (!r)
            return std::nullopt;
        return r->as_string();
    }
    unsigned short owner_port(const std::string& key) {
        auto m = client_->master_of(cluster::key_slot(key));
        return m ? m->port : 0;
    }
    std::string node_id(unsigned short port) { return cli(port, "CLUSTER MYID"); }
    std::vector<unsigned short> masters() {
        std::vector<unsigned short> out;
        for (int i = 0; i < 300 && out.size() < 3; ++i) {
            const auto port = owner_port("key" + std::to_string(i));
            if (std::find(out.begin(), out.end(), port) == out.end())
                out.push_back(port);
        }
        return out;
    }
    // The port of the replica of the master at `port`.
    unsigned short replica_of(unsigned short port) {
        const auto info = cli(port, "INFO replication");
        const auto at = info.find("port=");
        return at == std::string::npos
                   ? 0
                   : static_cast<unsigned short>(std::stoi(info.substr(at + 5)));
    }
    // SPUBLISH through the client: true when the bus was there to hear it.
    bool published(const std::string& channel, const std::string& payload) {
        auto r = await(client_->exec({"SPUBLISH", channel, payload}));
        return r && r->as_integer() == 1;
    }
    bool heard(const std::string& channel, const std::string& payload) {
        return std::find(got_.begin(), got_.end(), channel + "=" + payload) != got_.end();
    }
    void subscribe_and_wait(const std::string& channel) {
        bus_->want_channel(channel);
        run_until([&] { return bus_->channel_active(channel); });
    }

    redis_cluster cluster_;
    metrics::registry stats_{1};
    std::unique_ptr<cluster_client> client_;
    std::unique_ptr<cluster_bus> bus_;
    std::vector<std::string> got_;        // "channel=payload", as the bus heard them
    std::vector<std::string> activated_;  // channels the bus said were active
};

TEST_F(cluster_test, keys_and_channels_go_to_the_master_of_their_slot) {
    for (int i = 0; i < 300; ++i) {
        auto r = await(client_->exec({"SET", "key" + std::to_string(i), std::to_string(i)}));
        ASSERT_TRUE(r) << r.error().message();
    }
    EXPECT_EQ(client_->stats().redirects, 0u);  // the table said where each key lives
    // Every master holds its share, and only keys of its own slots.
    long long total = 0;
    for (auto port : masters())
        total += std::stoll(cli(port, "DBSIZE"));
    EXPECT_EQ(masters().size(), 3u);
    EXPECT_EQ(total, 300);
    for (int i = 0; i < 300; i += 7) {
        const auto key = "key" + std::to_string(i);
        EXPECT_EQ(cli(owner_port(key), "GET " + key), std::to_string(i));
    }
    // A pipeline across nodes comes back in order.
    std::vector<command> gets;
    for (int i = 0; i < 30; ++i)
        gets.push_back({"GET", "key" + std::to_string(i)});
    gets.push_back({"PING"});  // no key: any master
    auto all = await(client_->exec_all(std::move(gets)));
    ASSERT_TRUE(all);
    ASSERT_EQ(all->size(), 31u);
    for (int i = 0; i < 30; ++i)
        EXPECT_EQ((*all)[static_cast<std::size_t>(i)].as_string(), std::to_string(i));
    EXPECT_EQ(all->back().as_string(), "PONG");
    // Scripts go by their first key; a script the node lacks is NOSCRIPT, as with one Redis.
    auto script = await(client_->exec({"EVAL", "return redis.call('GET', KEYS[1])", "1", "key7"}));
    ASSERT_TRUE(script);
    EXPECT_EQ(script->as_string(), "7");
    auto missing =
        await(client_->exec({"EVALSHA", "0123456789012345678901234567890123456789", "1", "key7"}));
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error(), make_error_code(errc::redis_noscript));
    // Keys of two slots in one command: Redis refuses it, and so does the call.
    EXPECT_FALSE(await(client_->exec({"MGET", "key1", "key2"})));

    // The bus: each channel on its slot's master.
    std::vector<std::string> channels;
    for (int i = 0; i < 30; ++i) {
        channels.push_back("room:" + std::to_string(i));
        bus_->want_channel(channels.back());
    }
    run_until([&] {
        return std::all_of(channels.begin(), channels.end(),
                           [&](const auto& c) { return bus_->channel_active(c); });
    });
    EXPECT_EQ(activated_.size(), 31u);  // "always" and the 30
    std::set<unsigned short> nodes;
    for (const auto& c : channels) {
        const auto home = bus_->home_of(c);
        ASSERT_TRUE(home);
        EXPECT_EQ(home->port, owner_port(c));
        nodes.insert(home->port);
        ASSERT_TRUE(published(c, "hello"));
    }
    EXPECT_EQ(nodes.size(), 3u);
    ASSERT_TRUE(published("always", "x"));
    run_until([&] { return got_.size() == 31; });
    for (const auto& c : channels)
        EXPECT_TRUE(heard(c, "hello")) << c;
    // Dropped: unsubscribed on its node.
    bus_->drop_channel("room:0");
    EXPECT_FALSE(bus_->channel_active("room:0"));
    run_until(
        [&] { return cli(owner_port("room:0"), "PUBSUB SHARDNUMSUB room:0") == "room:0\n0"; });
}

TEST_F(cluster_test, a_slot_migration_is_followed_by_commands_and_channels) {
    const std::string key = "{moving}old";
    const std::string channel = "{moving}channel";  // the same slot
    ASSERT_TRUE(await(client_->exec({"SET", key, "v"})));
    subscribe_and_wait(channel);
    activated_.clear();
    const auto slot = std::to_string(cluster::key_slot(key));
    const auto from = owner_port(key);
    unsigned short to = 0;
    for (auto port : masters()) {
        if (port != from)
            to = port;
    }
    // The slot migrates: a key the old owner no longer has is answered with ASK.
    ASSERT_EQ(cli(to, "CLUSTER SETSLOT " + slot + " IMPORTING " + node_id(from)), "OK");
    ASSERT_EQ(cli(from, "CLUSTER SETSLOT " + slot + " MIGRATING " + node_id(to)), "OK");
    auto set = await(client_->exec({"SET", "{moving}new", "w"}));
    ASSERT_TRUE(set) << set.error().message();
    EXPECT_EQ(client_->stats().redirects, 1u);
    EXPECT_EQ(cli(to, "CLUSTER COUNTKEYSINSLOT " + slot), "1");  // it went to the new owner
    EXPECT_EQ(owner_port(key), from);                            // ASK moves nothing for good
    // The migration ends: the old owner answers MOVED from now on.
    ASSERT_EQ(cli(from, "MIGRATE 127.0.0.1 " + std::to_string(to) + " \"\" 0 5000 KEYS " + key),
              "OK");
    for (auto port : masters())  // every master, as a migration tool does
        ASSERT_EQ(cli(port, "CLUSTER SETSLOT " + slot + " NODE " + node_id(to)), "OK");
    EXPECT_EQ(get(key), "v");
    EXPECT_EQ(client_->stats().redirects, 2u);
    EXPECT_EQ(owner_port(key), to);  // learnt from the MOVED
    EXPECT_EQ(get("{moving}new"), "w");
    EXPECT_EQ(client_->stats().redirects, 2u);  // straight to the new owner
    // The old owner ended the channel's subscription; the bus subscribed it on the new one.
    run_until([&] {
        const auto home = bus_->home_of(channel);
        return home && home->port == to && bus_->channel_active(channel);
    });
    EXPECT_EQ(activated_, (std::vector<std::string>{channel}));
    run_until([&] { return published(channel, "after the move"); });
    run_until([&] { return heard(channel, "after the move"); });
}

TEST_F(cluster_test, a_killed_master_is_replaced_by_its_replica_with_its_keys_and_channels) {
    for (int i = 0; i < 100; ++i)
        ASSERT_TRUE(await(client_->exec({"SET", "key" + std::to_string(i), std::to_string(i)})));
    const std::string channel = "{key0}channel";  // key0's slot
    subscribe_and_wait(channel);
    const auto victim = owner_port("key0");
    const auto replica = replica_of(victim);
    ASSERT_NE(replica, 0);
    // Its replica has every write before the master goes.
    redis_cluster::wait_for([&] { return cli(replica, "DBSIZE") == cli(victim, "DBSIZE"); });
    ASSERT_EQ(cli(replica, "DBSIZE"), cli(victim, "DBSIZE"));
    cluster_.process(victim)->kill();
    // Calls fail until the replica is promoted (about two node timeouts), then work again.
    run_until([&] { return get("key0") == "0"; });
    EXPECT_EQ(owner_port("key0"), replica);
    EXPECT_GT(client_->stats().refreshes, 1u);
    for (int i = 0; i < 100; ++i)
        EXPECT_EQ(get("key" + std::to_string(i)), std::to_string(i)) << i;
    run_until([&] { return client_->ready(); });
    // The channel moved to the promoted replica.
    run_until([&] {
        const auto home = bus_->home_of(channel);
        return home && home->port == replica && bus_->channel_active(channel);
    });
    run_until([&] { return published(channel, "after the failover"); });
    run_until([&] { return heard(channel, "after the failover"); });
    run_until([&] { return bus_->ready(); });
}

// The chat store with the cluster layout, every operation once: no script or command may span
// two slots (Redis refuses those), and each reads back what the others wrote.
TEST_F(cluster_test, the_chat_store_runs_on_the_cluster) {
    auto store = make_chat_store(*client_, false, keys::redis_cluster);
    auto& db = *store;
    EXPECT_TRUE(await(db.claim_empty_store()).value());
    auto pablo = await(db.create_user("Pablo", "hash-p"));
    ASSERT_TRUE(pablo && *pablo) << (pablo ? "taken" : pablo.error().message());
    auto joe = await(db.create_user("Joe", "hash-j"));
    ASSERT_TRUE(joe && *joe);
    auto again = await(db.create_user("Pablo", "other"));
    ASSERT_TRUE(again);
    EXPECT_FALSE(*again);  // taken
    const auto p = (*pablo)->id;
    const auto j = (*joe)->id;
    auto found = await(db.find_user("Pablo"));
    ASSERT_TRUE(found && *found);
    EXPECT_EQ((*found)->password_hash, "hash-p");
    EXPECT_EQ(await(db.usernames({p, j, "999"})).value(),
              (std::vector<std::optional<std::string>>{"Pablo", "Joe", std::nullopt}));
    auto matches = await(db.search_users("pa", "", 10));
    ASSERT_TRUE(matches);
    ASSERT_EQ(matches->size(), 1u);
    EXPECT_EQ((*matches)[0].username, "Pablo");

    ASSERT_TRUE(await(db.put_session("s1", p, 60s, 600s)));
    EXPECT_EQ(await(db.session_user("s1", 60s)).value(), p);

    const std::string room = p + ":" + j;
    ASSERT_TRUE(await(db.add_room(room, {p, j})));
    auto rooms = await(db.user_rooms(j));
    ASSERT_TRUE(rooms);
    std::sort(rooms->begin(), rooms->end());
    EXPECT_EQ(*rooms, (std::vector<std::string>{"0", room}));
    EXPECT_TRUE(await(db.is_room_member(j, room)).value());

    // A private room's message: stored, and published on the room's channel (on a cluster a
    // script publishes only in its keys' slot).
    subscribe_and_wait(chat::routing::room_channel(room));
    auto posted = await(db.post_message(room, p, "hi", 1'800'000'000.0, "srv", "c1", false));
    ASSERT_TRUE(posted) << posted.error().message();
    EXPECT_TRUE(posted->first_in_room);
    auto repeat = await(db.post_message(room, p, "hi", 1'800'000'001.0, "srv", "c1", false));
    ASSERT_TRUE(repeat);
    EXPECT_TRUE(repeat->duplicate);
    run_until([&] { return got_.size() == 1; });
    auto page = await(db.session_and_page("s1", 60s, room, 0, 10, HUGE_VAL));
    ASSERT_TRUE(page);
    EXPECT_EQ(page->user_id, p);
    ASSERT_EQ(page->messages.size(), 1u);

    auto read = await(db.mark_read(room, j, 1'800'000'000.0, ""));
    ASSERT_TRUE(read) << read.error().message();
    auto general = await(db.post_message("0", j, "hello all", 1'800'000'002.0, "srv", "", false));
    ASSERT_TRUE(general) << general.error().message();
    auto state = await(db.read_state(p));
    ASSERT_TRUE(state) << state.error().message();
    EXPECT_EQ(state->size(), 2u);  // General and the private room
    for (const auto& r : *state)
        EXPECT_EQ(r.unread, r.room_id == "0" ? 1 : 0) << r.room_id;

    const std::string group = "g0123456789abcdef";
    auto made = await(db.create_group(group, p, "team", {j}, 10, "srv"));
    ASSERT_TRUE(made) << made.error().message();
    EXPECT_EQ(made->outcome, chat::group_outcome::ok);
    EXPECT_TRUE(await(db.is_room_member(j, group)).value());
    auto renamed = await(db.rename_group(group, p, "crew", "srv"));
    ASSERT_TRUE(renamed);
    EXPECT_EQ(renamed->group.name, "crew");
    auto left = await(db.remove_group_member(group, j, j, "srv"));
    ASSERT_TRUE(left);
    EXPECT_EQ(left->outcome, chat::group_outcome::ok);
    EXPECT_FALSE(await(db.is_room_member(j, group)).value());
    auto in_group =
        await(db.post_message(group, p, "to the team", 1'800'000'003.0, "srv", "", true));
    ASSERT_TRUE(in_group) << in_group.error().message();

    const auto id = boost::json::parse(posted->json).at("id").as_string();
    auto edited = await(db.edit_message(room, std::string(id), 1'800'000'000.0, p, "hi!", false,
                                        1'800'000'010.0, "srv"));
    ASSERT_TRUE(edited) << edited.error().message();
    EXPECT_EQ(edited->outcome, chat::change_outcome::ok);
    auto reacted =
        await(db.toggle_reaction(room, std::string(id), 1'800'000'000.0, j, "👍", 8, "srv"));
    ASSERT_TRUE(reacted) << reacted.error().message();
    EXPECT_EQ(reacted->outcome, chat::change_outcome::ok);

    ASSERT_TRUE(await(db.presence_join("inst", p, "{}", 30s)));
    EXPECT_EQ(await(db.online_user_ids()).value(), std::vector<std::string>{p});
    ASSERT_TRUE(await(db.presence_rewrite("inst", "srv", 30s, {{p, 1}, {j, 2}})));
    EXPECT_EQ(await(db.online_flags({p, j})).value(), (std::vector<bool>{true, true}));
    ASSERT_TRUE(await(db.presence_leave("inst", p, "{}")));
    ASSERT_TRUE(await(db.presence_sweep("inst", "srv", true)));
    EXPECT_TRUE(await(db.online_user_ids()).value().empty());

    auto wait = await(db.count_login_attempt({{"user:pablo", 5}, {"address:1", 20}}, 900s));
    ASSERT_TRUE(wait) << wait.error().message();
    EXPECT_EQ(*wait, 0s);
    ASSERT_TRUE(await(db.login_succeeded({"user:pablo"}, {"address:1"})));
}

}  // namespace
}  // namespace redchat::redis
