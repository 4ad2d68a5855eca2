#include "transport/engineio_server.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <utility>

#include "core/random_id.hpp"
#include "socketio/engineio_codec.hpp"
#include "transport/websocket_connection.hpp"
#include "transport/ws_codec.hpp"

namespace redchat::transport {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::awaitable;
using clock_type = std::chrono::steady_clock;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

namespace {

std::string quote(std::string_view text) {
    return boost::json::serialize(boost::json::string_view(text));
}

poll_answer eio_error(int code, std::string_view message) {
    return {400, "application/json",
            "{\"code\":" + std::to_string(code) + ",\"message\":" + quote(message) + "}"};
}

}  // namespace

std::optional<poll_answer> check_eio_query(const eio_query& q) {
    if (q.eio != "4")
        return poll_answer{400, "application/json",
                           R"({"code":5,"message":"Unsupported protocol version"})"};
    if (q.transport != "polling" && q.transport != "websocket")
        return poll_answer{400, "application/json", R"({"code":0,"message":"Transport unknown"})"};
    return std::nullopt;
}

eio_query parse_eio_query(std::string_view target) {
    eio_query q;
    auto url = boost::urls::parse_origin_form(target);
    if (!url)
        return q;
    for (auto p : url->params()) {
        if (p.key == "EIO")
            q.eio = p.value;
        if (p.key == "transport")
            q.transport = p.value;
        if (p.key == "sid")
            q.sid = p.value;
    }
    return q;
}

// An upgraded connection in `redchat_connections_open` (counted up by the HTTP layer): counted
// down when the last holder lets go, whichever way the WebSocket ends.
class open_connection {
  public:
    explicit open_connection(metrics::shard& stats) : stats_(&stats) {}
    open_connection(open_connection&& other) noexcept
        : stats_(std::exchange(other.stats_, nullptr)) {}
    open_connection& operator=(open_connection&&) = delete;
    open_connection(const open_connection&) = delete;
    ~open_connection() {
        if (stats_ != nullptr)
            stats_->connections_open.fetch_sub(1, std::memory_order_relaxed);
    }

  private:
    metrics::shard* stats_;
};

namespace {

// The reading side of an established WebSocket session: each message is one Engine.IO packet;
// event packets are pipelined (see eio_session::can_pipeline), any other is handled once they
// are done and before the next is read. While the client is silent nothing runs: a wait for the
// socket to be readable holds this object, and no coroutine frame is kept (a frame lives as long
// as it waits, and an idle connection would pay for it). Each burst of input gets a coroutine
// that reads and handles until the socket has nothing more, then waits again.
// One per open WebSocket: kept within 64 bytes, 80 with make_shared's counts.
struct websocket_reader {
    websocket_reader(std::shared_ptr<websocket_connection> connection,
                     std::shared_ptr<eio_session> eio, std::optional<connection_limiter::slot> slot,
                     open_connection open)
        : ws(std::move(connection)),
          session(std::move(eio)),
          address_slot(std::move(slot)),
          counted(std::move(open)) {}

    asio::io_context& context() const { return session->context(); }

    std::shared_ptr<websocket_connection> ws;
    std::shared_ptr<eio_session> session;
    std::optional<connection_limiter::slot> address_slot;  // released when the reader ends
    open_connection counted;                               // likewise
};

static_assert(sizeof(websocket_reader) <= 64, "a reader grew out of its size class");

// `first`: a message read already (by on_readable), handled before anything else is read.
awaitable<void> serve_burst(std::shared_ptr<websocket_reader> reader,
                            std::optional<ws_message> first, bool may_read);

void on_readable(std::shared_ptr<websocket_reader> reader);

// Waits, holding only `reader`, until the client sends something.
void wait_for_input(std::shared_ptr<websocket_reader> reader) {
    auto& ws = *reader->ws;
    ws.when_readable([reader = std::move(reader)](const boost::system::error_code&) mutable {
        // An error (the socket closed under the wait) is found by the read that follows.
        on_readable(std::move(reader));
    });
}

// What an idle client sends, its pong, is answered right here, without a coroutine: a round of
// pings to every idle connection then makes no coroutine frame per connection. Anything else
// (and a pong behind packets still in flight) goes to a burst coroutine, in order.
void on_readable(std::shared_ptr<websocket_reader> reader) {
    auto& ws = *reader->ws;
    auto& session = *reader->session;
    bool may_read = true;  // the socket is readable
    while (!session.closed()) {
        ws_message msg;
        const auto got = ws.try_read(msg, may_read);
        if (got == websocket_connection::read_result::would_block) {
            wait_for_input(std::move(reader));
            return;
        }
        if (got == websocket_connection::read_result::closed)
            break;
        if (msg.opcode == ws_opcode::text && session.answer_at_once(msg.payload))
            continue;
        auto& ioc = reader->context();
        asio::co_spawn(ioc, serve_burst(std::move(reader), std::move(msg), may_read),
                       asio::detached);
        return;
    }
    session.close();
    ws.reader_done();
}

awaitable<void> serve_burst(std::shared_ptr<websocket_reader> reader,
                            std::optional<ws_message> first, bool may_read) {
    auto& ws = *reader->ws;
    auto& session = reader->session;
    const auto closed = [&session] { return session->closed(); };
    while (!session->closed()) {
        ws_message msg;
        if (first) {
            msg = std::move(*first);
            first.reset();
        } else {
            const auto got = ws.try_read(msg, may_read);
            if (got == websocket_connection::read_result::would_block) {
                wait_for_input(std::move(reader));
                co_return;
            }
            if (got == websocket_connection::read_result::closed)
                break;
        }
        if (msg.opcode == ws_opcode::binary) {
            socketio::eio_packet packet;
            packet.type = socketio::eio_type::message;
            packet.data = std::move(msg.payload);
            packet.binary = true;
            co_await session->pipeline().wait(0, closed);
            co_await session->on_packet(std::move(packet));
            continue;
        }
        auto packet = socketio::decode_packet(msg.payload);
        if (!packet) {
            ws.abort(ws_close::protocol_error, "Not an Engine.IO packet");
            break;
        }
        if (session->can_pipeline(*packet)) {
            co_await session->pipeline().wait(packet_pipeline::max_in_flight - 1, closed);
            session->start_pipelined(std::move(*packet));
            continue;
        }
        co_await session->pipeline().wait(0, closed);
        co_await session->on_packet(std::move(*packet));
    }
    session->close();
    ws.reader_done();
}

}  // namespace

engineio_server::engineio_server(asio::io_context& ioc, std::size_t thread_index,
                                 eio_application& app, const config::server_config& cfg,
                                 metrics::shard& stats, connection_limiter& per_address)
    : ioc_(ioc),
      index_(thread_index),
      app_(app),
      cfg_(cfg),
      stats_(stats),
      per_address_(per_address),
      batch_(
          ioc, stats,
          {cfg.limit.max_packet_bytes, cfg.limit.max_queued_bytes, cfg.limit.max_queued_messages}),
      // Ticks of a twentieth of the shorter ping period (10 ms to 1 s): pings go out at most a
      // tick late, well within the client's allowance of pingInterval + pingTimeout, and a
      // missing pong is noticed within a tick of its deadline.
      ping_tick_(std::clamp(std::min(cfg.ping_interval, cfg.ping_timeout) / 20,
                            std::chrono::milliseconds(10), std::chrono::milliseconds(1000))),
      ping_wheel_(
          static_cast<std::size_t>(std::max(cfg.ping_interval, cfg.ping_timeout) / ping_tick_) +
          2) {}

engineio_server::~engineio_server() = default;

void engineio_server::forget(const std::string& sid) {
    if (sessions_.erase(sid) > 0)
        stats_.sockets_open.fetch_sub(1, std::memory_order_relaxed);
}

// A copy of the session list: closing a session erases it from sessions_.
std::vector<std::shared_ptr<eio_session>> engineio_server::all_sessions() const {
    std::vector<std::shared_ptr<eio_session>> all;
    all.reserve(sessions_.size());
    for (const auto& [sid, s] : sessions_)
        all.push_back(s);
    return all;
}

void engineio_server::close_all() {
    for (auto& s : all_sessions())
        s->close_soon();
}

void engineio_server::abort_all() {
    for (auto& s : all_sessions())
        s->abort();
}

engineio_server* engineio_server::owner_of(std::string_view sid) {
    const auto dot = sid.rfind('.');
    if (dot == std::string_view::npos)
        return nullptr;
    std::size_t index = 0;
    const auto digits = sid.substr(dot + 1);
    if (digits.empty() || digits.size() > 4)
        return nullptr;
    for (char c : digits) {
        if (c < '0' || c > '9')
            return nullptr;
        index = index * 10 + static_cast<std::size_t>(c - '0');
    }
    if (index >= peers_.size())
        return nullptr;
    return peers_[index];
}

awaitable<std::shared_ptr<eio_session>> engineio_server::open_session(
    std::optional<std::string> cookie, bool websocket) {
    // Not make_shared: the ping wheel's weak_ptr would keep the whole session's memory until its
    // entry fires (a ping interval after the close); apart, it keeps only the control block.
    // The sid: 72 random bits and the owner thread's index, short enough to be kept inside its
    // string (no heap block for it).
    std::shared_ptr<eio_session> session(
        new eio_session(*this, random_token(12) + "." + std::to_string(index_)));
    session->bind_login(std::move(cookie), !websocket);
    session->set_handler(co_await app_.open(*session));
    sessions_.emplace(std::string_view(session->sid()), session);
    stats_.sockets_opened.fetch_add(1, std::memory_order_relaxed);
    stats_.sockets_open.fetch_add(1, std::memory_order_relaxed);
    const std::string upgrades = websocket ? "[]" : "[\"websocket\"]";
    session->send(socketio::encode_packet(
        socketio::eio_type::open,
        "{\"sid\":" + quote(session->sid()) + ",\"upgrades\":" + upgrades +
            ",\"pingInterval\":" + std::to_string(cfg_.ping_interval.count()) +
            ",\"pingTimeout\":" + std::to_string(cfg_.ping_timeout.count()) +
            ",\"maxPayload\":" + std::to_string(cfg_.limit.max_packet_bytes) + "}"));
    session->start();
    co_return session;
}

awaitable<poll_answer> engineio_server::handle_polling(request req,
                                                       std::optional<std::string> cookie,
                                                       std::string client) {
    const auto q = parse_eio_query(req.target());
    if (q.sid.empty())
        co_return co_await polling_here(std::move(req), std::move(cookie), std::move(client));
    engineio_server* owner = owner_of(q.sid);
    if (owner == nullptr)
        co_return eio_error(1, "Session ID unknown");
    if (owner == this)
        co_return co_await polling_here(std::move(req), std::move(cookie), std::move(client));
    // Run on the owner's thread; the answer comes back to this one.
    co_return co_await asio::co_spawn(
        owner->ioc_, owner->polling_here(std::move(req), std::move(cookie), std::move(client)),
        asio::use_awaitable);
}

awaitable<poll_answer> engineio_server::polling_here(request req, std::optional<std::string> cookie,
                                                     std::string client) {
    const auto q = parse_eio_query(req.target());
    const bool get = req.method() == beast::http::verb::get;
    if (q.sid.empty()) {
        if (!get)
            co_return eio_error(3, "Bad request");
        // A polling session counts like a connection of its client's address: one keep-alive
        // connection must not open thousands of them.
        auto slot = per_address_.try_acquire(client);
        if (!slot) {
            stats_.refused_connections.fetch_add(1, std::memory_order_relaxed);
            spdlog::info("event=connection_refused reason=\"per-address limit\" address={}",
                         client);
            co_return poll_answer{429, "application/json",
                                  R"({"message":"Too many connections from your address"})"};
        }
        auto session = co_await open_session(std::move(cookie), false);
        session->hold_address(std::move(*slot));
        co_return poll_answer{200, "text/plain; charset=UTF-8", session->take_open_packet()};
    }
    auto it = sessions_.find(q.sid);
    if (it == sessions_.end())
        co_return eio_error(1, "Session ID unknown");
    auto session = it->second;
    if (!session->same_login(cookie)) {
        stats_.refused_session_login.fetch_add(1, std::memory_order_relaxed);
        spdlog::info("event=request_refused reason=\"sid with another login\" sid={}", q.sid);
        co_return eio_error(3, "Bad request: this session belongs to another login");
    }
    if (get) {
        if (session->poll_pending) {
            // Two concurrent long-polls: a broken client. The reference closes the session too.
            session->close();
            co_return eio_error(3, "Bad request");
        }
        if (session->on_websocket())
            co_return eio_error(3, "Bad request");
        session->poll_pending = true;
        co_await session->wait_for_output(true);
        session->poll_pending = false;
        co_return poll_answer{200, "text/plain; charset=UTF-8", session->take_poll_answer()};
    }
    if (req.method() != beast::http::verb::post)
        co_return eio_error(3, "Bad request");
    // The maxPayload of the open packet (the HTTP body limit is a separate setting).
    if (req.body().size() > cfg_.limit.max_packet_bytes) {
        co_return poll_answer{413, "application/json",
                              "{\"message\":\"Payload is larger than " +
                                  std::to_string(cfg_.limit.max_packet_bytes) + " bytes\"}"};
    }
    auto packets = socketio::decode_payload(req.body());
    if (!packets) {
        session->close();
        co_return eio_error(3, "Bad request");
    }
    for (auto& p : *packets) {
        if (session->closed())
            break;
        co_await session->on_packet(std::move(p));
    }
    co_return poll_answer{200, "text/html", "ok"};
}

void engineio_server::handle_websocket(asio::ip::tcp::socket socket, request req,
                                       std::optional<std::string> cookie,
                                       std::optional<connection_limiter::slot> address_slot) {
    const auto q = parse_eio_query(req.target());
    engineio_server* owner = q.sid.empty() ? this : owner_of(q.sid);
    if (owner == nullptr)
        owner = this;  // unknown sid: refused after the handshake
    if (owner == this) {
        asio::co_spawn(ioc_,
                       websocket_here(std::move(socket), std::move(req), std::move(cookie),
                                      std::move(address_slot)),
                       asio::detached);
        return;
    }
    // Move the connection to the owner's thread: it lives there from now on.
    boost::system::error_code ec;
    const auto protocol = socket.local_endpoint(ec).protocol();
    const int fd = socket.release(ec);
    if (ec) {
        stats_.connections_open.fetch_sub(1, std::memory_order_relaxed);
        return;
    }
    asio::post(owner->ioc_, [owner, fd, protocol, req = std::move(req), cookie = std::move(cookie),
                             slot = std::move(address_slot)]() mutable {
        asio::ip::tcp::socket moved(owner->ioc_);
        boost::system::error_code aec;
        moved.assign(protocol, fd, aec);
        if (aec) {
            owner->stats_.connections_open.fetch_sub(1, std::memory_order_relaxed);
            return;
        }
        asio::co_spawn(owner->ioc_,
                       owner->websocket_here(std::move(moved), std::move(req), std::move(cookie),
                                             std::move(slot)),
                       asio::detached);
    });
}

awaitable<void> engineio_server::websocket_here(
    asio::ip::tcp::socket socket, request req, std::optional<std::string> cookie,
    std::optional<connection_limiter::slot> address_slot) {
    open_connection counted(stats_);  // counted down when the WebSocket ends
    // The connection keeps its place in the per-address count until this coroutine ends.
    auto held = std::move(address_slot);
    // The handshake's answer (RFC 6455 §4.2.2); http_session checked that it is an upgrade.
    // Everything of the request is dropped once answered: this frame lives as long as the
    // connection, and every byte it keeps is multiplied by the number of connections.
    std::string sid;  // the polling session to upgrade; empty: a new session
    {
        const auto key = req[beast::http::field::sec_websocket_key];
        const auto refuse = [](std::string_view body) {
            return "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                   "Sec-WebSocket-Version: 13\r\nConnection: close\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
        };
        if (key.empty() || req[beast::http::field::sec_websocket_version] != "13") {
            static const std::string refusal =
                refuse(R"({"message":"Expected a WebSocket 13 handshake"})");
            co_await asio::async_write(socket, asio::buffer(refusal), nothrow);
            co_return;
        }
        sid = parse_eio_query(req.target()).sid;
        if (!sid.empty()) {
            // The upgrade of a polling session must come with the login of its handshake.
            auto it = sessions_.find(sid);
            if (it != sessions_.end() && !it->second->same_login(cookie)) {
                stats_.refused_session_login.fetch_add(1, std::memory_order_relaxed);
                spdlog::info("event=request_refused reason=\"upgrade with another login\" sid={}",
                             sid);
                static const std::string refusal = refuse(
                    R"({"code":3,"message":"Bad request: this session belongs to another login"})");
                co_await asio::async_write(socket, asio::buffer(refusal), nothrow);
                co_return;
            }
        }
        const std::string answer =
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Server: redchat\r\nSec-WebSocket-Accept: " +
            ws_accept_key(key) + "\r\n\r\n";
        req = {};
        auto [aec, an] = co_await asio::async_write(socket, asio::buffer(answer), nothrow);
        (void)an;
        if (aec)
            co_return;
    }
    auto ws = std::make_shared<websocket_connection>(std::move(socket), batch_);

    std::shared_ptr<eio_session> session;
    if (sid.empty()) {
        session = co_await open_session(std::move(cookie), true);
    } else {
        auto it = sessions_.find(sid);
        if (it == sessions_.end() || it->second->on_websocket()) {
            ws->close(ws_close::policy_violation, "Session ID unknown");
            co_return;
        }
        if (!it->second->same_login(cookie)) {  // its login changed during the handshake
            ws->close(ws_close::policy_violation, "This session belongs to another login");
            co_return;
        }
        session = it->second;
        // The upgrade handshake: 2probe -> 3probe, then 5 switches the transport. If the
        // client gives up half way, polling carries on as before.
        struct upgrade_guard {
            eio_session& session;
            ~upgrade_guard() { session.set_upgrading(false); }
        } guard{*session};
        for (;;) {
            auto msg = co_await ws->read();
            if (!msg || session->closed()) {
                ws->reader_done();
                co_return;
            }
            if (msg->payload == "2probe") {
                session->set_upgrading(true);
                ws->send(make_text_frame("3probe"));
            } else if (msg->payload == "5") {
                break;
            } else {
                ws->abort(ws_close::protocol_error, "Expected the upgrade probe");
                co_return;  // the client gave up on the upgrade; polling carries on
            }
        }
    }
    session->attach_websocket(ws);
    // From here on, the reader: this frame, with the request, the cookie and the handshake's
    // state, is freed (the address slot moves along). What the upgrade handshake left unread
    // is read next, as if the socket had just become readable.
    auto reader = std::make_shared<websocket_reader>(std::move(ws), std::move(session),
                                                     std::move(held), std::move(counted));
    asio::post(ioc_, [reader = std::move(reader)]() mutable { on_readable(std::move(reader)); });
}

void engineio_server::schedule_ping(std::weak_ptr<eio_session> session,
                                    std::chrono::milliseconds delay) {
    const auto ticks =
        static_cast<std::size_t>((delay + ping_tick_ - std::chrono::milliseconds(1)) / ping_tick_);
    ping_wheel_.schedule(std::move(session), ticks);
    if (!wheel_running_) {
        wheel_running_ = true;
        asio::co_spawn(ioc_, run_ping_wheel(), asio::detached);
    }
}

// One timer per thread drives every session's pings; it stops when no session is left.
awaitable<void> engineio_server::run_ping_wheel() {
    asio::steady_timer timer(ioc_);
    auto next = clock_type::now();
    while (ping_wheel_.size() > 0) {
        next += ping_tick_;
        timer.expires_at(next);
        co_await timer.async_wait(nothrow);
        ping_wheel_.advance([](std::weak_ptr<eio_session>& weak) {
            if (auto s = weak.lock())
                s->on_ping_timer();
        });
    }
    wheel_running_ = false;
}

}  // namespace redchat::transport
