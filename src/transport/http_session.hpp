#pragma once
// One HTTP/1.1 connection: reads requests within limits, routes them (REST API, health,
// metrics, event stream, static files) and writes the responses, keeping the connection alive.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "chat/rest_api.hpp"
#include "chat/store.hpp"
#include "config/config.hpp"
#include "core/metrics.hpp"
#include "core/startup_gate.hpp"
#include "transport/connection_limiter.hpp"
#include "transport/engineio_server.hpp"
#include "transport/origin_policy.hpp"
#include "transport/session_registry.hpp"
#include "transport/static_files.hpp"

namespace redchat::transport {

// Everything an HTTP session may use, all owned by (or shared read-only with) its I/O thread.
struct http_services {
    chat::rest_api& api;
    chat::store& store;
    metrics::shard& stats;
    const metrics::registry& all_stats;
    const static_files& files;
    const config::server_config& config;
    session_registry& sessions;
    engineio_server& eio;
    const origin_policy& origins;
    connection_limiter& per_address;  // shared by all threads
    const startup_gate& startup;      // shared by all threads
};

boost::asio::awaitable<void> run_http_session(boost::asio::ip::tcp::socket socket,
                                              http_services& services);

}  // namespace redchat::transport
