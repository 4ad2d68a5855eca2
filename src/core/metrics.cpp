#include "core/metrics.hpp"

#include <fmt/format.h>

namespace redchat::metrics {
namespace {

constexpr auto relaxed = std::memory_order_relaxed;

std::size_t status_slot(int status) noexcept {
    for (std::size_t i = 0; i + 1 < tracked_statuses.size(); ++i) {
        if (tracked_statuses[i] == status)
            return i;
    }
    return tracked_statuses.size() - 1;
}

}  // namespace

const char* route_name(route r) noexcept {
    switch (r) {
        case route::me:
            return "/me";
        case route::login:
            return "/login";
        case route::logout:
            return "/logout";
        case route::users_online:
            return "/users/online";
        case route::users:
            return "/users";
        case route::rooms:
            return "/rooms/:userId";
        case route::room_messages:
            return "/room/:roomId/messages";
        case route::create_room:
            return "/room";
        case route::read_state:
            return "/read-state";
        case route::room_reads:
            return "/room/:roomId/reads";
        case route::room_reactions:
            return "/room/:roomId/reactions";
        case route::groups:
            return "/groups";
        case route::group:
            return "/groups/:roomId";
        case route::group_members:
            return "/groups/:roomId/members";
        case route::users_search:
            return "/users/search";
        case route::links:
            return "/links";
        case route::stream:
            return "/stream";
        case route::healthz:
            return "/healthz";
        case route::readyz:
            return "/readyz";
        case route::metrics:
            return "/metrics";
        case route::socketio:
            return "/socket.io/";
        case route::static_file:
            return "static";
        case route::unknown:
        case route::count_:
            break;
    }
    return "other";
}

void shard::record_request(route r, int status, std::uint64_t duration_ns) noexcept {
    requests[static_cast<std::size_t>(r)][status_slot(status)].fetch_add(1, relaxed);
    const double seconds = static_cast<double>(duration_ns) / 1e9;
    std::size_t b = 0;
    while (b < latency_bounds_seconds.size() && seconds > latency_bounds_seconds[b])
        ++b;
    latency_buckets[b].fetch_add(1, relaxed);
    latency_sum_ns.fetch_add(duration_ns, relaxed);
    latency_count.fetch_add(1, relaxed);
}

registry::registry(std::size_t shards) {
    shards_.reserve(shards);
    for (std::size_t i = 0; i < shards; ++i)
        shards_.push_back(std::make_unique<shard>());
}

std::int64_t registry::redis_connections_down() const {
    std::int64_t n = 0;
    for (const auto& s : shards_)
        n += s->redis_connections_down.load(std::memory_order_relaxed);
    return n;
}

std::int64_t registry::connections_open() const {
    std::int64_t n = 0;
    for (const auto& s : shards_)
        n += s->connections_open.load(std::memory_order_relaxed);
    return n;
}

void registry::add_process_counter(std::string name, std::string help, process_reading read) {
    process_counters_.push_back({std::move(name), std::move(help), std::move(read), "counter"});
}

void registry::add_process_gauge(std::string name, std::string help, process_reading read) {
    process_counters_.push_back({std::move(name), std::move(help), std::move(read), "gauge"});
}

std::string registry::render() const {
    std::string out;
    auto sum = [&](auto member) {
        std::uint64_t total = 0;
        for (const auto& s : shards_)
            total += static_cast<std::uint64_t>(((*s).*member).load(relaxed));
        return total;
    };
    auto sum_signed = [&](auto member) {
        std::int64_t total = 0;
        for (const auto& s : shards_)
            total += ((*s).*member).load(relaxed);
        return total;
    };

    out += "# HELP redchat_http_requests_total HTTP requests by route and status.\n";
    out += "# TYPE redchat_http_requests_total counter\n";
    for (std::size_t r = 0; r < static_cast<std::size_t>(route::count_); ++r) {
        for (std::size_t st = 0; st < tracked_statuses.size(); ++st) {
            std::uint64_t total = 0;
            for (const auto& s : shards_)
                total += s->requests[r][st].load(relaxed);
            if (total == 0)
                continue;
            const int code = tracked_statuses[st];
            out += fmt::format("redchat_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n",
                               route_name(static_cast<route>(r)),
                               code == 0 ? std::string("other") : std::to_string(code), total);
        }
    }

    out +=
        "# HELP redchat_http_request_duration_seconds Time from a complete request to its "
        "response.\n";
    out += "# TYPE redchat_http_request_duration_seconds histogram\n";
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b <= latency_bounds_seconds.size(); ++b) {
        for (const auto& s : shards_)
            cumulative += s->latency_buckets[b].load(relaxed);
        const std::string le = b < latency_bounds_seconds.size()
                                   ? fmt::format("{}", latency_bounds_seconds[b])
                                   : "+Inf";
        out += fmt::format("redchat_http_request_duration_seconds_bucket{{le=\"{}\"}} {}\n", le,
                           cumulative);
    }
    out += fmt::format("redchat_http_request_duration_seconds_sum {:.6f}\n",
                       static_cast<double>(sum(&shard::latency_sum_ns)) / 1e9);
    out +=
        fmt::format("redchat_http_request_duration_seconds_count {}\n", sum(&shard::latency_count));

    auto line = [&](const char* name, const char* type, const char* help, auto value) {
        out +=
            fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
    };
    line("redchat_redis_commands_total", "counter", "Redis commands sent.",
         sum(&shard::redis_commands));
    line("redchat_redis_command_errors_total", "counter",
         "Redis commands answered with an error reply.", sum(&shard::redis_errors));
    line("redchat_redis_command_failures_total", "counter",
         "Redis commands that timed out or lost their connection.", sum(&shard::redis_failures));
    line("redchat_redis_reconnects_total", "counter", "Redis connections re-established.",
         sum(&shard::redis_reconnects));
    line("redchat_redis_write_waits_total", "counter",
         "Times a Redis connection had more to write than its socket took and waited (Redis "
         "reading slower than we write).",
         sum(&shard::redis_write_waits));
    line("redchat_redis_connections_down", "gauge",
         "Redis connections (commands of each thread, and the subscriber) not connected now.",
         sum_signed(&shard::redis_connections_down));
    line("redchat_connections_accepted_total", "counter", "TCP connections accepted.",
         sum(&shard::connections_accepted));
    line("redchat_accept_errors_total", "counter",
         "Accepts that failed (out of file descriptors, say); retried with backoff.",
         sum(&shard::accept_errors));
    line("redchat_connections_open", "gauge", "TCP connections open now.",
         sum_signed(&shard::connections_open));
    line("redchat_queued_output_bytes", "gauge",
         "Output queued for clients and not yet accepted by their sockets (all connections).",
         sum_signed(&shard::queued_output_bytes));
    line("redchat_sse_streams_open", "gauge", "Open /stream event streams.",
         sum_signed(&shard::sse_streams_open));
    line("redchat_sockets_opened_total", "counter", "Engine.IO sessions opened.",
         sum(&shard::sockets_opened));
    line("redchat_sockets_open", "gauge", "Engine.IO sessions open now.",
         sum_signed(&shard::sockets_open));
    line("redchat_polls_waiting", "gauge", "Long-polls held open, waiting for output.",
         sum_signed(&shard::polls_waiting));
    line("redchat_refused_origin_total", "counter", "Requests refused for their browser Origin.",
         sum(&shard::refused_origin));
    line("redchat_refused_connections_total", "counter",
         "Connections refused over the per-address or per-user cap.",
         sum(&shard::refused_connections));
    line("redchat_refused_session_login_total", "counter",
         "Engine.IO requests refused: the session belongs to another login.",
         sum(&shard::refused_session_login));
    line("redchat_rate_limited_total", "counter",
         "Messages, logins or room creations over their rate.", sum(&shard::rate_limited));
    line("redchat_slow_clients_dropped_total", "counter",
         "Connections closed because their output queue was over its limit.",
         sum(&shard::slow_clients_dropped));
    line("redchat_ws_writes_total", "counter",
         "Gather writes (system calls) to WebSocket connections: one per connection and loop turn "
         "with output.",
         sum(&shard::ws_writes));
    line("redchat_ws_frames_written_total", "counter",
         "WebSocket frames those writes completed (frames per write: the coalescing).",
         sum(&shard::ws_frames_written));
    line("redchat_bus_messages_received_total", "counter",
         "Pub/sub messages this instance received (routing by room: only what its sockets need).",
         sum(&shard::bus_messages_received));
    line("redchat_bus_channels", "gauge", "Pub/sub channels this instance subscribes to.",
         sum_signed(&shard::bus_channels));
    for (const auto& p : process_counters_) {
        if (const auto value = p.read()) {
            out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", p.name, p.help, p.name,
                               p.type, p.name, *value);
        }
    }
    return out;
}

}  // namespace redchat::metrics
