#pragma once
// RFC 6455 frames, client side, sans-I/O: parse the server's (unmasked) frames from bytes,
// append masked client frames to an output buffer. No extensions are negotiated, so RSV bits
// must be zero.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace redchat::bench::ws {

enum class opcode : std::uint8_t {
    continuation = 0,
    text = 1,
    binary = 2,
    close = 8,
    ping = 9,
    pong = 10,
};

struct frame {
    opcode op = opcode::text;
    bool fin = true;
    std::string_view payload;  // a view into the parsed bytes
    std::size_t size = 0;      // header + payload: bytes consumed
};

enum class parse_status { complete, need_more, invalid };

struct parse_result {
    parse_status status = parse_status::need_more;
    frame f;
    // need_more: the whole frame's size once the header is in (0 while it is not); buffers
    // smaller than this must grow.
    std::size_t frame_size = 0;
    const char* reason = "";  // invalid: why
};

// Parses the first frame of `bytes`. Frames with a payload over `max_payload` are invalid.
parse_result parse_frame(std::string_view bytes, std::size_t max_payload);

// Appends one final (FIN) frame with `payload` masked by `mask_key`.
void append_frame(std::string& out, opcode op, std::string_view payload, std::uint32_t mask_key);

}  // namespace redchat::bench::ws
