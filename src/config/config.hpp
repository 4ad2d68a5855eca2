#pragma once
// Every setting, limit and timeout of the server in one value, filled from flags and environment.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "config/redis_url.hpp"
#include "core/cidr.hpp"

namespace redchat::config {

struct limits {
    std::size_t max_header_bytes = 8 * 1024;
    std::size_t max_body_bytes = 64 * 1024;
    std::chrono::seconds request_timeout{30};
    std::size_t max_page_size = 100;        // history page size cap
    std::size_t max_page_offset = 10'000;   // history offset bound (deeper: use `before`)
    std::size_t max_ids_per_request = 100;  // /users?ids[]=
    std::size_t max_username_chars = 32;
    std::size_t min_password_chars = 6;
    std::size_t max_message_chars = 4000;      // Unicode code points
    std::size_t max_packet_bytes = 64 * 1024;  // Engine.IO maxPayload, WebSocket frame limit
    std::size_t max_queued_bytes = 4 << 20;    // per connection; a slower client is dropped
    std::size_t max_queued_messages = 16384;   // per connection, likewise
    std::size_t max_connections_per_address = 512;
    std::size_t max_sockets_per_user = 20;
    double messages_per_second = 10;  // token buckets, per connection and per user
    double message_burst = 30;
    // A client's typing signals closer together than this are dropped (not refused).
    std::chrono::milliseconds typing_interval{2000};
    double reads_per_second = 5;  // read-position updates, per connection
    double read_burst = 20;
    std::size_t max_sync_messages = 200;  // messages per room.sync answer (then `more`)
    std::size_t max_room_members = 1000;  // a group's members, its owner included
    std::size_t max_group_name_chars = 64;
    std::size_t max_search_results = 50;  // users per search page
    std::size_t max_reaction_kinds = 20;  // different emoji on one message
    double rooms_per_second = 1;          // POST /room, per user
    double room_burst = 10;
    // Free failed logins per window, then lockouts that double: per username and client
    // address (strict), per username from anywhere (loose: nobody locks a user out cheaply),
    // and per client address.
    std::size_t login_failures_per_user = 5;
    std::size_t login_failures_per_account = 100;
    std::size_t login_failures_per_address = 20;
    double registrations_per_minute = 10;  // new accounts per client address
    std::size_t max_pending_hashes = 256;  // bcrypt jobs queued at most (503 beyond)
    std::chrono::seconds login_window{900};
};

struct server_config {
    std::string bind = "127.0.0.1";
    unsigned short port = 8080;
    std::optional<redis_endpoint> redis;  // nullopt: start our own redis-server
    // A Redis Cluster's nodes (some; the rest is discovered) instead: the cluster key layout,
    // sharded pub/sub, and no tutorial bus (issue 14).
    std::vector<redis_endpoint> redis_cluster;
    std::string redis_url_text;          // as given, for logs (redacted)
    std::string data_dir = "var/redis";  // the embedded Redis's files
    std::string redis_server_binary = "redis-server";
    std::string web_root;           // empty: the built web client next to the binary
    unsigned threads = 0;           // 0: one per core (up to max_threads)
    unsigned password_threads = 2;  // bcrypt worker pool
    int bcrypt_cost = 10;
    bool demo_data = true;
    // The tutorial's events (messages of General and private rooms, show.room, presence) go on
    // `MESSAGES`, for tutorial servers on the same Redis; off: routed by room (chat/routing.hpp).
    bool tutorial_bus = true;
    std::string log_level = "info";
    std::chrono::seconds session_ttl{7 * 24 * 3600};       // idle: ends after this long unused
    std::chrono::seconds session_max_age{30 * 24 * 3600};  // absolute: ends this long after login
    bool cookie_secure = false;
    std::chrono::milliseconds redis_timeout{2000};
    // A message is acknowledged once this many replicas have it (WAIT), within redis_wait; by
    // default 1 on a cluster, 0 (no wait) on one Redis.
    int redis_wait_replicas = 0;
    std::chrono::milliseconds redis_wait{500};
    std::chrono::seconds shutdown_timeout{10};
    std::chrono::seconds sse_keepalive{15};
    std::chrono::milliseconds ping_interval{25000};
    std::chrono::milliseconds ping_timeout{20000};
    // Socket.IO's connectTimeout: a session that has joined no namespace by then is closed.
    std::chrono::milliseconds connect_timeout{45000};
    std::chrono::seconds presence_ttl{30};  // an instance silent this long is considered dead
    // Origins allowed besides the server's own and localhost: browsers' Origin header on the
    // WebSocket handshake, polling and state-changing REST calls. "*" allows any.
    std::vector<std::string> allowed_origins;
    // localhost origins (any port) pass the Origin check: by default only when bound to a
    // loopback address (development), never on a public bind unless asked for.
    bool allow_localhost_origins = true;
    // Proxies whose X-Forwarded-For / Forwarded headers name the client (CIDRs, validated).
    std::vector<cidr> trusted_proxies;
    std::string github_url = "https://github.com/redis-developer/basic-redis-chat-app-demo-python";
    limits limit;
};

struct parse_outcome {
    std::optional<server_config> config;  // set when the server should run
    int exit_code = 0;                    // otherwise: exit with this code...
    std::string output;                   // ...after printing this (help, version or an error)
};

// Flags win over environment variables, which win over defaults.
parse_outcome parse_command_line(int argc, const char* const* argv);

// I/O threads of one process at most: the bus router keeps a channel's threads in a 64-bit mask.
// A bigger machine runs more instances (docs/deploy.md).
inline constexpr unsigned max_threads = 64;

// The CPUs this process may use: its affinity mask, capped by a cgroup CPU quota (--threads 0).
unsigned usable_cpus();

}  // namespace redchat::config
