// redchat-conformance: the server that the official Engine.IO and Socket.IO protocol test suites
// expect (../shared/conformance/README.md), built on the chat server's own transport and protocol
// layers: the same engineio_server, eio_session, WebSocket connection and sio_socket, with the
// chat replaced by what the suites check.
//   /engine.io/  an echo: every message (text or binary) comes back unchanged;
//   /socket.io/  namespaces "/" and "/custom"; after each connect an `auth` event with the
//                client's CONNECT payload; on "/", `message` comes back as `message-back` and
//                `message-with-ack` is acknowledged with its own arguments, attachments included.
// Ping interval 300 ms, ping timeout 200 ms, maxPayload 1,000,000 bytes, as the suites expect.

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/json/serialize.hpp>

#include <csignal>
#include <memory>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "core/metrics.hpp"
#include "transport/connection_limiter.hpp"
#include "transport/engineio_server.hpp"
#include "transport/listener.hpp"
#include "transport/sio_socket.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using asio::awaitable;
using namespace redchat;
using namespace redchat::transport;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

// ---- /engine.io/: the echo ----

class echo_handler final : public eio_handler {
  public:
    explicit echo_handler(eio_session& session) : session_(session) {}
    awaitable<void> on_message(socketio::eio_packet packet) override {
        if (packet.binary)
            session_.send_binary(packet.data);
        else
            session_.send("4" + packet.data);
        co_return;
    }

  private:
    eio_session& session_;
};

class echo_application final : public eio_application {
  public:
    awaitable<std::unique_ptr<eio_handler>> open(eio_session& session) override {
        co_return std::make_unique<echo_handler>(session);
    }
};

// ---- /socket.io/: what the Socket.IO suite checks ----

class test_socket final : public sio_socket {
  public:
    explicit test_socket(eio_session& session) : sio_socket(session, {1'000'000, 10}) {}

  private:
    awaitable<std::optional<std::string>> accept(const std::string& nsp,
                                                 std::string_view) override {
        if (nsp == "/" || nsp == "/custom")
            co_return std::nullopt;
        co_return "Invalid namespace";
    }
    awaitable<void> on_connect(const std::string& nsp, std::string_view auth_json) override {
        // The CONNECT payload came decoded and checked: a JSON object, or nothing.
        emit(nsp, "auth", auth_json.empty() ? std::string_view("{}") : auth_json);
        co_return;
    }
    awaitable<void> on_disconnect(const std::string&) override { co_return; }
    awaitable<void> on_event(incoming_event ev) override {
        if (ev.nsp != "/")
            co_return;
        const std::string args = json::serialize(ev.args);  // "[...]"
        if (ev.name == "message") {
            emit("/", "message-back", std::string_view(args).substr(1, args.size() - 2),
                 ev.attachments);
        } else if (ev.name == "message-with-ack" && ev.ack_id) {
            ack("/", *ev.ack_id, args, ev.attachments);
        }
        co_return;
    }
};

class test_application final : public eio_application {
  public:
    awaitable<std::unique_ptr<eio_handler>> open(eio_session& session) override {
        co_return std::make_unique<test_socket>(session);
    }
};

// ---- HTTP: the two paths, each to its Engine.IO server ----

struct thread_servers {
    engineio_server* engineio;
    engineio_server* socketio;
    metrics::shard& stats;
};

template <typename Response>
void allow_any_origin(Response& res) {
    // The suites also run in a browser (their index.html), from any origin.
    res.set(http::field::access_control_allow_origin, "*");
}

awaitable<void> serve_http(asio::ip::tcp::socket socket, thread_servers servers) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    std::string client = "unknown";
    {
        boost::system::error_code ec;
        auto remote = stream.socket().remote_endpoint(ec);
        if (!ec)
            client = remote.address().to_string();
    }
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(2'000'000);
        stream.expires_after(std::chrono::seconds(60));
        auto [ec, n] = co_await http::async_read(stream, buffer, parser, nothrow);
        (void)n;
        if (ec)
            co_return;
        stream.expires_never();
        auto req = parser.release();
        const std::string target(req.target());
        const std::string path = target.substr(0, target.find('?'));
        const bool keep_alive = req.keep_alive();
        const unsigned version = req.version();
        http::response<http::string_body> res{http::status::ok, version};
        allow_any_origin(res);
        engineio_server* eio = nullptr;
        if (path == "/engine.io/" || path == "/engine.io")
            eio = servers.engineio;
        else if (path == "/socket.io/" || path == "/socket.io")
            eio = servers.socketio;
        if (eio == nullptr) {
            res.result(http::status::not_found);
            res.set(http::field::content_type, "application/json");
            res.body() = R"({"message":"Not found"})";
        } else if (req.method() == http::verb::options) {
            res.result(http::status::no_content);
            res.set(http::field::access_control_allow_methods, "GET, POST");
            res.set(http::field::access_control_allow_headers, "Content-Type");
        } else {
            const auto q = parse_eio_query(target);
            std::optional<poll_answer> answer = check_eio_query(q);
            if (!answer && q.transport == "websocket") {
                if (beast::websocket::is_upgrade(req)) {
                    servers.stats.connections_open.fetch_add(1, std::memory_order_relaxed);
                    eio->handle_websocket(stream.release_socket(), std::move(req), std::nullopt,
                                          std::nullopt);
                    co_return;
                }
                answer =
                    poll_answer{400, "application/json", R"({"code":3,"message":"Bad request"})"};
            }
            if (!answer)
                answer = co_await eio->handle_polling(std::move(req), std::nullopt, client);
            res.result(static_cast<http::status>(answer->status));
            res.set(http::field::content_type, answer->content_type);
            res.body() = std::move(answer->body);
        }
        res.set(http::field::cache_control, "no-store");
        res.keep_alive(keep_alive);
        res.prepare_payload();
        auto [wec, wn] = co_await http::async_write(stream, res, nothrow);
        (void)wn;
        if (wec || !keep_alive)
            co_return;
    }
}

// An io_context whose pending work can be destroyed while the servers it refers to still exist.
struct worker_context : asio::io_context {
    using asio::io_context::io_context;
    void destroy_pending() { shutdown(); }
};

struct worker {
    worker_context ioc{1};
    std::unique_ptr<engineio_server> engineio;
    std::unique_ptr<engineio_server> socketio;
};

}  // namespace

int main(int argc, char** argv) {
    CLI::App cli{"redchat-conformance: the server of the Engine.IO and Socket.IO protocol suites"};
    std::string bind = "127.0.0.1";
    unsigned short port = 3000;
    unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    std::string log_level = "warn";
    cli.add_option("--bind", bind, "Address to listen on");
    cli.add_option("--port", port, "Port to listen on (0: any free port, printed at start)");
    cli.add_option("--threads", threads, "I/O threads")->check(CLI::Range(1u, 64u));
    cli.add_option("--log-level", log_level, "trace, debug, info, warn, error");
    CLI11_PARSE(cli, argc, argv);

    auto logger = spdlog::stderr_logger_mt("conformance");
    logger->set_level(spdlog::level::from_str(log_level));
    spdlog::set_default_logger(logger);
    std::signal(SIGPIPE, SIG_IGN);

    config::server_config cfg;
    cfg.ping_interval = std::chrono::milliseconds(300);
    cfg.ping_timeout = std::chrono::milliseconds(200);
    cfg.limit.max_packet_bytes = 1'000'000;

    metrics::registry stats(threads);
    connection_limiter per_address(1 << 20);
    echo_application echo;
    test_application suite;
    std::vector<std::unique_ptr<worker>> workers;
    std::vector<asio::io_context*> contexts;
    for (unsigned i = 0; i < threads; ++i) {
        auto w = std::make_unique<worker>();
        w->engineio = std::make_unique<engineio_server>(w->ioc, i, echo, cfg, stats.for_thread(i),
                                                        per_address);
        w->socketio = std::make_unique<engineio_server>(w->ioc, i, suite, cfg, stats.for_thread(i),
                                                        per_address);
        contexts.push_back(&w->ioc);
        workers.push_back(std::move(w));
    }
    std::vector<engineio_server*> engineio_peers;
    std::vector<engineio_server*> socketio_peers;
    for (auto& w : workers) {
        engineio_peers.push_back(w->engineio.get());
        socketio_peers.push_back(w->socketio.get());
    }
    for (auto& w : workers) {
        w->engineio->set_peers(engineio_peers);
        w->socketio->set_peers(socketio_peers);
    }

    std::unique_ptr<listener> accept;
    try {
        accept = std::make_unique<listener>(
            workers[0]->ioc, contexts, bind, port,
            [&](std::size_t i, asio::ip::tcp::socket socket) {
                auto& w = *workers[i];
                asio::co_spawn(w.ioc,
                               serve_http(std::move(socket), {w.engineio.get(), w.socketio.get(),
                                                              stats.for_thread(i)}),
                               asio::detached);
            },
            stats.for_thread(0));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "redchat-conformance: cannot listen on %s:%u: %s\n", bind.c_str(),
                     static_cast<unsigned>(port), e.what());
        return 1;
    }
    accept->start();
    std::printf("redchat-conformance listening on http://%s:%u\n", bind.c_str(),
                static_cast<unsigned>(accept->port()));
    std::fflush(stdout);

    asio::signal_set signals(workers[0]->ioc, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) {
        accept->stop();
        for (auto& w : workers)
            w->ioc.stop();
    });
    std::vector<std::thread> running;
    for (std::size_t i = 1; i < workers.size(); ++i) {
        auto work = asio::make_work_guard(workers[i]->ioc);
        running.emplace_back([&ioc = workers[i]->ioc, work = std::move(work)] { ioc.run(); });
    }
    {
        auto work = asio::make_work_guard(workers[0]->ioc);
        workers[0]->ioc.run();
    }
    for (auto& t : running)
        t.join();
    // Sessions, then the coroutines that refer to them, go before their servers.
    for (auto& w : workers) {
        w->engineio->abort_all();
        w->socketio->abort_all();
        w->ioc.destroy_pending();
    }
    return 0;
}
