#include "transport/ws_codec.hpp"

#include "core/utf8.hpp"

#include "core/base64.hpp"
#include "core/sha1.hpp"

namespace redchat::transport {
namespace {

bool is_control(ws_opcode op) {
    return (static_cast<std::uint8_t>(op) & 0x8) != 0;
}

}  // namespace

std::string ws_accept_key(std::string_view client_key) {
    std::string text(client_key);
    text += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";  // RFC 6455 §1.3
    const auto digest = sha1(text);
    return redchat::base64_encode(
        std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

std::size_t ws_header_size(std::size_t payload_size) {
    if (payload_size < 126)
        return 2;
    if (payload_size <= 0xFFFF)
        return 4;
    return 10;
}

void write_ws_header(char* out, ws_opcode op, std::size_t payload_size) {
    auto* p = reinterpret_cast<std::uint8_t*>(out);
    p[0] = static_cast<std::uint8_t>(0x80 | static_cast<std::uint8_t>(op));
    if (payload_size < 126) {
        p[1] = static_cast<std::uint8_t>(payload_size);
    } else if (payload_size <= 0xFFFF) {
        p[1] = 126;
        p[2] = static_cast<std::uint8_t>(payload_size >> 8);
        p[3] = static_cast<std::uint8_t>(payload_size);
    } else {
        p[1] = 127;
        const auto n = static_cast<std::uint64_t>(payload_size);
        for (int i = 0; i < 8; ++i)
            p[2 + i] = static_cast<std::uint8_t>(n >> (56 - 8 * i));
    }
}

std::string ws_frame(ws_opcode op, std::string_view payload) {
    std::string frame(ws_header_size(payload.size()), '\0');
    write_ws_header(frame.data(), op, payload.size());
    frame.append(payload);
    return frame;
}

std::string ws_close_payload(std::uint16_t code, std::string_view reason) {
    std::string payload;
    payload.push_back(static_cast<char>(code >> 8));
    payload.push_back(static_cast<char>(code & 0xFF));
    payload.append(reason.substr(0, 123));  // control frames carry at most 125 bytes
    return payload;
}

std::string ws_close_frame(std::uint16_t code, std::string_view reason) {
    return ws_frame(ws_opcode::close, ws_close_payload(code, reason));
}

std::uint16_t ws_close_code(std::string_view payload) {
    if (payload.size() < 2)
        return 1005;
    return static_cast<std::uint16_t>((static_cast<std::uint8_t>(payload[0]) << 8) |
                                      static_cast<std::uint8_t>(payload[1]));
}

ws_decoder::status ws_decoder::next(std::string_view& in, ws_message& out) {
    if (error_ != 0)
        return status::error;
    for (;;) {
        if (in.size() < 2)
            return status::need_more;
        const auto* p = reinterpret_cast<const std::uint8_t*>(in.data());
        const bool fin = (p[0] & 0x80) != 0;
        if ((p[0] & 0x70) != 0)
            return fail(ws_close::protocol_error);  // RSV bits: no extension was agreed
        const auto op = static_cast<ws_opcode>(p[0] & 0x0F);
        switch (op) {
            case ws_opcode::continuation:
            case ws_opcode::text:
            case ws_opcode::binary:
            case ws_opcode::close:
            case ws_opcode::ping:
            case ws_opcode::pong:
                break;
            default:
                return fail(ws_close::protocol_error);
        }
        if ((p[1] & 0x80) == 0)
            return fail(ws_close::protocol_error);  // client frames must be masked
        std::uint64_t length = p[1] & 0x7F;
        std::size_t header = 2;
        if (length == 126) {
            if (in.size() < 4)
                return status::need_more;
            length = (std::uint64_t{p[2]} << 8) | p[3];
            header = 4;
        } else if (length == 127) {
            if (in.size() < 10)
                return status::need_more;
            length = 0;
            for (int i = 0; i < 8; ++i)
                length = (length << 8) | p[2 + i];
            header = 10;
        }
        if (is_control(op) && (!fin || length > 125))
            return fail(ws_close::protocol_error);
        if (!is_control(op)) {
            if ((op == ws_opcode::continuation) != in_message_)
                return fail(ws_close::protocol_error);  // a stray or missing continuation
            const std::uint64_t assembled = message_ ? message_->size() : 0;
            if (length > max_ || assembled + length > max_)
                return fail(ws_close::too_big);  // refused before its bytes are buffered
        }
        if (in.size() < header + 4 + length)
            return status::need_more;
        const std::uint8_t* mask = p + header;
        const char* data = in.data() + header + 4;
        const auto n = static_cast<std::size_t>(length);

        // A whole message in one frame is unmasked straight into `out`; fragments are assembled
        // in a buffer that exists only while a fragmented message is under way.
        std::string* target = &out.payload;
        if (is_control(op) || (fin && !in_message_)) {
            out.payload.clear();
        } else {
            if (!in_message_) {
                message_ = std::make_unique<std::string>();
                message_opcode_ = op;
            }
            target = message_.get();
        }
        const std::size_t start = target->size();
        target->resize(start + n);
        char* dst = target->data() + start;
        for (std::size_t i = 0; i < n; ++i)
            dst[i] = static_cast<char>(static_cast<std::uint8_t>(data[i]) ^ mask[i % 4]);
        in.remove_prefix(header + 4 + n);

        if (is_control(op)) {
            out.opcode = op;
            return status::message;
        }
        if (!fin) {
            in_message_ = true;
            continue;
        }
        ws_opcode opcode = op;
        if (in_message_) {
            opcode = message_opcode_;
            out.payload = std::move(*message_);
            message_.reset();
            in_message_ = false;
        }
        if (opcode == ws_opcode::text && !is_valid_utf8(out.payload))
            return fail(ws_close::invalid_payload);
        out.opcode = opcode;
        return status::message;
    }
}

}  // namespace redchat::transport
