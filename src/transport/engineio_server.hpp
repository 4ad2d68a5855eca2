#pragma once
// Engine.IO 4 sessions of one I/O thread, over HTTP long-polling and WebSocket. What runs inside
// a session is the application's (eio_application: the chat's Socket.IO sockets, or the echo of
// the conformance server).
//
// A session lives on the thread that created it; its id ends with that thread's index, so a
// polling request that lands on another thread is handed to the owner (and the answer handed
// back), and a WebSocket upgrade's socket is moved to the owner before the handshake.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "core/metrics.hpp"
#include "core/timer_wheel.hpp"
#include "transport/connection_limiter.hpp"
#include "transport/eio_session.hpp"
#include "transport/websocket_connection.hpp"

namespace redchat::transport {

struct poll_answer {
    int status = 200;
    std::string content_type = "text/plain; charset=UTF-8";
    std::string body;
};

class engineio_server {
  public:
    // `app` makes the handler of every session; `cfg` gives the ping periods and the limits.
    engineio_server(boost::asio::io_context& ioc, std::size_t thread_index, eio_application& app,
                    const config::server_config& cfg, metrics::shard& stats,
                    connection_limiter& per_address);
    ~engineio_server();

    // Every thread's server, so that requests for another thread's session can be handed over.
    void set_peers(std::vector<engineio_server*> peers) { peers_ = std::move(peers); }

    using request = boost::beast::http::request<boost::beast::http::string_body>;

    // A polling request (GET or POST) on any thread; runs on the session's owner. A new
    // polling session holds a place of `client_address` in the per-address count until it
    // closes (its requests may come over any number of connections).
    boost::asio::awaitable<poll_answer> handle_polling(request req,
                                                       std::optional<std::string> session_cookie,
                                                       std::string client_address);

    // A WebSocket upgrade request with its socket, on any thread.
    void handle_websocket(boost::asio::ip::tcp::socket socket, request req,
                          std::optional<std::string> session_cookie,
                          std::optional<connection_limiter::slot> address_slot);

    // Shutdown: tells every client of this thread to go (an Engine.IO close, so that clients
    // reconnect, to another instance if there is one) and closes its session.
    void close_all();
    // Shutdown's deadline: every session closes now, without waiting for its client.
    void abort_all();
    std::size_t size() const { return sessions_.size(); }

    // Internal, used by sessions.
    void forget(const std::string& sid);
    const config::server_config& config() const { return cfg_; }
    metrics::shard& stats() { return stats_; }
    boost::asio::io_context& context() { return ioc_; }
    // Calls the session's on_ping_timer() after `delay` (rounded up to the wheel's tick).
    void schedule_ping(std::weak_ptr<eio_session> session, std::chrono::milliseconds delay);

  private:
    boost::asio::awaitable<poll_answer> polling_here(request req, std::optional<std::string> cookie,
                                                     std::string client_address);
    boost::asio::awaitable<void> websocket_here(
        boost::asio::ip::tcp::socket socket, request req, std::optional<std::string> cookie,
        std::optional<connection_limiter::slot> address_slot);
    boost::asio::awaitable<std::shared_ptr<eio_session>> open_session(
        std::optional<std::string> cookie, bool websocket);
    engineio_server* owner_of(std::string_view sid);
    std::vector<std::shared_ptr<eio_session>> all_sessions() const;
    boost::asio::awaitable<void> run_ping_wheel();

    boost::asio::io_context& ioc_;
    std::size_t index_;
    eio_application& app_;
    const config::server_config& cfg_;
    metrics::shard& stats_;
    connection_limiter& per_address_;
    std::vector<engineio_server*> peers_;
    // sid -> session. The key views the session's own sid, which lives (and stays put) as long
    // as the entry holds the session: a 48-byte node.
    std::unordered_map<std::string_view, std::shared_ptr<eio_session>> sessions_;
    write_batch batch_;  // WebSocket output of this thread, flushed once per loop turn
    std::chrono::milliseconds ping_tick_;
    timer_wheel<std::weak_ptr<eio_session>> ping_wheel_;  // every session's next ping or deadline
    bool wheel_running_ = false;
};

// Query parameters of an Engine.IO request.
struct eio_query {
    std::string eio;
    std::string transport;
    std::string sid;
};
eio_query parse_eio_query(std::string_view target);

// The checks of a request's query before any session is looked at: nullopt when the request
// may go on, otherwise the HTTP 400 answer (unsupported EIO version, unknown transport).
std::optional<poll_answer> check_eio_query(const eio_query& q);

}  // namespace redchat::transport
