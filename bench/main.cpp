// redchat-bench: parse the options, run one scenario, exit with its status.

#include "endpoints.hpp"
#include "options.hpp"
#include "scenarios.hpp"

#include <csignal>
#include <iostream>

int main(int argc, char** argv) {
    using namespace redchat::bench;
    // Writes to a socket the server just closed must fail with EPIPE, not kill the tool.
    std::signal(SIGPIPE, SIG_IGN);

    auto parsed = parse_command_line(argc, argv);
    if (!parsed.options) {
        (parsed.exit_code == 0 ? std::cout : std::cerr) << parsed.text;
        return parsed.exit_code;
    }
    const bench_options& o = *parsed.options;
    const auto target = parse_server_url(o.url);
    if (!target)
        return exit_setup_failed;

    if (o.scenario == "fanout")
        return run_fanout(o, *target);
    if (o.scenario == "rooms")
        return run_rooms(o, *target);
    if (o.scenario == "idle")
        return run_idle(o, *target);
    if (o.scenario == "connect")
        return run_connect(o, *target);
    if (o.scenario == "frames")
        return run_frames(o, *target);
    if (o.scenario == "typing")
        return run_typing(o, *target);
    if (o.scenario == "receipts")
        return run_receipts(o, *target);
    return run_history(o, *target);
}
