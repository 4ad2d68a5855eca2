#pragma once
// Process metrics in Prometheus text format. Each I/O thread writes only its own shard (relaxed
// atomics, no contention); a scrape sums the shards.

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace redchat::metrics {

// Routes are a closed set so that label values stay bounded whatever clients request.
enum class route : std::uint8_t {
    me,
    login,
    logout,
    users_online,
    users,
    rooms,
    room_messages,
    create_room,
    read_state,
    room_reads,
    room_reactions,
    groups,
    group,
    group_members,
    users_search,
    links,
    stream,
    healthz,
    readyz,
    metrics,
    socketio,
    static_file,
    unknown,
    count_
};
const char* route_name(route r) noexcept;

inline constexpr std::array<int, 16> tracked_statuses{200, 201, 204, 304, 400, 401, 403, 404,
                                                      405, 409, 413, 429, 431, 500, 503, 0};
inline constexpr std::array<double, 12> latency_bounds_seconds{
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5};

using counter = std::atomic<std::uint64_t>;
using gauge = std::atomic<std::int64_t>;

struct shard {
    std::array<std::array<counter, tracked_statuses.size()>,
               static_cast<std::size_t>(route::count_)>
        requests{};
    std::array<counter, latency_bounds_seconds.size() + 1> latency_buckets{};  // last is +Inf
    counter latency_sum_ns{0};
    counter latency_count{0};
    counter redis_commands{0};
    counter redis_errors{0};    // error replies
    counter redis_failures{0};  // timeouts and lost connections
    counter redis_reconnects{0};
    counter redis_write_waits{0};     // a command longer than the socket took at once
    gauge redis_connections_down{0};  // started Redis connections not connected right now
    counter connections_accepted{0};
    counter accept_errors{0};  // failed accepts (out of file descriptors...)
    gauge connections_open{0};
    gauge sse_streams_open{0};
    gauge queued_output_bytes{0};      // written to no client yet: WebSocket and polling queues
    counter refused_origin{0};         // requests from a foreign browser origin
    counter refused_connections{0};    // over the per-address or per-user connection cap
    counter refused_session_login{0};  // an Engine.IO sid used with another login
    counter rate_limited{0};           // messages, logins or room creations over their rate
    counter slow_clients_dropped{0};   // output queue over its limit
    counter ws_writes{0};              // gather writes to WebSocket connections (system calls)
    counter ws_frames_written{0};      // WebSocket frames those writes completed
    counter sockets_opened{0};         // Engine.IO sessions
    gauge sockets_open{0};
    gauge polls_waiting{0};            // long-polls held open until there is output
    counter bus_messages_received{0};  // pub/sub messages the subscriber read
    gauge bus_channels{0};             // pub/sub channels subscribed (or being subscribed)

    void record_request(route r, int status, std::uint64_t duration_ns) noexcept;
};

class registry {
  public:
    explicit registry(std::size_t shards);
    shard& for_thread(std::size_t index) { return *shards_.at(index); }
    std::size_t size() const { return shards_.size(); }
    // Started Redis connections of the whole process that are not connected now.
    std::int64_t redis_connections_down() const;
    // TCP connections open now, over all threads.
    std::int64_t connections_open() const;
    // The whole exposition, summed over shards.
    std::string render() const;

    // A counter of the whole process, read when the exposition is rendered (from any thread:
    // `read` must be thread-safe); left out while `read` says nullopt. Added before the
    // threads start.
    using process_reading = std::function<std::optional<std::uint64_t>()>;
    void add_process_counter(std::string name, std::string help, process_reading read);
    // The same for a gauge (a value that goes up and down).
    void add_process_gauge(std::string name, std::string help, process_reading read);

  private:
    struct process_counter {
        std::string name;
        std::string help;
        process_reading read;
        const char* type;  // "counter" or "gauge"
    };
    std::vector<std::unique_ptr<shard>> shards_;
    std::vector<process_counter> process_counters_;
};

}  // namespace redchat::metrics
