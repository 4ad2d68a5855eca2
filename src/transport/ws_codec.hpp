#pragma once
// WebSocket (RFC 6455), server side, sans-I/O: the handshake's accept key, frame encoding, and
// an incremental decoder of client frames. No socket and no timer, so it is unit-tested and
// fuzzed on its own. Only what a Socket.IO server needs: no extensions (no compression).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace redchat::transport {

enum class ws_opcode : std::uint8_t {
    continuation = 0x0,
    text = 0x1,
    binary = 0x2,
    close = 0x8,
    ping = 0x9,
    pong = 0xA,
};

// Close codes we send.
namespace ws_close {
inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t going_away = 1001;
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t invalid_payload = 1007;  // a text message that is not UTF-8
inline constexpr std::uint16_t policy_violation = 1008;
inline constexpr std::uint16_t too_big = 1009;
inline constexpr std::uint16_t try_again_later = 1013;
}  // namespace ws_close

// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key.
std::string ws_accept_key(std::string_view client_key);

// Size of the header of an unmasked server frame carrying `payload_size` bytes (2, 4 or 10).
std::size_t ws_header_size(std::size_t payload_size);
// Writes that header (FIN set) to `out`, which has room for ws_header_size(payload_size) bytes.
void write_ws_header(char* out, ws_opcode op, std::size_t payload_size);
// A whole unmasked frame.
std::string ws_frame(ws_opcode op, std::string_view payload);
// A close frame's payload: the code, then the reason (cut to fit a control frame).
std::string ws_close_payload(std::uint16_t code, std::string_view reason);
std::string ws_close_frame(std::uint16_t code, std::string_view reason);

// One complete message (data, reassembled from fragments) or control frame from the client.
struct ws_message {
    ws_opcode opcode = ws_opcode::text;  // text, binary, close, ping or pong
    std::string payload;                 // unmasked; for close: the code and reason bytes
};

// Decodes client frames from bytes as they arrive. Frames must be masked, carry no RSV bits,
// and control frames must be short and unfragmented; a data message may not exceed
// `max_message_bytes`; a text message must be valid UTF-8 as a whole (a character may be split
// across fragments). A violation is final: `error()` then gives the close code to send.
class ws_decoder {
  public:
    explicit ws_decoder(std::size_t max_message_bytes)
        : max_(static_cast<std::uint32_t>(std::min<std::size_t>(max_message_bytes, UINT32_MAX))) {}

    enum class status : std::uint8_t { need_more, message, error };

    // Consumes what it can from the front of `in` (advancing it). `message`: `out` holds the
    // next message. `need_more`: all of `in` that forms whole frames was consumed; the rest (a
    // partial frame) is left in `in` for the caller to keep and offer again with more bytes.
    status next(std::string_view& in, ws_message& out);

    std::uint16_t error() const { return error_; }

  private:
    status fail(std::uint16_t code) {
        error_ = code;
        return status::error;
    }

    std::uint32_t max_;  // 32 bits: a connection holds a decoder, and it stays small
    std::uint16_t error_ = 0;
    bool in_message_ = false;  // a fragmented data message is being assembled
    ws_opcode message_opcode_ = ws_opcode::text;
    std::unique_ptr<std::string> message_;  // a fragmented message so far (none while idle)
};

// The close code of a close frame's payload (1005, "no status", when it has none).
std::uint16_t ws_close_code(std::string_view close_payload);

}  // namespace redchat::transport
