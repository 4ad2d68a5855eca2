#include "transport/eio_session.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <utility>

#include "core/base64.hpp"
#include "transport/engineio_server.hpp"
#include "transport/ws_codec.hpp"

namespace redchat::transport {

// Every open socket holds one, apart from its reference counts (engineio_server::open_session):
// it stays within jemalloc's 224-byte class.
static_assert(sizeof(eio_session) <= 224, "a session grew out of its size class");

namespace asio = boost::asio;
using asio::awaitable;

void polling_queue::push(packet_ptr packet) {
    bytes_ += packet->bytes.size();
    gauge_.fetch_add(static_cast<std::int64_t>(packet->bytes.size()), std::memory_order_relaxed);
    packets_.push_back(std::move(packet));
    changed.wake();
}

std::vector<packet_ptr> polling_queue::take() {
    gauge_.fetch_sub(static_cast<std::int64_t>(bytes_), std::memory_order_relaxed);
    bytes_ = 0;
    return std::exchange(packets_, {});
}

std::string polling_queue::payload(const std::vector<packet_ptr>& packets) {
    std::vector<std::string> parts;
    parts.reserve(packets.size());
    for (const auto& p : packets) {
        if (p->binary)
            parts.push_back("b" + base64_encode(p->packet()));
        else
            parts.emplace_back(p->packet());
    }
    return socketio::encode_payload(parts);
}

eio_session::eio_session(engineio_server& server, std::string sid)
    : server_(server),
      stats_(server.stats()),
      sid_(std::move(sid)),
      queue_(server.stats().queued_output_bytes) {}

// The handler goes first: it may still use the session (a Socket.IO socket leaving its hub).
eio_session::~eio_session() {
    handler_.reset();
}

asio::io_context& eio_session::context() {
    return server_.context();
}

bool eio_session::same_login(const std::optional<std::string>& cookie) const {
    if (!login_checked_)
        return !cookie.has_value();
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

std::optional<std::string> eio_session::take_login() {
    if (login_checked_)
        return login_;
    return std::exchange(login_, std::nullopt);
}

void eio_session::deliver(const packet_ptr& packet) {
    if (closed_)
        return;
    if (ws_) {
        if (!ws_->send(packet) && ws_->is_open())
            drop_slow();
        return;
    }
    const auto& limit = server_.config().limit;
    if (queue_.bytes() + packet->bytes.size() > limit.max_queued_bytes ||
        queue_.size() >= limit.max_queued_messages) {
        drop_slow();
        return;
    }
    queue_.push(packet);
}

void eio_session::drop_slow() {
    // A client that cannot keep up is dropped rather than slowing anyone else down.
    spdlog::info("event=slow_client_dropped sid={} queued_bytes={}", sid_,
                 ws_ ? ws_->queued_bytes() : queue_.bytes());
    stats_.slow_clients_dropped.fetch_add(1, std::memory_order_relaxed);
    if (ws_)
        ws_->abort(ws_close::try_again_later, "Too slow: output queue full");
    close();
}

void eio_session::close() {
    if (closed_)
        return;
    closed_ = true;
    queue_.changed.wake();
    address_slot_ = {};
    pipeline_.wake();
    if (ws_)
        ws_->close(ws_close::normal, "");  // after what is queued (a close packet, say)
    if (handler_)
        handler_->on_close();
    server_.forget(sid_);
}

void eio_session::abort() {
    if (ws_)
        ws_->abort(ws_close::going_away, "Server shutting down");
    close();
}

void eio_session::close_soon() {
    if (closed_)
        return;
    send(socketio::encode_packet(socketio::eio_type::close));
    if (ws_) {
        close();  // the close frame follows the close packet out
        return;
    }
    // Polling: the packet goes out with the next (or pending) poll.
    asio::co_spawn(context(), close_after(shared_from_this()), asio::detached);
}

awaitable<void> eio_session::close_after(std::shared_ptr<eio_session> self) {
    asio::steady_timer timer(self->context());
    timer.expires_after(std::chrono::milliseconds(200));
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    self->close();
}

void eio_session::start() {
    server_.schedule_ping(weak_from_this(), server_.config().ping_interval);
}

void eio_session::on_ping_timer() {
    if (closed_)
        return;
    const auto& cfg = server_.config();
    switch (ping_state_) {
        case ping_state::idle:
            // The connect timeout, checked at each ping (so up to a ping interval late): a client
            // that answers pings but never joins holds no session for good.
            if (handler_ && !handler_->joined() &&
                ++unjoined_pings_ * cfg.ping_interval >= cfg.connect_timeout) {
                spdlog::debug("event=connect_timeout sid={}", sid_);
                if (ws_)
                    ws_->abort(ws_close::policy_violation, "Connect timeout");
                close();
                break;
            }
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
            server_.schedule_ping(weak_from_this(), std::max(cfg.ping_interval - cfg.ping_timeout,
                                                             std::chrono::milliseconds(1)));
            break;
    }
}

void eio_session::set_upgrading(bool upgrading) {
    upgrading_ = upgrading;
    if (upgrading)
        queue_.changed.wake();
}

awaitable<void> eio_session::wait_for_output(bool long_poll) {
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
    const auto done = [this, long_poll] {
        return !queue_.empty() || closed_ || (long_poll && (ws_ || upgrading_));
    };
    if (done())
        co_return;
    std::optional<waiting> counted;
    if (long_poll)
        counted.emplace(stats_.polls_waiting);
    co_await queue_.changed.wait_until(done);
}

std::string eio_session::take_open_packet() {
    auto out = queue_.take();
    return std::string(out.front()->packet());
}

std::string eio_session::take_poll_answer() {
    const bool moved_on = (ws_ || upgrading_) && !closed_;
    if ((moved_on || closed_by_client_) && queue_.empty())
        return socketio::encode_packet(socketio::eio_type::noop);
    auto out = queue_.take();
    if (out.empty())
        return socketio::encode_packet(socketio::eio_type::close);
    return polling_queue::payload(out);
}

void eio_session::attach_websocket(std::shared_ptr<websocket_connection> ws) {
    ws_ = std::move(ws);
    address_slot_ = {};  // the WebSocket connection holds the address's place now
    for (auto& p : queue_.take())
        ws_->send(std::move(p));
    queue_.changed.wake();  // a pending long-poll returns (with a noop)
}

bool eio_session::can_pipeline(const socketio::eio_packet& p) const {
    return handler_ && p.type == socketio::eio_type::message && !p.binary &&
           handler_->can_pipeline(p);
}

awaitable<void> eio_session::run_pipelined(std::shared_ptr<eio_session> self,
                                           socketio::eio_packet p) {
    co_await self->on_packet(std::move(p));
    self->pipeline_.finished();
}

void eio_session::start_pipelined(socketio::eio_packet p) {
    pipeline_.started();
    asio::co_spawn(context(), run_pipelined(shared_from_this(), std::move(p)), asio::detached);
}

bool eio_session::answer_at_once(std::string_view text) {
    if (text.empty() || text[0] != static_cast<char>(socketio::eio_type::pong) || !pipeline_.idle())
        return false;
    on_pong();
    return true;
}

void eio_session::on_pong() {
    if (ping_state_ == ping_state::awaiting_pong)
        ping_state_ = ping_state::answered;
}

awaitable<void> eio_session::on_packet(socketio::eio_packet p) {
    switch (p.type) {
        case socketio::eio_type::pong:
            on_pong();
            break;
        case socketio::eio_type::ping:  // not sent by EIO 4 clients, answered anyway
            send(socketio::encode_packet(socketio::eio_type::pong, p.data));
            break;
        case socketio::eio_type::close:
            closed_by_client_ = true;
            close();
            break;
        case socketio::eio_type::message:
            if (handler_ && !closed_)
                co_await handler_->on_message(std::move(p));
            break;
        default:
            break;  // open, upgrade, noop: nothing to do here
    }
}

}  // namespace redchat::transport
