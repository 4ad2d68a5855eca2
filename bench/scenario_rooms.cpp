// rooms: P private rooms, each between two users of its own (<prefix>2i-1 and <prefix>2i), one
// socket per user; both users of a pair post to their room (closed loop, window 1 by default, or
// at --rate in total) and both receive every message of it.
//
// receipts: the same rooms on protocol 1 ({"redchat":1} in the connect), where every socket
// marks each message of the other user read as it arrives (room.read with the message's id), as
// the web client does in the open room. The server stores each read position and sends the
// receipt to the room (the sender's "Seen") and to the reader's sockets: server CPU is reported
// per event (message or read). Run it beside rooms at the same --rate: the difference is the
// cost of the receipts.

#include "chat_load.hpp"
#include "harness.hpp"
#include "json_line.hpp"
#include "scenarios.hpp"

#include <iostream>

namespace redchat::bench {

namespace {

int run_pair_rooms(const bench_options& o, const server_target& target, bool receipts) {
    const char* const name = receipts ? "receipts" : "rooms";
    const std::size_t pairs = o.pairs;
    const std::size_t sockets = 2 * pairs;
    const std::size_t window = o.window != 0 ? o.window : default_window(name);

    harness h(o, target, sockets);
    if (!h.ensure_descriptors(sockets))
        return exit_setup_failed;
    const auto accounts = h.login(sockets);
    if (!accounts)
        return exit_setup_failed;

    // Rooms first: the server joins a socket to its user's rooms when it connects.
    const auto room_ids = create_pair_rooms(h, *accounts, pairs);
    if (!room_ids)
        return exit_setup_failed;

    chat_load load(h.pool(), chat_load::settings{o.rate, window, o.message_bytes, receipts},
                   sockets);
    for (std::size_t i = 0; i < sockets; ++i) {
        load.set_room(i, (*room_ids)[i / 2]);
        load.set_user(i, (*accounts)[i].id);
    }
    const stop_at_exit stop{h};
    auto& set = h.new_socket_set(&load);
    if (receipts)
        set.set_connect_payload(R"({"redchat":1})");
    else if (o.presence == "watched")  // nobody's presence: only the messages cross the bus
        set.set_connect_payload(R"({"redchat":1,"presence":"watched"})");
    load.attach(set);
    const auto run = run_chat(
        h, load, set, sockets,
        [&accounts](std::size_t i) -> std::string_view { return (*accounts)[i].session_id; }, name);
    if (!run)
        return exit_setup_failed;
    const auto& opened = run->opened;
    const auto& m = run->m;

    const auto& d = m.delta;
    const auto delivered = get(d, counter::delivered);
    const auto acked = get(d, counter::acked);
    json_line out;
    out.field("scenario", name)
        .field("pairs", pairs)
        .field("sockets", sockets)
        .field("connected", get(opened, counter::connected))
        .field("users", sockets)
        .field("threads", o.threads)
        .field("sources", h.sources().count())
        .field("presence", o.presence);
    add_load_settings(out, o, window, *run);
    out.field("stored", acked).field("stored_per_s", per_second(acked, m.seconds));
    add_delivery_fields(out, h, *run);
    std::optional<double> us_per_message;
    if (m.server_cpu_s && acked > 0)
        us_per_message = *m.server_cpu_s * 1e6 / static_cast<double>(acked);
    out.field("server_cpu_us_per_message", us_per_message);
    // What each message costs in wakeups and in system calls (all threads).
    const auto per_message = [acked](const std::optional<unsigned long long>& n) {
        std::optional<double> v;
        if (n && acked > 0)
            v = static_cast<double>(*n) / static_cast<double>(acked);
        return v;
    };
    out.field("server_context_switches_per_message", per_message(m.server_context_switches))
        .field("server_syscalls_per_message", per_message(m.server_syscalls))
        .field("server_allocations_per_message", per_message(m.server_allocations));
    const auto reads = get(d, counter::reads_acked);
    if (receipts) {
        out.field("reads_sent", get(d, counter::reads_sent))
            .field("reads", reads)
            .field("reads_per_s", per_second(reads, m.seconds))
            .field("receipts", get(d, counter::receipts))
            .field("receipts_per_s", per_second(get(d, counter::receipts), m.seconds));
        std::optional<double> us_per_event;
        if (m.server_cpu_s && acked + reads > 0)
            us_per_event = *m.server_cpu_s * 1e6 / static_cast<double>(acked + reads);
        out.field("server_cpu_us_per_event", us_per_event);
    }
    add_outcome_fields(out, *run);
    std::cout << out.str() << std::endl;

    if (acked == 0 || delivered == 0) {
        std::cerr << "redchat-bench: " << name << ": no message was stored and delivered\n";
        return exit_no_throughput;
    }
    if (receipts && (reads == 0 || get(d, counter::receipts) == 0)) {
        std::cerr << "redchat-bench: receipts: no read position was stored and relayed\n";
        return exit_no_throughput;
    }
    return 0;
}

}  // namespace

int run_rooms(const bench_options& o, const server_target& target) {
    return run_pair_rooms(o, target, false);
}

int run_receipts(const bench_options& o, const server_target& target) {
    return run_pair_rooms(o, target, true);
}

}  // namespace redchat::bench
