// Engine.IO packets and polling payloads, as they arrive from clients.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/base64.hpp"
#include "socketio/engineio_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (auto packets = redchat::socketio::decode_payload(text)) {
        for (const auto& p : *packets) {
            // What we decode, we can encode back to the same text (binary packets excepted).
            if (!p.binary && redchat::socketio::encode_packet(p.type, p.data).empty())
                __builtin_trap();
        }
    }
    (void)redchat::socketio::decode_packet(text);
    if (auto bytes = redchat::base64_decode(text)) {
        // Decoding is lenient about unused bits; encoding then decoding is exact.
        auto again = redchat::base64_decode(redchat::base64_encode(*bytes));
        if (!again || *again != *bytes)
            __builtin_trap();
    }
    return 0;
}
