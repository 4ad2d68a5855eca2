#pragma once
// chat::store on Redis, through one I/O thread's pipelined link (one Redis or a cluster).

#include <chrono>
#include <memory>

#include "chat/store.hpp"
#include "redis/keys.hpp"

namespace redchat::redis {

class command_link;

// A message is acknowledged once `replicas` replicas have it (WAIT, within `wait`); 0: at once.
struct durability {
    int replicas = 0;
    std::chrono::milliseconds wait{500};
};

// `tutorial_bus`: the tutorial's own events go on `MESSAGES` (chat/routing.hpp). `layout`: the
// tutorial's key names on one Redis, hash-tagged ones on a cluster (redis/keys.hpp).
std::unique_ptr<chat::store> make_chat_store(command_link& redis, bool tutorial_bus = true,
                                             const keys::layout& layout = keys::single_redis,
                                             durability durable = {});

}  // namespace redchat::redis
