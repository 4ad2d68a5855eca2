#pragma once
// What every scenario needs around its own traffic: the I/O threads, the server's address and
// the loopback sources, logins, batches of HTTP calls, socket sets, and the measured interval
// (warm-up, counter snapshots, server CPU and RSS). It owns every client it creates until the
// run ends, so no handler ever outlives its object.

#include "endpoints.hpp"
#include "http_client.hpp"
#include "options.hpp"
#include "process_probe.hpp"
#include "socket_set.hpp"
#include "worker_pool.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace redchat::bench {

struct account {
    std::string id;          // decimal user id
    std::string session_id;  // the redchat_sid cookie value
};

// The accounts of a scenario's sockets, shared round robin (socket i is account i % size).
struct user_pool {
    std::vector<account> accounts;
    std::size_t size() const { return accounts.size(); }
    std::string_view session_of(std::size_t socket) const {
        return accounts[socket % accounts.size()].session_id;
    }
};

struct http_call {
    std::string method;
    std::string path;
    std::string body;
    std::string cookie;
};

struct http_result {
    int status = 0;  // 0: no answer
    std::string body;
    std::string session_id;
    std::string error;
};

struct measurement {
    counter_values delta{};  // counters over the measured interval
    double seconds = 0;
    std::optional<double> server_cpu_s;
    std::optional<double> redis_cpu_s;
    double bench_cpu_s = 0;
    std::optional<long> server_rss_kb;                          // at the end of the interval
    std::optional<unsigned long long> server_context_switches;  // over the interval
    std::optional<unsigned long long> server_syscalls;          // over the interval
    // Memory allocation requests over the interval, from the server's /metrics
    // (redchat_allocations_total: jemalloc builds only, counted as thread caches flush).
    std::optional<unsigned long long> server_allocations;
};

class harness {
  public:
    // `planned_sockets`: how many client sockets the scenario will hold at once (for the
    // default number of source addresses and the file descriptor check).
    harness(const bench_options& options, server_target target, std::size_t planned_sockets);
    ~harness();
    harness(const harness&) = delete;
    harness& operator=(const harness&) = delete;

    const bench_options& options() const { return options_; }
    worker_pool& pool() { return pool_; }
    const server_target& target() const { return target_; }
    const source_addresses& sources() const { return sources_; }
    const process_probe& server() const { return server_; }

    // Distinct users for `sockets` sockets: --users, else enough for --sockets-per-user each.
    std::size_t users_for(std::size_t sockets) const;

    // Raises the soft descriptor limit to the hard one; false (with a message) when `needed`
    // descriptors still do not fit. Also warns when the server's own limit looks too low.
    bool ensure_descriptors(std::size_t needed) const;

    // The usual start of a scenario: the descriptor check for `sockets`, then the logins of
    // users_for(sockets) users. nullopt (after a message) when either fails.
    std::optional<user_pool> log_in_users_for(std::size_t sockets);
    // Logs in (or registers) users <prefix>first .. <prefix>(first+count-1) concurrently.
    std::optional<std::vector<account>> login(std::size_t count, std::size_t first = 1);

    // Runs make_call(i) for i in [0, count) over --login-concurrency connections. nullopt when
    // the timeout passed first.
    std::optional<std::vector<http_result>> http_batch(
        std::size_t count, const std::function<http_call(std::size_t)>& make_call,
        const char* what);

    // A new HTTP client on worker w, owned by the harness.
    http_client& new_http_client(unsigned w, std::size_t source_index);
    // A new socket set, owned by the harness; `inner` must outlive the pool's run (stop()).
    socket_set& new_socket_set(socketio_handler* inner);

    // Process figures now, and the measurement from `start` to now.
    struct probe_point {
        std::chrono::steady_clock::time_point time;
        counter_values counters;
        std::optional<double> server_cpu_s;
        std::optional<double> redis_cpu_s;
        double bench_cpu_s = 0;
        std::optional<unsigned long long> server_context_switches;
        std::optional<unsigned long long> server_syscalls;
        std::optional<unsigned long long> server_allocations;
    };
    probe_point probe();
    measurement since(const probe_point& start);

    // Sleeps through the warm-up, then measures `duration` seconds; `pool().measuring` is true
    // during the measured interval only. Prints progress to stderr every second.
    measurement measure(const char* label);

    // Stops the I/O threads (idempotent). Every scenario calls it before its own objects,
    // which the threads' handlers may reference, are destroyed.
    void stop() { pool_.stop(); }

  private:
    const bench_options& options_;
    server_target target_;
    source_addresses sources_;
    process_probe server_;
    process_probe redis_;
    syscall_counter server_syscalls_;
    worker_pool pool_;
    std::vector<std::unique_ptr<http_client>> http_clients_;
    std::vector<std::unique_ptr<socket_set>> socket_sets_;
};

// Stops the harness's threads when a scenario's scope ends, before the objects declared
// earlier in that scope are destroyed.
struct stop_at_exit {
    harness& h;
    ~stop_at_exit() { h.stop(); }
};

// The private rooms of pairs of accounts (2p and 2p+1), made with POST /room: their ids, or
// nullopt (after a message) when one could not be made.
std::optional<std::vector<std::string>> create_pair_rooms(harness& h,
                                                          const std::vector<account>& accounts,
                                                          std::size_t pairs);

class json_line;
// server_cpu_s, server_cpu_percent, server_rss_kb, redis_cpu_s, bench_cpu_s of `m`.
void add_process_fields(json_line& out, const measurement& m);

// `text` as a JSON string literal.
std::string json_quote(std::string_view text);

// One sample of the server's /metrics (a blocking GET on a connection of its own), or nullopt
// when the server does not expose it or does not answer within 5 s (a stalled server must not
// hang the tool at the end of a run).
std::optional<unsigned long long> read_server_metric(const server_target& target,
                                                     std::string_view name);

// n per second over `seconds` (0 when no time passed).
inline double per_second(std::uint64_t n, double seconds) {
    return seconds > 0 ? static_cast<double>(n) / seconds : 0;
}

}  // namespace redchat::bench
