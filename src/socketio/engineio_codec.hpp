#pragma once
// Engine.IO protocol 4 packets: `<type digit><data>`; polling payloads join packets with the
// record separator 0x1E; binary data travels in payloads as `b<base64>`. Sans-I/O: bytes in,
// packets out (or a clear error), never throws on bad input.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace redchat::socketio {

enum class eio_type : char {
    open = '0',
    close = '1',
    ping = '2',
    pong = '3',
    message = '4',
    upgrade = '5',
    noop = '6',
};

struct eio_packet {
    eio_type type = eio_type::noop;
    std::string data;
    bool binary = false;  // data holds raw bytes (from `b<base64>` or a binary frame)
};

inline constexpr char record_separator = '\x1e';

// One packet from a text WebSocket frame or a payload part.
result<eio_packet> decode_packet(std::string_view text);

// Every packet of a polling POST body; at most `max_packets` (errc::bad_input beyond).
result<std::vector<eio_packet>> decode_payload(std::string_view body,
                                               std::size_t max_packets = 256);

// `<type><data>` for text packets.
std::string encode_packet(eio_type type, std::string_view data = {});

// Packets already encoded, joined for a polling response.
std::string encode_payload(const std::vector<std::string>& encoded_packets);

}  // namespace redchat::socketio
