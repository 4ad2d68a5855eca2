// Pub/sub envelopes on MESSAGES, as any server on the same Redis may publish them, and on our
// own channel.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "chat/bus_event.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    for (const bool own_channel : {false, true}) {
        if (auto ev = redchat::chat::parse_envelope(text, own_channel)) {
            // What we deliver is itself a valid envelope payload.
            auto again = redchat::chat::parse_envelope(
                redchat::chat::make_envelope("x", ev->name, ev->data_json), own_channel);
            if (!again || again->data_json != ev->data_json || again->type != ev->type)
                __builtin_trap();
        }
    }
    return 0;
}
