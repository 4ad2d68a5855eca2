#include "ws_frame.hpp"

namespace redchat::bench::ws {

parse_result parse_frame(std::string_view bytes, std::size_t max_payload) {
    parse_result r;
    if (bytes.size() < 2)
        return r;
    const auto b0 = static_cast<unsigned char>(bytes[0]);
    const auto b1 = static_cast<unsigned char>(bytes[1]);
    if ((b0 & 0x70) != 0) {
        r.status = parse_status::invalid;
        r.reason = "reserved bits set";
        return r;
    }
    if ((b1 & 0x80) != 0) {
        r.status = parse_status::invalid;
        r.reason = "masked server frame";
        return r;
    }
    const auto op = static_cast<opcode>(b0 & 0x0F);
    const bool fin = (b0 & 0x80) != 0;
    std::uint64_t length = b1 & 0x7F;
    std::size_t header = 2;
    if (length == 126) {
        header = 4;
        if (bytes.size() < header)
            return r;
        length = (std::uint64_t{static_cast<unsigned char>(bytes[2])} << 8) |
                 static_cast<unsigned char>(bytes[3]);
    } else if (length == 127) {
        header = 10;
        if (bytes.size() < header)
            return r;
        length = 0;
        for (std::size_t i = 2; i < 10; ++i)
            length = (length << 8) | static_cast<unsigned char>(bytes[i]);
    }
    switch (op) {
        case opcode::continuation:
        case opcode::text:
        case opcode::binary:
            break;
        case opcode::close:
        case opcode::ping:
        case opcode::pong:
            if (!fin || length > 125) {
                r.status = parse_status::invalid;
                r.reason = "bad control frame";
                return r;
            }
            break;
        default:
            r.status = parse_status::invalid;
            r.reason = "unknown opcode";
            return r;
    }
    if (length > max_payload) {
        r.status = parse_status::invalid;
        r.reason = "frame too large";
        return r;
    }
    r.frame_size = header + static_cast<std::size_t>(length);
    if (bytes.size() < r.frame_size)
        return r;
    r.status = parse_status::complete;
    r.f = frame{op, fin, bytes.substr(header, static_cast<std::size_t>(length)), r.frame_size};
    return r;
}

void append_frame(std::string& out, opcode op, std::string_view payload, std::uint32_t mask_key) {
    const std::size_t start = out.size();
    const std::size_t n = payload.size();
    const std::size_t header = n < 126 ? 6 : n <= 0xFFFF ? 8 : 14;
    out.resize(start + header + n);
    char* p = out.data() + start;
    *p++ = static_cast<char>(0x80 | static_cast<unsigned>(op));
    if (n < 126) {
        *p++ = static_cast<char>(0x80 | n);
    } else if (n <= 0xFFFF) {
        *p++ = static_cast<char>(0x80 | 126);
        *p++ = static_cast<char>(n >> 8);
        *p++ = static_cast<char>(n & 0xFF);
    } else {
        *p++ = static_cast<char>(0x80 | 127);
        for (int shift = 56; shift >= 0; shift -= 8)
            *p++ = static_cast<char>((static_cast<std::uint64_t>(n) >> shift) & 0xFF);
    }
    const char mask[4] = {static_cast<char>(mask_key >> 24), static_cast<char>(mask_key >> 16),
                          static_cast<char>(mask_key >> 8), static_cast<char>(mask_key)};
    for (int i = 0; i < 4; ++i)
        *p++ = mask[i];
    for (std::size_t i = 0; i < n; ++i)
        p[i] = static_cast<char>(payload[i] ^ mask[i & 3]);
}

}  // namespace redchat::bench::ws
