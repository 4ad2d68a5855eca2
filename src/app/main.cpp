// redchat-server: load the config, run the server, exit. Everything else is in app/server.cpp.

#include <csignal>
#include <cstdio>
#include <exception>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "app/server.hpp"
#include "config/config.hpp"

int main(int argc, char** argv) {
    auto parsed = redchat::config::parse_command_line(argc, argv);
    if (!parsed.config) {
        std::fputs(parsed.output.c_str(), parsed.exit_code == 0 ? stdout : stderr);
        return parsed.exit_code;
    }
    const auto& cfg = *parsed.config;

    // Structured (logfmt-style) lines on stderr.
    auto logger = spdlog::stderr_logger_mt("redchat");
    logger->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l tid=%t %v",
                        spdlog::pattern_time_type::utc);
    logger->set_level(spdlog::level::from_str(cfg.log_level));
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);

    std::signal(SIGPIPE, SIG_IGN);
    try {
        return redchat::app::run_server(cfg);
    } catch (const std::exception& e) {
        spdlog::critical("event=startup_failed error=\"{}\"", e.what());
        return 1;
    }
}
