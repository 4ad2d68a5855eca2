#include "transport/engineio_server.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/url/parse.hpp>

#include <deque>

#include "chat/message.hpp"
#include "core/random_id.hpp"
#include "socketio/engineio_codec.hpp"
#include "socketio/socketio_codec.hpp"

namespace redchat::transport {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::awaitable;
using clock_type = std::chrono::steady_clock;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

namespace {

std::shared_ptr<const std::string> shared(std::string s) {
    return std::make_shared<const std::string>(std::move(s));
}

poll_answer eio_error(int code, std::string_view message) {
    return {
        400, "application/json",
        "{\"code\":" + std::to_string(code) + ",\"message\":" + chat::json_quote(message) + "}"};
}

}  // namespace

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

// One Engine.IO session and the Socket.IO socket in it (namespace "/" only).
class eio_session final : public chat::client_socket,
                          public std::enable_shared_from_this<eio_session> {
  public:
    eio_session(engineio_server& server, std::string sid)
        : server_(server),
          sid_(std::move(sid)),
          wake_(server.context(), clock_type::time_point::max()),
          pong_(server.context(), clock_type::time_point::max()) {}

    const std::string& sid() const { return sid_; }
    bool closed() const { return closed_; }
    bool on_websocket() const { return websocket_; }

    void deliver(const std::shared_ptr<const std::string>& packet) override {
        if (closed_)
            return;
        queued_bytes_ += packet->size();
        if (queued_bytes_ > server_.config().limit.max_queued_bytes) {
            // A client that cannot keep up is dropped rather than slowing anyone else down.
            spdlog::info("event=slow_client_dropped sid={} queued_bytes={}", sid_, queued_bytes_);
            server_.stats().slow_clients_dropped.fetch_add(1, std::memory_order_relaxed);
            close();
            return;
        }
        queue_.push_back(packet);
        wake_.cancel();
    }
    void send(std::string eio_packet) { deliver(shared(std::move(eio_packet))); }

    // Starts the ping loop; called once the open packet is queued.
    void start() {
        asio::co_spawn(server_.context(), ping_loop(shared_from_this()), asio::detached);
    }

    // Ends the session: the transport closes, the chat layer is told, the server forgets it.
    void close() {
        if (closed_)
            return;
        closed_ = true;
        wake_.cancel();
        pong_.cancel();
        if (close_transport_)
            close_transport_();
        if (sio_connected_) {
            sio_connected_ = false;
            // Posted, not dispatched: close() may run inside hub::deliver, which must not see
            // its socket set change under its iteration.
            asio::post(server_.context(), [self = shared_from_this()] {
                asio::co_spawn(self->server_.context(), leave(self), asio::detached);
            });
        }
        server_.forget(sid_);
    }

    // Sends an Engine.IO close (clients then reconnect by themselves) and closes once it had a
    // moment to go out.
    void close_soon() {
        if (closed_)
            return;
        send(socketio::encode_packet(socketio::eio_type::close));
        asio::co_spawn(server_.context(), close_after(shared_from_this()), asio::detached);
    }

    // Waits until packets are queued (or the session closes). A long-poll also stops waiting
    // when the session moves to WebSocket: it is then answered with a noop.
    awaitable<void> wait_for_output(bool long_poll) {
        while (queue_.empty() && !closed_ && !(long_poll && (websocket_ || upgrading_))) {
            wake_.expires_at(clock_type::time_point::max());
            co_await wake_.async_wait(nothrow);
        }
    }

    // Between `2probe` and `5`: long-polls are answered with a noop at once, as engine.io
    // clients wait for their pending poll to finish before they complete the upgrade.
    void set_upgrading(bool upgrading) {
        upgrading_ = upgrading;
        if (upgrading)
            wake_.cancel();
    }
    bool upgrading() const { return upgrading_; }

    std::vector<std::shared_ptr<const std::string>> take_output() {
        std::vector<std::shared_ptr<const std::string>> out(queue_.begin(), queue_.end());
        queue_.clear();
        queued_bytes_ = 0;
        return out;
    }

    bool poll_pending = false;
    bool queue_empty() const { return queue_.empty(); }

    void attach_websocket(std::function<void()> close_transport) {
        websocket_ = true;
        close_transport_ = std::move(close_transport);
        wake_.cancel();  // a pending long-poll returns (with a noop)
    }

    // One Engine.IO packet from the client, handled to completion before the next.
    awaitable<void> on_packet(socketio::eio_packet p) {
        switch (p.type) {
            case socketio::eio_type::pong:
                pong_.cancel();
                break;
            case socketio::eio_type::ping:  // not sent by EIO 4 clients, answered anyway
                send(socketio::encode_packet(socketio::eio_type::pong, p.data));
                break;
            case socketio::eio_type::close:
                close();
                break;
            case socketio::eio_type::message:
                if (p.binary) {
                    send_error("Binary packets are not supported");
                } else {
                    co_await on_socketio(std::move(p.data));
                }
                break;
            default:
                break;  // open, upgrade, noop: nothing to do here
        }
    }

  private:
    static awaitable<void> ping_loop(std::shared_ptr<eio_session> self) {
        const auto& cfg = self->server_.config();
        asio::steady_timer timer(self->server_.context());
        while (!self->closed_) {
            timer.expires_after(cfg.ping_interval);
            co_await timer.async_wait(nothrow);
            if (self->closed_)
                break;
            self->send(socketio::encode_packet(socketio::eio_type::ping));
            self->pong_.expires_after(cfg.ping_timeout);
            auto [ec] = co_await self->pong_.async_wait(nothrow);
            if (self->closed_)
                break;
            if (!ec) {  // the timer ran out: no pong
                spdlog::debug("event=ping_timeout sid={}", self->sid_);
                self->close();
            }
        }
    }

    static awaitable<void> close_after(std::shared_ptr<eio_session> self) {
        asio::steady_timer timer(self->server_.context());
        timer.expires_after(std::chrono::milliseconds(200));
        co_await timer.async_wait(nothrow);
        self->close();
    }

    static awaitable<void> leave(std::shared_ptr<eio_session> self) {
        co_await self->server_.realtime().disconnected(*self);
    }

    void send_error(std::string_view reason) {
        send("4" + socketio::encode_event("/", "error",
                                          "{\"message\":" + chat::json_quote(reason) + "}"));
    }

    awaitable<void> on_socketio(std::string text) {
        std::string reason;
        auto packet = socketio::decode(text, &reason, server_.config().limit.max_packet_bytes);
        if (!packet) {
            send_error("Malformed packet: " + reason);
            co_return;
        }
        if (packet->nsp != "/") {
            if (packet->type == socketio::sio_type::connect) {
                send("4" + socketio::encode_connect_error(packet->nsp, "Invalid namespace"));
            }
            co_return;
        }
        switch (packet->type) {
            case socketio::sio_type::connect:
                if (!sio_connected_ && account && !user_slot_) {
                    user_slot_ = server_.per_user().try_acquire(account->id);
                    if (!user_slot_) {
                        server_.stats().refused_connections.fetch_add(1, std::memory_order_relaxed);
                        send("4" + socketio::encode_connect_error(
                                       "/", "Too many connections for this user"));
                        break;
                    }
                }
                if (socket_id_.empty())
                    socket_id_ = random_hex(10);
                // A repeated connect keeps the one socket: same id, events still delivered once.
                send("4" + socketio::encode_connect("/", socket_id_));
                if (!sio_connected_) {
                    sio_connected_ = true;
                    co_await server_.realtime().connected(*this);
                }
                break;
            case socketio::sio_type::disconnect:
                if (sio_connected_) {
                    sio_connected_ = false;
                    co_await server_.realtime().disconnected(*this);
                }
                break;
            case socketio::sio_type::event: {
                if (!sio_connected_) {
                    send_error("Connect to the namespace first");
                    break;
                }
                auto ev = socketio::parse_event(*packet);
                if (!ev) {
                    send_error("Malformed event");
                    break;
                }
                auto outcome =
                    co_await server_.realtime().on_event(*this, ev->name, std::move(ev->args));
                if (outcome.rate_limited)
                    server_.stats().rate_limited.fetch_add(1, std::memory_order_relaxed);
                if (closed_)
                    break;
                if (packet->ack_id) {
                    send("4" + socketio::encode_ack("/", *packet->ack_id, outcome.ack_json));
                } else if (outcome.error) {
                    send_error(*outcome.error);
                }
                break;
            }
            case socketio::sio_type::ack:
                break;  // we never ask clients for acks
            case socketio::sio_type::binary_event:
            case socketio::sio_type::binary_ack:
                send_error("Binary packets are not supported");
                break;
            case socketio::sio_type::connect_error:
                break;
        }
    }

    engineio_server& server_;
    std::string sid_;
    std::string socket_id_;
    bool sio_connected_ = false;
    bool closed_ = false;
    bool websocket_ = false;
    bool upgrading_ = false;
    std::deque<std::shared_ptr<const std::string>> queue_;
    std::size_t queued_bytes_ = 0;
    asio::steady_timer wake_;  // cancelled to wake the transport's writer
    asio::steady_timer pong_;  // cancelled when a pong arrives
    std::function<void()> close_transport_;
    std::optional<connection_limiter::slot> user_slot_;  // for the per-user socket cap
};

engineio_server::engineio_server(asio::io_context& ioc, std::size_t thread_index,
                                 chat::realtime& realtime, chat::store& store,
                                 const config::server_config& cfg, metrics::shard& stats,
                                 connection_limiter& per_user)
    : ioc_(ioc),
      index_(thread_index),
      realtime_(realtime),
      store_(store),
      cfg_(cfg),
      stats_(stats),
      per_user_(per_user) {}

engineio_server::~engineio_server() = default;

void engineio_server::forget(const std::string& sid) {
    if (sessions_.erase(sid) > 0)
        stats_.sockets_open.fetch_sub(1, std::memory_order_relaxed);
}

void engineio_server::close_all() {
    std::vector<std::shared_ptr<eio_session>> all;
    for (auto& [sid, s] : sessions_)
        all.push_back(s);
    for (auto& s : all)
        s->close_soon();
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
    auto session =
        std::make_shared<eio_session>(*this, random_hex(10) + "." + std::to_string(index_));
    // The handshake's cookie decides who this socket is, for its whole life.
    if (cookie) {
        auto uid = co_await store_.session_user(*cookie, cfg_.session_ttl);
        if (uid && *uid) {
            std::vector<std::string> ids(1, **uid);
            auto names = co_await store_.usernames(std::move(ids));
            if (names && (*names)[0])
                session->account = chat::user{**uid, *(*names)[0]};
        }
    }
    sessions_[session->sid()] = session;
    stats_.sockets_opened.fetch_add(1, std::memory_order_relaxed);
    stats_.sockets_open.fetch_add(1, std::memory_order_relaxed);
    const std::string upgrades = websocket ? "[]" : "[\"websocket\"]";
    session->send(socketio::encode_packet(
        socketio::eio_type::open,
        "{\"sid\":" + chat::json_quote(session->sid()) + ",\"upgrades\":" + upgrades +
            ",\"pingInterval\":" + std::to_string(cfg_.ping_interval.count()) +
            ",\"pingTimeout\":" + std::to_string(cfg_.ping_timeout.count()) +
            ",\"maxPayload\":" + std::to_string(cfg_.limit.max_packet_bytes) + "}"));
    session->start();
    co_return session;
}

awaitable<poll_answer> engineio_server::handle_polling(request req,
                                                       std::optional<std::string> cookie) {
    const auto q = parse_eio_query(req.target());
    if (q.sid.empty())
        co_return co_await polling_here(std::move(req), std::move(cookie));
    engineio_server* owner = owner_of(q.sid);
    if (owner == nullptr)
        co_return eio_error(1, "Session ID unknown");
    if (owner == this)
        co_return co_await polling_here(std::move(req), std::move(cookie));
    // Run on the owner's thread; the answer comes back to this one.
    co_return co_await asio::co_spawn(
        owner->ioc_, owner->polling_here(std::move(req), std::move(cookie)), asio::use_awaitable);
}

awaitable<poll_answer> engineio_server::polling_here(request req,
                                                     std::optional<std::string> cookie) {
    const auto q = parse_eio_query(req.target());
    const bool get = req.method() == beast::http::verb::get;
    if (q.sid.empty()) {
        if (!get)
            co_return eio_error(3, "Bad request");
        auto session = co_await open_session(std::move(cookie), false);
        auto out = session->take_output();
        co_return poll_answer{200, "text/plain; charset=UTF-8", *out.front()};
    }
    auto it = sessions_.find(q.sid);
    if (it == sessions_.end())
        co_return eio_error(1, "Session ID unknown");
    auto session = it->second;
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
        if ((session->on_websocket() || session->upgrading()) && !session->closed() &&
            session->queue_empty()) {
            co_return poll_answer{200, "text/plain; charset=UTF-8",
                                  socketio::encode_packet(socketio::eio_type::noop)};
        }
        auto out = session->take_output();
        std::vector<std::string> parts;
        parts.reserve(out.size());
        for (auto& p : out)
            parts.push_back(*p);
        if (parts.empty())
            parts.push_back(socketio::encode_packet(socketio::eio_type::close));
        co_return poll_answer{200, "text/plain; charset=UTF-8", socketio::encode_payload(parts)};
    }
    if (req.method() != beast::http::verb::post)
        co_return eio_error(3, "Bad request");
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
    if (ec)
        return;
    asio::post(owner->ioc_, [owner, fd, protocol, req = std::move(req), cookie = std::move(cookie),
                             slot = std::move(address_slot)]() mutable {
        asio::ip::tcp::socket moved(owner->ioc_);
        boost::system::error_code aec;
        moved.assign(protocol, fd, aec);
        if (aec)
            return;
        asio::co_spawn(owner->ioc_,
                       owner->websocket_here(std::move(moved), std::move(req), std::move(cookie),
                                             std::move(slot)),
                       asio::detached);
    });
}

awaitable<void> engineio_server::websocket_here(
    asio::ip::tcp::socket socket, request req, std::optional<std::string> cookie,
    std::optional<connection_limiter::slot> address_slot) {
    // The connection keeps its place in the per-address count until this coroutine ends.
    const auto held = std::move(address_slot);
    using stream_type = websocket::stream<beast::tcp_stream>;
    auto ws = std::make_shared<stream_type>(std::move(socket));
    ws->set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws->read_message_max(cfg_.limit.max_packet_bytes);
    ws->set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(beast::http::field::server, "redchat"); }));
    auto [aec] = co_await ws->async_accept(req, nothrow);
    if (aec)
        co_return;
    ws->text(true);

    const auto q = parse_eio_query(req.target());
    std::shared_ptr<eio_session> session;
    beast::flat_buffer buffer;
    if (q.sid.empty()) {
        session = co_await open_session(std::move(cookie), true);
    } else {
        auto it = sessions_.find(q.sid);
        if (it == sessions_.end() || it->second->on_websocket()) {
            co_await ws->async_close(websocket::close_code::policy_error, nothrow);
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
            auto [rec, n] = co_await ws->async_read(buffer, nothrow);
            (void)n;
            if (rec || session->closed())
                co_return;
            const std::string text = beast::buffers_to_string(buffer.data());
            buffer.consume(buffer.size());
            if (text == "2probe") {
                session->set_upgrading(true);
                static const std::string probe = "3probe";
                auto [wec, wn] = co_await ws->async_write(asio::buffer(probe), nothrow);
                (void)wn;
                if (wec)
                    co_return;
            } else if (text == "5") {
                break;
            } else {
                co_return;  // the client gave up on the upgrade; polling carries on
            }
        }
    }
    session->attach_websocket([ws] {
        beast::error_code ignored;
        beast::get_lowest_layer(*ws).socket().close(ignored);
    });

    // Writer: everything queued for the session, one text frame per packet.
    asio::co_spawn(
        ioc_,
        [](std::shared_ptr<stream_type> w, std::shared_ptr<eio_session> s) -> awaitable<void> {
            while (!s->closed()) {
                co_await s->wait_for_output(false);
                for (auto& packet : s->take_output()) {
                    auto [ec, n] = co_await w->async_write(asio::buffer(*packet), nothrow);
                    (void)n;
                    if (ec) {
                        s->close();
                        co_return;
                    }
                }
            }
        }(ws, session),
        asio::detached);

    // Reader: each frame is one Engine.IO packet, handled before the next is read.
    while (!session->closed()) {
        auto [rec, n] = co_await ws->async_read(buffer, nothrow);
        (void)n;
        if (rec)
            break;
        const bool binary = !ws->got_text();
        std::string text = beast::buffers_to_string(buffer.data());
        buffer.consume(buffer.size());
        if (binary) {
            socketio::eio_packet packet;
            packet.type = socketio::eio_type::message;
            packet.data = std::move(text);
            packet.binary = true;
            co_await session->on_packet(std::move(packet));
            continue;
        }
        auto packet = socketio::decode_packet(text);
        if (!packet)
            break;  // not Engine.IO: drop the connection
        co_await session->on_packet(std::move(*packet));
    }
    session->close();
}

}  // namespace redchat::transport
