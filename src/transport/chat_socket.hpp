#pragma once
// The chat's side of a Socket.IO connection: the sockets that chat::realtime sees, one per
// Engine.IO session. The chat speaks on namespace "/" only and takes no binary data (its events
// are JSON); anything else is refused by this policy, with an `error` event rather than a
// dropped connection, as the tutorial's clients expect.

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <optional>
#include <string>

#include "chat/hub.hpp"
#include "chat/realtime.hpp"
#include "chat/store.hpp"
#include "config/config.hpp"
#include "core/metrics.hpp"
#include "transport/connection_limiter.hpp"
#include "transport/eio_session.hpp"

namespace redchat::transport {

// Makes the chat socket of every new Engine.IO session of one thread.
class chat_application final : public eio_application {
  public:
    // `per_user`: the per-user socket cap, shared by every thread.
    chat_application(chat::realtime& realtime, const config::server_config& cfg,
                     metrics::shard& stats, connection_limiter& per_user)
        : realtime_(realtime), cfg_(cfg), stats_(stats), per_user_(per_user) {}

    boost::asio::awaitable<std::unique_ptr<eio_handler>> open(eio_session& session) override;

    chat::realtime& realtime() { return realtime_; }
    const config::server_config& config() const { return cfg_; }
    metrics::shard& stats() { return stats_; }
    connection_limiter& per_user() { return per_user_; }

  private:
    chat::realtime& realtime_;
    const config::server_config& cfg_;
    metrics::shard& stats_;
    connection_limiter& per_user_;
};

}  // namespace redchat::transport
