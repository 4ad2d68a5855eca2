// connect: open N logged-in sockets as fast as the server takes them (at most --concurrency
// handshakes in flight), within --duration seconds; then close them all.

#include "harness.hpp"
#include "json_line.hpp"
#include "scenarios.hpp"

#include <iostream>

namespace redchat::bench {

int run_connect(const bench_options& o, const server_target& target) {
    const std::size_t sockets = o.connections != 0 ? o.connections : default_connections("connect");

    harness h(o, target, sockets);
    const auto users = h.log_in_users_for(sockets);
    if (!users)
        return exit_setup_failed;

    const stop_at_exit stop{h};
    auto& set = h.new_socket_set(nullptr);
    if (o.presence == "watched")
        set.set_connect_payload(R"({"redchat":1,"presence":"watched"})");
    const auto start = h.probe();
    const auto start_ns = now_ns();
    set.open(sockets, o.concurrency, [&users](std::size_t i) { return users->session_of(i); });
    const bool all_settled = set.wait_open(o.duration_s);
    const auto m = h.since(start);
    // Until the last handshake ended, not until this thread noticed.
    const auto last_ns = set.last_settled_ns();
    const double elapsed_s = all_settled && last_ns > start_ns
                                 ? static_cast<double>(last_ns - start_ns) / 1e9
                                 : m.seconds;
    const auto total = h.pool().snapshot();
    const auto connected = get(total, counter::connected);

    set.close_all();
    h.stop();

    json_line out;
    out.field("scenario", "connect")
        .field("connections", sockets)
        .field("connected", connected)
        .field("connect_failed", get(total, counter::connect_failed))
        .field("completed", all_settled ? "all" : "time limit")
        .field("users", users->size())
        .field("threads", o.threads)
        .field("sources", h.sources().count())
        .field("concurrency", o.concurrency)
        .field("presence", o.presence)
        .field("elapsed_s", elapsed_s)
        .field("connections_per_s", per_second(connected, elapsed_s))
        .percentiles("connect_latency_ms", h.pool().merged(histogram::connect));
    add_process_fields(out, m);
    std::optional<double> us_per_connection;
    if (m.server_cpu_s && connected > 0)
        us_per_connection = *m.server_cpu_s * 1e6 / static_cast<double>(connected);
    out.field("server_cpu_us_per_connection", us_per_connection)
        .field("dropped", get(total, counter::dropped));
    std::cout << out.str() << std::endl;

    if (connected == 0) {
        std::cerr << "redchat-bench: connect: no socket connected\n";
        return exit_setup_failed;
    }
    return 0;
}

}  // namespace redchat::bench
