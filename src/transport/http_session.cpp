#include "transport/http_session.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/url/parse.hpp>

#include <chrono>

#include "transport/cookies.hpp"
#include "transport/forwarded.hpp"

namespace redchat::transport {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
using clock_type = std::chrono::steady_clock;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

using request = http::request<http::string_body>;
using string_response = http::response<http::string_body>;

template <typename Body>
void finish_headers(http::response<Body>& res, bool keep_alive) {
    res.set(http::field::server, "redchat");
    res.set("X-Content-Type-Options", "nosniff");
    res.keep_alive(keep_alive);
}

string_response json_response(unsigned version, bool keep_alive, bool head, int status,
                              std::string body) {
    string_response res{static_cast<http::status>(status), version};
    res.set(http::field::content_type, "application/json; charset=utf-8");
    res.set(http::field::cache_control, "no-store");
    res.body() = std::move(body);
    res.prepare_payload();
    if (head)
        res.body().clear();  // keeps Content-Length of the GET answer
    finish_headers(res, keep_alive);
    return res;
}

string_response json_response(const request& req, int status, std::string body) {
    return json_response(req.version(), req.keep_alive(), req.method() == http::verb::head, status,
                         std::move(body));
}

// Everything the session loop needs to know about how one request went.
struct outcome {
    int status = 0;
    bool keep_alive = true;
};

class http_connection {
  public:
    http_connection(asio::ip::tcp::socket socket, http_services& services)
        : stream_(std::move(socket)), svc_(services) {}

    awaitable<void> run();

  private:
    awaitable<outcome> dispatch(request& req, metrics::route& route);
    awaitable<outcome> serve_api(request& req, metrics::route route);
    awaitable<outcome> serve_static(request& req, std::string_view path);
    awaitable<outcome> serve_stream(request& req);
    awaitable<outcome> serve_engineio(request& req, const std::string& target);

    // Cross-site WebSocket hijacking and CSRF: a browser's Origin must be ours or allowed.
    bool origin_allowed(const request& req) const {
        auto origin = req.find(http::field::origin);
        auto host = req.find(http::field::host);
        return svc_.origins.allows(
            origin == req.end() ? std::string_view{} : std::string_view(origin->value()),
            host == req.end() ? std::string_view{} : std::string_view(host->value()));
    }
    awaitable<outcome> refuse_origin(const request& req) {
        svc_.stats.refused_origin.fetch_add(1, std::memory_order_relaxed);
        auto origin = req.find(http::field::origin);
        spdlog::info(
            "event=request_refused reason=\"origin not allowed\" origin=\"{}\" "
            "address={}",
            origin == req.end() ? std::string_view{}
                                : std::string_view(origin->value()).substr(0, 200),
            client_address(req));
        co_return co_await send(json_response(req, 403, chat::error_body("Origin not allowed")));
    }
    awaitable<outcome> send(string_response res);

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    // The client of `req`: the TCP peer, or whom a trusted proxy says it forwards.
    std::string client_address(const request& req) const {
        if (!from_proxy_)
            return peer_address_;
        const auto header = [&](std::string_view name) {
            auto it = req.find(name);
            return it == req.end() ? std::string_view{} : std::string_view(it->value());
        };
        return transport::client_address(peer_address_, header("X-Forwarded-For"),
                                         header("Forwarded"), svc_.config.trusted_proxies);
    }

    std::string peer_address_;
    bool from_proxy_ = false;
    std::optional<connection_limiter::slot> address_slot_;  // unless from a trusted proxy
    bool upgraded_ = false;  // the socket went to the WebSocket layer
    http_services& svc_;
    session_registry::guard* registered_ = nullptr;
    asio::steady_timer* stream_timer_ = nullptr;  // while serving /stream
};

awaitable<outcome> http_connection::send(string_response res) {
    const outcome o{static_cast<int>(res.result_int()), res.keep_alive()};
    auto [ec, n] = co_await http::async_write(stream_, res, nothrow);
    (void)n;
    if (ec)
        co_return outcome{o.status, false};
    co_return o;
}

awaitable<void> http_connection::run() {
    session_registry::guard registered(svc_.sessions, [this] {
        beast::error_code ignored;
        stream_.socket().close(ignored);
        if (stream_timer_ != nullptr)
            stream_timer_->cancel();
    });
    registered_ = &registered;
    svc_.stats.connections_accepted.fetch_add(1, std::memory_order_relaxed);
    svc_.stats.connections_open.fetch_add(1, std::memory_order_relaxed);
    const auto& limit = svc_.config.limit;
    {
        beast::error_code ec;
        peer_address_ = stream_.socket().remote_endpoint(ec).address().to_string();
    }
    // A trusted proxy's connections carry many clients: they are counted per client address
    // by request (WebSocket upgrades, polling sessions), not per connection.
    from_proxy_ = in_any(svc_.config.trusted_proxies, peer_address_);
    bool admitted = true;
    if (!from_proxy_) {
        address_slot_ = svc_.per_address.try_acquire(peer_address_);
        if (!address_slot_) {
            admitted = false;
            svc_.stats.refused_connections.fetch_add(1, std::memory_order_relaxed);
            spdlog::info("event=connection_refused reason=\"per-address limit\" address={}",
                         peer_address_);
            (void)co_await send(json_response(
                11, false, false, 429, chat::error_body("Too many connections from your address")));
        }
    }

    while (admitted) {
        if (svc_.sessions.draining())
            break;
        registered.set_idle(true);
        http::request_parser<http::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(limit.max_header_bytes));
        parser.body_limit(limit.max_body_bytes);
        stream_.expires_after(limit.request_timeout);
        auto [ec, n] = co_await http::async_read(stream_, buffer_, parser, nothrow);
        (void)n;
        registered.set_idle(false);
        if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
            ec == beast::error::timeout || ec == asio::error::connection_reset ||
            ec == asio::error::eof || ec == asio::error::bad_descriptor) {
            break;
        }
        if (ec) {
            int status = 400;
            std::string text = "Malformed HTTP request";
            if (ec == http::error::body_limit) {
                status = 413;
                text = "Request body is larger than " + std::to_string(limit.max_body_bytes) +
                       " bytes";
            } else if (ec == http::error::header_limit) {
                status = 431;
                text = "Request headers are larger than " + std::to_string(limit.max_header_bytes) +
                       " bytes";
            }
            svc_.stats.record_request(metrics::route::unknown, status, 0);
            (void)co_await send(json_response(11, false, false, status, chat::error_body(text)));
            break;
        }

        request req = parser.release();
        const auto started = clock_type::now();
        metrics::route route = metrics::route::unknown;
        outcome o;
        bool failed = false;
        try {
            o = co_await dispatch(req, route);
        } catch (const std::exception& e) {
            // A bug, not bad input: answer 500 and close, never take the process down.
            spdlog::error("event=handler_exception method={} target=\"{}\" error=\"{}\"",
                          std::string(req.method_string()), std::string(req.target()), e.what());
            failed = true;
        }
        if (failed) {
            o = co_await send(json_response(req, 500, chat::error_body("Internal server error")));
            o.keep_alive = false;
        }
        const auto elapsed =
            std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - started);
        svc_.stats.record_request(route, o.status, static_cast<std::uint64_t>(elapsed.count()));
        spdlog::debug("event=request method={} target=\"{}\" status={} us={}",
                      std::string(req.method_string()), std::string(req.target()).substr(0, 200),
                      o.status, elapsed.count() / 1000);
        if (!o.keep_alive)
            break;
    }

    beast::error_code ignored;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    stream_.socket().close(ignored);
    // An upgraded WebSocket is still open: the WebSocket layer counts it down when it ends.
    if (!upgraded_)
        svc_.stats.connections_open.fetch_sub(1, std::memory_order_relaxed);
}

awaitable<outcome> http_connection::dispatch(request& req, metrics::route& route) {
    const std::string target = chat::normalize_target(req.target());
    auto url = boost::urls::parse_origin_form(target);
    if (!url) {
        co_return co_await send(
            json_response(req, 400, chat::error_body("Malformed request target")));
    }
    std::string path = url->path();  // percent-decoded
    const bool get = req.method() == http::verb::get || req.method() == http::verb::head;

    if (path == "/healthz" && get) {
        route = metrics::route::healthz;
        if (svc_.sessions.draining()) {
            co_return co_await send(json_response(req, 503, chat::error_body("Shutting down")));
        }
        co_return co_await send(json_response(req, 200, R"({"status":"ok"})"));
    }
    if (path == "/readyz" && get) {
        route = metrics::route::readyz;
        if (svc_.sessions.draining()) {
            co_return co_await send(json_response(req, 503, chat::error_body("Shutting down")));
        }
        if (svc_.startup.holding()) {
            co_return co_await send(
                json_response(req, 503, chat::error_body("Starting: loading the demo data")));
        }
        // Ready only when every Redis connection of the process is up: each thread reconnects
        // on its own, and a balancer must not send traffic while some thread would answer 503.
        if (const auto down = svc_.all_stats.redis_connections_down(); down > 0) {
            co_return co_await send(
                json_response(req, 503,
                              chat::error_body("Redis is not reachable: " + std::to_string(down) +
                                               " connection(s) down")));
        }
        auto pong = co_await svc_.store.ping();
        if (!pong) {
            co_return co_await send(json_response(
                req, 503, chat::error_body("Redis is not reachable: " + pong.error().message())));
        }
        co_return co_await send(json_response(req, 200, R"({"status":"ready"})"));
    }
    if (path == "/metrics" && get) {
        route = metrics::route::metrics;
        string_response res{http::status::ok, req.version()};
        res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
        res.set(http::field::cache_control, "no-store");
        res.body() = svc_.all_stats.render();
        res.prepare_payload();
        finish_headers(res, req.keep_alive());
        co_return co_await send(std::move(res));
    }
    if (path == "/stream" && get) {
        route = metrics::route::stream;
        co_return co_await serve_stream(req);
    }
    if (path == "/socket.io/" || path == "/socket.io") {
        route = metrics::route::socketio;
        if (!origin_allowed(req))
            co_return co_await refuse_origin(req);
        co_return co_await serve_engineio(req, target);
    }
    if (auto api_route = chat::rest_api::match(target)) {
        route = *api_route;
        if (!get && !origin_allowed(req))
            co_return co_await refuse_origin(req);
        co_return co_await serve_api(req, *api_route);
    }
    route = metrics::route::static_file;
    if (!get)
        co_return co_await send(json_response(req, 404, chat::error_body("Not found")));
    co_return co_await serve_static(req, path);
}

awaitable<outcome> http_connection::serve_api(request& req, metrics::route) {
    chat::api_request api_req;
    api_req.method = std::string(req.method_string());
    api_req.target = chat::normalize_target(req.target());
    api_req.body = std::move(req.body());
    api_req.client_address = client_address(req);
    if (auto cookie = req.find(http::field::cookie); cookie != req.end()) {
        api_req.session_id = session_from_cookie(cookie->value());
    }
    chat::api_response r = co_await svc_.api.handle(std::move(api_req));
    auto res = json_response(req, r.status, std::move(r.body));
    if (r.set_session) {
        res.set(http::field::set_cookie,
                session_cookie(*r.set_session, svc_.config.session_max_age.count(),
                               svc_.config.cookie_secure));
    } else if (r.clear_session) {
        res.set(http::field::set_cookie, session_cookie("", 0, svc_.config.cookie_secure));
    }
    if (r.status == 429)
        svc_.stats.rate_limited.fetch_add(1, std::memory_order_relaxed);
    if (r.retry_after > 0)
        res.set(http::field::retry_after, std::to_string(r.retry_after));
    if (!r.allow.empty())
        res.set(http::field::allow, r.allow);
    co_return co_await send(std::move(res));
}

awaitable<outcome> http_connection::serve_static(request& req, std::string_view path) {
    auto file = svc_.files.lookup(path);
    if (!file) {
        if (!svc_.files.has_index() && (path == "/" || path == "/index.html")) {
            co_return co_await send(json_response(
                req, 404,
                chat::error_body(
                    "The web client is not built: run `make web` or pass --web-root")));
        }
        co_return co_await send(json_response(req, 404, chat::error_body("Not found")));
    }
    if (auto inm = req.find(http::field::if_none_match);
        inm != req.end() && inm->value() == file->etag) {
        http::response<http::empty_body> res{http::status::not_modified, req.version()};
        res.set(http::field::etag, file->etag);
        res.set(http::field::cache_control, file->cache_control);
        finish_headers(res, req.keep_alive());
        auto [ec, n] = co_await http::async_write(stream_, res, nothrow);
        (void)n;
        co_return outcome{304, !ec && req.keep_alive()};
    }

    http::file_body::value_type body;
    beast::error_code ec;
    body.open(file->path.c_str(), beast::file_mode::scan, ec);
    if (ec)
        co_return co_await send(json_response(req, 404, chat::error_body("Not found")));

    auto headers = [&](auto& res) {
        res.set(http::field::content_type, file->content_type);
        res.set(http::field::cache_control, file->cache_control);
        res.set(http::field::etag, file->etag);
        res.set("Referrer-Policy", "same-origin");
        finish_headers(res, req.keep_alive());
    };
    if (req.method() == http::verb::head) {
        http::response<http::empty_body> res{http::status::ok, req.version()};
        headers(res);
        res.content_length(file->size);
        auto [wec, n] = co_await http::async_write(stream_, res, nothrow);
        (void)n;
        co_return outcome{200, !wec && req.keep_alive()};
    }
    http::response<http::file_body> res{std::piecewise_construct, std::make_tuple(std::move(body)),
                                        std::make_tuple(http::status::ok, req.version())};
    headers(res);
    res.prepare_payload();
    auto [wec, n] = co_await http::async_write(stream_, res, nothrow);
    (void)n;
    co_return outcome{200, !wec && req.keep_alive()};
}

// Engine.IO: polling requests are answered here (by the session's owner thread); a WebSocket
// upgrade hands the socket over to the Engine.IO server for the rest of its life.
awaitable<outcome> http_connection::serve_engineio(request& req, const std::string& target) {
    const auto q = parse_eio_query(target);
    if (auto refusal = check_eio_query(q))
        co_return co_await send(json_response(req, refusal->status, refusal->body));
    std::optional<std::string> cookie;
    if (auto c = req.find(http::field::cookie); c != req.end())
        cookie = session_from_cookie(c->value());
    const std::string client = client_address(req);
    if (q.transport == "websocket" && beast::websocket::is_upgrade(req)) {
        // The connection keeps its place in the per-address count for its whole life (through
        // a proxy: a place of its client's address, taken now).
        if (!address_slot_) {
            address_slot_ = svc_.per_address.try_acquire(client);
            if (!address_slot_) {
                svc_.stats.refused_connections.fetch_add(1, std::memory_order_relaxed);
                spdlog::info("event=connection_refused reason=\"per-address limit\" address={}",
                             client);
                co_return co_await send(json_response(
                    req, 429, chat::error_body("Too many connections from your address")));
            }
        }
        upgraded_ = true;
        svc_.eio.handle_websocket(stream_.release_socket(), std::move(req), std::move(cookie),
                                  std::move(address_slot_));
        co_return outcome{101, false};
    }
    if (q.transport != "polling") {  // a WebSocket request that is no upgrade
        co_return co_await send(json_response(req, 400, R"({"code":3,"message":"Bad request"})"));
    }
    const unsigned version = req.version();
    const bool keep_alive = req.keep_alive();
    poll_answer answer =
        co_await svc_.eio.handle_polling(std::move(req), std::move(cookie), client);
    string_response res{static_cast<http::status>(answer.status), version};
    res.set(http::field::content_type, answer.content_type);
    res.set(http::field::cache_control, "no-store");
    res.body() = std::move(answer.body);
    res.prepare_payload();
    finish_headers(res, keep_alive);
    co_return co_await send(std::move(res));
}

// compat-spec §3: a long-lived event stream. Every event reaches our clients over Socket.IO, so
// nothing but keep-alive comments is sent here (never the same event twice).
awaitable<outcome> http_connection::serve_stream(request& req) {
    svc_.stats.sse_streams_open.fetch_add(1, std::memory_order_relaxed);
    std::string head =
        "HTTP/1.1 200 OK\r\n"
        "Server: redchat\r\n"
        "Content-Type: text/event-stream\r\n"
        "Cache-Control: no-cache\r\n"
        "X-Accel-Buffering: no\r\n"
        "Connection: close\r\n"
        "\r\n"
        "retry: 3000\n: connected\n\n";
    stream_.expires_never();
    auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(head), nothrow);
    (void)n;
    (void)req;
    asio::steady_timer timer(stream_.get_executor());
    stream_timer_ = &timer;
    registered_->set_idle(true);  // shutdown may close it at once
    static const std::string keepalive = ": keep-alive\n\n";
    while (!ec && !svc_.sessions.draining()) {
        timer.expires_after(svc_.config.sse_keepalive);
        auto [tec] = co_await timer.async_wait(nothrow);
        if (tec)
            break;
        std::tie(ec, n) = co_await asio::async_write(stream_, asio::buffer(keepalive), nothrow);
    }
    stream_timer_ = nullptr;
    svc_.stats.sse_streams_open.fetch_sub(1, std::memory_order_relaxed);
    co_return outcome{200, false};
}

}  // namespace

awaitable<void> run_http_session(asio::ip::tcp::socket socket, http_services& services) {
    http_connection connection(std::move(socket), services);
    co_await connection.run();
}

}  // namespace redchat::transport
