// Pub/sub envelopes on MESSAGES, as any server on the same Redis may publish them.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "chat/bus_event.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (auto ev = redchat::chat::parse_envelope(text)) {
        // What we deliver is itself a valid envelope payload.
        auto again = redchat::chat::parse_envelope(
            redchat::chat::make_envelope("x", ev->name, ev->data_json));
        if (!again || again->data_json != ev->data_json)
            __builtin_trap();
    }
    return 0;
}
