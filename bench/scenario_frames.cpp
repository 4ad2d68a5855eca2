// frames: N sockets each send their packets as many tiny WebSocket frames in one write (K
// Engine.IO pongs, then a room.join with an ack), closed loop: the next batch goes when the
// ack of the last one is back, which proves the server has read every frame before it. What it
// measures is the server's WebSocket read path when one read holds thousands of frames: frames
// per second and server CPU per frame.

#include "harness.hpp"
#include "json_line.hpp"
#include "scenarios.hpp"

#include <iostream>
#include <string>

namespace redchat::bench {
namespace {

class frames_load final : public socketio_handler {
  public:
    frames_load(worker_pool& pool, std::size_t per_batch) : pool_(pool), per_batch_(per_batch) {}
    void attach(socket_set& set) { set_ = &set; }

    // One batch: K tiny frames and the acknowledged packet behind them, in one write.
    void send_batch(socketio_client& c) {
        c.cork();
        for (std::size_t k = 0; k < per_batch_; ++k)
            c.send_text("3");
        c.send_text("42" + std::to_string(c.next_ack_id()) + R"(["room.join","0"])");
        c.uncork();
    }

    void on_ready(socketio_client&) override {}
    void on_event(socketio_client&, std::string_view, std::int64_t) override {}
    void on_ack(socketio_client& c, std::uint64_t, std::string_view args, std::int64_t) override {
        auto& counters = pool_.counters(set_->worker_of(c.tag()));
        if (args.find("\"error\"") != std::string_view::npos)
            counters.add(counter::ack_errors);
        else
            counters.add(counter::acked);
        send_batch(c);
    }
    void on_closed(socketio_client&, close_cause, std::string_view) override {}

  private:
    worker_pool& pool_;
    socket_set* set_ = nullptr;
    std::size_t per_batch_;
};

}  // namespace

int run_frames(const bench_options& o, const server_target& target) {
    const std::size_t sockets = o.connections != 0 ? o.connections : default_connections("frames");
    const std::size_t per_batch = o.window != 0 ? o.window : default_window("frames");

    harness h(o, target, sockets);
    const auto users = h.log_in_users_for(sockets);
    if (!users)
        return exit_setup_failed;

    frames_load load(h.pool(), per_batch);
    const stop_at_exit stop{h};
    auto& set = h.new_socket_set(&load);
    load.attach(set);
    set.open(sockets, o.concurrency, [&users](std::size_t i) { return users->session_of(i); });
    if (!set.wait_open(o.setup_timeout_s))
        return exit_setup_failed;
    const auto connected = get(h.pool().snapshot(), counter::connected);
    if (connected == 0) {
        std::cerr << "redchat-bench: no socket connected\n";
        return exit_setup_failed;
    }
    h.pool().run_everywhere([&](unsigned w) {
        set.for_each_on_worker(w, [&](socketio_client& c) {
            if (c.ready())
                load.send_batch(c);
        });
    });
    const auto m = h.measure("frames");
    const auto total = h.pool().snapshot();
    set.close_all();
    h.stop();

    const auto batches = get(m.delta, counter::acked);
    const auto frames = batches * (per_batch + 1);
    json_line out;
    out.field("scenario", "frames")
        .field("connections", sockets)
        .field("connected", connected)
        .field("frames_per_batch", per_batch + 1)
        .field("frame_bytes", 7)
        .field("threads", o.threads)
        .field("warmup_s", o.warmup_s)
        .field("duration_s", m.seconds)
        .field("batches", batches)
        .field("frames", frames)
        .field("frames_per_s", m.seconds > 0 ? static_cast<double>(frames) / m.seconds : 0.0);
    add_process_fields(out, m);
    std::optional<double> ns_per_frame;
    if (m.server_cpu_s && frames > 0)
        ns_per_frame = *m.server_cpu_s * 1e9 / static_cast<double>(frames);
    out.field("server_cpu_ns_per_frame", ns_per_frame)
        .field("ack_errors", get(m.delta, counter::ack_errors))
        .field("dropped", get(total, counter::dropped));
    std::cout << out.str() << std::endl;
    return batches > 0 ? 0 : exit_no_throughput;
}

}  // namespace redchat::bench
