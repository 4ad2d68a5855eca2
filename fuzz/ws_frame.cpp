// Bytes a WebSocket client sends after the handshake: the frame decoder, fed in two pieces (the
// first byte says where to cut) as a socket would deliver them.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "transport/ws_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0)
        return 0;
    using redchat::transport::ws_decoder;
    const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
    const std::size_t cut = std::min<std::size_t>(data[0], bytes.size());
    ws_decoder decoder(4096);
    std::string pending;
    redchat::transport::ws_message m;
    for (const auto piece : {bytes.substr(0, cut), bytes.substr(cut)}) {
        pending.append(piece);
        std::string_view in(pending);
        ws_decoder::status st;
        while ((st = decoder.next(in, m)) == ws_decoder::status::message) {
            if (m.payload.size() > 4096)
                __builtin_trap();  // the size limit holds for every message
        }
        pending = std::string(in);
        if (st == ws_decoder::status::error)
            break;
    }
    (void)redchat::transport::ws_accept_key(bytes);
    return 0;
}
