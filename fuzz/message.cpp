// Stored chat messages, as any port may have written them into Redis, history cursors, and a
// client's Socket.IO connect payload (the protocol it announces).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "chat/message.hpp"
#include "chat/realtime.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (auto m = redchat::chat::parse_message(text)) {
        // Our canonical form reads back to the same message.
        auto again = redchat::chat::parse_message(redchat::chat::to_json(*m));
        if (!again || again->text != m->text || again->from != m->from ||
            again->room_id != m->room_id || again->id != m->id) {
            __builtin_trap();
        }
    }
    (void)redchat::chat::cursor_score(text);
    const auto announced = redchat::chat::announced_options(text);
    if (announced.protocol < 0 || announced.protocol > redchat::chat::newest_protocol ||
        (announced.watches_presence && announced.protocol < 1)) {
        __builtin_trap();
    }
    return 0;
}
