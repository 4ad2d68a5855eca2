#include "app/server.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "app/allocator.hpp"
#include "app/bus_router.hpp"
#include "app/embedded_redis.hpp"
#include "app/inbox.hpp"
#include "app/password_pool.hpp"
#include "chat/bus_event.hpp"
#include "chat/bus_lag.hpp"
#include "chat/demo_data.hpp"
#include "chat/hub.hpp"
#include "chat/realtime.hpp"
#include "chat/rest_api.hpp"
#include "chat/routing.hpp"
#include "core/compact_string.hpp"
#include "core/keyed_buckets.hpp"
#include "core/random_id.hpp"
#include "redis/chat_store.hpp"
#include "redis/client.hpp"
#include "redis/cluster_bus.hpp"
#include "redis/cluster_client.hpp"
#include "socketio/socketio_codec.hpp"
#include "transport/chat_socket.hpp"
#include "transport/engineio_server.hpp"
#include "transport/http_session.hpp"
#include "transport/listener.hpp"
#include "transport/session_registry.hpp"
#include "transport/static_files.hpp"

namespace redchat::app {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// An io_context whose pending handlers (suspended coroutine frames among them) can be
// destroyed before it is: at the end, every thread's context is shut down while every object
// those frames use, and every other context their completions refer to, is still alive.
struct io_context_of_worker : asio::io_context {
    using asio::io_context::io_context;
    void destroy_pending() { shutdown(); }
};

// A thread's hub tells the bus router (on thread 0) what it needs, posted there in order.
struct thread_routes final : chat::bus_routes {
    asio::io_context* home = nullptr;
    asio::io_context* own = nullptr;
    bus_router* router = nullptr;
    std::size_t index = 0;

    void want(std::string_view channel) override {
        asio::post(*home, [r = router, i = index, c = compact_string(channel)] { r->want(i, c); });
    }
    void drop(std::string_view channel) override {
        asio::post(*home, [r = router, i = index, c = compact_string(channel)] { r->drop(i, c); });
    }
    asio::awaitable<void> ready(std::vector<std::string> channels) override {
        co_await asio::co_spawn(*home, router->ready(std::move(channels)), asio::use_awaitable);
    }
    void when_ready(std::vector<std::string> channels, std::function<void()> done) override {
        asio::co_spawn(
            *home, router->ready(std::move(channels)),
            [o = own, done = std::move(done)](const std::exception_ptr&) { asio::post(*o, done); });
    }
};

// A bus event as every thread gets it: parsed, and encoded once (the Socket.IO packet inside its
// WebSocket frame).
struct encoded_event {
    chat::bus_event event;
    packet_ptr packet;
};

// One bus event for one thread, and the channel it came on (whom it is for: chat::routing's
// scope of the channel).
struct bus_delivery {
    std::shared_ptr<const encoded_event> event;
    compact_string channel;
};

// Everything that belongs to one I/O thread. Only that thread touches it once running.
struct worker {
    std::size_t index = 0;
    io_context_of_worker ioc{1};
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
    std::unique_ptr<redis::command_link> redis;  // one Redis, or a cluster
    std::unique_ptr<chat::store> store;
    std::unique_ptr<chat::rest_api> api;
    thread_routes routes;  // outlives the hub, which points to it
    chat::hub hub;
    std::unique_ptr<chat::realtime> realtime;
    std::unique_ptr<transport::chat_application> chat_sockets;
    std::unique_ptr<transport::engineio_server> eio;
    transport::session_registry sessions;
    std::unique_ptr<transport::http_services> services;
    std::optional<inbox<bus_delivery>> bus_events;  // from the subscriber's thread
};

double now_seconds() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

double monotonic_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// The subscriber's lag, on thread 0 (chat/bus_lag.hpp): every change goes to every thread.
// Under a sustained overload the state flips many times a second: one warning per 10 s, with
// the number of times it became congested since the last one.
struct bus_lag {
    chat::bus_lag_gate gate;
    std::string own_id;  // our envelopes' serverId
    double last_warning = -1e9;
    std::uint64_t congestions = 0;  // since the last warning

    void announce(std::vector<std::unique_ptr<worker>>& workers, bool congested, double lag) {
        if (congested) {
            ++congestions;
            const double now = monotonic_seconds();
            if (now - last_warning >= 10) {
                spdlog::warn(
                    "event=bus_congested lag_ms={:.0f} times={} hint=\"new messages wait until "
                    "the subscriber catches up\"",
                    lag * 1000, congestions);
                last_warning = now;
                congestions = 0;
            }
        }
        for (auto& w : workers)
            asio::post(w->ioc, [&w = *w, congested] { w.realtime->set_bus_congested(congested); });
    }
};

// The subscriber's state on thread 0: the lag gate, and the last event, which the next message
// often repeats (a private room's event comes once on each of its two users' channels, one
// right after the other): then it is neither parsed nor encoded again.
struct bus_state {
    bus_lag lag;
    std::string last_payload;
    bool last_own = false;
    std::shared_ptr<const encoded_event> last;
};

void deliver(worker& w, const bus_delivery& d) {
    w.hub.deliver(d.event->event, d.event->packet, chat::routing::scope_of(d.channel.view()));
}

// One bus event, parsed and encoded once for the whole process, then handed to every thread
// that needs its channel (`threads`; null: all), which queues that same buffer to each receiver
// the channel addresses. Our event types come only on our channels.
void fan_out(std::vector<std::unique_ptr<worker>>& workers, bus_state& bus,
             std::string_view channel, std::string_view payload,
             const bus_router::thread_mask* threads) {
    const bool own = channel != chat::routing::tutorial_channel;
    if (!bus.last || own != bus.last_own || payload != bus.last_payload) {
        bus.last.reset();
        auto parsed = chat::parse_envelope(payload, own);
        if (!parsed)
            return;
        bus_lag& lag = bus.lag;
        if (parsed->type == chat::bus_event_type::message && parsed->server_id == lag.own_id) {
            const double behind = now_seconds() - parsed->date;
            if (auto change = lag.gate.observe(behind, monotonic_seconds()))
                lag.announce(workers, *change, behind);
        }
        auto packet = transport::make_text_frame(
            "4" + socketio::encode_event("/", parsed->name, parsed->data_json));
        bus.last = std::make_shared<const encoded_event>(
            encoded_event{std::move(*parsed), std::move(packet)});
        bus.last_payload.assign(payload);
        bus.last_own = own;
    }
    auto hand = [&](worker& w) {
        bus_delivery d{bus.last, compact_string(channel)};
        if (w.ioc.get_executor().running_in_this_thread()) {
            // The subscriber's own thread: a post there is a queue push, without a system call.
            asio::post(w.ioc, [&w, d = std::move(d)] { deliver(w, d); });
            return;
        }
        w.bus_events->push(std::move(d));
    };
    if (threads == nullptr) {
        for (auto& w : workers)
            hand(*w);
        return;
    }
    for (auto left = *threads; left != 0; left &= left - 1)
        hand(*workers[static_cast<std::size_t>(std::countr_zero(left))]);
}

// A congested bus that has carried none of our messages for a while is clear again.
asio::awaitable<void> bus_lag_loop(worker& home, std::vector<std::unique_ptr<worker>>& workers,
                                   bus_lag& lag) {
    asio::steady_timer timer(home.ioc);
    while (!home.sessions.draining()) {
        if (auto change = lag.gate.tick(monotonic_seconds()))
            lag.announce(workers, *change, 0);
        timer.expires_after(250ms);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

asio::awaitable<std::unordered_map<std::string, int>> presence_of(worker& w) {
    co_return w.realtime->presence_snapshot();
}

// Every presence_ttl / 3: marks this instance alive, rewrites its whole presence from what its
// threads count (so that lost increments converge instead of drifting), and sweeps the presence
// of instances that died. Runs through any thread whose Redis link is up, so that an instance
// is not taken for dead while one of its links is down.
asio::awaitable<void> presence_round(worker& w, std::vector<std::unique_ptr<worker>>& workers,
                                     const config::server_config& cfg, std::string instance_id) {
    std::unordered_map<std::string, int> total;
    for (auto& other : workers) {
        auto part = co_await asio::co_spawn(other->ioc, presence_of(*other), asio::use_awaitable);
        for (auto& [user_id, n] : part)
            total[user_id] += n;
    }
    std::vector<std::pair<std::string, int>> counts(total.begin(), total.end());
    auto rewritten = co_await w.store->presence_rewrite(instance_id, instance_id, cfg.presence_ttl,
                                                        std::move(counts));
    if (!rewritten)
        spdlog::warn("event=presence_rewrite_failed error=\"{}\"", rewritten.error().message());
    auto swept = co_await w.store->presence_sweep(instance_id, instance_id, false);
    if (!swept)
        spdlog::warn("event=presence_sweep_failed error=\"{}\"", swept.error().message());
}

// A presence round on `w`'s own thread, if its Redis link is up there (each thread reads only
// its own client's state): true when it ran.
asio::awaitable<bool> presence_round_if_up(worker& w, std::vector<std::unique_ptr<worker>>& workers,
                                           const config::server_config& cfg,
                                           std::string instance_id) {
    if (!w.redis->ready())
        co_return false;
    co_await presence_round(w, workers, cfg, std::move(instance_id));
    co_return true;
}

asio::awaitable<void> presence_loop(worker& home, std::vector<std::unique_ptr<worker>>& workers,
                                    const config::server_config& cfg, std::string instance_id) {
    asio::steady_timer timer(home.ioc);
    while (!home.sessions.draining()) {
        bool ran = false;
        for (auto& w : workers) {
            ran = co_await asio::co_spawn(
                w->ioc, presence_round_if_up(*w, workers, cfg, instance_id), asio::use_awaitable);
            if (ran || home.sessions.draining())
                break;
        }
        timer.expires_after(ran ? cfg.presence_ttl / 3 : std::chrono::seconds(1));
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

// Memory freed by a wave of disconnects stays with the allocator (glibc keeps it in its arenas;
// jemalloc and mimalloc return it only after a while). Once the open connections have fallen
// well below their peak since the last trim, the free pages go back to the system: the
// process's memory follows its load down, not only up. Checked once a second (reading a gauge);
// trimming is rare.
asio::awaitable<void> memory_trim_loop(worker& home, const metrics::registry& stats) {
    constexpr std::int64_t min_drop = 256;  // connections closed since the peak
    asio::steady_timer timer(home.ioc);
    std::int64_t peak = 0;
    while (!home.sessions.draining()) {
        const std::int64_t open = stats.connections_open();
        peak = std::max(peak, open);
        if (peak - open >= min_drop && peak - open >= peak / 4) {
            const auto start = std::chrono::steady_clock::now();
            release_free_memory();
            spdlog::debug("event=memory_trimmed connections_peak={} connections_open={} ms={}",
                          peak, open,
                          std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - start)
                              .count());
            peak = open;
        }
        timer.expires_after(std::chrono::seconds(1));
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

fs::path default_web_root() {
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    // The binary lands in build/<preset>/; the client is built into web/dist of the tree.
    if (!ec) {
        for (const auto& candidate :
             {exe.parent_path() / "../../web/dist", exe.parent_path() / "web"}) {
            if (fs::is_regular_file(candidate / "index.html", ec))
                return fs::weakly_canonical(candidate, ec);
        }
    }
    return fs::path(REDCHAT_SOURCE_DIR) / "web/dist";
}

void log_exception(std::exception_ptr e) {
    if (!e)
        return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        spdlog::error("event=coroutine_failed error=\"{}\"", ex.what());
    }
}

// Waits until the thread's Redis link is up: false when the server shuts down first.
asio::awaitable<bool> redis_up(worker& w) {
    asio::steady_timer timer(w.ioc);
    while (!w.redis->ready()) {
        if (w.sessions.draining())
            co_return false;
        timer.expires_after(50ms);
        co_await timer.async_wait(asio::use_awaitable);
    }
    co_return true;
}

asio::awaitable<void> load_demo(worker& w, chat::password_hasher& hasher, startup_gate& gate) {
    struct open_at_end {
        startup_gate& gate;
        ~open_at_end() { gate.open(); }
    } opener{gate};
    if (!co_await redis_up(w))
        co_return;
    const double now =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    auto loaded = co_await chat::load_demo_data(*w.store, hasher, now);
    if (!loaded) {
        spdlog::error("event=demo_data_failed error=\"{}\"", loaded.error().message());
    } else if (*loaded) {
        spdlog::info("event=demo_data_loaded users=4");
    } else {
        spdlog::info("event=demo_data_skipped reason=\"total_users exists\"");
    }
}

// Puts the users that exist (also those a tutorial server registered) into the name index of
// the user search, once Redis is up. New users are indexed as they register.
asio::awaitable<void> index_usernames(worker& w) {
    if (!co_await redis_up(w))
        co_return;
    auto seen = co_await w.store->index_usernames();
    if (!seen)
        spdlog::warn("event=username_index_failed error=\"{}\"", seen.error().message());
    else
        spdlog::info("event=username_index_built users={}", *seen);
}

// Shutdown on one thread: idle connections close now, busy ones finish their response; then the
// Redis connection and the loop stop (or at the deadline, whatever is left).
asio::awaitable<void> drain(worker& w, std::chrono::steady_clock::time_point deadline,
                            std::string instance_id) {
    w.realtime->begin_shutdown();
    w.eio->close_all();
    asio::steady_timer timer(w.ioc);
    // Engine.IO sessions go first, each with a close packet: a polling client between two
    // polls still needs its keep-alive connection to fetch it.
    while (w.eio->size() > 0 && std::chrono::steady_clock::now() < deadline) {
        timer.expires_after(20ms);
        co_await timer.async_wait(asio::use_awaitable);
    }
    w.sessions.begin_drain();
    // Messages being stored finish first: nothing acknowledged, or about to be, is lost.
    while ((w.sessions.size() > 0 || w.eio->size() > 0 || w.realtime->in_flight() > 0) &&
           std::chrono::steady_clock::now() < deadline) {
        timer.expires_after(20ms);
        co_await timer.async_wait(asio::use_awaitable);
    }
    if (w.sessions.size() > 0 || w.eio->size() > 0) {
        // The deadline: whatever is left (a client that stopped reading mid-download, say) is
        // closed now, and its coroutine runs to its end here, while everything it uses is still
        // alive, rather than being destroyed with the io_context later.
        spdlog::warn("event=shutdown_deadline connections={} sockets={}", w.sessions.size(),
                     w.eio->size());
        w.sessions.close_all();
        w.eio->abort_all();
        const auto grace = std::chrono::steady_clock::now() + 500ms;
        while ((w.sessions.size() > 0 || w.eio->size() > 0) &&
               std::chrono::steady_clock::now() < grace) {
            timer.expires_after(5ms);
            co_await timer.async_wait(asio::use_awaitable);
        }
    }
    if (w.index == 0) {
        // This instance's connections leave presence in one step (other users see them go).
        (void)co_await w.store->presence_sweep(instance_id, instance_id, true);
    }
    w.bus_events->stop();
    w.redis->stop();
    w.work.reset();
    w.ioc.stop();
}

}  // namespace

int run_server(const config::server_config& cfg) {
    std::optional<embedded_redis> own_redis;
    config::redis_endpoint endpoint;
    const bool cluster = !cfg.redis_cluster.empty();
    redis::cluster_client::options cluster_options;
    if (cluster) {
        endpoint = cfg.redis_cluster.front();
        for (const auto& node : cfg.redis_cluster)
            cluster_options.seeds.push_back({node.host, node.port});
        cluster_options.username = endpoint.username;
        cluster_options.password = endpoint.password;
        cluster_options.timeout = cfg.redis_timeout;
        spdlog::info("event=redis_configured cluster={} nodes_given={}", endpoint.redacted(),
                     cfg.redis_cluster.size());
    } else if (cfg.redis) {
        endpoint = *cfg.redis;
        spdlog::info("event=redis_configured endpoint={}", endpoint.redacted());
    } else {
        own_redis.emplace(cfg.redis_server_binary, cfg.data_dir);
        endpoint = own_redis->start();
    }

    metrics::registry stats(cfg.threads);
    stats.add_process_counter("redchat_allocations_total",
                              "Memory allocation requests since the start (jemalloc builds only).",
                              allocation_requests);
    stats.add_process_gauge("redchat_heap_allocated_bytes",
                            "Bytes held by live allocations now (jemalloc builds only).",
                            heap_allocated_bytes);
    // Every Redis connection reports its troubles here: one log line per change of cause.
    redis::status_reporter redis_status(endpoint.redacted());
    const transport::origin_policy origins(
        cfg.allowed_origins,
        {.allow_localhost = cfg.allow_localhost_origins, .require_https = cfg.cookie_secure});
    transport::connection_limiter per_address(cfg.limit.max_connections_per_address);
    transport::connection_limiter per_user(cfg.limit.max_sockets_per_user);
    keyed_buckets message_rates(cfg.limit.messages_per_second, cfg.limit.message_burst);
    keyed_buckets room_rates(cfg.limit.rooms_per_second, cfg.limit.room_burst);
    keyed_buckets registration_rates(cfg.limit.registrations_per_minute / 60.0,
                                     cfg.limit.registrations_per_minute);
    // One id per process: the serverId of the bus envelopes and the presence instance.
    const std::string instance_id = "redchat-" + random_hex(6);
    password_pool passwords(cfg.password_threads, cfg.bcrypt_cost, cfg.limit.max_pending_hashes);
    // Held until the demo data is loaded (or found unneeded): /readyz is 503 and new accounts
    // wait, so that nobody takes a demo user's name first.
    startup_gate startup;
    if (cfg.demo_data)
        startup.hold();
    const transport::static_files files(cfg.web_root.empty() ? default_web_root()
                                                             : fs::path(cfg.web_root));
    if (!files.has_index()) {
        spdlog::warn("event=web_client_missing root={} hint=\"run make web\"",
                     files.root().string());
    }

    std::vector<std::unique_ptr<worker>> workers;
    std::vector<asio::io_context*> contexts;
    for (std::size_t i = 0; i < cfg.threads; ++i) {
        auto w = std::make_unique<worker>();
        w->index = i;
        w->work.emplace(w->ioc.get_executor());
        const std::string name = "redchat-io-" + std::to_string(i);
        if (cluster) {
            auto o = cluster_options;
            o.name = name;
            o.reporter = &redis_status;
            w->redis = std::make_unique<redis::cluster_client>(w->ioc.get_executor(), std::move(o),
                                                               stats.for_thread(i));
            w->store = redis::make_chat_store(*w->redis, false, redis::keys::redis_cluster,
                                              {cfg.redis_wait_replicas, cfg.redis_wait});
        } else {
            w->redis = std::make_unique<redis::client>(
                w->ioc.get_executor(),
                redis::client::options{endpoint, cfg.redis_timeout, name, &redis_status},
                stats.for_thread(i));
            w->store =
                redis::make_chat_store(*w->redis, cfg.tutorial_bus, redis::keys::single_redis,
                                       {cfg.redis_wait_replicas, cfg.redis_wait});
        }
        w->api = std::make_unique<chat::rest_api>(*w->store, passwords, cfg, room_rates,
                                                  registration_rates, instance_id);
        w->realtime = std::make_unique<chat::realtime>(*w->store, w->hub, cfg, instance_id,
                                                       instance_id, now_seconds, message_rates);
        w->chat_sockets = std::make_unique<transport::chat_application>(
            *w->realtime, cfg, stats.for_thread(i), per_user);
        w->eio = std::make_unique<transport::engineio_server>(w->ioc, i, *w->chat_sockets, cfg,
                                                              stats.for_thread(i), per_address);
        w->services.reset(new transport::http_services{*w->api, *w->store, stats.for_thread(i),
                                                       stats, files, cfg, w->sessions, *w->eio,
                                                       origins, per_address, startup});
        w->api->set_startup_gate(&startup);
        w->bus_events.emplace(w->ioc, [&w = *w](std::vector<bus_delivery>& batch) {
            for (const auto& d : batch)
                deliver(w, d);
        });
        asio::post(w->ioc, [&w = *w] { w.bus_events->start(); });
        contexts.push_back(&w->ioc);
        asio::post(w->ioc, [r = w->redis.get()] { r->start(); });
        workers.push_back(std::move(w));
    }

    std::vector<transport::engineio_server*> peers;
    for (auto& w : workers)
        peers.push_back(w->eio.get());
    for (auto& w : workers)
        w->eio->set_peers(peers);

    worker& home = *workers.front();
    // The process's one subscriber (on a cluster, one per master), on thread 0.
    // Like every I/O object here, destroyed before the io_context it lives on.
    std::unique_ptr<redis::bus_link> bus;
    if (cluster) {
        auto o = cluster_options;
        o.name = "redchat-bus";
        o.reporter = &redis_status;
        bus = std::make_unique<redis::cluster_bus>(home.ioc.get_executor(), std::move(o),
                                                   stats.for_thread(0));
    } else {
        bus = std::make_unique<redis::client>(
            home.ioc.get_executor(),
            redis::client::options{endpoint, cfg.redis_timeout, "redchat-bus", &redis_status},
            stats.for_thread(0));
    }
    bus_state bus_events{bus_lag{{}, instance_id}, {}, false, nullptr};
    bus_lag& lag = bus_events.lag;
    // Routing by room (chat/routing.hpp): each thread's hub says which channels it needs.
    std::optional<bus_router> router;
    router.emplace(*bus, cfg.redis_timeout, stats.for_thread(0),
                   [&workers, &bus_events](std::string_view channel, std::string_view payload,
                                           const bus_router::thread_mask* threads) {
                       fan_out(workers, bus_events, channel, payload, threads);
                   });
    for (auto& w : workers) {
        w->routes.home = &home.ioc;
        w->routes.own = &w->ioc;
        w->routes.router = &*router;
        w->routes.index = w->index;
        // On a cluster a private room's events come on the room's channel (redis-schema.md).
        w->hub.route_through(&w->routes, cfg.tutorial_bus, cluster);
    }
    asio::post(home.ioc, [b = bus.get()] { b->start(); });
    // Destroyed before the workers: their I/O objects live on the workers' io_contexts.
    std::optional<transport::listener> listener;
    std::optional<asio::signal_set> signals;
    listener.emplace(
        home.ioc, contexts, cfg.bind, cfg.port,
        [&workers](std::size_t index, asio::ip::tcp::socket socket) {
            worker& w = *workers[index];
            asio::co_spawn(w.ioc, transport::run_http_session(std::move(socket), *w.services),
                           log_exception);
        },
        stats.for_thread(0));
    listener->start();
    const std::string host = cfg.bind == "0.0.0.0" ? "localhost" : cfg.bind;
    spdlog::info("event=listening url=http://{}:{}/ threads={} web_root={} allocator={}", host,
                 listener->port(), cfg.threads, files.root().string(), allocator_name());

    if (cfg.demo_data)
        asio::co_spawn(home.ioc, load_demo(home, passwords, startup), log_exception);
    asio::co_spawn(home.ioc, index_usernames(home), log_exception);
    asio::co_spawn(home.ioc, presence_loop(home, workers, cfg, instance_id), log_exception);
    asio::co_spawn(home.ioc, memory_trim_loop(home, stats), log_exception);
    asio::co_spawn(home.ioc, bus_lag_loop(home, workers, lag), log_exception);

    bool stopping = false;
    signals.emplace(home.ioc, SIGINT, SIGTERM);
    signals->async_wait([&](const boost::system::error_code& ec, int signo) {
        if (ec || stopping)
            return;
        stopping = true;
        spdlog::info("event=shutdown_started signal={}", signo);
        listener->stop();
        const auto deadline = std::chrono::steady_clock::now() + cfg.shutdown_timeout;
        bus->stop();
        for (auto& w : workers) {
            asio::co_spawn(w->ioc, drain(*w, deadline, instance_id), log_exception);
        }
    });

    std::vector<std::thread> threads;
    for (std::size_t i = 1; i < workers.size(); ++i) {
        threads.emplace_back([&w = *workers[i]] { w.ioc.run(); });
    }
    home.ioc.run();
    for (auto& t : threads)
        t.join();
    // Frames still suspended (a presence round waiting on another thread, say) are destroyed
    // now, all contexts first, before any object they use or context they refer to goes.
    for (auto& w : workers)
        w->ioc.destroy_pending();
    signals.reset();
    listener.reset();
    // Sockets that go from now on tell no router: it and the contexts it posts to are going.
    for (auto& w : workers)
        w->hub.route_through(nullptr, cfg.tutorial_bus);
    router.reset();
    bus.reset();
    passwords.stop();
    workers.clear();
    if (own_redis)
        own_redis->stop();
    spdlog::info("event=shutdown_complete");
    return 0;
}

}  // namespace redchat::app
