// history: C keep-alive HTTP connections, each asking for one page of a room's history
// (GET /room/<id>/messages?offset=0&size=<n>) again as soon as the previous answer is in.
// General gets a page's worth of messages first if it has fewer.

#include "harness.hpp"
#include "json_line.hpp"
#include "scenarios.hpp"

#include <boost/asio/post.hpp>

#include <atomic>
#include <chrono>
#include <iostream>
#include <thread>

namespace redchat::bench {
namespace {

// Posts `count` messages to General on each socket that connects, and counts the answers.
class seeder final : public socketio_handler {
  public:
    explicit seeder(std::size_t count) : count_(count) {}
    std::atomic<std::size_t> answered{0};

    void on_ready(socketio_client& c) override {
        for (std::size_t i = 0; i < count_; ++i) {
            c.send_text("42" + std::to_string(c.next_ack_id()) +
                        "[\"message\",{\"roomId\":\"0\",\"message\":\"redchat-bench history "
                        "seed " +
                        std::to_string(i + 1) + "\"}]");
        }
    }
    void on_event(socketio_client&, std::string_view, std::int64_t) override {}
    void on_ack(socketio_client&, std::uint64_t, std::string_view args, std::int64_t) override {
        if (args.starts_with("[{\"error\""))
            std::cerr << "history: seed message refused: " << args << "\n";
        answered.fetch_add(1);
    }
    void on_closed(socketio_client&, close_cause, std::string_view) override {}

  private:
    std::size_t count_;
};

// The request loops: connection i asks again as soon as it has its answer, until stopped.
class history_load {
  public:
    history_load(harness& h, std::string path, std::vector<std::string> cookies)
        : h_(h), path_(std::move(path)), cookies_(std::move(cookies)) {}

    void start(std::size_t connections) {
        for (std::size_t i = 0; i < connections; ++i) {
            const unsigned w = static_cast<unsigned>(i % h_.pool().size());
            loops_.push_back(loop{&h_.new_http_client(w, i), w, 0, cookies_[i % cookies_.size()]});
        }
        for (std::size_t i = 0; i < loops_.size(); ++i)
            boost::asio::post(h_.pool().context(loops_[i].worker), [this, i] { issue(i); });
    }
    void stop() { running_.store(false); }
    // One answered page, for its size; read only after the pool stopped.
    const std::string& sample_page() const { return sample_; }

  private:
    struct loop {
        http_client* client;
        unsigned worker;
        std::int64_t started_ns;
        std::string cookie;
    };

    void issue(std::size_t i) {
        if (!running_.load(std::memory_order_relaxed))
            return;
        auto& l = loops_[i];
        l.started_ns = now_ns();
        l.client->request("GET", path_, {}, l.cookie, [this, i](const http_response& r) {
            auto& done = loops_[i];
            auto& counters = h_.pool().counters(done.worker);
            if (r.status == 200) {
                counters.add(counter::requests);
                if (!sampled_.exchange(true))
                    sample_.assign(r.body);
                if (h_.pool().measuring.load(std::memory_order_relaxed)) {
                    h_.pool()
                        .histogram_of(done.worker, histogram::request)
                        .record(now_ns() - done.started_ns);
                }
            } else {
                counters.add(counter::request_errors);
                report(r);
            }
            issue(i);
        });
    }

    void report(const http_response& r) {
        if (reported_.fetch_add(1) < 5) {
            std::cerr << "history: request failed: "
                      << (r.status == 0 ? std::string(r.error)
                                        : std::to_string(r.status) + " " + std::string(r.body))
                      << "\n";
        }
    }

    harness& h_;
    std::string path_;
    std::vector<std::string> cookies_;
    std::vector<loop> loops_;
    std::atomic<bool> running_{true};
    std::atomic<std::size_t> reported_{0};
    std::atomic<bool> sampled_{false};
    std::string sample_;
};

std::size_t count_messages(const std::string& page) {
    std::size_t n = 0;
    for (auto at = page.find("\"roomId\""); at != std::string::npos;
         at = page.find("\"roomId\"", at + 1))
        ++n;
    return n;
}

}  // namespace

int run_history(const bench_options& o, const server_target& target) {
    const std::size_t connections =
        o.connections != 0 ? o.connections : default_connections("history");
    const std::string path =
        "/room/" + o.history_room + "/messages?offset=0&size=" + std::to_string(o.history_size);

    harness h(o, target, connections);
    if (!h.ensure_descriptors(connections))
        return exit_setup_failed;
    const std::size_t users = h.users_for(connections);
    const auto accounts = h.login(users);
    if (!accounts)
        return exit_setup_failed;

    const auto first = h.http_batch(
        1,
        [&](std::size_t) {
            return http_call{"GET", path, "", (*accounts)[0].session_id};
        },
        "history");
    if (!first || (*first)[0].status != 200) {
        std::cerr << "redchat-bench: GET " << path << " failed: "
                  << (first ? std::to_string((*first)[0].status) + " " + (*first)[0].body +
                                  (*first)[0].error
                            : std::string("timeout"))
                  << "\n";
        return exit_setup_failed;
    }
    const std::size_t present = count_messages((*first)[0].body);
    seeder seed(o.history_size > present ? o.history_size - present : 0);
    history_load load(h, path, [&] {
        std::vector<std::string> cookies;
        for (const auto& a : *accounts)
            cookies.push_back(a.session_id);
        return cookies;
    }());
    const stop_at_exit stop{h};

    if (present < o.history_size && o.history_room == "0") {
        const std::size_t missing = o.history_size - present;
        std::cerr << "history: adding " << missing << " messages to General\n";
        auto& set = h.new_socket_set(&seed);
        set.open(1, 1, [&accounts](std::size_t) -> std::string_view {
            return (*accounts)[0].session_id;
        });
        const auto deadline =
            std::chrono::steady_clock::now() + std::chrono::duration<double>(o.setup_timeout_s);
        while (seed.answered.load() < missing && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        set.close_all();
    }

    load.start(connections);
    const auto m = h.measure("history");
    load.stop();
    const auto total = h.pool().snapshot();
    h.stop();

    const auto& d = m.delta;
    const auto requests = get(d, counter::requests);
    json_line out;
    out.field("scenario", "history")
        .field("connections", connections)
        .field("users", users)
        .field("threads", o.threads)
        .field("sources", h.sources().count())
        .field("path", path)
        .field("page_messages", count_messages(load.sample_page()))
        .field("page_bytes", load.sample_page().size())
        .field("warmup_s", o.warmup_s)
        .field("duration_s", m.seconds)
        .field("requests", requests)
        .field("requests_per_s", per_second(requests, m.seconds))
        .percentiles("latency_ms", h.pool().merged(histogram::request));
    add_process_fields(out, m);
    std::optional<double> us_per_request;
    if (m.server_cpu_s && requests > 0)
        us_per_request = *m.server_cpu_s * 1e6 / static_cast<double>(requests);
    out.field("server_cpu_us_per_request", us_per_request)
        .field("errors", get(d, counter::request_errors))
        .field("errors_total", get(total, counter::request_errors));
    std::cout << out.str() << std::endl;

    if (requests == 0) {
        std::cerr << "redchat-bench: history: no request was answered\n";
        return exit_no_throughput;
    }
    return 0;
}

}  // namespace redchat::bench
