#pragma once
// An encoded packet for clients, shared read-only by all of its receivers on every thread. The
// transport that made it may keep its own framing in front of the packet (the WebSocket layer
// writes its frame header there, once), so that a broadcast is encoded once and never copied per
// receiver. Everyone but that transport sees only `packet()`.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace redchat {

struct outgoing_packet {
    std::string bytes;            // the transport's framing, then the packet
    std::size_t prefix_size = 0;  // bytes of framing in front
    bool binary = false;          // raw bytes (an Engine.IO binary message), not text
    std::string_view packet() const { return std::string_view(bytes).substr(prefix_size); }
};
using packet_ptr = std::shared_ptr<const outgoing_packet>;

}  // namespace redchat
