// idle: N logged-in sockets that only answer pings, held through the warm-up and the measured
// interval: the server's memory per connection and its CPU while nothing is said.

#include "harness.hpp"
#include "json_line.hpp"
#include "scenarios.hpp"

#include <iostream>

namespace redchat::bench {

int run_idle(const bench_options& o, const server_target& target) {
    const std::size_t sockets = o.connections != 0 ? o.connections : default_connections("idle");

    harness h(o, target, sockets);
    const auto users = h.log_in_users_for(sockets);
    if (!users)
        return exit_setup_failed;

    const auto rss_before = h.server().rss_kb();
    // The live heap too (jemalloc builds): steadier than the RSS, which also holds freed pages
    // until jemalloc's decay hands them back.
    constexpr std::string_view heap_metric = "redchat_heap_allocated_bytes";
    const auto heap_before = read_server_metric(h.target(), heap_metric);
    const stop_at_exit stop{h};
    auto& set = h.new_socket_set(nullptr);
    if (o.presence == "watched")
        set.set_connect_payload(R"({"redchat":1,"presence":"watched"})");
    set.open(sockets, o.concurrency, [&users](std::size_t i) { return users->session_of(i); });
    if (!set.wait_open(o.setup_timeout_s))
        return exit_setup_failed;
    const auto opened = h.pool().snapshot();
    const auto connected = get(opened, counter::connected);
    if (connected == 0) {
        std::cerr << "redchat-bench: no socket connected\n";
        return exit_setup_failed;
    }

    const auto pings_before = set.pings_answered();
    const auto m = h.measure("idle");
    const auto pings = set.pings_answered() - pings_before;
    const auto heap_after = read_server_metric(h.target(), heap_metric);
    const auto total = h.pool().snapshot();
    set.close_all();
    h.stop();

    json_line out;
    out.field("scenario", "idle")
        .field("connections", sockets)
        .field("connected", connected)
        .field("users", users->size())
        .field("threads", o.threads)
        .field("sources", h.sources().count())
        .field("presence", o.presence)
        .field("warmup_s", o.warmup_s)
        .field("duration_s", m.seconds)
        .field("server_rss_before_kb", rss_before);
    add_process_fields(out, m);
    std::optional<double> kb_per_connection;
    if (rss_before && m.server_rss_kb)
        kb_per_connection =
            static_cast<double>(*m.server_rss_kb - *rss_before) / static_cast<double>(connected);
    std::optional<double> heap_kb_per_connection;
    if (heap_before && heap_after)
        heap_kb_per_connection =
            (static_cast<double>(*heap_after) - static_cast<double>(*heap_before)) / 1024.0 /
            static_cast<double>(connected);
    out.field("server_rss_per_connection_kb", kb_per_connection)
        .field("server_heap_per_connection_kb", heap_kb_per_connection)
        .field("pings_answered", pings)
        .field("dropped", get(total, counter::dropped))
        .field("connect_failed", get(total, counter::connect_failed));
    std::cout << out.str() << std::endl;
    return 0;
}

}  // namespace redchat::bench
