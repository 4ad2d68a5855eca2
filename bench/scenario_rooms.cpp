// rooms: P private rooms, each between two users of its own (<prefix>2i-1 and <prefix>2i), one
// socket per user; both users of a pair post to their room (closed loop, window 1 by default, or
// at --rate in total) and both receive every message of it.

#include "chat_load.hpp"
#include "harness.hpp"
#include "json_line.hpp"
#include "scenarios.hpp"

#include <iostream>

namespace redchat::bench {

int run_rooms(const bench_options& o, const server_target& target) {
    const std::size_t pairs = o.pairs;
    const std::size_t sockets = 2 * pairs;
    const std::size_t window = o.window != 0 ? o.window : default_window("rooms");

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

    chat_load load(h.pool(), chat_load::settings{o.rate, window, o.message_bytes}, sockets);
    for (std::size_t i = 0; i < sockets; ++i)
        load.set_room(i, (*room_ids)[i / 2]);
    const stop_at_exit stop{h};
    auto& set = h.new_socket_set(&load);
    load.attach(set);
    const auto run = run_chat(
        h, load, set, sockets,
        [&accounts](std::size_t i) -> std::string_view { return (*accounts)[i].session_id; },
        "rooms");
    if (!run)
        return exit_setup_failed;
    const auto& opened = run->opened;
    const auto& m = run->m;

    const auto& d = m.delta;
    const auto delivered = get(d, counter::delivered);
    const auto acked = get(d, counter::acked);
    json_line out;
    out.field("scenario", "rooms")
        .field("pairs", pairs)
        .field("sockets", sockets)
        .field("connected", get(opened, counter::connected))
        .field("users", sockets)
        .field("threads", o.threads)
        .field("sources", h.sources().count());
    add_load_settings(out, o, window, *run);
    out.field("stored", acked).field("stored_per_s", per_second(acked, m.seconds));
    add_delivery_fields(out, h, *run);
    std::optional<double> us_per_message;
    if (m.server_cpu_s && acked > 0)
        us_per_message = *m.server_cpu_s * 1e6 / static_cast<double>(acked);
    out.field("server_cpu_us_per_message", us_per_message);
    add_outcome_fields(out, *run);
    std::cout << out.str() << std::endl;

    if (acked == 0 || delivered == 0) {
        std::cerr << "redchat-bench: rooms: no message was stored and delivered\n";
        return exit_no_throughput;
    }
    return 0;
}

}  // namespace redchat::bench
