// transport::engineio_server with the real chat::realtime and hub on the in-memory store: polling
// requests go straight to handle_polling() (no HTTP, no network); the WebSocket upgrade uses a
// loopback TCP pair. The statuses and bodies are the ones Engine.IO 4 and Socket.IO 5 clients
// rely on.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/parse.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "chat/hub.hpp"
#include "chat/realtime.hpp"
#include "fake_store.hpp"
#include "socketio/engineio_codec.hpp"
#include "transport/chat_socket.hpp"
#include "transport/engineio_server.hpp"
#include "ws_client.hpp"

namespace redchat::transport {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using asio::ip::tcp;
using namespace std::chrono_literals;

// An io_context whose pending handlers (a long-poll still waiting, the ping timer) can be
// destroyed while everything they refer to is still alive.
struct test_context : asio::io_context {
    void destroy_pending() { shutdown(); }
};

// The protocol under the chat: an application that sends every message back as it came.
class echo_application final : public eio_application {
    class echo final : public eio_handler {
      public:
        explicit echo(eio_session& s) : session_(s) {}
        asio::awaitable<void> on_message(socketio::eio_packet p) override {
            if (p.binary)
                session_.send_binary(p.data);
            else
                session_.send("4" + p.data);
            co_return;
        }

      private:
        eio_session& session_;
    };

  public:
    asio::awaitable<std::unique_ptr<eio_handler>> open(eio_session& s) override {
        co_return std::make_unique<echo>(s);
    }
};

const std::string pablo_cookie(32, 'a');  // a login of user 1
const std::string joe_cookie(32, 'b');    // a login of user 2
const std::string client_address = "192.0.2.1";
const std::string separator(1, socketio::record_separator);  // between packets of a payload

std::string polling_target(const std::string& sid) {
    std::string t = "/socket.io/?EIO=4&transport=polling";
    if (!sid.empty())
        t += "&sid=" + sid;
    return t;
}

class engineio_test : public ::testing::Test {
  protected:
    engineio_test() {
        db_.add_user("Pablo", "x");
        db_.add_user("Joe", "x");
        db_.sessions[pablo_cookie] = "1";
        db_.sessions[joe_cookie] = "2";
    }
    ~engineio_test() override {
        if (server_) {
            server_->abort_all();
            EXPECT_EQ(server_->size(), 0u);
            ioc_.restart();
            ioc_.poll();
        }
        ioc_.destroy_pending();
    }

    // Tests change cfg_ first, then start the server.
    void start(eio_application* app = nullptr) {
        server_.emplace(ioc_, 0, app != nullptr ? *app : app_, cfg_, stats_, per_address_);
        server_->set_peers({&*server_});
    }

    using answer_slot = std::shared_ptr<std::optional<poll_answer>>;

    // A polling request under way: its answer lands in the slot once it is given.
    answer_slot start_request(http::verb method, const std::string& target, std::string body,
                              std::optional<std::string> cookie,
                              std::string address = client_address) {
        engineio_server::request req{method, target, 11};
        req.body() = std::move(body);
        req.prepare_payload();
        auto slot = std::make_shared<std::optional<poll_answer>>();
        asio::co_spawn(
            ioc_, server_->handle_polling(std::move(req), std::move(cookie), std::move(address)),
            [slot](std::exception_ptr e, poll_answer a) {
                if (e)
                    std::rethrow_exception(e);
                slot->emplace(std::move(a));
            });
        return slot;
    }
    answer_slot start_get(const std::string& sid, std::optional<std::string> cookie) {
        return start_request(http::verb::get, polling_target(sid), "", std::move(cookie));
    }
    // Runs what is ready now, without waiting for anything: a long-poll with nothing to send
    // stays pending.
    void run_ready() {
        ioc_.restart();
        ioc_.poll();
    }
    // Runs the loop until `done()` holds (ws_client.hpp).
    template <typename Done>
    bool run_until(Done done) {
        return redchat::testing::run_until(ioc_, std::move(done));
    }
    poll_answer finish(const answer_slot& slot) {
        if (!run_until([&] { return slot->has_value(); })) {
            ADD_FAILURE() << "no answer";
            return poll_answer{0, "", ""};
        }
        return **slot;
    }
    poll_answer get(const std::string& sid, std::optional<std::string> cookie) {
        return finish(start_get(sid, std::move(cookie)));
    }
    poll_answer post(const std::string& sid, std::string body, std::optional<std::string> cookie) {
        return finish(start_request(http::verb::post, polling_target(sid), std::move(body),
                                    std::move(cookie)));
    }
    // The handshake: the open packet's JSON (the answer is checked).
    json::object open_session(std::optional<std::string> cookie) {
        const auto a = get("", std::move(cookie));
        EXPECT_EQ(a.status, 200);
        EXPECT_EQ(a.content_type, "text/plain; charset=UTF-8");
        if (a.status != 200 || !a.body.starts_with('0'))
            return {};
        return json::parse(std::string_view(a.body).substr(1)).as_object();
    }
    std::string handshake(std::optional<std::string> cookie) {
        auto open = open_session(std::move(cookie));
        return open.contains("sid") ? std::string(open.at("sid").as_string()) : std::string();
    }

    static void expect_refused(const poll_answer& a, int code, std::string_view message) {
        EXPECT_EQ(a.status, 400);
        EXPECT_EQ(a.content_type, "application/json");
        boost::system::error_code ec;
        auto v = json::parse(a.body, ec);
        ASSERT_FALSE(ec) << a.body;
        EXPECT_EQ(v.at("code").as_int64(), code) << a.body;
        EXPECT_EQ(v.at("message").as_string(), message) << a.body;
    }

    test_context ioc_;
    config::server_config cfg_;
    metrics::shard stats_{};
    testing::fake_store db_;
    chat::hub hub_;
    keyed_buckets rates_{1000, 1000};
    chat::realtime realtime_{db_,   hub_, cfg_, "srv", "inst", [] { return 1'800'000'000.5; },
                             rates_};
    connection_limiter per_user_{cfg_.limit.max_sockets_per_user};
    connection_limiter per_address_{3};
    chat_application app_{realtime_, cfg_, stats_, per_user_};
    echo_application echo_;
    std::optional<engineio_server> server_;
};

TEST_F(engineio_test, a_get_without_sid_opens_a_session) {
    start();
    auto open = open_session(std::nullopt);
    ASSERT_TRUE(open.contains("sid"));
    const std::string sid(open.at("sid").as_string());
    EXPECT_EQ(sid.size(), 14u);  // 12 random characters, then the owner thread: ".0"
    EXPECT_TRUE(sid.ends_with(".0"));
    EXPECT_EQ(open.at("upgrades"), json::parse(R"(["websocket"])"));
    EXPECT_EQ(open.at("pingInterval").as_int64(), 25000);
    EXPECT_EQ(open.at("pingTimeout").as_int64(), 20000);
    EXPECT_EQ(open.at("maxPayload").as_int64(), 65536);
    EXPECT_EQ(open.size(), 5u);
    EXPECT_EQ(server_->size(), 1u);
    EXPECT_EQ(stats_.sockets_open.load(), 1);
    EXPECT_NE(handshake(std::nullopt), sid);  // every handshake is a new session
    EXPECT_EQ(server_->size(), 2u);
    // A POST cannot open a session.
    expect_refused(post("", "40", std::nullopt), 3, "Bad request");
    EXPECT_EQ(server_->size(), 2u);
}

TEST_F(engineio_test, a_socketio_connect_is_acknowledged_on_the_next_poll) {
    start();
    const auto sid = handshake(std::nullopt);
    const auto posted = post(sid, "40", std::nullopt);
    EXPECT_EQ(posted.status, 200);
    EXPECT_EQ(posted.body, "ok");
    const auto a = get(sid, std::nullopt);
    EXPECT_EQ(a.status, 200);
    ASSERT_TRUE(a.body.starts_with("40{")) << a.body;
    const auto ack = json::parse(std::string_view(a.body).substr(2)).as_object();
    ASSERT_TRUE(ack.contains("sid"));
    EXPECT_EQ(ack.at("sid").as_string().size(), 12u);  // random_token(12)
    EXPECT_EQ(ack.size(), 1u);
    EXPECT_EQ(hub_.size(), 1u);  // anonymous, but connected
}

TEST_F(engineio_test, a_pending_poll_is_answered_when_output_arrives) {
    start();
    const auto sid = handshake(pablo_cookie);
    auto poll = start_get(sid, pablo_cookie);
    run_ready();
    EXPECT_FALSE(poll->has_value());  // nothing to say yet: the long-poll waits
    // Several packets in one POST, handled in order; the answers go out together.
    EXPECT_EQ(post(sid, "40" + separator + "2probe", pablo_cookie).status, 200);
    const auto a = finish(poll);
    EXPECT_EQ(a.status, 200);
    ASSERT_TRUE(a.body.starts_with("40{\"sid\":\"")) << a.body;
    EXPECT_TRUE(a.body.ends_with("\"}" + separator + "3probe")) << a.body;
    // The logged-in socket joined its user's rooms and counted for presence.
    EXPECT_EQ(hub_.sockets_of("1"), 1u);
    ASSERT_EQ(db_.presence_calls.size(), 1u);
    EXPECT_EQ(db_.presence_calls[0].op, "join");
    EXPECT_EQ(db_.presence_calls[0].user, "1");
}

TEST_F(engineio_test, an_unknown_sid_is_refused_with_400) {
    start();
    const auto sid = handshake(std::nullopt);
    for (const std::string& bogus :
         {std::string("00000000000000000000.0"), std::string("no-dot"),
          std::string("00000000000000000000.7"), std::string("abc.99999"), sid + "0", sid + ".0"}) {
        expect_refused(get(bogus, std::nullopt), 1, "Session ID unknown");
        expect_refused(post(bogus, "40", std::nullopt), 1, "Session ID unknown");
    }
    EXPECT_EQ(server_->size(), 1u);  // the real session is untouched
}

TEST_F(engineio_test, a_sid_is_refused_with_another_login_than_its_handshake) {
    start();
    const auto sid = handshake(pablo_cookie);
    const std::string refusal = "Bad request: this session belongs to another login";
    expect_refused(get(sid, joe_cookie), 3, refusal);
    expect_refused(get(sid, std::nullopt), 3, refusal);
    expect_refused(post(sid, "40", joe_cookie), 3, refusal);
    EXPECT_EQ(stats_.refused_session_login.load(), 3u);
    // The refused POST was not handled, and the session is still its owner's.
    auto poll = start_get(sid, pablo_cookie);
    run_ready();
    EXPECT_FALSE(poll->has_value());
    EXPECT_EQ(hub_.size(), 0u);
    EXPECT_EQ(post(sid, "40", pablo_cookie).status, 200);
    EXPECT_TRUE(finish(poll).body.starts_with("40{"));
    // A session opened without a login takes none later either.
    const auto anonymous = handshake(std::nullopt);
    expect_refused(get(anonymous, pablo_cookie), 3, refusal);
    EXPECT_EQ(server_->size(), 2u);
}

TEST_F(engineio_test, a_second_concurrent_poll_is_refused_and_closes_the_session) {
    start();
    const auto sid = handshake(std::nullopt);
    auto first = start_get(sid, std::nullopt);
    run_ready();
    ASSERT_FALSE(first->has_value());
    expect_refused(get(sid, std::nullopt), 3, "Bad request");
    // The session is over: the waiting poll ends with a close packet.
    const auto a = finish(first);
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(a.body, "1");
    EXPECT_EQ(server_->size(), 0u);
    expect_refused(get(sid, std::nullopt), 1, "Session ID unknown");
    EXPECT_EQ(per_address_.count(client_address), 0u);  // its place is given back
}

TEST_F(engineio_test, a_post_over_max_payload_is_refused_with_413) {
    cfg_.limit.max_packet_bytes = 1000;
    start();
    auto open = open_session(std::nullopt);
    EXPECT_EQ(open.at("maxPayload").as_int64(), 1000);
    const std::string sid(open.at("sid").as_string());
    // One byte over: a connect followed by a long message packet, refused as a whole.
    std::string body = "40" + separator + "4";
    body.append(1001 - body.size(), 'x');
    const auto refused = post(sid, body, std::nullopt);
    EXPECT_EQ(refused.status, 413);
    EXPECT_EQ(refused.content_type, "application/json");
    auto poll = start_get(sid, std::nullopt);
    run_ready();
    EXPECT_FALSE(poll->has_value());  // no connect ack, no error event: nothing was handled
    EXPECT_EQ(hub_.size(), 0u);
    // Exactly maxPayload bytes pass.
    body.pop_back();
    ASSERT_EQ(body.size(), 1000u);
    EXPECT_EQ(post(sid, body, std::nullopt).status, 200);
    EXPECT_TRUE(finish(poll).body.starts_with("40{"));
}

TEST_F(engineio_test, a_close_packet_ends_the_session) {
    start();
    const auto sid = handshake(pablo_cookie);
    EXPECT_EQ(post(sid, "40", pablo_cookie).status, 200);
    EXPECT_TRUE(get(sid, pablo_cookie).body.starts_with("40{"));
    EXPECT_EQ(per_user_.count("1"), 1u);
    auto poll = start_get(sid, pablo_cookie);
    run_ready();
    EXPECT_EQ(post(sid, "1", pablo_cookie).status, 200);
    const auto ended = finish(poll);  // the waiting poll ends with a noop: the client closed
    EXPECT_EQ(ended.status, 200);
    EXPECT_EQ(ended.body, "6");
    EXPECT_EQ(server_->size(), 0u);
    expect_refused(get(sid, pablo_cookie), 1, "Session ID unknown");
    expect_refused(post(sid, "40", pablo_cookie), 1, "Session ID unknown");
    // The socket left the chat: its user's place, the hub, presence.
    EXPECT_EQ(per_user_.count("1"), 0u);
    EXPECT_EQ(per_address_.count(client_address), 0u);
    ASSERT_TRUE(run_until([&] { return hub_.size() == 0 && db_.presence_calls.size() == 2; }));
    EXPECT_EQ(db_.presence_calls[1].op, "leave");
    EXPECT_EQ(stats_.sockets_open.load(), 0);
}

TEST_F(engineio_test, the_chat_refuses_binary_data_and_other_namespaces_and_stays_connected) {
    start();
    const auto sid = handshake(pablo_cookie);
    EXPECT_EQ(post(sid, "40", pablo_cookie).status, 200);
    EXPECT_TRUE(get(sid, pablo_cookie).body.starts_with("40{"));
    // A binary Engine.IO message, a binary Socket.IO event, a connect to another namespace.
    EXPECT_EQ(post(sid, "bAQID", pablo_cookie).status, 200);
    EXPECT_EQ(post(sid, R"(451-["message",{"_placeholder":true,"num":0}])", pablo_cookie).status,
              200);
    EXPECT_EQ(post(sid, "40/custom,", pablo_cookie).status, 200);
    const auto a = get(sid, pablo_cookie);
    const std::string refused = R"(42["error",{"message":"Binary packets are not supported"}])";
    EXPECT_EQ(a.body, refused + separator + refused + separator +
                          R"(44/custom,{"message":"Invalid namespace"})");
    EXPECT_EQ(server_->size(), 1u);
    EXPECT_EQ(hub_.size(), 1u);
}

TEST_F(engineio_test, binary_messages_travel_as_base64_on_polling_both_ways) {
    start(&echo_);
    const auto sid = handshake(std::nullopt);
    EXPECT_EQ(post(sid, "bAQID" + separator + "4text" + separator + "b", std::nullopt).status, 200);
    const auto a = get(sid, std::nullopt);
    EXPECT_EQ(a.body, "bAQID" + separator + "4text" + separator + "b");  // [1,2,3], text, empty
    expect_refused(post(sid, "b!!", std::nullopt), 3, "Bad request");    // not base64: closed
    EXPECT_EQ(server_->size(), 0u);
}

TEST_F(engineio_test, a_malformed_payload_closes_the_session) {
    start();
    const auto sid = handshake(std::nullopt);
    expect_refused(post(sid, "9nonsense", std::nullopt), 3, "Bad request");
    EXPECT_EQ(server_->size(), 0u);
}

TEST_F(engineio_test, polling_sessions_count_against_their_address) {
    start();  // per_address_ allows 3
    std::vector<std::string> sids;
    for (int i = 0; i < 3; ++i)
        sids.push_back(handshake(std::nullopt));
    const auto refused = get("", std::nullopt);
    EXPECT_EQ(refused.status, 429);
    EXPECT_EQ(refused.content_type, "application/json");
    EXPECT_EQ(server_->size(), 3u);
    EXPECT_EQ(
        finish(start_request(http::verb::get, polling_target(""), "", std::nullopt, "198.51.100.1"))
            .status,
        200);  // another address
    EXPECT_EQ(post(sids[0], "1", std::nullopt).status, 200);
    EXPECT_FALSE(handshake(std::nullopt).empty());  // the closed session gave its place back
}

TEST_F(engineio_test, a_session_that_never_answers_a_ping_is_closed) {
    cfg_.ping_interval = 50ms;
    cfg_.ping_timeout = 100ms;
    start();
    const auto silent = handshake(std::nullopt);  // first: its pings are never later
    const auto alive = handshake(std::nullopt);
    // The live client answers three pings in a row; the silent one answers none.
    for (int round = 0; round < 3; ++round) {
        const auto a = get(alive, std::nullopt);
        ASSERT_EQ(a.status, 200);
        ASSERT_EQ(a.body, "2") << round;
        ASSERT_EQ(post(alive, "3", std::nullopt).status, 200);
    }
    ASSERT_TRUE(run_until([&] { return server_->size() == 1; }));
    expect_refused(get(silent, std::nullopt), 1, "Session ID unknown");
    // The live session goes on.
    EXPECT_EQ(post(alive, "3", std::nullopt).status, 200);
    EXPECT_EQ(server_->size(), 1u);
}

TEST_F(engineio_test, a_session_that_connects_no_namespace_is_closed_after_the_connect_timeout) {
    cfg_.ping_interval = 50ms;
    cfg_.ping_timeout = 100ms;
    cfg_.connect_timeout = 120ms;
    start();
    const auto idle = handshake(std::nullopt);  // first: its pings are never later
    const auto joined = handshake(std::nullopt);
    ASSERT_EQ(post(joined, "40", std::nullopt).status, 200);
    // Both answer every ping; the one that never connected a namespace is closed at its third
    // ping (3 x 50 ms >= 120 ms), the other goes on.
    for (int round = 0; round < 2; ++round) {
        for (const auto& sid : {idle, joined}) {
            const auto p = get(sid, std::nullopt);
            ASSERT_EQ(p.status, 200);
            ASSERT_NE(p.body.find('2'), std::string::npos) << round;
            ASSERT_EQ(post(sid, "3", std::nullopt).status, 200);
        }
    }
    ASSERT_TRUE(run_until([&] { return server_->size() == 1; }));
    expect_refused(get(idle, std::nullopt), 1, "Session ID unknown");
    EXPECT_EQ(post(joined, "3", std::nullopt).status, 200);
}

TEST_F(engineio_test, a_waiting_poll_gets_the_ping_and_ends_when_the_session_times_out) {
    cfg_.ping_interval = 50ms;
    cfg_.ping_timeout = 50ms;
    start();
    const auto sid = handshake(std::nullopt);
    EXPECT_EQ(get(sid, std::nullopt).body, "2");
    auto poll = start_get(sid, std::nullopt);  // polls again, but never sends the pong
    const auto a = finish(poll);
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(a.body, "1");
    EXPECT_EQ(server_->size(), 0u);
}

// ---- the upgrade to WebSocket, over a loopback connection ----

class engineio_upgrade_test : public engineio_test {
  protected:
    engineio_upgrade_test()
        : acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}), client_(ioc_) {}
    ~engineio_upgrade_test() override {
        // The client's read handler refers to this part of the fixture: it ends first.
        boost::system::error_code ignored;
        client_.close(ignored);
        run_ready();
    }

    // The client's connection; the server's end goes to handle_websocket.
    void upgrade(const std::string& sid, std::optional<std::string> cookie) {
        auto [client, server] = testing::loopback_pair(ioc_, acceptor_);
        client_ = std::move(client);
        client_.set_option(tcp::no_delay(true));
        engineio_server::request req{http::verb::get,
                                     "/socket.io/?EIO=4&transport=websocket&sid=" + sid, 11};
        req.set(http::field::host, "localhost");
        req.set(http::field::upgrade, "websocket");
        req.set(http::field::connection, "Upgrade");
        req.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
        req.set(http::field::sec_websocket_version, "13");
        server_->handle_websocket(std::move(server), std::move(req), std::move(cookie),
                                  std::nullopt);
        start_client_reading();
    }
    void start_client_reading() {
        client_.async_read_some(asio::buffer(buffer_),
                                [this](boost::system::error_code ec, std::size_t n) {
                                    if (ec) {
                                        eof_ = true;
                                        return;
                                    }
                                    received_.append(buffer_.data(), n);
                                    start_client_reading();
                                });
    }
    // The server's HTTP answer to the upgrade request (its head, and its body if it refused).
    std::string http_answer() {
        std::string head;
        run_until([&] {
            const auto end = received_.find("\r\n\r\n");
            if (end == std::string::npos)
                return eof_;
            head = received_.substr(0, end + 4);
            received_.erase(0, end + 4);
            return true;
        });
        if (head.starts_with("HTTP/1.1 400")) {
            run_until([&] { return eof_; });
            head += received_;
        }
        return head;
    }
    std::optional<testing::server_frame> next_frame() {
        std::optional<testing::server_frame> f;
        run_until([&] {
            f = testing::take_server_frame(received_);
            return f.has_value() || eof_;
        });
        return f;
    }
    std::string next_text() {
        auto f = next_frame();
        if (!f || f->opcode != ws_opcode::text)
            return "(no text frame)";
        return f->payload;
    }
    void send_text(std::string_view text) {
        asio::write(client_, asio::buffer(testing::client_frame(ws_opcode::text, text)));
    }

    tcp::acceptor acceptor_;
    tcp::socket client_;
    std::array<char, 4096> buffer_{};
    std::string received_;
    bool eof_ = false;
};

TEST_F(engineio_upgrade_test, upgrades_with_the_probe_and_then_speaks_websocket) {
    start();
    const auto sid = handshake(pablo_cookie);
    auto poll = start_get(sid, pablo_cookie);
    run_ready();
    upgrade(sid, pablo_cookie);
    const auto head = http_answer();
    EXPECT_TRUE(head.starts_with("HTTP/1.1 101 Switching Protocols\r\n")) << head;
    EXPECT_NE(head.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
              std::string::npos)
        << head;
    send_text("2probe");
    EXPECT_EQ(next_text(), "3probe");
    // The pending long-poll returns with a noop, so that the client can finish the upgrade.
    EXPECT_EQ(finish(poll).body, "6");
    send_text("5");
    send_text("40");
    EXPECT_TRUE(next_text().starts_with("40{\"sid\":\""));
    // Polling is over for this session.
    expect_refused(get(sid, pablo_cookie), 3, "Bad request");
    // An Engine.IO close ends the session and the WebSocket (close 1000).
    send_text("1");
    auto close = next_frame();
    ASSERT_TRUE(close);
    EXPECT_EQ(close->opcode, ws_opcode::close);
    EXPECT_EQ(close->close_code(), ws_close::normal);
    ASSERT_TRUE(run_until([&] { return server_->size() == 0; }));
}

TEST_F(engineio_upgrade_test, an_upgrade_with_another_login_is_refused) {
    start();
    const auto sid = handshake(pablo_cookie);
    upgrade(sid, joe_cookie);
    const auto answer = http_answer();
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 400 Bad Request\r\n")) << answer;
    EXPECT_TRUE(answer.ends_with(
        R"({"code":3,"message":"Bad request: this session belongs to another login"})"))
        << answer;
    EXPECT_TRUE(eof_);
    EXPECT_EQ(stats_.refused_session_login.load(), 1u);
    // The session carries on over polling.
    EXPECT_EQ(post(sid, "40", pablo_cookie).status, 200);
    EXPECT_TRUE(get(sid, pablo_cookie).body.starts_with("40{"));
}

TEST_F(engineio_upgrade_test, a_connect_after_its_session_closed_takes_no_place_of_its_user) {
    start();
    const auto sid = handshake(pablo_cookie);
    // Shutdown begins: the polling session gets a close packet and is closed 200 ms later.
    server_->close_all();
    upgrade(sid, pablo_cookie);
    ASSERT_TRUE(http_answer().starts_with("HTTP/1.1 101 "));
    send_text("5");
    EXPECT_EQ(next_text(), "1");  // what polling had queued goes out over the WebSocket
    server_->close_all();         // a WebSocket session closes at once
    EXPECT_EQ(next_text(), "1");
    auto close = next_frame();
    ASSERT_TRUE(close);
    EXPECT_EQ(close->opcode, ws_opcode::close);
    // The client did not listen: a Socket.IO connect after the close.
    send_text("40");
    // Its reader handles it and ends (the upgraded connection is counted down then).
    ASSERT_TRUE(run_until([&] { return stats_.connections_open.load() == -1; }));
    EXPECT_EQ(per_user_.count("1"), 0u);  // a closed session holds no place of its user
    EXPECT_EQ(hub_.size(), 0u);
}

}  // namespace
}  // namespace redchat::transport
