#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "config/redis_url.hpp"

namespace redchat::config {
namespace {

parse_outcome parse(std::vector<const char*> args) {
    args.insert(args.begin(), "redchat-server");
    return parse_command_line(static_cast<int>(args.size()), args.data());
}

// Sets an environment variable for the duration of a test.
struct scoped_env {
    scoped_env(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
    ~scoped_env() { ::unsetenv(name_); }
    const char* name_;
};

TEST(redis_url, host_port_password_db) {
    auto ep = parse_redis_url("redis://:s3cret@10.1.2.3:6380/2");
    ASSERT_TRUE(ep);
    EXPECT_EQ(ep->host, "10.1.2.3");
    EXPECT_EQ(ep->port, 6380);
    EXPECT_EQ(ep->password, "s3cret");
    EXPECT_FALSE(ep->username);
    EXPECT_EQ(ep->database, 2);
    EXPECT_EQ(ep->redacted(), "redis://:***@10.1.2.3:6380/2");
}

TEST(redis_url, defaults_and_acl_user) {
    auto plain = parse_redis_url("redis://localhost");
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->port, 6379);
    EXPECT_EQ(plain->database, 0);
    EXPECT_FALSE(plain->password);
    auto acl = parse_redis_url("redis://alice:pw@localhost:7000");
    ASSERT_TRUE(acl);
    EXPECT_EQ(acl->username, "alice");
    EXPECT_EQ(acl->password, "pw");
}

TEST(redis_url, unix_socket) {
    auto ep = parse_redis_url("unix:///var/run/redis.sock?db=3");
    ASSERT_TRUE(ep);
    EXPECT_EQ(ep->unix_socket, "/var/run/redis.sock");
    EXPECT_EQ(ep->database, 3);
}

TEST(redis_url, rejects_bad_urls) {
    for (const char* bad : {"",
                            "localhost:6379",
                            "http://x:1",
                            "redis://",
                            "redis://h:0",
                            "redis://h:70000",
                            "redis://h:12ab",
                            "redis://h/16",
                            "redis://h/x",
                            "unix://",
                            "unix:x?#",
                            "unix:x",
                            "unix:///s?#",
                            "unix:///s#f",
                            "unix:///s?db=16",
                            "unix:///s?db",
                            "unix:///s?x=1",
                            "unix://host/s",
                            "redis://h?db=1",
                            "redis://h#f",
                            "rediss://h"}) {
        const auto parsed = parse_redis_url(bad);
        EXPECT_FALSE(parsed) << bad;
        EXPECT_FALSE(parsed.problem.empty()) << bad;
    }
}

TEST(redis_url, problems_name_their_cause) {
    EXPECT_NE(parse_redis_url("rediss://h:6380").problem.find("TLS"), std::string::npos);
    EXPECT_NE(parse_redis_url("http://h").problem.find("scheme"), std::string::npos);
    EXPECT_NE(parse_redis_url("redis://h:0").problem.find("port"), std::string::npos);
    EXPECT_NE(parse_redis_url("unix:relative.sock").problem.find("absolute"), std::string::npos);
}

TEST(redis_url, unix_query_forms) {
    auto empty_query = parse_redis_url("unix:///s.sock?");
    ASSERT_TRUE(empty_query) << empty_query.problem;
    EXPECT_EQ(empty_query->database, 0);
    auto short_form = parse_redis_url("unix:/s.sock?db=2&");
    ASSERT_TRUE(short_form) << short_form.problem;
    EXPECT_EQ(short_form->unix_socket, "/s.sock");
    EXPECT_EQ(short_form->database, 2);
    EXPECT_EQ(short_form->redacted(), "unix:///s.sock?db=2");
}

TEST(command_line, a_repeated_flag_takes_its_last_value_and_lists_add_up) {
    auto out =
        parse({"--bcrypt-cost", "4", "--bcrypt-cost", "12", "--allowed-origins",
               "https://a.example,https://b.example", "--allowed-origins", "https://c.example"});
    ASSERT_TRUE(out.config) << out.output;
    EXPECT_EQ(out.config->bcrypt_cost, 12);
    EXPECT_EQ(
        out.config->allowed_origins,
        (std::vector<std::string>{"https://a.example", "https://b.example", "https://c.example"}));
}

TEST(command_line, localhost_origins_follow_the_bind_address_unless_set) {
    auto local = parse({"--bind", "127.0.0.1"});
    ASSERT_TRUE(local.config);
    EXPECT_TRUE(local.config->allow_localhost_origins);
    auto v6 = parse({"--bind", "::1"});
    ASSERT_TRUE(v6.config);
    EXPECT_TRUE(v6.config->allow_localhost_origins);
    auto open = parse({"--bind", "0.0.0.0"});
    ASSERT_TRUE(open.config);
    EXPECT_FALSE(open.config->allow_localhost_origins);
    auto forced = parse({"--bind", "0.0.0.0", "--allow-localhost-origins", "on"});
    ASSERT_TRUE(forced.config);
    EXPECT_TRUE(forced.config->allow_localhost_origins);
}

TEST(command_line, trusted_proxies_are_validated) {
    auto ok = parse({"--trusted-proxies", "127.0.0.1,10.0.0.0/8", "--trusted-proxies", "fd00::/8"});
    ASSERT_TRUE(ok.config) << ok.output;
    EXPECT_EQ(ok.config->trusted_proxies.size(), 3u);
    auto bad = parse({"--trusted-proxies", "10.0.0.0/40"});
    EXPECT_FALSE(bad.config);
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_NE(bad.output.find("10.0.0.0/40"), std::string::npos);
}

TEST(command_line, threads_default_to_the_usable_cpus) {
    auto out = parse({});
    ASSERT_TRUE(out.config);
    EXPECT_EQ(out.config->threads, std::min(usable_cpus(), max_threads));
    EXPECT_GE(usable_cpus(), 1u);
    EXPECT_LE(usable_cpus(), std::max(1u, std::thread::hardware_concurrency()));
}

TEST(command_line, threads_are_at_most_64) {
    auto most = parse({"--threads", "64"});
    ASSERT_TRUE(most.config) << most.output;
    EXPECT_EQ(most.config->threads, 64u);
    auto more = parse({"--threads", "65"});
    EXPECT_FALSE(more.config);
    EXPECT_NE(more.exit_code, 0);
    EXPECT_NE(more.output.find("--threads"), std::string::npos) << more.output;
}

TEST(command_line, unparsable_redis_url_exits_with_its_cause) {
    auto out = parse({"--redis-url", "unix:x?#"});
    EXPECT_FALSE(out.config);
    EXPECT_EQ(out.exit_code, 2);
    EXPECT_NE(out.output.find("--redis-url"), std::string::npos) << out.output;
    auto tls = parse({"--redis-url", "rediss://cache:6380"});
    EXPECT_FALSE(tls.config);
    EXPECT_NE(tls.output.find("TLS"), std::string::npos) << tls.output;
}

TEST(command_line, a_redis_cluster_is_nodes_instead_of_a_url_and_has_no_tutorial_bus) {
    auto out = parse({"--redis-cluster", "10.0.0.1:7000,redis://:pw@10.0.0.2:7001"});
    ASSERT_TRUE(out.config) << out.output;
    ASSERT_EQ(out.config->redis_cluster.size(), 2u);
    EXPECT_EQ(out.config->redis_cluster[0].host, "10.0.0.1");
    EXPECT_EQ(out.config->redis_cluster[0].port, 7000);
    EXPECT_EQ(out.config->redis_cluster[1].password, "pw");
    EXPECT_FALSE(out.config->redis);
    EXPECT_FALSE(out.config->tutorial_bus);               // no tutorial server can use a cluster
    EXPECT_EQ(out.config->redis_wait_replicas, 1);        // a message waits for a replica
    EXPECT_EQ(parse({}).config->redis_wait_replicas, 0);  // one Redis: no replica to wait for
    auto relaxed = parse({"--redis-cluster", "10.0.0.1:7000", "--redis-wait-replicas", "0"});
    ASSERT_TRUE(relaxed.config) << relaxed.output;
    EXPECT_EQ(relaxed.config->redis_wait_replicas, 0);
    auto too_long = parse({"--redis-cluster", "10.0.0.1:7000", "--redis-wait-ms", "3000"});
    EXPECT_FALSE(too_long.config);  // past the Redis deadline of the same call
    {
        scoped_env env("REDIS_CLUSTER", "10.0.0.3:7002");
        auto from_env = parse({});
        ASSERT_TRUE(from_env.config) << from_env.output;
        ASSERT_EQ(from_env.config->redis_cluster.size(), 1u);
    }
    for (const auto& bad : std::vector<std::vector<const char*>>{
             {"--redis-cluster", "10.0.0.1:7000", "--redis-url", "redis://10.0.0.1:6379"},
             {"--redis-cluster", "10.0.0.1:7000/3"},  // a cluster has database 0 only
             {"--redis-cluster", "10.0.0.1:notaport"},
             {"--redis-cluster", ","},
             {"--redis-cluster", "10.0.0.1:7000", "--tutorial-bus", "on"},
         }) {
        auto refused = parse(bad);
        EXPECT_FALSE(refused.config) << bad[1];
        EXPECT_EQ(refused.exit_code, 2);
        EXPECT_NE(refused.output.find("--"), std::string::npos) << refused.output;
    }
}

TEST(command_line, defaults) {
    auto out = parse({});
    ASSERT_TRUE(out.config) << out.output;
    EXPECT_EQ(out.config->port, 8080);
    EXPECT_EQ(out.config->bind, "127.0.0.1");
    EXPECT_FALSE(out.config->redis);
    EXPECT_TRUE(out.config->demo_data);
    EXPECT_GE(out.config->threads, 1u);
    EXPECT_EQ(out.config->session_ttl.count(), 7 * 24 * 3600);
    EXPECT_EQ(out.config->session_max_age.count(), 30 * 24 * 3600);
}

TEST(command_line, flags) {
    auto out = parse({"--port", "9000", "--redis-url", "redis://127.0.0.1:7001/1", "--threads", "3",
                      "--demo-data", "off", "--log-level", "debug", "--session-ttl", "3600",
                      "--session-max-age", "7200", "--web-root", "/srv/web"});
    ASSERT_TRUE(out.config) << out.output;
    EXPECT_EQ(out.config->port, 9000);
    ASSERT_TRUE(out.config->redis);
    EXPECT_EQ(out.config->redis->port, 7001);
    EXPECT_EQ(out.config->redis->database, 1);
    EXPECT_EQ(out.config->threads, 3u);
    EXPECT_FALSE(out.config->demo_data);
    EXPECT_EQ(out.config->log_level, "debug");
    EXPECT_EQ(out.config->session_ttl.count(), 3600);
    EXPECT_EQ(out.config->session_max_age.count(), 7200);
    EXPECT_EQ(out.config->web_root, "/srv/web");
}

TEST(command_line, environment_and_flag_precedence) {
    scoped_env port("PORT", "7070");
    scoped_env demo("DEMO_DATA", "off");
    scoped_env url("REDIS_URL", "redis://envhost:6390");
    auto from_env = parse({});
    ASSERT_TRUE(from_env.config) << from_env.output;
    EXPECT_EQ(from_env.config->port, 7070);
    EXPECT_FALSE(from_env.config->demo_data);
    EXPECT_EQ(from_env.config->redis->host, "envhost");
    auto flag_wins = parse({"--port", "7171"});
    ASSERT_TRUE(flag_wins.config);
    EXPECT_EQ(flag_wins.config->port, 7171);
}

TEST(command_line, errors_and_help) {
    auto bad_port = parse({"--port", "seventy"});
    EXPECT_FALSE(bad_port.config);
    EXPECT_NE(bad_port.exit_code, 0);
    auto bad_demo = parse({"--demo-data", "maybe"});
    EXPECT_FALSE(bad_demo.config);
    auto bad_url = parse({"--redis-url", "mysql://x"});
    EXPECT_FALSE(bad_url.config);
    EXPECT_NE(bad_url.output.find("--redis-url"), std::string::npos);
    auto help = parse({"--help"});
    EXPECT_FALSE(help.config);
    EXPECT_EQ(help.exit_code, 0);
    for (const char* flag : {"--port", "--bind", "--redis-url", "--web-root", "--threads",
                             "--demo-data", "--log-level", "--session-ttl"}) {
        EXPECT_NE(help.output.find(flag), std::string::npos) << flag;
    }
}

}  // namespace
}  // namespace redchat::config
