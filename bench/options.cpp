#include "options.hpp"

#include <CLI/CLI.hpp>

#include <sstream>

namespace redchat::bench {

std::size_t default_connections(const std::string& scenario) {
    if (scenario == "fanout")
        return 1000;
    if (scenario == "idle" || scenario == "connect")
        return 20000;
    if (scenario == "history")
        return 64;
    if (scenario == "frames")
        return 8;
    return 0;  // rooms: two sockets per pair
}

std::size_t default_window(const std::string& scenario) {
    if (scenario == "frames")
        return 8191;  // tiny frames per batch: with the ack packet, 8192 frames, ~57 KB
    return scenario == "rooms" || scenario == "receipts" ? 1 : 32;
}

parse_outcome parse_command_line(int argc, const char* const* argv) {
    bench_options o;
    CLI::App app{
        "redchat-bench: load generator for redchat-server. Prints one JSON line of results "
        "on stdout; progress on stderr.",
        "redchat-bench"};
    app.get_formatter()->column_width(34);

    app.add_option("scenario", o.scenario,
                   "fanout, rooms, idle, connect, history, frames, typing or receipts")
        ->required()
        ->check(CLI::IsMember(
            {"fanout", "rooms", "idle", "connect", "history", "frames", "typing", "receipts"}));
    app.add_option("--url", o.url, "Server base URL (http://host:port)")->capture_default_str();
    app.add_option("--server-pid", o.server_pid, "Server process: report its CPU and RSS")
        ->check(CLI::PositiveNumber);
    app.add_option("--redis-pid", o.redis_pid, "Redis process: report its CPU")
        ->check(CLI::PositiveNumber);
    app.add_option("--duration", o.duration_s,
                   "Seconds of measurement (connect: time limit for opening)")
        ->check(CLI::Range(0.1, 86400.0))
        ->capture_default_str();
    app.add_option("--warmup", o.warmup_s, "Seconds of load before measuring")
        ->check(CLI::Range(0.0, 3600.0))
        ->capture_default_str();
    app.add_option("--connections,--receivers", o.connections,
                   "fanout: receivers (1000); idle, connect: sockets (20000); history: HTTP "
                   "connections (64); frames: sockets (8)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
    app.add_option("--senders", o.senders, "fanout: sending sockets")
        ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}))
        ->capture_default_str();
    app.add_option("--typing-every-ms", o.typing_every_ms,
                   "typing: each user sends a typing signal this often")
        ->check(CLI::Range(10.0, 600'000.0))
        ->capture_default_str();
    app.add_option("--pairs", o.pairs,
                   "rooms, typing, receipts: private rooms, two users (and sockets) each")
        ->check(CLI::Range(std::size_t{1}, std::size_t{500'000}))
        ->capture_default_str();
    app.add_option("--rate", o.rate,
                   "Messages per second over all senders (open loop); 0: closed loop with --window")
        ->check(CLI::Range(0.0, 10'000'000.0))
        ->capture_default_str();
    app.add_option("--window", o.window,
                   "Closed loop: unacknowledged messages per sender (fanout 32, rooms 1); "
                   "frames: tiny frames per batch (8191)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}));
    app.add_option("--message-bytes", o.message_bytes, "Length of each message text")
        ->check(CLI::Range(std::size_t{32}, std::size_t{4000}))
        ->capture_default_str();
    app.add_option("--sources", o.sources,
                   "Loopback source addresses 127.0.0.1.. (default: one per 10,000 sockets)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{65'000}));
    app.add_option("--users", o.users,
                   "Distinct users the sockets are spread over (default: sockets / "
                   "--sockets-per-user)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
    app.add_option("--sockets-per-user", o.sockets_per_user,
                   "Sockets per user when --users is not given (the server's "
                   "--max-sockets-per-user)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}))
        ->capture_default_str();
    app.add_option("--threads", o.threads, "I/O threads of the tool")
        ->check(CLI::Range(1u, 64u))
        ->capture_default_str();
    app.add_option("--concurrency", o.concurrency, "Socket handshakes in flight while connecting")
        ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}))
        ->capture_default_str();
    app.add_option(
           "--presence", o.presence,
           "connect, idle, rooms: all (tutorial protocol: everyone's presence to every socket) "
           "or watched (protocol 1: only watched users', none here)")
        ->check(CLI::IsMember({"all", "watched"}))
        ->capture_default_str();
    app.add_option("--login-concurrency", o.login_concurrency,
                   "Logins (and room creations) in flight")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1000}))
        ->capture_default_str();
    app.add_option("--user-prefix", o.user_prefix, "Usernames are <prefix>1 .. <prefix>K")
        ->capture_default_str();
    app.add_option("--password", o.password, "Password of every bench user")->capture_default_str();
    app.add_option("--history-room", o.history_room, "history: room to page")
        ->capture_default_str();
    app.add_option("--history-size", o.history_size, "history: messages per page")
        ->check(CLI::Range(std::size_t{1}, std::size_t{100}))
        ->capture_default_str();
    app.add_option("--setup-timeout", o.setup_timeout_s,
                   "Seconds allowed for each setup step (logins, rooms, connecting)")
        ->check(CLI::Range(1.0, 86400.0))
        ->capture_default_str();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        std::ostringstream out, err;
        const int code = app.exit(e, out, err);
        return {std::nullopt, code, out.str() + err.str()};
    }
    return {std::move(o), 0, {}};
}

}  // namespace redchat::bench
