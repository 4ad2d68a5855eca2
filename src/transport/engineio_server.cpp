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
#include <boost/url/parse.hpp>

#include <algorithm>
#include <utility>

#include "chat/message.hpp"
#include "core/random_id.hpp"
#include "socketio/engineio_codec.hpp"
#include "socketio/socketio_codec.hpp"
#include "transport/websocket_connection.hpp"
#include "transport/ws_codec.hpp"

namespace redchat::transport {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::awaitable;
using clock_type = std::chrono::steady_clock;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

namespace {

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
        : server_(server), stats_(server.stats()), sid_(std::move(sid)) {}

    const std::string& sid() const { return sid_; }

    // The login cookie of the handshake: every later polling request and the upgrade of this
    // session must carry the same one (the sid alone is no credential). Kept for polling
    // sessions only: a WebSocket session gets no further requests.
    void bind_login(std::optional<std::string> cookie) { login_ = std::move(cookie); }
    // A polling session's place in the per-address count, given back when it closes.
    void hold_address(connection_limiter::slot slot) { address_slot_.emplace(std::move(slot)); }
    bool same_login(const std::optional<std::string>& cookie) const {
        if (login_.has_value() != cookie.has_value())
            return false;
        if (!login_)
            return true;
        // Constant time in the cookie's bytes: its length is public (a fixed-size id).
        if (login_->size() != cookie->size())
            return false;
        unsigned char diff = 0;
        for (std::size_t i = 0; i < login_->size(); ++i)
            diff |= static_cast<unsigned char>((*login_)[i] ^ (*cookie)[i]);
        return diff == 0;
    }
    bool closed() const { return closed_; }
    bool on_websocket() const { return websocket_; }

    void deliver(const chat::packet_ptr& packet) override {
        if (closed_)
            return;
        if (ws_) {
            if (!ws_->send(packet) && ws_->is_open())
                drop_slow();
            return;
        }
        const auto& limit = server_.config().limit;
        if (queued_bytes_ + packet->bytes.size() > limit.max_queued_bytes ||
            queue_.size() >= limit.max_queued_messages) {
            drop_slow();
            return;
        }
        queued_bytes_ += packet->bytes.size();
        queued_gauge_add(static_cast<std::int64_t>(packet->bytes.size()));
        queue_.push_back(packet);
        wake();
    }
    void send(std::string_view eio_packet) { deliver(make_text_frame(eio_packet)); }

    // Starts the pings; called once the open packet is queued.
    void start() { server_.schedule_ping(weak_from_this(), server_.config().ping_interval); }

    // The ping timer of this session fired (engineio_server's wheel): ping, or give up on a
    // missing pong, or, after a pong, wait for the next ping.
    void on_ping_timer() {
        if (closed_)
            return;
        const auto& cfg = server_.config();
        switch (ping_state_) {
            case ping_state::idle:
                send(socketio::encode_packet(socketio::eio_type::ping));
                ping_state_ = ping_state::awaiting_pong;
                server_.schedule_ping(weak_from_this(), cfg.ping_timeout);
                break;
            case ping_state::awaiting_pong:
                spdlog::debug("event=ping_timeout sid={}", sid_);
                if (ws_)
                    ws_->abort(ws_close::going_away, "Ping timeout");
                close();
                break;
            case ping_state::answered:
                ping_state_ = ping_state::idle;
                server_.schedule_ping(
                    weak_from_this(),
                    std::max(cfg.ping_interval - cfg.ping_timeout, std::chrono::milliseconds(1)));
                break;
        }
    }

    // Ends the session: the transport closes, the chat layer is told, the server forgets it.
    void close() {
        if (closed_)
            return;
        closed_ = true;
        wake();
        user_slot_.reset();  // the user's socket count drops now, not when the last owner lets go
        address_slot_.reset();
        if (pipeline_wake_)
            pipeline_wake_->cancel();
        if (ws_)
            ws_->close(ws_close::normal, "");  // after what is queued (a close packet, say)
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

    // Closes now, the WebSocket too, dropping what is queued.
    void abort() {
        if (ws_)
            ws_->abort(ws_close::going_away, "Server shutting down");
        close();
    }

    // Sends an Engine.IO close (clients then reconnect by themselves) and closes once it had a
    // moment to go out.
    void close_soon() {
        if (closed_)
            return;
        send(socketio::encode_packet(socketio::eio_type::close));
        if (ws_) {
            close();  // the close frame follows the close packet out
            return;
        }
        // Polling: the packet goes out with the next (or pending) poll.
        asio::co_spawn(server_.context(), close_after(shared_from_this()), asio::detached);
    }

    // Waits until packets are queued (or the session closes). A long-poll also stops waiting
    // when the session moves to WebSocket: it is then answered with a noop.
    awaitable<void> wait_for_output(bool long_poll) {
        // Counted while it waits (redchat_polls_waiting), however the wait ends.
        struct waiting {
            metrics::gauge& gauge;
            explicit waiting(metrics::gauge& g) : gauge(g) {
                gauge.fetch_add(1, std::memory_order_relaxed);
            }
            ~waiting() { gauge.fetch_sub(1, std::memory_order_relaxed); }
            waiting(const waiting&) = delete;
            waiting& operator=(const waiting&) = delete;
        };
        std::optional<waiting> counted;
        while (queue_.empty() && !closed_ && !(long_poll && (websocket_ || upgrading_))) {
            if (long_poll && !counted)
                counted.emplace(server_.stats().polls_waiting);
            if (!wake_)
                wake_.emplace(server_.context(), clock_type::time_point::max());
            wake_->expires_at(clock_type::time_point::max());
            co_await wake_->async_wait(nothrow);
        }
    }

    // Between `2probe` and `5`: long-polls are answered with a noop at once, as engine.io
    // clients wait for their pending poll to finish before they complete the upgrade.
    void set_upgrading(bool upgrading) {
        upgrading_ = upgrading;
        if (upgrading)
            wake();
    }
    bool upgrading() const { return upgrading_; }

    std::vector<chat::packet_ptr> take_output() {
        std::vector<chat::packet_ptr> out(queue_.begin(), queue_.end());
        queue_.clear();
        queued_gauge_add(-static_cast<std::int64_t>(queued_bytes_));
        queued_bytes_ = 0;
        return out;
    }

    bool poll_pending = false;
    bool queue_empty() const { return queue_.empty(); }

    // Pipelining of a WebSocket client's events: a Socket.IO event packet may start before the
    // previous one finished, so that a busy sender is not held to one message per Redis round
    // trip. Events start in arrival order and their Redis commands go out in that order on the
    // thread's one connection, so a room's messages are still stored in the order they were
    // sent (a message that first checks its room's membership in Redis may be overtaken by one
    // to another room). Any other packet waits until the events in flight are done.
    static constexpr int max_pipelined = 16;
    bool can_pipeline(const socketio::eio_packet& p) const {
        return sio_connected_ && p.type == socketio::eio_type::message && !p.binary &&
               p.data.starts_with('2');
    }
    // Waits until at most `limit` events are in flight (0: until none is).
    awaitable<void> wait_pipeline(int limit) {
        while (pipelined_ > limit && !closed_) {
            if (!pipeline_wake_)
                pipeline_wake_.emplace(server_.context(), clock_type::time_point::max());
            pipeline_wake_->expires_at(clock_type::time_point::max());
            co_await pipeline_wake_->async_wait(nothrow);
        }
    }
    static awaitable<void> run_pipelined(std::shared_ptr<eio_session> self,
                                         socketio::eio_packet p) {
        co_await self->on_packet(std::move(p));
        --self->pipelined_;
        if (self->pipeline_wake_)
            self->pipeline_wake_->cancel();
    }
    void start_pipelined(socketio::eio_packet p) {
        ++pipelined_;
        asio::co_spawn(server_.context(), run_pipelined(shared_from_this(), std::move(p)),
                       asio::detached);
    }

    // From now on the session's packets go out over `ws` (what polling had queued first).
    void attach_websocket(std::shared_ptr<websocket_connection> ws) {
        websocket_ = true;
        ws_ = std::move(ws);
        address_slot_.reset();  // the WebSocket connection holds the address's place now
        for (auto& p : take_output())
            ws_->send(std::move(p));
        wake();  // a pending long-poll returns (with a noop)
    }

    // One Engine.IO packet from the client. Polling handles each to completion before the
    // next; WebSocket may run event packets side by side (see can_pipeline).
    awaitable<void> on_packet(socketio::eio_packet p) {
        switch (p.type) {
            case socketio::eio_type::pong:
                if (ping_state_ == ping_state::awaiting_pong)
                    ping_state_ = ping_state::answered;
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

    ~eio_session() override { queued_gauge_add(-static_cast<std::int64_t>(queued_bytes_)); }
    eio_session(const eio_session&) = delete;
    eio_session& operator=(const eio_session&) = delete;

  private:
    // Through the metrics shard, which outlives every session (a session may be destroyed
    // after its server at shutdown).
    void queued_gauge_add(std::int64_t delta) {
        stats_.queued_output_bytes.fetch_add(delta, std::memory_order_relaxed);
    }

    void wake() {
        if (wake_)
            wake_->cancel();
    }

    void drop_slow() {
        // A client that cannot keep up is dropped rather than slowing anyone else down.
        spdlog::info("event=slow_client_dropped sid={} queued_bytes={}", sid_,
                     ws_ ? ws_->queued_bytes() : queued_bytes_);
        server_.stats().slow_clients_dropped.fetch_add(1, std::memory_order_relaxed);
        if (ws_)
            ws_->abort(ws_close::try_again_later, "Too slow: output queue full");
        close();
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
                send("4" + socketio::encode_connect_error(socketio::echoable_namespace(packet->nsp),
                                                          "Invalid namespace"));
            }
            co_return;
        }
        switch (packet->type) {
            case socketio::sio_type::connect:
                // A closed session takes no place: close() gave its slot back already.
                if (!sio_connected_ && account && !user_slot_ && !closed_) {
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
                // The ack itself can overflow a full queue and drop the session: a closed
                // session never joins the hub.
                if (!sio_connected_ && !closed_) {
                    sio_connected_ = true;
                    protocol = chat::announced_protocol(packet->data);
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
    metrics::shard& stats_;
    std::string sid_;
    std::string socket_id_;
    bool sio_connected_ = false;
    bool closed_ = false;
    bool websocket_ = false;
    bool upgrading_ = false;
    std::vector<chat::packet_ptr> queue_;  // polling output (WebSocket output queues in ws_)
    std::size_t queued_bytes_ = 0;
    // Cancelled to wake a pending long-poll; made by the first poll (WebSocket sessions never
    // need one).
    std::optional<asio::steady_timer> wake_;
    int pipelined_ = 0;                                // events in flight (WebSocket)
    std::optional<asio::steady_timer> pipeline_wake_;  // made by the first wait
    std::shared_ptr<websocket_connection> ws_;
    enum class ping_state : std::uint8_t { idle, awaiting_pong, answered };
    ping_state ping_state_ = ping_state::idle;
    std::optional<connection_limiter::slot> user_slot_;  // for the per-user socket cap
    std::optional<std::string> login_;  // the handshake's session cookie (polling sessions)
    std::optional<connection_limiter::slot> address_slot_;  // polling sessions
};

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

// The life of an established WebSocket session: each message is one Engine.IO packet; event
// packets are pipelined (see eio_session::can_pipeline), any other is handled once they are
// done and before the next is read. Kept small: this frame lives as long as the connection.
awaitable<void> serve_websocket(std::shared_ptr<websocket_connection> ws,
                                std::shared_ptr<eio_session> session,
                                std::optional<connection_limiter::slot> address_slot,
                                open_connection counted) {
    const auto held = std::move(address_slot);  // released when the connection ends
    const auto still_counted = std::move(counted);
    while (!session->closed()) {
        auto msg = co_await ws->read();
        if (!msg)
            break;
        if (msg->opcode == ws_opcode::binary) {
            socketio::eio_packet packet;
            packet.type = socketio::eio_type::message;
            packet.data = std::move(msg->payload);
            packet.binary = true;
            co_await session->wait_pipeline(0);
            co_await session->on_packet(std::move(packet));
            continue;
        }
        auto packet = socketio::decode_packet(msg->payload);
        if (!packet) {
            ws->abort(ws_close::protocol_error, "Not an Engine.IO packet");
            break;
        }
        if (session->can_pipeline(*packet)) {
            co_await session->wait_pipeline(eio_session::max_pipelined - 1);
            session->start_pipelined(std::move(*packet));
            continue;
        }
        co_await session->wait_pipeline(0);
        co_await session->on_packet(std::move(*packet));
    }
    session->close();
    ws->reader_done();
}

}  // namespace

engineio_server::engineio_server(asio::io_context& ioc, std::size_t thread_index,
                                 chat::realtime& realtime, chat::store& store,
                                 const config::server_config& cfg, metrics::shard& stats,
                                 connection_limiter& per_user, connection_limiter& per_address)
    : ioc_(ioc),
      index_(thread_index),
      realtime_(realtime),
      store_(store),
      cfg_(cfg),
      stats_(stats),
      per_user_(per_user),
      per_address_(per_address),
      batch_(ioc),
      // Ticks of a quarter of the shorter ping period (10 ms to 1 s): pings go out at most a
      // tick late, well within the client's allowance of pingInterval + pingTimeout.
      ping_tick_(std::clamp(std::min(cfg.ping_interval, cfg.ping_timeout) / 4,
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
    std::shared_ptr<eio_session> session(
        new eio_session(*this, random_hex(10) + "." + std::to_string(index_)));
    if (!websocket)
        session->bind_login(cookie);
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
        auto out = session->take_output();
        co_return poll_answer{200, "text/plain; charset=UTF-8", std::string(out.front()->packet())};
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
        if ((session->on_websocket() || session->upgrading()) && !session->closed() &&
            session->queue_empty()) {
            co_return poll_answer{200, "text/plain; charset=UTF-8",
                                  socketio::encode_packet(socketio::eio_type::noop)};
        }
        auto out = session->take_output();
        std::vector<std::string> parts;
        parts.reserve(out.size());
        for (auto& p : out)
            parts.emplace_back(p->packet());
        if (parts.empty())
            parts.push_back(socketio::encode_packet(socketio::eio_type::close));
        co_return poll_answer{200, "text/plain; charset=UTF-8", socketio::encode_payload(parts)};
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
    const auto& limit = cfg_.limit;
    auto ws = std::make_shared<websocket_connection>(
        std::move(socket), batch_,
        websocket_connection::limits{limit.max_packet_bytes, limit.max_queued_bytes,
                                     limit.max_queued_messages},
        stats_.queued_output_bytes);

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
    // From here on, a coroutine of its own: this frame, with the request, the cookie and the
    // handshake's state, is freed (the address slot moves along).
    asio::co_spawn(
        ioc_,
        serve_websocket(std::move(ws), std::move(session), std::move(held), std::move(counted)),
        asio::detached);
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
