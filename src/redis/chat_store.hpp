#pragma once
// chat::store on Redis, through one I/O thread's pipelined client.

#include <memory>

#include "chat/store.hpp"

namespace redchat::redis {

class client;

// `tutorial_bus`: the tutorial's own events go on `MESSAGES` (chat/routing.hpp).
std::unique_ptr<chat::store> make_chat_store(client& redis, bool tutorial_bus = true);

}  // namespace redchat::redis
