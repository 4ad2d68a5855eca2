#include "socketio/engineio_codec.hpp"

#include "core/base64.hpp"

namespace redchat::socketio {
namespace {

bool valid_type(char c) {
    return c >= '0' && c <= '6';
}

}  // namespace

result<eio_packet> decode_packet(std::string_view text) {
    if (text.empty())
        return make_error_code(errc::bad_input);
    eio_packet p;
    if (text[0] == 'b') {
        auto bytes = redchat::base64_decode(text.substr(1));
        if (!bytes)
            return bytes.error();
        p.type = eio_type::message;
        p.data = std::move(*bytes);
        p.binary = true;
        return p;
    }
    if (!valid_type(text[0]))
        return make_error_code(errc::bad_input);
    p.type = static_cast<eio_type>(text[0]);
    p.data.assign(text.substr(1));
    return p;
}

result<std::vector<eio_packet>> decode_payload(std::string_view body, std::size_t max_packets) {
    std::vector<eio_packet> out;
    if (body.empty())
        return make_error_code(errc::bad_input);
    std::size_t start = 0;
    for (;;) {
        const auto end = body.find(record_separator, start);
        auto part = body.substr(
            start, end == std::string_view::npos ? std::string_view::npos : end - start);
        auto p = decode_packet(part);
        if (!p)
            return p.error();
        if (out.size() == max_packets)
            return make_error_code(errc::bad_input);
        out.push_back(std::move(*p));
        if (end == std::string_view::npos)
            break;
        start = end + 1;
    }
    return out;
}

std::string encode_packet(eio_type type, std::string_view data) {
    std::string out;
    out.reserve(1 + data.size());
    out += static_cast<char>(type);
    out += data;
    return out;
}

std::string encode_payload(const std::vector<std::string>& encoded_packets) {
    std::size_t size = 0;
    for (const auto& p : encoded_packets)
        size += p.size() + 1;
    std::string out;
    out.reserve(size);
    for (std::size_t i = 0; i < encoded_packets.size(); ++i) {
        if (i > 0)
            out += record_separator;
        out += encoded_packets[i];
    }
    return out;
}

}  // namespace redchat::socketio
