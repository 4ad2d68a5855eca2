#pragma once
// One Socket.IO client over a direct WebSocket (Engine.IO 4, Socket.IO 5, namespace "/"),
// built for holding tens of thousands at once: a small read buffer that grows only for large
// frames, non-blocking writes straight from the caller (a queue and a wait only when the kernel
// buffer is full), no timers, answers Engine.IO pings and WebSocket pings itself.
//
// Threading: every call and every callback runs on the io_context's one thread.
// Lifetime: the object must outlive its io_context's run (handlers capture `this`); see
// worker_pool::stop.

#include "endpoints.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace redchat::bench {

class socketio_client;

enum class close_cause {
    connect_failed,    // socket, bind or TCP connect failed
    handshake_failed,  // upgrade refused, connection lost or Socket.IO connect refused before ready
    dropped,           // lost after it was ready (closed by the server, or a protocol error)
};

// What a scenario does with a connection's events. Callbacks may send on any connection of
// the same thread, and may close this one.
class socketio_handler {
  public:
    virtual ~socketio_handler() = default;
    // Socket.IO connected ("40{...}" received).
    virtual void on_ready(socketio_client& c) = 0;
    // An event packet: `args` is what follows "42", e.g. ["message",{...}]. `now_ns` is when the
    // bytes were read (one clock read per read batch).
    virtual void on_event(socketio_client& c, std::string_view args, std::int64_t now_ns) = 0;
    // An acknowledgement "43<id><args>".
    virtual void on_ack(socketio_client& c, std::uint64_t id, std::string_view args,
                        std::int64_t now_ns) = 0;
    // Closed by the peer or by an error (never for a local close()).
    virtual void on_closed(socketio_client& c, close_cause cause, std::string_view detail) = 0;
};

class socketio_client {
  public:
    socketio_client(boost::asio::io_context& ioc, socketio_handler& handler, std::uint32_t tag);
    ~socketio_client();
    socketio_client(const socketio_client&) = delete;
    socketio_client& operator=(const socketio_client&) = delete;

    // Starts TCP (bound to `source` when given), the WebSocket upgrade presenting `cookie` as
    // redchat_sid (none when empty), the Engine.IO open and the Socket.IO connect. Ends in
    // on_ready or on_closed, never synchronously.
    void connect(const server_target& target, std::optional<boost::asio::ip::address_v4> source,
                 std::string_view cookie);

    // The JSON sent with the Socket.IO connect ("40<payload>"), e.g. {"redchat":1}. Before
    // connect().
    void set_connect_payload(std::string payload) { connect_payload_ = std::move(payload); }

    // Sends one Engine.IO packet (e.g. "42[...]") as a text frame. Ignored unless open.
    void send_text(std::string_view packet);
    // While corked, sends only queue; uncork() writes everything queued in one system call.
    void cork() { ++corked_; }
    void uncork();
    bool corked() const { return corked_ > 0; }
    // The kernel's send buffer is full and frames wait in user space.
    bool backlogged() const { return write_waiting_; }

    // Closes at once, without on_closed.
    void close();

    bool ready() const { return state_ == state::ready; }
    bool closed() const { return state_ == state::closed; }
    std::uint32_t tag() const { return tag_; }
    std::uint64_t next_ack_id() { return ++last_ack_id_; }
    std::int64_t connect_started_ns() const { return started_ns_; }
    std::uint64_t pings_answered() const { return pings_; }

  private:
    enum class state : std::uint8_t { idle, connecting, upgrading, engineio, ready, closed };

    void on_connected(const boost::system::error_code& ec);
    void read_more();
    void on_read(const boost::system::error_code& ec, std::size_t n);
    bool consume_upgrade_response();  // false: failed, or more bytes needed
    void on_frame(unsigned op, bool fin, std::string_view payload, std::int64_t now);
    void on_engineio(std::string_view packet, std::int64_t now);
    void on_socketio(std::string_view packet, std::int64_t now);
    void send_frame(unsigned op, std::string_view payload);
    void flush();
    void fail(close_cause cause, std::string_view detail);
    void fail_later(close_cause cause, std::string detail);
    std::uint32_t next_random();

    boost::asio::ip::tcp::socket socket_;
    socketio_handler& handler_;
    std::unique_ptr<char[]> in_;  // unparsed bytes from the server
    std::uint32_t in_capacity_ = 0;
    std::uint32_t in_used_ = 0;
    std::string out_;        // frames not yet accepted by the kernel
    std::string fragments_;  // a fragmented message being reassembled
    std::uint64_t last_ack_id_ = 0;
    std::uint64_t pings_ = 0;
    std::int64_t started_ns_ = 0;
    std::uint32_t tag_;
    std::uint32_t random_;
    std::uint16_t corked_ = 0;
    state state_ = state::idle;
    bool fragmented_ = false;
    bool write_waiting_ = false;
    std::string connect_payload_;
};

}  // namespace redchat::bench
