#include "redis/cluster_client.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace redchat::redis {

namespace asio = boost::asio;
using asio::awaitable;

namespace {

std::string address_of(const cluster::endpoint& e) {
    return e.host + ":" + std::to_string(e.port);
}

// Redirections one command may follow: a slot moves at most a couple of times while a command
// is on its way; more means the cluster is reconfiguring, and the caller hears it is unavailable.
constexpr int max_hops = 5;
// Background refreshes are at least this far apart: a burst of failing commands reads the table
// once.
constexpr std::chrono::milliseconds refresh_spacing{100};

}  // namespace

health::health(asio::any_io_executor executor, metrics::shard& stats, bool counted)
    : timer_(std::move(executor)), stats_(stats), counted_(counted) {}

health::~health() {
    *alive_ = false;
    stop();
}

void health::start(std::function<bool()> ready) {
    ready_ = std::move(ready);
    set_down(true);
    check();
}

void health::stop() {
    timer_.cancel();
    set_down(false);  // a stopped link is not down, as a stopped connection is not
    ready_ = nullptr;
}

void health::set_down(bool down) {
    if (counted_ && down != down_)
        stats_.redis_connections_down.fetch_add(down ? 1 : -1, std::memory_order_relaxed);
    down_ = down;
}

void health::check() {
    if (!ready_)
        return;
    set_down(!ready_());
    timer_.expires_after(std::chrono::milliseconds(100));
    timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
        if (!ec && *alive)
            check();
    });
}

cluster_client::cluster_client(asio::any_io_executor executor, options opts, metrics::shard& stats)
    : executor_(std::move(executor)),
      opts_(std::move(opts)),
      stats_(stats),
      refresh_timer_(executor_),
      followup_timer_(executor_),
      health_(executor_, stats_, opts_.counted) {}

cluster_client::~cluster_client() {
    *alive_ = false;
    stop();
}

void cluster_client::start() {
    stopped_ = false;
    health_.start([this] { return ready(); });
    for (const auto& seed : opts_.seeds)
        (void)node(seed);
    request_refresh();
    schedule_periodic_refresh();
}

void cluster_client::stop() {
    stopped_ = true;
    health_.stop();
    refresh_timer_.cancel();
    followup_timer_.cancel();
    followup_pending_ = false;
    for (auto* w : refresh_waiters_)
        w->cancel();
    for (auto& [address, c] : nodes_)
        c->stop();
}

bool cluster_client::ready() const {
    if (stopped_ || !table_ || !table_->covers_all_slots())
        return false;
    for (const auto& m : table_->masters()) {
        auto it = nodes_.find(address_of(m));
        if (it == nodes_.end() || !it->second->ready())
            return false;
    }
    return true;
}

std::optional<cluster::endpoint> cluster_client::master_of(std::uint16_t slot) const {
    if (!table_)
        return std::nullopt;
    const auto* m = table_->master_of(slot);
    if (m == nullptr)
        return std::nullopt;
    return *m;
}

client& cluster_client::node(const cluster::endpoint& at) {
    const auto address = address_of(at);
    auto it = nodes_.find(address);
    if (it != nodes_.end())
        return *it->second;
    client::options o;
    o.endpoint.host = at.host;
    o.endpoint.port = at.port;
    o.endpoint.username = opts_.username;
    o.endpoint.password = opts_.password;
    o.timeout = opts_.timeout;
    o.name = opts_.name + "@" + address;
    o.reporter = opts_.reporter;
    o.counted = false;  // health_ counts for the cluster
    auto c = std::make_unique<client>(executor_, std::move(o), stats_);
    if (!stopped_)
        c->start();
    return *nodes_.emplace(address, std::move(c)).first->second;
}

client* cluster_client::route(const std::optional<std::string_view>& key) {
    if (!table_)
        return nullptr;
    if (key) {
        const auto* m = table_->master_of(cluster::key_slot(*key));
        return m == nullptr ? nullptr : &node(*m);
    }
    // No key: any master, preferably one that is up.
    client* any = nullptr;
    for (const auto& m : table_->masters()) {
        auto& c = node(m);
        if (c.ready())
            return &c;
        if (any == nullptr)
            any = &c;
    }
    return any;
}

void cluster_client::schedule_periodic_refresh() {
    if (stopped_)
        return;
    refresh_timer_.expires_after(opts_.refresh_interval);
    refresh_timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
        if (ec || !*alive || stopped_)
            return;
        request_refresh();
        schedule_periodic_refresh();
    });
}

void cluster_client::request_refresh() {
    if (stopped_)
        return;
    const auto since = std::chrono::steady_clock::now() - last_refresh_;
    if (!refreshing_ && since >= refresh_spacing) {
        asio::co_spawn(executor_, refresh(), asio::detached);
        return;
    }
    // One under way or just done may have read the table before the change that asks for
    // this one: another follows shortly (one, however many ask meanwhile).
    if (followup_pending_)
        return;
    followup_pending_ = true;
    followup_timer_.expires_after(refresh_spacing);
    followup_timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
        if (ec || !*alive)
            return;
        followup_pending_ = false;
        request_refresh();
    });
}

awaitable<void> cluster_client::refresh() {
    auto alive = alive_;
    if (refreshing_) {
        // One reading at a time: wait for the one under way.
        asio::steady_timer wait(executor_, std::chrono::steady_clock::time_point::max());
        refresh_waiters_.push_back(&wait);
        co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
        if (*alive)
            std::erase(refresh_waiters_, &wait);
        co_return;
    }
    refreshing_ = true;
    last_refresh_ = std::chrono::steady_clock::now();
    // Ask the masters it knows first (they know the newest table), then every other node.
    std::vector<cluster::endpoint> candidates;
    if (table_)
        candidates = table_->masters();
    for (const auto& seed : opts_.seeds)
        candidates.push_back(seed);
    for (const auto& [address, c] : nodes_) {
        const auto& ep = c->settings().endpoint;
        candidates.push_back({ep.host, ep.port});
    }
    // Those up first; when none of them answers (at start, every connection is still coming
    // up), each again, given the call deadline to come up.
    std::vector<std::string> asked;
    for (std::size_t i = 0; i < 2 * candidates.size(); ++i) {
        const bool patient = i >= candidates.size();
        const auto& at = candidates[i % candidates.size()];
        const auto address = address_of(at);
        if (i == candidates.size())
            asked.clear();
        if (std::find(asked.begin(), asked.end(), address) != asked.end())
            continue;
        asked.push_back(address);
        auto& c = node(at);
        if (patient) {
            co_await until_ready(c);
            if (!*alive)
                co_return;
            if (stopped_)
                break;
        }
        if (!c.ready())
            continue;
        std::vector<command> cmds(1, command{"CLUSTER", "SLOTS"});
        auto r = co_await c.exec_raw(std::move(cmds));
        if (!*alive)
            co_return;
        if (!r || r->front().is_error())
            continue;
        auto table = cluster::slot_table::from_cluster_slots(r->front());
        if (!table || !table->covers_all_slots())
            continue;  // a node that has not heard of every slot yet: ask another
        table->fill_empty_hosts(at.host);
        table_ = std::move(*table);
        ++counters_.refreshes;
        break;
    }
    if (table_) {
        for (const auto& m : table_->masters())
            (void)node(m);
    }
    refreshing_ = false;
    for (auto* w : refresh_waiters_)
        w->cancel();
    if (table_ && on_table_read_)
        on_table_read_();
}

awaitable<void> cluster_client::until_ready(client& c) {
    if (c.ready())
        co_return;
    // A new node's connection (after a failover, or a first use) comes up within a few ms.
    const auto deadline = std::chrono::steady_clock::now() + opts_.timeout;
    asio::steady_timer timer(executor_);
    while (!c.ready() && !stopped_ && std::chrono::steady_clock::now() < deadline) {
        timer.expires_after(std::chrono::milliseconds(10));
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

boost::system::error_code cluster_client::error_of(const reply& r) {
    if (r.str.starts_with("NOSCRIPT"))
        return errc::redis_noscript;
    if (r.str.starts_with("CLUSTERDOWN")) {
        request_refresh();
        return errc::redis_unavailable;
    }
    stats_.redis_errors.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("event=redis_error_reply error=\"{}\"", std::string_view(r.str).substr(0, 200));
    return errc::redis_error;
}

awaitable<result<reply>> cluster_client::run_one(command cmd, int wait_replicas,
                                                 std::chrono::milliseconds wait_timeout) {
    auto alive = alive_;
    const auto key = cluster::routing_key(cmd);
    std::optional<cluster::endpoint> to;  // where a redirection sent it
    bool asking = false;
    bool retried = false;
    for (int hop = 0; hop < max_hops; ++hop) {
        if (stopped_)
            co_return errc::shutting_down;
        if (!to && !table_) {
            co_await refresh();
            if (!*alive)
                co_return errc::shutting_down;
        }
        client* c = to ? &node(*to) : route(key);
        if (c == nullptr)
            co_return errc::redis_unavailable;  // no table, or a slot without a master
        co_await until_ready(*c);
        if (!*alive)
            co_return errc::shutting_down;
        std::vector<command> cmds;
        if (asking)
            cmds.push_back(command{"ASKING"});
        cmds.push_back(cmd);
        // WAIT for no more replicas than could take over now: after a failover the new master
        // has none until one comes back, and a message waits for nobody rather than failing.
        int wait_for = wait_replicas;
        if (wait_for > 0 && key && table_ && !to) {
            wait_for = static_cast<int>(std::min<std::size_t>(
                static_cast<std::size_t>(wait_for), table_->replicas_of(cluster::key_slot(*key))));
        }
        if (wait_for > 0) {
            cmds.push_back(
                command{"WAIT", std::to_string(wait_for), std::to_string(wait_timeout.count())});
        }
        auto r = co_await c->exec_raw(std::move(cmds));
        if (!*alive)
            co_return errc::shutting_down;
        if (!r) {
            if (r.error() == errc::redis_unavailable && !retried) {
                // Never sent: the node is down. Read the table (a replica may have taken
                // over) and try once more.
                retried = true;
                ++counters_.retries;
                co_await refresh();
                if (!*alive)
                    co_return errc::shutting_down;
                to.reset();
                asking = false;
                continue;
            }
            if (r.error() != errc::shutting_down)
                request_refresh();
            co_return r.error();
        }
        if (asking && r->front().is_error())
            co_return error_of(r->front());  // ASKING refused
        auto& answer = (*r)[asking ? 1 : 0];
        if (!answer.is_error()) {
            if (wait_for > 0 && r->back().as_integer().value_or(0) < wait_for)
                co_return errc::redis_unreplicated;
            co_return std::move(answer);
        }
        if (auto moved = cluster::parse_redirect(answer.str)) {
            ++counters_.redirects;
            cluster::endpoint next = moved->to;
            if (next.host.empty())
                next.host = c->settings().endpoint.host;
            if (!moved->ask && table_) {
                table_->move(moved->slot, next);
                request_refresh();  // a slot seldom moves alone
            }
            to = next;
            asking = moved->ask;
            continue;
        }
        if (answer.str.starts_with("TRYAGAIN")) {
            // A multi-key command while its slot migrates: the keys come together again soon.
            asio::steady_timer pause(executor_, std::chrono::milliseconds(20));
            co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
            if (!*alive)
                co_return errc::shutting_down;
            continue;
        }
        co_return error_of(answer);
    }
    co_return errc::redis_unavailable;
}

awaitable<result<reply>> cluster_client::exec(command cmd) {
    co_return co_await run_one(std::move(cmd));
}

awaitable<result<reply>> cluster_client::exec_replicated(command cmd, int replicas,
                                                         std::chrono::milliseconds timeout) {
    co_return co_await run_one(std::move(cmd), replicas, timeout);
}

awaitable<result<std::vector<reply>>> cluster_client::exec_all(std::vector<command> cmds) {
    auto alive = alive_;
    if (!table_) {
        co_await refresh();
        if (!*alive)
            co_return errc::shutting_down;
    }
    // The commands for each node, pipelined together; nodes one after the other.
    std::vector<std::pair<client*, std::vector<std::size_t>>> groups;
    for (std::size_t i = 0; i < cmds.size(); ++i) {
        client* c = route(cluster::routing_key(cmds[i]));
        auto g = std::find_if(groups.begin(), groups.end(),
                              [c](const auto& entry) { return entry.first == c; });
        if (g == groups.end()) {
            groups.emplace_back(c, std::vector<std::size_t>{});
            g = std::prev(groups.end());
        }
        g->second.push_back(i);
    }
    std::vector<reply> out(cmds.size());
    for (auto& [c, indices] : groups) {
        std::vector<reply> replies;
        if (c != nullptr) {
            co_await until_ready(*c);
            if (!*alive)
                co_return errc::shutting_down;
            std::vector<command> batch;
            batch.reserve(indices.size());
            for (auto i : indices)
                batch.push_back(cmds[i]);
            auto r = co_await c->exec_raw(std::move(batch));
            if (!*alive)
                co_return errc::shutting_down;
            if (r) {
                replies = std::move(*r);
            } else if (r.error() != errc::redis_unavailable) {
                request_refresh();
                co_return r.error();
            }
        }
        for (std::size_t k = 0; k < indices.size(); ++k) {
            const auto i = indices[k];
            const bool redirected = replies.empty() || (replies[k].is_error() &&
                                                        cluster::parse_redirect(replies[k].str));
            if (!redirected) {
                if (replies[k].is_error())
                    co_return error_of(replies[k]);
                out[i] = std::move(replies[k]);
                continue;
            }
            // Moved, or the node was down: this command alone, the way exec sends it.
            command again = cmds[i];
            auto one = co_await run_one(std::move(again));
            if (!*alive)
                co_return errc::shutting_down;
            if (!one)
                co_return one.error();
            out[i] = std::move(*one);
        }
    }
    co_return out;
}

}  // namespace redchat::redis
