#pragma once
// The demo users, rooms and messages of compat-spec §5, loaded once into an empty store.

#include <boost/asio/awaitable.hpp>

#include "chat/store.hpp"

namespace redchat::chat {

// Loads the demo data when the store has no `total_users` yet; true when it did. `now` is
// seconds since the epoch. Safe when several servers start at once: only one claims the load.
boost::asio::awaitable<result<bool>> load_demo_data(store& db, password_hasher& hasher, double now);

}  // namespace redchat::chat
