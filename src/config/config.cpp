#include "config/config.hpp"

#include <CLI/CLI.hpp>

#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace redchat::config {

unsigned usable_cpus() {
    // The CPUs this process may run on (affinity, e.g. taskset or a cpuset cgroup)...
    unsigned n = std::max(1u, std::thread::hardware_concurrency());
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        n = std::max(1, CPU_COUNT(&set));
    // ...and no more than a CPU quota allows (cgroup v2 cpu.max: "<quota> <period>" or "max").
    if (std::ifstream in("/sys/fs/cgroup/cpu.max"); in) {
        std::string quota;
        long long period = 0;
        if (in >> quota >> period && quota != "max" && period > 0) {
            const long long q = std::atoll(quota.c_str());
            if (q > 0)
                n = std::min(n, static_cast<unsigned>(std::max(1LL, (q + period - 1) / period)));
        }
    }
    return n;
}

parse_outcome parse_command_line(int argc, const char* const* argv) {
    server_config cfg;
    CLI::App app{"redchat-server: a real-time chat server on Redis (Socket.IO, REST, web client)",
                 "redchat-server"};
    app.set_version_flag("--version", "redchat 0.1.0");
    app.get_formatter()->column_width(36);
    // A flag given twice takes its last value (a wrapper's defaults, then the caller's).
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

    std::string redis_url;
    std::string redis_cluster;
    std::string demo = "on";
    std::string tutorial_bus = "on";
    std::string cookie_secure = "off";
    long long session_ttl = cfg.session_ttl.count();
    long long session_max_age = cfg.session_max_age.count();
    long long redis_timeout_ms = cfg.redis_timeout.count();
    int wait_replicas = -1;  // -1: by the kind of Redis
    long long wait_ms = cfg.redis_wait.count();
    long long shutdown_s = cfg.shutdown_timeout.count();

    app.add_option("--port", cfg.port, "TCP port to listen on (0: any free port)")
        ->envname("PORT")
        ->capture_default_str();
    app.add_option("--bind", cfg.bind, "Address to listen on")
        ->envname("BIND")
        ->capture_default_str();
    app.add_option("--redis-url", redis_url,
                   "redis://[:password@]host:port[/db] or unix:///path.sock; unset: start a "
                   "private redis-server")
        ->envname("REDIS_URL");
    app.add_option("--redis-cluster", redis_cluster,
                   "Nodes of a Redis Cluster, host:port[,host:port...] (each may be a "
                   "redis://[:password@]host:port URL); instead of --redis-url")
        ->envname("REDIS_CLUSTER");
    app.add_option("--data-dir", cfg.data_dir, "Data folder of the private redis-server")
        ->envname("DATA_DIR")
        ->capture_default_str();
    app.add_option("--redis-server", cfg.redis_server_binary,
                   "redis-server binary used when --redis-url is unset")
        ->envname("REDIS_SERVER")
        ->capture_default_str();
    app.add_option("--web-root", cfg.web_root,
                   "Folder of the web client (default: web/dist of the source tree)")
        ->envname("WEB_ROOT");
    app.add_option("--threads", cfg.threads,
                   "I/O threads, at most 64 (0: one per CPU this process may use, up to 64)")
        ->envname("THREADS")
        ->check(CLI::Range(0u, static_cast<unsigned>(max_threads)))
        ->capture_default_str();
    app.add_option("--password-threads", cfg.password_threads, "bcrypt worker threads")
        ->envname("PASSWORD_THREADS")
        ->check(CLI::Range(1u, 64u))
        ->capture_default_str();
    app.add_option("--bcrypt-cost", cfg.bcrypt_cost, "bcrypt cost of new password hashes")
        ->envname("BCRYPT_COST")
        ->check(CLI::Range(4, 16))
        ->capture_default_str();
    app.add_option("--demo-data", demo, "Load demo users and messages into an empty Redis")
        ->envname("DEMO_DATA")
        ->check(CLI::IsMember({"on", "off"}))
        ->capture_default_str();
    auto* tutorial_bus_option =
        app.add_option(
               "--tutorial-bus", tutorial_bus,
               "Publish the tutorial's events on its MESSAGES channel, which every instance "
               "and tutorial server receives (off: route them by room; every instance on one "
               "Redis must agree)")
            ->envname("TUTORIAL_BUS")
            ->check(CLI::IsMember({"on", "off"}))
            ->capture_default_str();
    app.add_option("--log-level", cfg.log_level, "trace, debug, info, warn, error, critical, off")
        ->envname("LOG_LEVEL")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
        ->capture_default_str();
    app.add_option("--session-ttl", session_ttl,
                   "Seconds a login session lives without use (idle expiry)")
        ->envname("SESSION_TTL")
        ->check(CLI::Range(2LL, 365LL * 24 * 3600))
        ->capture_default_str();
    app.add_option("--session-max-age", session_max_age,
                   "Seconds a login session lives at most, used or not (absolute expiry)")
        ->envname("SESSION_MAX_AGE")
        ->check(CLI::Range(2LL, 365LL * 24 * 3600))
        ->capture_default_str();
    app.add_option("--cookie-secure", cookie_secure, "Mark the session cookie Secure (behind TLS)")
        ->envname("COOKIE_SECURE")
        ->check(CLI::IsMember({"on", "off"}))
        ->capture_default_str();
    app.add_option("--redis-timeout-ms", redis_timeout_ms, "Deadline of every Redis command")
        ->envname("REDIS_TIMEOUT_MS")
        ->check(CLI::Range(10LL, 60'000LL))
        ->capture_default_str();
    app.add_option("--redis-wait-replicas", wait_replicas,
                   "Acknowledge a message once this many replicas have it (WAIT); default 1 on a "
                   "Redis Cluster, 0 on one Redis")
        ->envname("REDIS_WAIT_REPLICAS")
        ->check(CLI::Range(0, 16));
    app.add_option("--redis-wait-ms", wait_ms,
                   "How long a message waits for its replicas before its sender is told it may "
                   "not be stored (less than --redis-timeout-ms)")
        ->envname("REDIS_WAIT_MS")
        ->check(CLI::Range(1LL, 60'000LL))
        ->capture_default_str();
    app.add_option("--shutdown-timeout", shutdown_s, "Seconds allowed for a clean shutdown")
        ->envname("SHUTDOWN_TIMEOUT")
        ->check(CLI::Range(1LL, 600LL))
        ->capture_default_str();
    long long ping_interval_ms = cfg.ping_interval.count();
    long long ping_timeout_ms = cfg.ping_timeout.count();
    app.add_option("--ping-interval-ms", ping_interval_ms, "Engine.IO pingInterval")
        ->envname("PING_INTERVAL_MS")
        ->check(CLI::Range(100LL, 600'000LL))
        ->capture_default_str();
    app.add_option("--ping-timeout-ms", ping_timeout_ms, "Engine.IO pingTimeout")
        ->envname("PING_TIMEOUT_MS")
        ->check(CLI::Range(100LL, 600'000LL))
        ->capture_default_str();
    long long connect_timeout_ms = cfg.connect_timeout.count();
    app.add_option("--connect-timeout-ms", connect_timeout_ms,
                   "A session that has connected no Socket.IO namespace after this long is closed "
                   "(checked at each ping)")
        ->envname("CONNECT_TIMEOUT_MS")
        ->check(CLI::Range(100LL, 3'600'000LL))
        ->capture_default_str();
    long long presence_ttl = cfg.presence_ttl.count();
    app.add_option("--presence-ttl", presence_ttl,
                   "Seconds after which a silent instance's users are shown offline")
        ->envname("PRESENCE_TTL")
        ->check(CLI::Range(3LL, 3600LL))
        ->capture_default_str();
    app.add_option("--allowed-origins", cfg.allowed_origins,
                   "Extra allowed browser origins, e.g. https://chat.example.com (\"*\": any)")
        ->envname("ALLOWED_ORIGINS")
        ->delimiter(',')
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    std::string localhost_origins = "auto";
    app.add_option("--allow-localhost-origins", localhost_origins,
                   "Accept http(s)://localhost origins on any port (auto: only when bound to "
                   "loopback)")
        ->envname("ALLOW_LOCALHOST_ORIGINS")
        ->check(CLI::IsMember({"auto", "on", "off"}))
        ->capture_default_str();
    std::vector<std::string> trusted_proxies;
    app.add_option("--trusted-proxies", trusted_proxies,
                   "CIDRs of proxies whose X-Forwarded-For/Forwarded name the client, e.g. "
                   "127.0.0.1/32,10.0.0.0/8")
        ->envname("TRUSTED_PROXIES")
        ->delimiter(',')
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    app.add_option("--max-connections-per-address", cfg.limit.max_connections_per_address,
                   "Open HTTP/WebSocket connections allowed from one client address")
        ->envname("MAX_CONNECTIONS_PER_ADDRESS")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}))
        ->capture_default_str();
    app.add_option("--max-queued-bytes", cfg.limit.max_queued_bytes,
                   "Output queued for one connection before it is dropped as too slow")
        ->envname("MAX_QUEUED_BYTES")
        ->check(CLI::Range(std::size_t{4096}, std::size_t{1} << 30))
        ->capture_default_str();
    app.add_option("--max-queued-messages", cfg.limit.max_queued_messages,
                   "Packets queued for one connection before it is dropped as too slow")
        ->envname("MAX_QUEUED_MESSAGES")
        ->check(CLI::Range(std::size_t{16}, std::size_t{1} << 24))
        ->capture_default_str();
    app.add_option("--max-sockets-per-user", cfg.limit.max_sockets_per_user,
                   "Socket.IO connections allowed per user")
        ->envname("MAX_SOCKETS_PER_USER")
        ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}))
        ->capture_default_str();
    app.add_option("--messages-per-second", cfg.limit.messages_per_second,
                   "Sustained message rate per connection and per user")
        ->envname("MESSAGES_PER_SECOND")
        ->check(CLI::Range(0.1, 100'000.0))
        ->capture_default_str();
    app.add_option("--message-burst", cfg.limit.message_burst,
                   "Message burst per connection and per user")
        ->envname("MESSAGE_BURST")
        ->check(CLI::Range(1.0, 1'000'000.0))
        ->capture_default_str();
    long long typing_interval_ms = cfg.limit.typing_interval.count();
    app.add_option("--typing-interval-ms", typing_interval_ms,
                   "Typing signals of one connection closer together than this are dropped")
        ->envname("TYPING_INTERVAL_MS")
        ->check(CLI::Range(0LL, 600'000LL))
        ->capture_default_str();
    app.add_option("--reads-per-second", cfg.limit.reads_per_second,
                   "Sustained rate of read-position updates per connection")
        ->envname("READS_PER_SECOND")
        ->check(CLI::Range(0.1, 100'000.0))
        ->capture_default_str();
    app.add_option("--read-burst", cfg.limit.read_burst,
                   "Read-position update burst per connection")
        ->envname("READ_BURST")
        ->check(CLI::Range(1.0, 1'000'000.0))
        ->capture_default_str();
    app.add_option("--max-sync-messages", cfg.limit.max_sync_messages,
                   "Messages per room.sync answer at most (the client asks again for more)")
        ->envname("MAX_SYNC_MESSAGES")
        ->check(CLI::Range(std::size_t{1}, std::size_t{10'000}))
        ->capture_default_str();
    app.add_option("--max-room-members", cfg.limit.max_room_members,
                   "Members of a group room at most, its owner included")
        ->envname("MAX_ROOM_MEMBERS")
        ->check(CLI::Range(std::size_t{2}, std::size_t{100'000}))
        ->capture_default_str();
    app.add_option("--login-failures-per-user", cfg.limit.login_failures_per_user,
                   "Failed logins per username and client address in 15 minutes before "
                   "lockouts (2 s, doubling)")
        ->envname("LOGIN_FAILURES_PER_USER")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}))
        ->capture_default_str();
    app.add_option("--login-failures-per-account", cfg.limit.login_failures_per_account,
                   "Failed logins per username from all addresses in 15 minutes before lockouts")
        ->envname("LOGIN_FAILURES_PER_ACCOUNT")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}))
        ->capture_default_str();
    app.add_option("--registrations-per-minute", cfg.limit.registrations_per_minute,
                   "New accounts per client address and minute (each costs a bcrypt hash)")
        ->envname("REGISTRATIONS_PER_MINUTE")
        ->check(CLI::Range(0.1, 1'000'000.0))
        ->capture_default_str();
    app.add_option("--max-pending-hashes", cfg.limit.max_pending_hashes,
                   "bcrypt jobs waiting at most; logins and sign-ups beyond get 503")
        ->envname("MAX_PENDING_HASHES")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}))
        ->capture_default_str();
    app.add_option("--max-message-chars", cfg.limit.max_message_chars, "Longest chat message")
        ->envname("MAX_MESSAGE_CHARS")
        ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}))
        ->capture_default_str();
    app.add_option("--max-body-bytes", cfg.limit.max_body_bytes, "Largest HTTP request body")
        ->envname("MAX_BODY_BYTES")
        ->check(CLI::Range(std::size_t{1024}, std::size_t{16} << 20))
        ->capture_default_str();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        std::ostringstream out, err;
        const int code = app.exit(e, out, err);
        return {std::nullopt, code, out.str() + err.str()};
    }

    if (!redis_url.empty()) {
        auto ep = parse_redis_url(redis_url);
        if (!ep)
            return {std::nullopt, 2, "--redis-url: " + ep.problem + "\n"};
        cfg.redis = *ep;
        cfg.redis_url_text = ep->redacted();
    }
    if (!redis_cluster.empty()) {
        if (cfg.redis)
            return {std::nullopt, 2, "--redis-cluster and --redis-url exclude each other\n"};
        std::string_view rest = redis_cluster;
        while (!rest.empty()) {
            const auto comma = rest.find(',');
            const auto item = rest.substr(0, comma);
            rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
            std::string url(item);
            if (!url.starts_with("redis://"))
                url = "redis://" + url;
            auto ep = parse_redis_url(url);
            if (!ep || !ep->unix_socket.empty() || ep->database != 0) {
                return {
                    std::nullopt, 2,
                    "--redis-cluster: \"" + std::string(item) + "\": " +
                        (ep ? std::string("a cluster node is host:port, database 0") : ep.problem) +
                        "\n"};
            }
            cfg.redis_cluster.push_back(*ep);
        }
        if (cfg.redis_cluster.empty())
            return {std::nullopt, 2, "--redis-cluster: no node given\n"};
        cfg.redis_url_text = "cluster " + cfg.redis_cluster.front().redacted();
        if (tutorial_bus_option->count() > 0 && tutorial_bus == "on") {
            return {std::nullopt, 2,
                    "--tutorial-bus on: no tutorial server can use a Redis Cluster\n"};
        }
    }
    cfg.demo_data = demo == "on";
    cfg.tutorial_bus = tutorial_bus == "on" && cfg.redis_cluster.empty();
    cfg.cookie_secure = cookie_secure == "on";
    cfg.session_ttl = std::chrono::seconds(session_ttl);
    cfg.session_max_age = std::chrono::seconds(session_max_age);
    cfg.redis_timeout = std::chrono::milliseconds(redis_timeout_ms);
    cfg.redis_wait_replicas = wait_replicas >= 0          ? wait_replicas
                              : cfg.redis_cluster.empty() ? 0
                                                          : 1;
    cfg.redis_wait = std::chrono::milliseconds(wait_ms);
    if (cfg.redis_wait_replicas > 0 && cfg.redis_wait >= cfg.redis_timeout) {
        return {std::nullopt, 2, "--redis-wait-ms must be less than --redis-timeout-ms\n"};
    }
    cfg.shutdown_timeout = std::chrono::seconds(shutdown_s);
    cfg.ping_interval = std::chrono::milliseconds(ping_interval_ms);
    cfg.presence_ttl = std::chrono::seconds(presence_ttl);
    cfg.ping_timeout = std::chrono::milliseconds(ping_timeout_ms);
    cfg.connect_timeout = std::chrono::milliseconds(connect_timeout_ms);
    cfg.limit.typing_interval = std::chrono::milliseconds(typing_interval_ms);
    for (const auto& text : trusted_proxies) {
        auto network = parse_cidr(text);
        if (!network)
            return {std::nullopt, 2, "--trusted-proxies: not an address or CIDR: " + text + "\n"};
        cfg.trusted_proxies.push_back(*network);
    }
    if (localhost_origins == "auto") {
        const auto bind = parse_ip(cfg.bind);
        cfg.allow_localhost_origins =
            cfg.bind == "localhost" ||
            (bind && (bind->v6 ? parse_cidr("::1/128")->contains(*bind)
                               : parse_cidr("127.0.0.0/8")->contains(*bind)));
    } else {
        cfg.allow_localhost_origins = localhost_origins == "on";
    }
    if (cfg.threads == 0)
        cfg.threads = std::min(usable_cpus(), max_threads);
    return {cfg, 0, {}};
}

}  // namespace redchat::config
