// A Socket.IO client's messages as the assembler sees them: binary packets, their attachments,
// and anything out of order. The input is a sequence of messages separated by 0xFF; a message
// whose first byte is 'B' is binary (the rest is its bytes), any other is text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "socketio/assembler.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace redchat::socketio;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    packet_assembler assembler({4096, 3});
    std::size_t start = 0;
    while (start <= input.size()) {
        const auto end = input.find('\xff', start);
        const auto message = input.substr(start, end == std::string_view::npos ? end : end - start);
        std::string reason;
        const bool binary = !message.empty() && message[0] == 'B';
        auto out = binary ? assembler.feed_binary(std::string(message.substr(1)), &reason)
                          : assembler.feed_text(message, &reason);
        if (!out) {
            if (reason.empty() || assembler.awaiting_attachments())
                __builtin_trap();  // every refusal says why, and resets the assembler
        } else if (*out) {
            const auto& whole = **out;
            if (whole.attachments.size() != whole.packet.attachments ||
                whole.attachments.size() > 3)
                __builtin_trap();  // a packet comes out with exactly the attachments it announced
            if (whole.packet.type == sio_type::event ||
                whole.packet.type == sio_type::binary_event) {
                auto ev = parse_event(whole.packet);
                if (!ev)
                    __builtin_trap();  // decode already validated the event's shape
                (void)encode_event(whole.packet.nsp, ev->name, "", whole.packet.ack_id,
                                   whole.attachments.size());
            }
        } else if (!assembler.awaiting_attachments()) {
            __builtin_trap();  // nothing out means attachments are awaited
        }
        if (end == std::string_view::npos)
            break;
        start = end + 1;
    }
    return 0;
}
