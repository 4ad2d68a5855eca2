#pragma once
// Every setting of redchat-bench in one value, filled from the command line (CLI11).

#include <cstddef>
#include <optional>
#include <string>

namespace redchat::bench {

struct bench_options {
    std::string scenario;  // fanout, rooms, idle, connect, history, frames, typing, receipts
    std::string url = "http://127.0.0.1:8080";
    int server_pid = 0;  // 0: no server CPU/RSS figures
    int redis_pid = 0;   // 0: no Redis CPU figure
    double duration_s = 10;
    double warmup_s = 2;
    std::size_t connections =
        0;  // receivers (fanout), sockets (idle, connect), HTTP (history); 0: scenario default
    std::size_t senders = 1;
    std::size_t pairs = 1000;
    double typing_every_ms = 3000;  // typing: each user's signal period (the web client's)
    double rate = 0;                // messages per second over all senders; 0: closed loop
    std::size_t window = 0;  // outstanding acks per sender in closed loop; 0: scenario default
    std::size_t message_bytes = 64;
    std::size_t sources = 0;  // 127.0.0.x source addresses; 0: derived from the socket count
    std::size_t users = 0;    // distinct users the sockets are spread over; 0: derived
    std::size_t sockets_per_user = 20;  // the server's --max-sockets-per-user default
    unsigned threads = 1;
    std::size_t concurrency = 256;  // connection handshakes in flight
    // connect, idle: "all" (the tutorial's protocol: every socket gets every user's presence)
    // or "watched" (protocol 1, presence only for the users a socket watches: none here).
    std::string presence = "all";
    std::size_t login_concurrency = 16;
    std::string user_prefix = "bench-";
    std::string password = "benchpass1";
    std::string history_room = "0";
    std::size_t history_size = 15;
    double setup_timeout_s = 300;  // logins, room creation and connecting, each
};

struct parse_outcome {
    std::optional<bench_options> options;  // nullopt: exit with `exit_code` after printing `text`
    int exit_code = 0;
    std::string text;
};

parse_outcome parse_command_line(int argc, const char* const* argv);

// Defaults that depend on the scenario (0 in the options means "the scenario's default").
std::size_t default_connections(const std::string& scenario);
std::size_t default_window(const std::string& scenario);

}  // namespace redchat::bench
