#pragma once
// One Engine.IO 4 session: its transport (long-polling, then maybe a WebSocket), its heartbeat
// and its end. What runs inside it (the chat's Socket.IO socket, the conformance server's echo)
// is an eio_handler; the session hands it the client's message packets, text or binary, and
// sends what it gives back. Lives on the thread of its engineio_server, touched by no other.
//
// The seams of a session, each in its own piece:
// - polling_queue: the output a long-poll takes, and the wait for it;
// - the WebSocket, once attached (engineio_server performs the upgrade);
// - the heartbeat (on_ping_timer, driven by the server's timer wheel);
// - packet_pipeline: event packets of one WebSocket handled side by side;
// - the handler, the protocol above Engine.IO.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/metrics.hpp"
#include "core/outgoing_packet.hpp"
#include "socketio/engineio_codec.hpp"
#include "transport/connection_limiter.hpp"
#include "transport/websocket_connection.hpp"

namespace redchat::transport {

class engineio_server;
class eio_session;

// What runs inside an Engine.IO session.
class eio_handler {
  public:
    eio_handler() = default;
    eio_handler(const eio_handler&) = delete;
    eio_handler& operator=(const eio_handler&) = delete;
    virtual ~eio_handler() = default;

    // One message packet of the client (text, or raw bytes when `binary`), in arrival order.
    virtual boost::asio::awaitable<void> on_message(socketio::eio_packet packet) = 0;
    // Whether this message may start before the ones before it are done (WebSocket only; see
    // packet_pipeline). Only text messages are ever asked about.
    virtual bool can_pipeline(const socketio::eio_packet& packet) const {
        (void)packet;
        return false;
    }
    // The session ended, whichever side ended it; called once, on the session's thread.
    virtual void on_close() {}
    // Whether the client has done what it opened the session for (Socket.IO: connected a
    // namespace). A session that has not within --connect-timeout-ms is closed.
    virtual bool joined() const { return true; }
};

// Makes the handler of each new session: the protocol an engineio_server serves.
class eio_application {
  public:
    virtual ~eio_application() = default;
    // Applications that have users read the handshake's cookie with session.take_login().
    virtual boost::asio::awaitable<std::unique_ptr<eio_handler>> open(eio_session& session) = 0;
};

// A wait that another part of the same thread ends: wait_until(done) sleeps until wake() and
// then checks done() again. The timer is made by the first wait (most sessions never wait),
// and held by pointer: a session has two of these, and a timer in place would cost every idle
// connection its size twice.
class wake_signal {
  public:
    template <typename Done>
    boost::asio::awaitable<void> wait_until(Done done);
    void wake() {
        if (timer_)
            timer_->cancel();
    }

  private:
    std::unique_ptr<boost::asio::steady_timer> timer_;
};

// The output of a polling session until a long-poll takes it, bounded by its owner.
class polling_queue {
  public:
    explicit polling_queue(metrics::gauge& queued_gauge) : gauge_(queued_gauge) {}
    ~polling_queue() { gauge_.fetch_sub(static_cast<std::int64_t>(bytes_)); }
    polling_queue(const polling_queue&) = delete;
    polling_queue& operator=(const polling_queue&) = delete;

    void push(packet_ptr packet);
    // Everything queued, in order; the queue is empty afterwards.
    std::vector<packet_ptr> take();
    bool empty() const { return packets_.empty(); }
    std::size_t size() const { return packets_.size(); }
    std::size_t bytes() const { return bytes_; }
    // The polling body of these packets: text as is, binary as `b<base64>`, joined by 0x1E.
    static std::string payload(const std::vector<packet_ptr>& packets);

    wake_signal changed;  // woken by push(), and by the session when a poll must look again

  private:
    metrics::gauge& gauge_;
    std::vector<packet_ptr> packets_;
    std::size_t bytes_ = 0;
};

// Event packets of one WebSocket client handled side by side, so that a busy sender is not held
// to one message per Redis round trip. They start in arrival order, so their Redis commands
// leave in that order and a room's messages are stored in the order sent; any other packet
// waits until those in flight are done.
class packet_pipeline {
  public:
    static constexpr int max_in_flight = 16;
    // Waits until at most `limit` packets are in flight (0: until none is), or `stop()` holds.
    template <typename Stop>
    boost::asio::awaitable<void> wait(int limit, Stop stop) {
        // Named, not a temporary in the co_await (GCC 12 mishandles those).
        const auto ready = [this, limit, &stop] { return in_flight_ <= limit || stop(); };
        co_await done_.wait_until(ready);
    }
    bool idle() const { return in_flight_ == 0; }
    void started() { ++in_flight_; }
    void finished() {
        --in_flight_;
        done_.wake();
    }
    void wake() { done_.wake(); }

  private:
    int in_flight_ = 0;
    wake_signal done_;
};

class eio_session final : public std::enable_shared_from_this<eio_session> {
  public:
    eio_session(engineio_server& server, std::string sid);
    ~eio_session();
    eio_session(const eio_session&) = delete;
    eio_session& operator=(const eio_session&) = delete;

    const std::string& sid() const { return sid_; }
    boost::asio::io_context& context();

    // The handler this session runs (set once, before the first packet).
    void set_handler(std::unique_ptr<eio_handler> handler) { handler_ = std::move(handler); }

    // Output. `deliver` queues an encoded packet (a WebSocket frame: make_text_frame or
    // make_binary_frame); a client whose queue is full is dropped. Never blocks, never re-enters
    // the handler.
    void deliver(const packet_ptr& packet);
    void send(std::string_view eio_packet) { deliver(make_text_frame(eio_packet)); }
    void send_binary(std::string_view bytes) { deliver(make_binary_frame(bytes)); }

    // Ends the session: the transport closes, the handler is told, the server forgets it.
    void close();
    // Closes now, the WebSocket too, dropping what is queued.
    void abort();
    // Sends an Engine.IO close (clients then reconnect by themselves) and closes once it had a
    // moment to go out.
    void close_soon();
    bool closed() const { return closed_; }

    // The login cookie of the handshake. A polling session keeps it: every later polling
    // request and its upgrade must carry the same one (the sid alone is no credential). A
    // session born on a WebSocket gets no further requests (`checked` false): it holds the
    // cookie only until the application takes it, and matches no login but none.
    void bind_login(std::optional<std::string> cookie, bool checked) {
        login_ = std::move(cookie);
        login_checked_ = checked;
    }
    bool same_login(const std::optional<std::string>& cookie) const;
    // The login, for the application to look up: a session born on a WebSocket gives it away
    // (an idle connection should not hold it), a polling session keeps it for the checks.
    std::optional<std::string> take_login();
    // A polling session's place in the per-address count, given back when it closes.
    void hold_address(connection_limiter::slot slot) { address_slot_ = std::move(slot); }

    // Heartbeat: starts the pings (once the open packet is queued); the server's wheel calls
    // on_ping_timer() when this session's timer is due.
    void start();
    void on_ping_timer();

    // Polling.
    bool poll_pending = false;
    bool on_websocket() const { return ws_ != nullptr; }
    bool upgrading() const { return upgrading_; }
    // Between `2probe` and `5`: long-polls are answered with a noop at once, as engine.io
    // clients wait for their pending poll to finish before they complete the upgrade.
    void set_upgrading(bool upgrading);
    // Waits until output is queued or the session closes. A long-poll also stops waiting when
    // the session moves to WebSocket (it is then answered with a noop).
    boost::asio::awaitable<void> wait_for_output(bool long_poll);
    // What a long-poll answers now: the queued packets, a noop (the session moved on, or the
    // client closed it), or a close.
    std::string take_poll_answer();
    std::string take_open_packet();

    // WebSocket: from now on the session's packets go out over `ws` (what polling had queued
    // first), and its reader (engineio_server) hands each message to on_packet.
    void attach_websocket(std::shared_ptr<websocket_connection> ws);
    bool can_pipeline(const socketio::eio_packet& p) const;
    packet_pipeline& pipeline() { return pipeline_; }
    void start_pipelined(socketio::eio_packet p);

    // One Engine.IO packet of the client. Polling handles each to completion before the next.
    boost::asio::awaitable<void> on_packet(socketio::eio_packet p);
    // Handles the Engine.IO packet `text` at once when that needs no waiting and keeps the
    // order: a pong, with no packet in flight. Looks at its type only, so that any other packet
    // costs nothing here. False: nothing was done, the packet goes to on_packet.
    bool answer_at_once(std::string_view text);

  private:
    void on_pong();
    void drop_slow();
    static boost::asio::awaitable<void> close_after(std::shared_ptr<eio_session> self);
    static boost::asio::awaitable<void> run_pipelined(std::shared_ptr<eio_session> self,
                                                      socketio::eio_packet p);

    engineio_server& server_;
    metrics::shard& stats_;  // outlives every session (one may end after its server)
    std::string sid_;
    std::unique_ptr<eio_handler> handler_;
    polling_queue queue_;  // polling output (WebSocket output queues in ws_)
    packet_pipeline pipeline_;
    std::shared_ptr<websocket_connection> ws_;
    enum class ping_state : std::uint8_t { idle, awaiting_pong, answered };
    ping_state ping_state_ = ping_state::idle;
    bool closed_ = false;
    bool closed_by_client_ = false;  // a pending long-poll then gets a noop, not a close
    bool upgrading_ = false;
    // Pings sent before the handler joined (the connect timeout): at most 1 h / 100 ms = 36,000.
    std::uint16_t unjoined_pings_ = 0;
    bool login_checked_ = false;             // later requests are checked against login_
    std::optional<std::string> login_;       // the handshake's session cookie
    connection_limiter::slot address_slot_;  // polling sessions (empty for others)
};

template <typename Done>
boost::asio::awaitable<void> wake_signal::wait_until(Done done) {
    while (!done()) {
        if (!timer_) {
            auto executor = co_await boost::asio::this_coro::executor;
            timer_ = std::make_unique<boost::asio::steady_timer>(
                executor, boost::asio::steady_timer::time_point::max());
        }
        timer_->expires_at(boost::asio::steady_timer::time_point::max());
        boost::system::error_code ec;
        co_await timer_->async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    }
}

}  // namespace redchat::transport
