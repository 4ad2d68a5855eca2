// fanout: R receivers and S senders, all in the General room; S senders post (closed loop or
// at --rate) and every socket, the senders included, receives every message.

#include "chat_load.hpp"
#include "harness.hpp"
#include "json_line.hpp"
#include "scenarios.hpp"

#include <iostream>

namespace redchat::bench {

int run_fanout(const bench_options& o, const server_target& target) {
    const std::size_t receivers =
        o.connections != 0 ? o.connections : default_connections("fanout");
    const std::size_t senders = o.senders;
    const std::size_t sockets = receivers + senders;
    const std::size_t window = o.window != 0 ? o.window : default_window("fanout");

    harness h(o, target, sockets);
    const auto users = h.log_in_users_for(sockets);
    if (!users)
        return exit_setup_failed;

    chat_load load(h.pool(), chat_load::settings{o.rate, window, o.message_bytes}, sockets);
    for (std::size_t i = 0; i < senders; ++i)
        load.set_room(i, "0");
    const stop_at_exit stop{h};
    auto& set = h.new_socket_set(&load);
    load.attach(set);
    const auto run = run_chat(
        h, load, set, sockets, [&users](std::size_t i) { return users->session_of(i); }, "fanout");
    if (!run)
        return exit_setup_failed;
    const auto& opened = run->opened;
    const auto& m = run->m;

    const auto& d = m.delta;
    const auto delivered = get(d, counter::delivered);
    const auto acked = get(d, counter::acked);
    json_line out;
    out.field("scenario", "fanout")
        .field("receivers", receivers)
        .field("senders", senders)
        .field("sockets", sockets)
        .field("connected", get(opened, counter::connected))
        .field("users", users->size())
        .field("threads", o.threads)
        .field("sources", h.sources().count());
    add_load_settings(out, o, window, *run);
    out.field("sent_per_s", per_second(get(d, counter::sent), m.seconds))
        .field("acked", acked)
        .field("acked_per_s", per_second(acked, m.seconds));
    add_delivery_fields(out, h, *run);
    std::optional<double> us_per_delivery;
    if (m.server_cpu_s && delivered > 0)
        us_per_delivery = *m.server_cpu_s * 1e6 / static_cast<double>(delivered);
    out.field("server_cpu_us_per_delivery", us_per_delivery);
    add_outcome_fields(out, *run);
    std::cout << out.str() << std::endl;

    if (acked == 0 || delivered == 0) {
        std::cerr << "redchat-bench: fanout: no message was acknowledged and delivered\n";
        return exit_no_throughput;
    }
    return 0;
}

}  // namespace redchat::bench
