#pragma once
// Builds the running server from its config in dependency order, runs it until SIGINT/SIGTERM,
// and shuts it down in reverse order.

#include "config/config.hpp"

namespace redchat::app {

// Returns the process exit code. Throws std::exception on start-up failures.
int run_server(const config::server_config& cfg);

}  // namespace redchat::app
