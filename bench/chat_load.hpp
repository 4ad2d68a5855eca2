#pragma once
// Chat traffic over a socket set, for the fanout, rooms and receipts scenarios. Sender sockets post
// messages whose text starts with their send time ("~ts~<steady ns>~", padded to the message
// size) to their room, either closed loop (at most `window` unacknowledged messages per sender)
// or open loop (a total `rate`, paced every millisecond on each thread). Every socket counts the
// "message" events it receives and, while measuring, records send-to-receipt latency by finding
// the timestamp in the raw packet: no JSON parsing, no allocation per delivery.

#include "harness.hpp"
#include "json_line.hpp"
#include "socket_set.hpp"
#include "socketio_client.hpp"
#include "worker_pool.hpp"

#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace redchat::bench {

class chat_load final : public socketio_handler {
  public:
    struct settings {
        double rate = 0;  // messages/s over all senders; 0: closed loop
        std::size_t window = 32;
        std::size_t message_bytes = 64;
        // Every socket marks each message of another user read on arrival (room.read with the
        // message's id), as the web client does in the open room: the receipts scenario.
        bool read_receipts = false;
    };

    chat_load(worker_pool& pool, settings s, std::size_t sockets);
    ~chat_load() override;

    // Socket `index` sends to `room`; the others only receive. Before the sockets open.
    void set_room(std::size_t index, const std::string& room);
    // The user of socket `index` (read_receipts: its own messages are not marked read).
    void set_user(std::size_t index, const std::string& user_id);
    // The sockets this load drives (their handler must be this object). Before start_sending.
    void attach(socket_set& sockets);

    // Called from the driver thread.
    void start_sending();
    void stop_sending();

    void on_ready(socketio_client& c) override;
    void on_event(socketio_client& c, std::string_view args, std::int64_t now) override;
    void on_ack(socketio_client& c, std::uint64_t id, std::string_view args,
                std::int64_t now) override;
    void on_closed(socketio_client& c, close_cause cause, std::string_view detail) override;

  private:
    struct sender {
        std::string room_json;  // the quoted room id; empty: not a sender
        std::string own_from;   // "from":"<user id>" of the socket's user (read_receipts)
        std::uint32_t outstanding = 0;
    };
    struct pacer;

    static void begin_event(std::string& out, socketio_client& c, std::string_view name,
                            const sender& s);
    void send_one(socketio_client& c, sender& s, unsigned w);
    void mark_read(socketio_client& c, std::string_view message, unsigned w);
    void fill_window(socketio_client& c);
    void start_pacer(unsigned w);
    void tick(unsigned w);
    void report(std::string_view what, std::string_view detail);

    worker_pool& pool_;
    settings settings_;
    socket_set* sockets_ = nullptr;
    std::vector<sender> senders_;  // by socket index; an element is touched by its socket's thread
    std::vector<std::unique_ptr<pacer>> pacers_;  // one per worker
    std::vector<std::string> scratch_;            // one per worker: the packet being built
    std::atomic<bool> sending_{false};
    std::mutex report_mutex_;
    std::size_t reports_ = 0;
};

// Finds "~ts~<digits>~" in `packet` and returns the digits' value; -1 when absent.
std::int64_t find_timestamp(std::string_view packet);

// One chat scenario's run: opens the sockets of `set` (driven by `load`), sends through the
// warm-up and the measured interval, then closes them and stops the harness's threads.
struct chat_run {
    counter_values opened{};  // counters once the sockets were open
    measurement m;            // the measured interval
    counter_values total{};   // counters at the end
};
std::optional<chat_run> run_chat(harness& h, chat_load& load, socket_set& set, std::size_t sockets,
                                 const std::function<std::string_view(std::size_t)>& session_of,
                                 const char* label);

// The parts of the result line that fanout and rooms share, in this order in the line:
// the load's settings and `sent`; deliveries and latencies (then the process figures); and
// after the per-unit CPU figure, dropped sockets, failed connects and errors.
void add_load_settings(json_line& out, const bench_options& o, std::size_t window,
                       const chat_run& run);
void add_delivery_fields(json_line& out, harness& h, const chat_run& run);
void add_outcome_fields(json_line& out, const chat_run& run);

}  // namespace redchat::bench
