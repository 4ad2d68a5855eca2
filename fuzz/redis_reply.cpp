// Bytes from a Redis server (RESP): hiredis's reader, then our copy of each reply and every
// accessor the store uses, as the client does for command replies and pub/sub messages.
#include <hiredis/hiredis.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "redis/cluster.hpp"
#include "redis/reply.hpp"

namespace {

void use(const redchat::redis::reply& r) {
    namespace cluster = redchat::redis::cluster;
    (void)r.as_string();
    (void)r.as_integer();
    (void)r.as_strings();
    // Cluster routing reads replies too: a topology (CLUSTER SLOTS) and redirections.
    if (auto table = cluster::slot_table::from_cluster_slots(r)) {
        for (std::size_t slot = 0; slot < cluster::slot_count; slot += 97) {
            const auto* node = table->master_of(static_cast<std::uint16_t>(slot));
            if (node != nullptr && node->port == 0)
                __builtin_trap();  // every node of a table has a port
        }
        (void)table->covers_all_slots();
    }
    if (r.is_error()) {
        if (auto moved = cluster::parse_redirect(r.str)) {
            if (moved->slot >= cluster::slot_count || moved->to.port == 0)
                __builtin_trap();
        }
    }
    (void)cluster::key_slot(r.str);
    if (auto words = r.as_strings()) {  // the same bytes as a command to route
        if (cluster::routing_key(*words) && words->size() < 2)
            __builtin_trap();  // a key is always an argument after the command's name
    }
    for (const auto& e : r.elements)
        use(e);
}

// hiredis 0.14 allocates an array's element pointers as soon as it reads the header, so
// `*999999999` asks for 8 GB at once (hiredis 1.x bounds this with `maxelements`; 0.14 has no
// such setting). Redis is trusted (docs/security.md): inputs that declare such arrays are left
// out rather than reported as our out-of-memory.
bool declares_huge_array(std::string_view in) {
    constexpr std::uint64_t limit = 1 << 20;
    for (std::size_t i = in.find('*'); i != std::string_view::npos; i = in.find('*', i + 1)) {
        std::uint64_t n = 0;
        for (std::size_t j = i + 1; j < in.size() && in[j] >= '0' && in[j] <= '9'; ++j) {
            n = n * 10 + static_cast<std::uint64_t>(in[j] - '0');
            if (n > limit)
                return true;
        }
    }
    return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (declares_huge_array({reinterpret_cast<const char*>(data), size}))
        return 0;
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
