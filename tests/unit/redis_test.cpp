// redis::client against a real redis-server (started here on a free loopback port): pipelined
// calls, error replies, deadlines, the handshake (AUTH, SELECT) and reconnection.

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/metrics.hpp"
#include "redis/client.hpp"
#include "redis_process.hpp"

namespace redchat::redis {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

config::redis_endpoint endpoint_for(unsigned short port) {
    config::redis_endpoint ep;
    ep.host = "127.0.0.1";
    ep.port = port;
    return ep;
}

class redis_client_test : public loop_fixture {
  protected:
    std::unique_ptr<client> make(config::redis_endpoint ep,
                                 std::chrono::milliseconds timeout = 500ms,
                                 status_reporter* reporter = nullptr) {
        auto c = std::make_unique<client>(ioc_.get_executor(),
                                          client::options{std::move(ep), timeout, "test", reporter},
                                          stats_.for_thread(0));
        c->start();
        return c;
    }

    metrics::registry stats_{1};
};

TEST_F(redis_client_test, pipelined_calls_and_error_replies) {
    redis_process server;
    auto c = make(endpoint_for(server.port()));
    run_until([&] { return c->ready(); });
    auto set = await(c->exec({"SET", "k", "v"}));
    ASSERT_TRUE(set);
    std::vector<command> cmds;
    cmds.push_back({"GET", "k"});
    cmds.push_back({"INCR", "n"});
    cmds.push_back({"INCR", "n"});
    auto all = await(c->exec_all(std::move(cmds)));
    ASSERT_TRUE(all);
    ASSERT_EQ(all->size(), 3u);
    EXPECT_EQ((*all)[0].as_string(), "v");
    EXPECT_EQ((*all)[2].as_integer(), 2);
    auto wrong = await(c->exec({"INCR", "k"}));  // not an integer
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error(), make_error_code(errc::redis_error));
    EXPECT_EQ(stats_.redis_connections_down(), 0);
    c->stop();
}

TEST_F(redis_client_test, a_hung_server_misses_the_deadline_and_the_connection_is_replaced) {
    redis_process server;
    auto c = make(endpoint_for(server.port()), 300ms);
    run_until([&] { return c->ready(); });
    server.pause();
    auto r = await(c->exec({"PING"}));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), make_error_code(errc::redis_timeout));
    EXPECT_FALSE(c->ready());  // dropped, reconnecting: a hung peer never counts as up
    EXPECT_EQ(stats_.redis_connections_down(), 1);
    server.resume();
    run_until([&] { return c->ready(); });
    EXPECT_TRUE(await(c->exec({"PING"})));
    c->stop();
}

// A command longer than the socket takes at once (Redis is stopped, so nothing is read) waits
// for writability, is written in full once Redis reads again, and the connection goes on.
TEST_F(redis_client_test, a_command_longer_than_the_socket_takes_waits_and_the_link_goes_on) {
    redis_process server;
    auto c = make(endpoint_for(server.port()), 10s);
    run_until([&] { return c->ready(); });
    server.pause();
    const std::size_t size = 16u << 20;
    std::optional<result<reply>> set;
    asio::co_spawn(ioc_, c->exec({"SET", "big", std::string(size, 'x')}),
                   [&](std::exception_ptr e, result<reply> r) {
                       if (e)
                           std::rethrow_exception(e);
                       set.emplace(std::move(r));
                   });
    run_until([&] { return stats_.for_thread(0).redis_write_waits.load() >= 1; });
    EXPECT_FALSE(set.has_value());
    server.resume();
    run_until([&] { return set.has_value(); });
    ASSERT_TRUE(*set) << set->error().message();
    auto length = await(c->exec({"STRLEN", "big"}));
    ASSERT_TRUE(length);
    EXPECT_EQ(length->as_integer(), static_cast<std::int64_t>(size));
    std::vector<command> cmds;
    for (int i = 0; i < 100; ++i)
        cmds.push_back({"INCR", "n"});
    auto all = await(c->exec_all(std::move(cmds)));
    ASSERT_TRUE(all);
    EXPECT_EQ(all->back().as_integer(), 100);
    EXPECT_EQ(stats_.redis_connections_down(), 0);
    c->stop();
}

TEST_F(redis_client_test, calls_while_disconnected_fail_at_once) {
    const auto port = free_port();  // nothing listens there
    auto c = make(endpoint_for(port));
    auto r = await(c->exec({"PING"}));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), make_error_code(errc::redis_unavailable));
    EXPECT_EQ(stats_.redis_connections_down(), 1);
    c->stop();
}

TEST_F(redis_client_test, a_connection_not_yet_started_counts_as_down) {
    redis_process server;
    // Each thread starts its connection on its own loop: until it has, /readyz must not say
    // ready (it once did, between the listener opening and a thread's first turn).
    client c(ioc_.get_executor(),
             client::options{endpoint_for(server.port()), 500ms, "test", nullptr},
             stats_.for_thread(0));
    EXPECT_EQ(stats_.redis_connections_down(), 1);
    c.start();
    run_until([&] { return c.ready(); });
    EXPECT_EQ(stats_.redis_connections_down(), 0);
    c.stop();
    EXPECT_EQ(stats_.redis_connections_down(), 0);
    client never_started(ioc_.get_executor(),
                         client::options{endpoint_for(server.port()), 500ms, "test", nullptr},
                         stats_.for_thread(0));
    EXPECT_EQ(stats_.redis_connections_down(), 1);
    never_started.stop();
    EXPECT_EQ(stats_.redis_connections_down(), 0);
}

TEST_F(redis_client_test, a_failed_handshake_never_counts_as_up) {
    redis_process server({"--requirepass", "right"});
    status_reporter reporter("test");
    auto ep = endpoint_for(server.port());
    ep.password = "wrong";
    auto c = make(ep, 300ms, &reporter);
    // Several attempts go by (each one answered WRONGPASS): never ready.
    asio::steady_timer wait(ioc_);
    bool waited = false;
    wait.expires_after(1s);
    wait.async_wait([&](auto) { waited = true; });
    run_until([&] { return waited; });
    EXPECT_FALSE(c->ready());
    EXPECT_EQ(stats_.redis_connections_down(), 1);
    c->stop();
    // With the right password and a database, it is up and on that database.
    ep.password = "right";
    ep.database = 3;
    auto good = make(ep, 300ms, &reporter);
    run_until([&] { return good->ready(); });
    ASSERT_TRUE(await(good->exec({"SET", "where", "db3"})));
    std::vector<command> check;
    check.push_back({"SELECT", "0"});
    check.push_back({"EXISTS", "where"});
    auto r = await(good->exec_all(std::move(check)));
    ASSERT_TRUE(r);
    EXPECT_EQ((*r)[1].as_integer(), 0);  // the key went to database 3
    good->stop();
}

TEST_F(redis_client_test, a_subscriber_is_up_only_once_subscribed_and_receives) {
    redis_process server;
    std::vector<std::string> got;
    client sub(ioc_.get_executor(), client::options{endpoint_for(server.port()), 300ms, "sub"},
               stats_.for_thread(0));
    std::vector<std::string> channels;
    sub.subscribe({"chan", "other"}, [&](std::string_view channel, std::string_view payload) {
        channels.emplace_back(channel);
        got.emplace_back(payload);
    });
    sub.start();
    run_until([&] { return sub.ready(); });
    auto pub = make(endpoint_for(server.port()));
    run_until([&] { return pub->ready(); });
    ASSERT_TRUE(await(pub->exec({"PUBLISH", "chan", "hello"})));
    ASSERT_TRUE(await(pub->exec({"PUBLISH", "other", "there"})));
    run_until([&] { return got.size() == 2; });
    EXPECT_EQ(got, (std::vector<std::string>{"hello", "there"}));
    EXPECT_EQ(channels, (std::vector<std::string>{"chan", "other"}));
    // Idle, it is probed (a repeated SUBSCRIBE) and stays up; a hung server takes it down.
    server.pause();
    run_until([&] { return !sub.ready(); });
    server.resume();
    run_until([&] { return sub.ready() && pub->ready(); });
    ASSERT_TRUE(await(pub->exec({"PUBLISH", "chan", "again"})));
    run_until([&] { return got.size() == 3; });
    EXPECT_EQ(got.back(), "again");
    sub.stop();
    pub->stop();
}

}  // namespace
}  // namespace redchat::redis
