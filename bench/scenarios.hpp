#pragma once
// The named scenarios. Each runs bounded in time, prints one JSON line on stdout and returns
// the process exit status: 0 when it ran, 2 when setup failed (login, rooms, connecting), 3 when
// it ran but moved nothing (no acknowledged message, no answered request).

#include "endpoints.hpp"
#include "options.hpp"

namespace redchat::bench {

int run_fanout(const bench_options& o, const server_target& target);
int run_rooms(const bench_options& o, const server_target& target);
int run_idle(const bench_options& o, const server_target& target);
int run_connect(const bench_options& o, const server_target& target);
int run_history(const bench_options& o, const server_target& target);
int run_frames(const bench_options& o, const server_target& target);
int run_typing(const bench_options& o, const server_target& target);
int run_receipts(const bench_options& o, const server_target& target);

inline constexpr int exit_setup_failed = 2;
inline constexpr int exit_no_throughput = 3;

}  // namespace redchat::bench
