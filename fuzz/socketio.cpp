// Socket.IO packets inside Engine.IO message packets.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "socketio/socketio_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    std::string reason;
    auto packet = redchat::socketio::decode(text, &reason, 4096);
    if (!packet) {
        if (reason.empty())
            __builtin_trap();  // every refusal says why
        return 0;
    }
    if (packet->type == redchat::socketio::sio_type::event ||
        packet->type == redchat::socketio::sio_type::binary_event) {
        auto ev = redchat::socketio::parse_event(*packet);
        if (!ev)
            __builtin_trap();  // decode already validated the event's shape
        (void)redchat::socketio::encode_event(packet->nsp, ev->name, "", packet->ack_id,
                                              packet->attachments);
    }
    return 0;
}
