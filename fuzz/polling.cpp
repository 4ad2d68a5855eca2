// Engine.IO sessions under a script: the input is a sequence of at most 64 operations on one
// engineio_server (with chat::realtime and the hub on the in-memory store) in one io_context:
// handshakes, polls and posts for its sessions, requests with another login or a bogus sid,
// WebSocket upgrades over loopback connections and what their clients send, messages for every
// logged-in socket, shutdown, and time passing.
//
// Checked: nothing crashes or leaks (ASan, LSan); every answer's status is one that request may
// get (and its body has the right shape); everything the server sends on a WebSocket is a
// well-formed frame; once everything is closed no session, waiting request, connection slot, hub
// entry, presence count or queued byte is left, and every upgraded connection was counted down
// exactly once.
//
// Time is virtual: this binary's CLOCK_MONOTONIC (which steady_clock, and so every Asio timer,
// reads) stands still unless the script advances it. Pings, ping timeouts, the shutdown's grace
// and a WebSocket's linger then happen in microseconds, the same way every run.
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/parse.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "chat/hub.hpp"
#include "chat/realtime.hpp"
#include "fake_store.hpp"
#include "socketio/engineio_codec.hpp"
#include "transport/chat_socket.hpp"
#include "transport/engineio_server.hpp"
#include "ws_client.hpp"

// ---- virtual time ----

namespace {

std::atomic<std::int64_t> monotonic_start_ns{-1};  // the real clock when first read
std::atomic<std::int64_t> advanced_ns{0};          // how far the script moved time since

}  // namespace

// Replaces libc's (and the sanitizer runtime's weak interceptor of it) in this binary only.
extern "C" int clock_gettime(clockid_t id, struct timespec* ts) {
    using clock_fn = int (*)(clockid_t, struct timespec*);
    static const auto real = reinterpret_cast<clock_fn>(dlsym(RTLD_NEXT, "clock_gettime"));
    if (id != CLOCK_MONOTONIC)
        return real(id, ts);
    std::int64_t start = monotonic_start_ns.load();
    if (start < 0) {
        struct timespec now {};
        real(id, &now);
        std::int64_t first = std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
        if (monotonic_start_ns.compare_exchange_strong(start, first))
            start = first;
    }
    const std::int64_t t = start + advanced_ns.load();
    ts->tv_sec = static_cast<time_t>(t / 1'000'000'000);
    ts->tv_nsec = static_cast<long>(t % 1'000'000'000);
    return 0;
}

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;
using namespace redchat;
using namespace std::chrono_literals;
using transport::ws_opcode;

// REDCHAT_FUZZ_TRACE=1: each operation and answer on stderr (to read what an input does).
bool tracing = false;

[[noreturn]] void fail() {
    __builtin_trap();
}
void check(bool ok, unsigned line = __builtin_LINE()) {
    if (!ok) {
        std::fprintf(stderr, "fuzz_polling: check failed at polling.cpp:%u\n", line);
        fail();
    }
}

// The script: bytes taken from the front; past the end, zeros.
class script {
  public:
    script(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
    bool done() const { return pos_ >= size_; }
    std::uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
    std::string bytes(std::size_t n) {
        n = std::min(n, size_ - pos_);
        std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
        pos_ += n;
        return s;
    }

  private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
};

enum class op : std::uint8_t {
    handshake,      // GET without sid: a new polling session
    poll,           // GET for a session, with its login
    post_bytes,     // POST for a session, the body from the script (over maxPayload or not)
    post_packets,   // POST for a session, packets a client would send
    foreign_login,  // GET or POST for a session with another login: always 400
    bogus_sid,      // requests for sessions that do not exist, or with another method
    upgrade,        // a WebSocket for a session (or a new one) on a loopback connection
    ws_client,      // a WebSocket client sends a packet or frame, reads, or goes away
    deliver,        // a chat event for every entitled socket (the bus's fan-out)
    advance,        // time passes
    close_all,      // shutdown: every client is told to go
    count_
};

// Logins a request may carry: none, two users' sessions, and a well-formed unknown one.
const std::array<std::optional<std::string>, 4> cookies{std::nullopt, std::string(32, 'a'),
                                                        std::string(32, 'b'), std::string(32, 'c')};
const std::array<std::string, 2> addresses{"192.0.2.1", "192.0.2.2"};

// What clients send: Engine.IO packets with Socket.IO ones inside, good and bad.
const std::array<std::string, 20> client_packets{
    "40",
    "41",
    "2",
    "3",
    "2probe",
    "1",
    "5",
    "6",
    R"(42["message",{"roomId":"0","message":"hi"}])",
    R"(421["message",{"roomId":"1:2","message":"to Joe"}])",
    R"(42["room.join","1:2"])",
    R"(422["room.join","2:3"])",
    R"(42["message",{"roomId":"0","message":""}])",
    R"(43["ack"])",
    "40/admin,",
    "44{}",
    "bAAE=",
    "4garbage",
    R"(42["unknown",1])",
    "451-[\"message\",{\"_placeholder\":true,\"num\":0}]",
};

constexpr std::size_t max_ops = 64;
constexpr std::size_t max_connections = 8;

// An io_context whose pending handlers can be destroyed while all they use is alive.
struct test_context : asio::io_context {
    void destroy_pending() { shutdown(); }
};

struct session_ref {
    std::string sid;
    std::size_t cookie = 0;
};

// The client's end of a WebSocket connection.
struct ws_peer {
    tcp::socket socket;
    std::string received;
    bool head_read = false;  // the HTTP answer to the upgrade request
    bool refused = false;    // it was not 101
};

// Statuses a request may get, as a bit set.
enum status_bit : unsigned { s200 = 1, s400 = 2, s413 = 4, s429 = 8 };
unsigned bit_of(int status) {
    switch (status) {
        case 200:
            return s200;
        case 400:
            return s400;
        case 413:
            return s413;
        case 429:
            return s429;
        default:
            return 0;
    }
}

class harness {
  public:
    harness() {
        server_.emplace(ioc_, 0, app_, cfg_, stats_, per_address_);
        server_->set_peers({&*server_});
        db_.add_user("Pablo", "x");
        db_.add_user("Joe", "x");
        db_.rooms_of["1"].insert("1:2");
        db_.rooms_of["2"].insert("1:2");
        db_.sessions[*cookies[1]] = "1";
        db_.sessions[*cookies[2]] = "2";
    }
    harness(const harness&) = delete;
    harness& operator=(const harness&) = delete;

    ~harness() {
        // Whatever is still suspended (a lingering close, the ping timer) is destroyed while
        // everything it refers to is alive; then every queued byte must have been uncounted and
        // every upgraded connection counted down once.
        ioc_.destroy_pending();
        server_.reset();
        check(stats_.queued_output_bytes.load() == 0);
        check(stats_.connections_open.load() == -static_cast<std::int64_t>(upgrades_));
    }

    void run(script& in) {
        for (std::size_t n = 0; n < max_ops && !in.done(); ++n) {
            step(in);
            settle();
        }
        finish();
    }

  private:
    static config::server_config make_config() {
        config::server_config cfg;
        // A ping every 4 s, 3 s to answer it: wheel ticks of 750 ms, so that an advance
        // crosses few of them (each costs a round in advance()).
        cfg.ping_interval = 4000ms;
        cfg.ping_timeout = 3000ms;
        cfg.limit.max_packet_bytes = 128;  // maxPayload, and the WebSocket message limit
        cfg.limit.max_queued_messages = 8;
        cfg.limit.max_queued_bytes = 1024;
        return cfg;
    }

    void step(script& in) {
        const auto which = static_cast<op>(in.byte() % static_cast<unsigned>(op::count_));
        if (tracing)
            std::fprintf(stderr,
                         "op %d (sessions %zu, open %zu, sockets of users 1 and 2: %zu %zu)\n",
                         static_cast<int>(which), sessions_.size(), server_->size(),
                         per_user_.count("1"), per_user_.count("2"));
        switch (which) {
            case op::handshake: {
                const std::size_t cookie = in.byte() % cookies.size();
                start(http::verb::get, target(""), "", cookie, addresses[in.byte() % 2],
                      s200 | s429, true);
                break;
            }
            case op::poll:
                if (auto s = pick(in))
                    start(http::verb::get, target(s->sid), "", s->cookie, addresses[0],
                          s200 | s400);
                break;
            case op::post_bytes: {
                auto s = pick(in);
                std::string body = in.bytes(in.byte());
                if (!s)
                    break;
                const bool too_big = body.size() > cfg_.limit.max_packet_bytes;
                start(http::verb::post, target(s->sid), std::move(body), s->cookie, addresses[0],
                      too_big ? s400 | s413 : s200 | s400);
                break;
            }
            case op::post_packets: {
                auto s = pick(in);
                std::string body;
                for (int i = in.byte() % 3; i >= 0; --i) {
                    if (!body.empty())
                        body += socketio::record_separator;
                    body += client_packets[in.byte() % client_packets.size()];
                }
                if (s) {
                    start(http::verb::post, target(s->sid), std::move(body), s->cookie,
                          addresses[0], s200 | s400 | s413);
                }
                break;
            }
            case op::foreign_login: {
                auto s = pick(in);
                const std::size_t other = (s ? s->cookie : 0) + 1 + in.byte() % 3;
                const bool get = in.byte() % 2 == 0;
                if (s) {
                    start(get ? http::verb::get : http::verb::post, target(s->sid), get ? "" : "40",
                          other % cookies.size(), addresses[0], s400);
                }
                break;
            }
            case op::bogus_sid:
                bogus_request(in);
                break;
            case op::upgrade:
                upgrade(in);
                break;
            case op::ws_client:
                ws_client(in);
                break;
            case op::deliver:
                deliver(in.byte());
                break;
            case op::advance:
                advance(std::chrono::milliseconds(250) * (in.byte() % 8 + 1));
                break;
            case op::close_all:
                server_->close_all();
                break;
            case op::count_:
                break;
        }
    }

    static std::string target(const std::string& sid) {
        return sid.empty() ? "/socket.io/?EIO=4&transport=polling"
                           : "/socket.io/?EIO=4&transport=polling&sid=" + sid;
    }

    // One of the sessions opened so far (closed ones too), if any.
    const session_ref* pick(script& in) {
        const std::uint8_t b = in.byte();
        if (sessions_.empty())
            return nullptr;
        return &sessions_[b % sessions_.size()];
    }

    void start(http::verb method, std::string url, std::string body, std::size_t cookie,
               std::string address, unsigned allowed, bool handshake = false) {
        transport::engineio_server::request req{method, url, 11};
        req.body() = std::move(body);
        ++waiting_;
        asio::co_spawn(ioc_,
                       server_->handle_polling(std::move(req), cookies[cookie], std::move(address)),
                       [this, allowed, handshake, cookie, method](std::exception_ptr e,
                                                                  transport::poll_answer a) {
                           check(!e);
                           --waiting_;
                           answered(a, method, allowed, handshake, cookie);
                       });
    }

    void answered(const transport::poll_answer& a, http::verb method, unsigned allowed,
                  bool handshake, std::size_t cookie) {
        if (tracing)
            std::fprintf(stderr, "  %s -> %d %s\n", method == http::verb::get ? "GET" : "POST",
                         a.status, a.body.substr(0, 100).c_str());
        check((bit_of(a.status) & allowed) != 0);
        if (a.status != 200) {
            check(a.content_type == "application/json");
            check(boost::json::parse(a.body).is_object());
            return;
        }
        check(a.content_type.starts_with("text/"));
        if (method == http::verb::post) {
            check(a.body == "ok");
            return;
        }
        // A poll answer is a payload of well-formed packets.
        auto packets = socketio::decode_payload(a.body);
        check(packets.has_value() && !packets->empty());
        if (handshake) {
            check(packets->size() == 1 && (*packets)[0].type == socketio::eio_type::open);
            auto open = boost::json::parse((*packets)[0].data).as_object();
            sessions_.push_back({std::string(open.at("sid").as_string()), cookie});
        }
    }

    void bogus_request(script& in) {
        static const std::array<std::string, 7> sids{
            "00000000000000000000.0",  "no-dot", "00000000000000000000.1", "abc.99999", ".", "a.",
            "00000000000000000000.0.0"};
        const std::uint8_t choice = in.byte();
        const std::size_t cookie = in.byte() % cookies.size();
        if (choice < 128) {  // well-formed, never issued: unknown whatever the method
            const auto method = choice % 2 == 0 ? http::verb::get : http::verb::post;
            start(method, target(sids[choice % sids.size()]), "40", cookie, addresses[0], s400);
            return;
        }
        if (choice < 192) {  // a known session, with a method polling does not have
            if (auto s = pick(in))
                start(http::verb::put, target(s->sid), "40", s->cookie, addresses[0], s400);
            return;
        }
        // Any bytes as the query: it may not even parse (then it is a handshake, or refused).
        std::string url = "/socket.io/?EIO=4&transport=polling&sid=" + in.bytes(in.byte() % 32);
        const bool get = choice % 2 == 0;
        start(get ? http::verb::get : http::verb::post, std::move(url), "", cookie, addresses[1],
              get ? s200 | s400 | s429 : s400);
    }

    static tcp::acceptor& acceptor() {
        // One for the process: it only accepts (blocking, into sockets of each run's context).
        static asio::io_context acceptor_context;
        static tcp::acceptor a(acceptor_context, {asio::ip::make_address("127.0.0.1"), 0});
        return a;
    }

    void upgrade(script& in) {
        const std::uint8_t how = in.byte();
        const std::size_t cookie = in.byte() % cookies.size();
        const session_ref* s = pick(in);
        if (peers_.size() >= max_connections)
            return;
        std::string url = "/socket.io/?EIO=4&transport=websocket";
        std::optional<std::string> login = cookies[cookie];
        if (how % 4 != 0 && s != nullptr) {  // mostly the upgrade of a polling session
            url += "&sid=" + s->sid;
            if (how % 4 != 3)
                login = cookies[s->cookie];  // with its own login (or another one)
        }
        // libFuzzer's timeout alarm would interrupt the blocking connect (EINTR): it waits
        // until the pair is made.
        sigset_t alarm;
        sigset_t before;
        sigemptyset(&alarm);
        sigaddset(&alarm, SIGALRM);
        pthread_sigmask(SIG_BLOCK, &alarm, &before);
        auto [client, server] = testing::loopback_pair(ioc_, acceptor());
        pthread_sigmask(SIG_SETMASK, &before, nullptr);
        client.non_blocking(true);
        client.set_option(tcp::no_delay(true));
        // Small kernel buffers, so that a client that does not read soon fills its queue.
        client.set_option(asio::socket_base::receive_buffer_size(4096));
        server.set_option(asio::socket_base::send_buffer_size(4096));
        transport::engineio_server::request req{http::verb::get, url, 11};
        req.set(http::field::upgrade, "websocket");
        req.set(http::field::connection, "Upgrade");
        if (how % 8 != 7)  // sometimes not a WebSocket 13 handshake at all
            req.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
        req.set(http::field::sec_websocket_version, "13");
        peers_.push_back(ws_peer{std::move(client), {}, false, false});
        ++upgrades_;
        server_->handle_websocket(std::move(server), std::move(req), std::move(login),
                                  std::nullopt);
    }

    void ws_client(script& in) {
        const std::uint8_t which = in.byte();
        const std::uint8_t what = in.byte();
        if (peers_.empty())
            return;
        ws_peer& peer = peers_[which % peers_.size()];
        if (!peer.socket.is_open())
            return;
        std::string bytes;
        switch (what % 8) {
            case 0:
            case 1:
            case 2:
                bytes = testing::client_frame(ws_opcode::text,
                                              client_packets[in.byte() % client_packets.size()]);
                break;
            case 3:  // any text, possibly not UTF-8 or too long
                bytes = testing::client_frame(ws_opcode::text, in.bytes(in.byte()));
                break;
            case 4: {  // control frames, and a fragmented message around one
                const std::uint8_t c = in.byte();
                if (c % 4 == 0)
                    bytes = testing::client_frame(ws_opcode::ping, "p");
                else if (c % 4 == 1)
                    bytes = testing::client_frame(ws_opcode::close, testing::close_payload(1000));
                else if (c % 4 == 2)
                    bytes = testing::client_frame(ws_opcode::binary, in.bytes(c % 16));
                else
                    bytes = testing::client_frame(ws_opcode::text, "4", false) +
                            testing::client_frame(ws_opcode::ping, "") +
                            testing::client_frame(ws_opcode::continuation, "2");
                break;
            }
            case 5:  // raw bytes: partial frames, unmasked ones, anything
                bytes = in.bytes(in.byte() % 32);
                break;
            case 6:
                read_peer(peer);
                return;
            case 7:  // gone, without a word
                disconnect(peer);
                return;
        }
        boost::system::error_code ignored;
        peer.socket.write_some(asio::buffer(bytes), ignored);  // what the kernel takes
    }

    // Reads what the server sent: the HTTP answer to the upgrade, then only well-formed,
    // unmasked frames carrying Engine.IO packets (or the close code).
    void read_peer(ws_peer& peer) {
        std::array<char, 4096> buffer;
        for (;;) {
            boost::system::error_code ec;
            const std::size_t n = peer.socket.read_some(asio::buffer(buffer), ec);
            if (ec)
                break;
            peer.received.append(buffer.data(), n);
        }
        if (!peer.head_read) {
            const auto end = peer.received.find("\r\n\r\n");
            if (end == std::string::npos)
                return;
            peer.head_read = true;
            peer.refused = !peer.received.starts_with("HTTP/1.1 101 ");
            check(peer.refused || peer.received.find("Sec-WebSocket-Accept: "
                                                     "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") < end);
            check(!peer.refused || peer.received.starts_with("HTTP/1.1 400 "));
            peer.received.erase(0, end + 4);
        }
        if (peer.refused) {
            peer.received.clear();
            return;
        }
        while (auto f = testing::take_server_frame(peer.received)) {
            if (tracing)
                std::fprintf(stderr, "  frame %d %s\n", static_cast<int>(f->opcode),
                             f->payload.substr(0, 100).c_str());
            check(!f->masked && f->fin);
            if (f->opcode == ws_opcode::text)
                check(socketio::decode_packet(f->payload).has_value());
            else if (f->opcode == ws_opcode::close)
                check(f->payload.size() != 1 && f->payload.size() <= 125);
            else
                check(f->opcode == ws_opcode::pong && f->payload.size() <= 125);
        }
    }

    static void disconnect(ws_peer& peer) {
        // A reset, not a FIN: no TIME_WAIT, so that millions of runs do not run out of ports.
        boost::system::error_code ignored;
        peer.socket.set_option(asio::socket_base::linger(true, 0), ignored);
        peer.socket.close(ignored);
    }

    void deliver(std::uint8_t choice) {
        static const std::array<std::string, 4> rooms{"0", "1:2", "2:3", "team"};
        chat::bus_event ev;
        const std::string& room = rooms[choice % rooms.size()];
        if (choice % 8 < 6) {
            ev = {chat::bus_event_type::message, "", room, "", "message", "{}"};
        } else if (choice % 8 == 6) {
            ev = {chat::bus_event_type::show_room, "", "2:3", "", "show.room", "{}"};
        } else {
            ev = {chat::bus_event_type::user_connected, "", "", "1", "user.connected", "{}"};
        }
        auto packet =
            transport::make_text_frame(R"(42["message",{"id":"m","roomId":")" + room +
                                       R"(","from":"1","date":1800000000000,"message":")" +
                                       std::string(choice % 64, 'x') + "\"}]");
        hub_.deliver(ev, packet);
    }

    // Runs what is ready, until nothing is.
    void settle() {
        ioc_.restart();
        ioc_.poll();
    }

    // Moves time on by `d` and runs every timer due by then. Asio looks at its timers when its
    // timer fd fires: a kick timer due before all others makes it fire now, and every timer due
    // comes along. Timers that handlers set meanwhile (the ping wheel's next tick, say) take
    // further rounds, until a round runs nothing but the kick.
    void advance(std::chrono::nanoseconds d) {
        advanced_ns.fetch_add(d.count());
        for (int round = 0; round < 256; ++round) {
            bool kicked = false;
            asio::steady_timer kick(ioc_, asio::steady_timer::time_point::min());
            kick.async_wait([&](boost::system::error_code) { kicked = true; });
            ioc_.restart();
            std::size_t ran = 0;
            while (!kicked)
                ran += ioc_.run_one();
            ran += ioc_.poll();
            if (ran == 1)
                return;
        }
        fail();  // time never settles: a timer that keeps being due
    }

    // Shutdown's deadline: every session closes now, then everything must be let go.
    void finish() {
        server_->abort_all();
        check(server_->size() == 0);
        for (auto& peer : peers_) {
            if (peer.socket.is_open()) {
                read_peer(peer);
                disconnect(peer);
            }
        }
        settle();
        check(waiting_ == 0);  // every request got its answer
        check(stats_.sockets_open.load() == 0);
        for (const auto& a : addresses)
            check(per_address_.count(a) == 0);
        check(per_user_.count("1") == 0 && per_user_.count("2") == 0);
        check(hub_.size() == 0);
        check(realtime_.presence_snapshot().empty());
    }

    test_context ioc_;
    config::server_config cfg_ = make_config();
    metrics::shard stats_{};
    testing::fake_store db_;
    chat::hub hub_;
    keyed_buckets rates_{cfg_.limit.messages_per_second, cfg_.limit.message_burst};
    chat::realtime realtime_{db_,   hub_, cfg_, "srv", "inst", [] { return 1'800'000'000.5; },
                             rates_};
    transport::connection_limiter per_user_{2};
    transport::connection_limiter per_address_{4};
    transport::chat_application app_{realtime_, cfg_, stats_, per_user_};
    std::optional<transport::engineio_server> server_;
    std::vector<session_ref> sessions_;
    std::vector<ws_peer> peers_;  // the clients' ends, all reset by finish()
    std::size_t upgrades_ = 0;
    int waiting_ = 0;  // polling requests not answered yet
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    tracing = std::getenv("REDCHAT_FUZZ_TRACE") != nullptr;
    spdlog::set_level(tracing ? spdlog::level::debug : spdlog::level::off);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    script in(data, size);
    harness h;
    h.run(in);
    return 0;
}
