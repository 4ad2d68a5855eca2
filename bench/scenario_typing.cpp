// typing: P private rooms of two users each (as in rooms), every socket speaking protocol 1
// ({"redchat":1} in its connect). Every user sends a typing signal every --typing-every-ms,
// spread evenly over the period, as the web client does while its user types; the server relays
// each to the other member of the room. Nothing is stored: this is the cost of the signals
// beside the chat messages (server CPU per signal, deliveries per second).

#include "harness.hpp"
#include "json_line.hpp"
#include "scenarios.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>

namespace redchat::bench {
namespace {

// Counts what arrives: "typing" events as deliveries, "error" events as errors.
class typing_counter final : public socketio_handler {
  public:
    explicit typing_counter(worker_pool& pool) : pool_(pool) {}
    void on_ready(socketio_client&) override {}
    void on_event(socketio_client& c, std::string_view args, std::int64_t) override {
        auto& counters = pool_.counters(worker_of(c));
        if (args.starts_with("[\"typing\""))
            counters.add(counter::delivered);
        else if (args.starts_with("[\"error\""))
            counters.add(counter::error_events);
    }
    void on_ack(socketio_client&, std::uint64_t, std::string_view, std::int64_t) override {}
    void on_closed(socketio_client&, close_cause, std::string_view) override {}

  private:
    unsigned worker_of(const socketio_client& c) const { return c.tag() % pool_.size(); }
    worker_pool& pool_;
};

// Sends each socket's typing signal once per period, in `slots` slots of a tick each.
struct typing_pacer {
    static constexpr std::chrono::milliseconds tick{10};
    boost::asio::steady_timer timer;
    std::size_t slots = 1;
    std::size_t slot = 0;

    explicit typing_pacer(boost::asio::io_context& ioc) : timer(ioc) {}
};

}  // namespace

int run_typing(const bench_options& o, const server_target& target) {
    const std::size_t pairs = o.pairs;
    const std::size_t sockets = 2 * pairs;

    harness h(o, target, sockets);
    if (!h.ensure_descriptors(sockets))
        return exit_setup_failed;
    const auto accounts = h.login(sockets);
    if (!accounts)
        return exit_setup_failed;
    const auto room_ids = create_pair_rooms(h, *accounts, pairs);
    if (!room_ids)
        return exit_setup_failed;
    std::vector<std::string> packets;  // the typing packet of each room
    for (const auto& room : *room_ids)
        packets.push_back("42[\"typing\",{\"roomId\":\"" + room + "\"}]");

    typing_counter counting(h.pool());
    const stop_at_exit stop{h};
    auto& set = h.new_socket_set(&counting);
    set.set_connect_payload(R"({"redchat":1})");
    set.open(sockets, o.concurrency,
             [&accounts](std::size_t i) -> std::string_view { return (*accounts)[i].session_id; });
    if (!set.wait_open(o.setup_timeout_s))
        return exit_setup_failed;
    const auto opened = h.pool().snapshot();
    if (get(opened, counter::connected) == 0) {
        std::cerr << "redchat-bench: no socket connected\n";
        return exit_setup_failed;
    }

    // One pacer per I/O thread, for the sockets of that thread.
    std::atomic<bool> sending{true};
    std::vector<std::unique_ptr<typing_pacer>> pacers;
    const auto slots = static_cast<std::size_t>(
        std::max(1.0, o.typing_every_ms / static_cast<double>(typing_pacer::tick.count())));
    for (unsigned w = 0; w < h.pool().size(); ++w) {
        pacers.push_back(std::make_unique<typing_pacer>(h.pool().context(w)));
        pacers.back()->slots = slots;
    }
    std::function<void(unsigned)> step = [&](unsigned w) {
        auto& p = *pacers[w];
        if (!sending.load(std::memory_order_relaxed))
            return;
        std::uint64_t sent = 0;
        set.for_each_on_worker(w, [&](socketio_client& c) {
            if (c.ready() && c.tag() % p.slots == p.slot) {
                c.send_text(packets[c.tag() / 2]);
                ++sent;
            }
        });
        h.pool().counters(w).add(counter::sent, sent);
        p.slot = (p.slot + 1) % p.slots;
        p.timer.expires_after(typing_pacer::tick);
        p.timer.async_wait([&step, w](const boost::system::error_code& ec) {
            if (!ec)
                step(w);
        });
    };
    for (unsigned w = 0; w < h.pool().size(); ++w)
        boost::asio::post(h.pool().context(w), [&step, w] { step(w); });
    const auto m = h.measure("typing");
    sending.store(false);
    set.close_all();
    h.stop();

    const auto& d = m.delta;
    const auto sent = get(d, counter::sent);
    const auto delivered = get(d, counter::delivered);
    json_line out;
    out.field("scenario", "typing")
        .field("pairs", pairs)
        .field("sockets", sockets)
        .field("connected", get(opened, counter::connected))
        .field("typing_every_ms", o.typing_every_ms)
        .field("duration_s", m.seconds)
        .field("signals", sent)
        .field("signals_per_s", per_second(sent, m.seconds))
        .field("delivered", delivered)
        .field("delivered_per_s", per_second(delivered, m.seconds))
        .field("error_events", get(d, counter::error_events))
        .field("dropped", get(d, counter::dropped));
    std::optional<double> us_per_signal;
    if (m.server_cpu_s && sent > 0)
        us_per_signal = *m.server_cpu_s * 1e6 / static_cast<double>(sent);
    out.field("server_cpu_us_per_signal", us_per_signal);
    add_process_fields(out, m);
    std::cout << out.str() << std::endl;
    if (sent == 0 || delivered == 0) {
        std::cerr << "redchat-bench: typing: no signal was relayed\n";
        return exit_no_throughput;
    }
    return 0;
}

}  // namespace redchat::bench
