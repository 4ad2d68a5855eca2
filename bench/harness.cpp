#include "harness.hpp"

#include "json_line.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <iostream>
#include <iterator>
#include <thread>

namespace redchat::bench {

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;

std::string json_quote(std::string_view text) {
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            static constexpr char hex[] = "0123456789abcdef";
            out += "\\u00";
            out += hex[static_cast<unsigned char>(c) >> 4];
            out += hex[static_cast<unsigned char>(c) & 15];
        } else {
            out += c;
        }
    }
    out += '"';
    return out;
}

void add_process_fields(json_line& out, const measurement& m) {
    out.field("server_cpu_s", m.server_cpu_s);
    std::optional<double> percent;
    if (m.server_cpu_s && m.seconds > 0)
        percent = *m.server_cpu_s / m.seconds * 100;
    out.field("server_cpu_percent", percent);
    out.field("server_rss_kb", m.server_rss_kb);
    out.field("server_context_switches", m.server_context_switches);
    out.field("server_syscalls", m.server_syscalls);
    out.field("server_allocations", m.server_allocations);
    out.field("redis_cpu_s", m.redis_cpu_s);
    out.field("bench_cpu_s", m.bench_cpu_s);
}

harness::harness(const bench_options& options, server_target target, std::size_t planned_sockets)
    : options_(options),
      target_(std::move(target)),
      server_(options.server_pid),
      redis_(options.redis_pid),
      server_syscalls_(options.server_pid),
      pool_(options.threads) {
    if (target_.endpoint.address().is_loopback()) {
        sources_ = source_addresses(options.sources != 0
                                        ? options.sources
                                        : source_addresses::derived_count(planned_sockets));
    } else if (options.sources != 0) {
        std::cerr << "redchat-bench: --sources ignored: the server is not on loopback\n";
    }
}

harness::~harness() {
    pool_.stop();
}

std::size_t harness::users_for(std::size_t sockets) const {
    if (options_.users != 0)
        return options_.users;
    return std::max<std::size_t>(
        1, (sockets + options_.sockets_per_user - 1) / options_.sockets_per_user);
}

bool harness::ensure_descriptors(std::size_t needed) const {
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
        getrlimit(RLIMIT_NOFILE, &limit);
    }
    // Room for stdio, epoll, the HTTP clients and the resolver.
    const std::size_t wanted = needed + 64;
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
        std::cerr << "redchat-bench: " << needed << " sockets need about " << wanted
                  << " file descriptors but the limit is " << limit.rlim_cur
                  << "; raise it (ulimit -n, as root or via /etc/security/limits.conf) or use "
                     "fewer connections\n";
        return false;
    }
    if (auto server_limit = server_.max_open_files()) {
        if (static_cast<std::size_t>(*server_limit) < wanted) {
            std::cerr << "redchat-bench: warning: the server's open-file limit is " << *server_limit
                      << ", below the " << needed
                      << " sockets asked for: expect refused connections\n";
        }
    }
    return true;
}

std::optional<std::vector<http_result>> harness::http_batch(
    std::size_t count, const std::function<http_call(std::size_t)>& make_call, const char* what) {
    struct batch_state {
        std::vector<http_result> results;
        std::atomic<std::size_t> next{0};
        std::atomic<std::size_t> done{0};
    };
    auto state = std::make_shared<batch_state>();
    state->results.resize(count);
    const std::size_t connections = std::min(count, options_.login_concurrency);

    // Each client takes the next call when its previous one is answered. Calls are made on
    // the worker threads; make_call must only read shared data.
    struct runner {
        http_client* client;
        std::shared_ptr<batch_state> state;
        const std::function<http_call(std::size_t)>* make_call;
        std::size_t count;
        void operator()() const {
            const std::size_t i = state->next.fetch_add(1);
            if (i >= count)
                return;
            const http_call call = (*make_call)(i);
            auto self = *this;
            client->request(call.method, call.path, call.body, call.cookie,
                            [self, i](const http_response& r) {
                                auto& out = self.state->results[i];
                                out.status = r.status;
                                out.body.assign(r.body);
                                out.session_id.assign(r.session_id);
                                out.error.assign(r.error);
                                self.state->done.fetch_add(1, std::memory_order_release);
                                self();
                            });
        }
    };
    std::vector<http_client*> clients;
    for (std::size_t c = 0; c < connections; ++c) {
        const unsigned w = static_cast<unsigned>(c % pool_.size());
        clients.push_back(&new_http_client(w, c));
        asio::post(pool_.context(w), runner{clients.back(), state, &make_call, count});
    }

    const auto start = clock_type::now();
    auto next_report = start + std::chrono::seconds(1);
    bool finished = true;
    while (state->done.load(std::memory_order_acquire) < count) {
        const auto now = clock_type::now();
        if (now - start > std::chrono::duration<double>(options_.setup_timeout_s)) {
            std::cerr << what << ": timed out after " << options_.setup_timeout_s << " s ("
                      << state->done.load() << "/" << count << " answered)\n";
            finished = false;
            break;
        }
        if (now >= next_report) {
            std::cerr << what << ": " << state->done.load() << "/" << count << "\n";
            next_report += std::chrono::seconds(1);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    // The connections are not needed any more; closing them frees the server's per-address
    // slots. On a timeout the results are still being written: do not hand them out.
    pool_.run_everywhere([&clients, this](unsigned w) {
        for (std::size_t c = w; c < clients.size(); c += pool_.size())
            clients[c]->close();
    });
    if (!finished)
        return std::nullopt;
    return std::move(state->results);
}

std::optional<user_pool> harness::log_in_users_for(std::size_t sockets) {
    if (!ensure_descriptors(sockets))
        return std::nullopt;
    auto accounts = login(users_for(sockets));
    if (!accounts)
        return std::nullopt;
    return user_pool{std::move(*accounts)};
}

std::optional<std::vector<account>> harness::login(std::size_t count, std::size_t first) {
    const auto start = clock_type::now();
    const auto& prefix = options_.user_prefix;
    const std::string password = json_quote(options_.password);
    auto results = http_batch(
        count,
        [&](std::size_t i) {
            return http_call{"POST", "/login",
                             "{\"username\":" + json_quote(prefix + std::to_string(first + i)) +
                                 ",\"password\":" + password + "}",
                             ""};
        },
        "login");
    if (!results)
        return std::nullopt;
    std::vector<account> accounts;
    accounts.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        const auto& r = (*results)[i];
        const std::string name = prefix + std::to_string(first + i);
        if (r.status != 200 && r.status != 201) {
            std::cerr << "redchat-bench: login of " << name << " failed: "
                      << (r.status == 0 ? r.error : std::to_string(r.status) + " " + r.body)
                      << "\n";
            if (r.status == 404)
                std::cerr << "  (the user exists with another password: use --password or "
                             "another --user-prefix)\n";
            return std::nullopt;
        }
        const auto key = r.body.find("\"id\":\"");
        const auto end = key == std::string::npos ? key : r.body.find('"', key + 6);
        if (end == std::string::npos || r.session_id.empty()) {
            std::cerr << "redchat-bench: login of " << name
                      << " returned no id or no session cookie: " << r.body << "\n";
            return std::nullopt;
        }
        accounts.push_back(account{r.body.substr(key + 6, end - key - 6), r.session_id});
    }
    const std::chrono::duration<double> took = clock_type::now() - start;
    std::cerr << "login: " << count << " users in " << took.count() << " s\n";
    return accounts;
}

http_client& harness::new_http_client(unsigned w, std::size_t source_index) {
    http_clients_.push_back(std::make_unique<http_client>(pool_.context(w), target_,
                                                          sources_.for_socket(source_index)));
    return *http_clients_.back();
}

socket_set& harness::new_socket_set(socketio_handler* inner) {
    socket_sets_.push_back(std::make_unique<socket_set>(pool_, target_, sources_, inner));
    return *socket_sets_.back();
}

std::optional<unsigned long long> read_server_metric(const server_target& target,
                                                     std::string_view name) {
    asio::io_context ioc;
    asio::ip::tcp::socket socket(ioc);
    boost::system::error_code ec;
    socket.connect(target.endpoint, ec);
    if (ec)
        return std::nullopt;
    const timeval limit{5, 0};
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    const std::string request =
        "GET /metrics HTTP/1.1\r\nHost: " + target.host_header + "\r\nConnection: close\r\n\r\n";
    asio::write(socket, asio::buffer(request), ec);
    std::string response;
    std::array<char, 16384> chunk{};
    while (!ec) {
        const auto n = socket.read_some(asio::buffer(chunk), ec);
        response.append(chunk.data(), n);
    }
    const std::string key = "\n" + std::string(name) + " ";
    const auto at = response.find(key);
    if (at == std::string::npos)
        return std::nullopt;
    unsigned long long value = 0;
    const char* first = response.data() + at + key.size();
    const auto [end, err] = std::from_chars(first, response.data() + response.size(), value);
    if (err != std::errc{} || end == first)
        return std::nullopt;
    return value;
}

harness::probe_point harness::probe() {
    return probe_point{
        clock_type::now(),        pool_.snapshot(),
        server_.cpu_seconds(),    redis_.cpu_seconds(),
        own_cpu_seconds(),        server_.context_switches(),
        server_syscalls_.total(), read_server_metric(target_, "redchat_allocations_total")};
}

measurement harness::since(const probe_point& start) {
    const auto end = probe();
    measurement m;
    m.seconds = std::chrono::duration<double>(end.time - start.time).count();
    m.delta = end.counters - start.counters;
    if (start.server_cpu_s && end.server_cpu_s)
        m.server_cpu_s = *end.server_cpu_s - *start.server_cpu_s;
    if (start.redis_cpu_s && end.redis_cpu_s)
        m.redis_cpu_s = *end.redis_cpu_s - *start.redis_cpu_s;
    m.bench_cpu_s = end.bench_cpu_s - start.bench_cpu_s;
    m.server_rss_kb = server_.rss_kb();
    if (start.server_context_switches && end.server_context_switches)
        m.server_context_switches = *end.server_context_switches - *start.server_context_switches;
    if (start.server_syscalls && end.server_syscalls)
        m.server_syscalls = *end.server_syscalls - *start.server_syscalls;
    if (start.server_allocations && end.server_allocations)
        m.server_allocations = *end.server_allocations - *start.server_allocations;
    return m;
}

measurement harness::measure(const char* label) {
    if (options_.warmup_s > 0) {
        std::cerr << label << ": warming up for " << options_.warmup_s << " s\n";
        std::this_thread::sleep_for(std::chrono::duration<double>(options_.warmup_s));
    }
    const auto start = probe();
    pool_.measuring.store(true);
    std::cerr << label << ": measuring for " << options_.duration_s << " s\n";

    const auto end = start.time + std::chrono::duration_cast<clock_type::duration>(
                                      std::chrono::duration<double>(options_.duration_s));
    auto last = start.counters;
    auto tick = start.time;
    while (clock_type::now() < end) {
        tick = std::min(tick + std::chrono::seconds(1), end);
        std::this_thread::sleep_until(tick);
        const auto now_values = pool_.snapshot();
        const auto d = now_values - last;
        last = now_values;
        std::cerr << label << ": open="
                  << get(now_values, counter::connected) - get(now_values, counter::dropped);
        static constexpr const char* names[] = {
            "connected",  "connect_failed", "dropped",   "sent",     "acked",
            "ack_errors", "errors",         "delivered", "requests", "request_errors",
            "reads_sent", "reads_acked",    "receipts"};
        static_assert(std::size(names) == counter_count);
        for (std::size_t i = 0; i < counter_count; ++i) {
            if (d[i] != 0)
                std::cerr << " " << names[i] << "=" << d[i];
        }
        std::cerr << "\n";
    }
    pool_.measuring.store(false);
    return since(start);
}

std::optional<std::vector<std::string>> create_pair_rooms(harness& h,
                                                          const std::vector<account>& accounts,
                                                          std::size_t pairs) {
    auto number = [](const std::string& id) {
        unsigned long long v = 0;
        std::from_chars(id.data(), id.data() + id.size(), v);
        return v;
    };
    std::vector<std::string> room_ids(pairs);
    for (std::size_t p = 0; p < pairs; ++p) {
        const auto a = number(accounts[2 * p].id);
        const auto b = number(accounts[2 * p + 1].id);
        room_ids[p] = std::to_string(std::min(a, b)) + ":" + std::to_string(std::max(a, b));
    }
    const auto created = h.http_batch(
        pairs,
        [&accounts](std::size_t p) {
            const auto& a = accounts[2 * p];
            const auto& b = accounts[2 * p + 1];
            return http_call{"POST", "/room", "{\"user1\":" + a.id + ",\"user2\":" + b.id + "}",
                             a.session_id};
        },
        "rooms");
    if (!created)
        return std::nullopt;
    for (std::size_t p = 0; p < pairs; ++p) {
        const auto& r = (*created)[p];
        if (r.status != 200 && r.status != 201) {
            std::cerr << "redchat-bench: creating room " << room_ids[p] << " failed: "
                      << (r.status == 0 ? r.error : std::to_string(r.status) + " " + r.body)
                      << "\n";
            return std::nullopt;
        }
    }
    return room_ids;
}

}  // namespace redchat::bench
