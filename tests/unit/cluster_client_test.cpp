// redis::cluster_client against a real Redis Cluster started here: six redis-server processes
// on free loopback ports (3 masters, 3 replicas, made a cluster by `redis-cli --cluster create`).
// Routing by slot, MOVED and ASK during a real slot migration, and a master killed.

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/metrics.hpp"
#include "redis/cluster.hpp"
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

// Six nodes made one cluster; each node's cluster bus on a port of its own.
class redis_cluster {
  public:
    redis_cluster() {
        for (int i = 0; i < 6; ++i) {
            nodes_.push_back(std::make_unique<redis_process>(std::vector<std::string>{
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", "1000", "--cluster-port", std::to_string(free_port())}));
        }
        std::string create = "redis-cli --cluster create";
        for (const auto& n : nodes_) {
            wait_for([&] { return cli(n->port(), "PING") == "PONG"; });
            create += " 127.0.0.1:" + std::to_string(n->port());
        }
        created_ = shell(create + " --cluster-replicas 1 --cluster-yes");
        for (const auto& n : nodes_) {
            wait_for([&] {
                return cli(n->port(), "CLUSTER INFO").find("cluster_state:ok") != std::string::npos;
            });
        }
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
    const std::string& creation_log() const { return created_; }

    static void wait_for(const std::function<bool()>& done) {
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while (!done() && std::chrono::steady_clock::now() < deadline)
            ::usleep(50'000);
    }

  private:
    std::vector<std::unique_ptr<redis_process>> nodes_;
    std::string created_;
};

class cluster_client_test : public loop_fixture {
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
        run_until([&] { return client_->ready(); });
    }
    void TearDown() override {
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

    redis_cluster cluster_;
    metrics::registry stats_{1};
    std::unique_ptr<cluster_client> client_;
};

TEST_F(cluster_client_test, routes_each_key_to_the_master_of_its_slot) {
    for (int i = 0; i < 300; ++i) {
        auto r = await(client_->exec({"SET", "key" + std::to_string(i), std::to_string(i)}));
        ASSERT_TRUE(r) << r.error().message();
    }
    EXPECT_EQ(client_->stats().redirects, 0u);  // the table said where each key lives
    // Every master holds its share, and only keys of its own slots.
    std::vector<unsigned short> masters;
    long long total = 0;
    for (int i = 0; i < 300; ++i) {
        const auto port = owner_port("key" + std::to_string(i));
        ASSERT_NE(port, 0);
        if (std::find(masters.begin(), masters.end(), port) == masters.end()) {
            masters.push_back(port);
            total += std::stoll(cli(port, "DBSIZE"));
        }
        EXPECT_EQ(cli(port, "GET key" + std::to_string(i)), std::to_string(i));
    }
    EXPECT_EQ(masters.size(), 3u);
    EXPECT_EQ(total, 300);
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
    auto cross = await(client_->exec({"MGET", "key1", "key2"}));
    EXPECT_FALSE(cross);
}

TEST_F(cluster_client_test, follows_ask_during_a_migration_and_moved_after_it) {
    const std::string key = "{moving}old";
    ASSERT_TRUE(await(client_->exec({"SET", key, "v"})));
    const auto slot = std::to_string(cluster::key_slot(key));
    const auto from = owner_port(key);
    unsigned short to = 0;
    for (int i = 0; to == 0 || to == from; ++i)
        to = owner_port("key" + std::to_string(i));
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
}

TEST_F(cluster_client_test, a_killed_master_is_replaced_by_its_replica_and_the_keys_stay) {
    for (int i = 0; i < 100; ++i)
        ASSERT_TRUE(await(client_->exec({"SET", "key" + std::to_string(i), std::to_string(i)})));
    const auto victim = owner_port("key0");
    // Its replica has every write before the master goes.
    const auto info = cli(victim, "INFO replication");
    const auto at = info.find("port=");
    ASSERT_NE(at, std::string::npos) << info;
    const auto replica = static_cast<unsigned short>(std::stoi(info.substr(at + 5)));
    redis_cluster::wait_for([&] { return cli(replica, "DBSIZE") == cli(victim, "DBSIZE"); });
    ASSERT_EQ(cli(replica, "DBSIZE"), cli(victim, "DBSIZE"));
    cluster_.process(victim)->kill();
    // Failing calls until the replica is promoted (about two node timeouts), then the key again.
    bool back = false;
    run_until([&] {
        back = get("key0") == "0";
        return back;
    });
    ASSERT_TRUE(back);
    EXPECT_EQ(owner_port("key0"), replica);
    EXPECT_GT(client_->stats().refreshes, 1u);
    for (int i = 0; i < 100; ++i)
        EXPECT_EQ(get("key" + std::to_string(i)), std::to_string(i)) << i;
    run_until([&] { return client_->ready(); });
}

}  // namespace
}  // namespace redchat::redis
