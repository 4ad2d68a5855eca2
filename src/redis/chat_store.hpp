#pragma once
// chat::store on Redis, through one I/O thread's pipelined client.

#include <memory>

#include "chat/store.hpp"

namespace redchat::redis {

class client;

std::unique_ptr<chat::store> make_chat_store(client& redis);

}  // namespace redchat::redis
