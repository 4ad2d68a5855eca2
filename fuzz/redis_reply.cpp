// Bytes from a Redis server (RESP): hiredis's reader, then our copy of each reply and every
// accessor the store uses, as the client does for command replies and pub/sub messages.
#include <hiredis/hiredis.h>

#include <cstddef>
#include <cstdint>

#include "redis/reply.hpp"

namespace {

void use(const redchat::redis::reply& r) {
    (void)r.as_string();
    (void)r.as_integer();
    (void)r.as_strings();
    for (const auto& e : r.elements)
        use(e);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    redisReader* reader = redisReaderCreate();
    if (reader == nullptr)
        return 0;
    reader->maxbuf = 0;
    if (redisReaderFeed(reader, reinterpret_cast<const char*>(data), size) == REDIS_OK) {
        void* raw = nullptr;
        while (redisReaderGetReply(reader, &raw) == REDIS_OK && raw != nullptr) {
            use(redchat::redis::from_hiredis(*static_cast<redisReply*>(raw)));
            freeReplyObject(raw);
            raw = nullptr;
        }
    }
    redisReaderFree(reader);
    return 0;
}
