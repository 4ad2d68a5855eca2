#include "socketio/socketio_codec.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <charconv>

namespace redchat::socketio {
namespace {

namespace json = boost::json;

result<sio_packet> fail(std::string* reason, const char* why) {
    if (reason != nullptr)
        *reason = why;
    return make_error_code(errc::bad_input);
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

std::string nsp_prefix(std::string_view nsp) {
    if (nsp.empty() || nsp == "/")
        return {};
    return std::string(nsp) + ",";
}

}  // namespace

result<sio_packet> decode(std::string_view text, std::string* reason, std::size_t max_data_bytes) {
    if (text.empty())
        return fail(reason, "empty packet");
    sio_packet p;
    if (text[0] < '0' || text[0] > '6')
        return fail(reason, "unknown packet type");
    p.type = static_cast<sio_type>(text[0]);
    std::size_t i = 1;

    if (p.type == sio_type::binary_event || p.type == sio_type::binary_ack) {
        const std::size_t start = i;
        while (i < text.size() && is_digit(text[i]))
            ++i;
        if (i == start || i >= text.size() || text[i] != '-' || i - start > 6) {
            return fail(reason, "malformed attachment count");
        }
        std::from_chars(text.data() + start, text.data() + i, p.attachments);
        ++i;
    }

    if (i < text.size() && text[i] == '/') {
        const auto comma = text.find(',', i);
        const auto end = comma == std::string_view::npos ? text.size() : comma;
        if (end - i > 256)
            return fail(reason, "namespace too long");
        p.nsp.assign(text.substr(i, end - i));
        i = comma == std::string_view::npos ? text.size() : comma + 1;
    }

    if (i < text.size() && is_digit(text[i])) {
        const std::size_t start = i;
        while (i < text.size() && is_digit(text[i]))
            ++i;
        if (i - start > 15)
            return fail(reason, "ack id too large");
        std::uint64_t id = 0;
        std::from_chars(text.data() + start, text.data() + i, id);
        p.ack_id = id;
    }

    const auto data = text.substr(i);
    if (data.size() > max_data_bytes)
        return fail(reason, "packet too large");
    if (!data.empty()) {
        // Checked only: the tree is dropped here, so it is built in a stack buffer (and a few
        // growing blocks beyond it), not with an allocation per value.
        unsigned char buffer[2048];
        json::monotonic_resource arena(buffer, sizeof buffer);
        boost::system::error_code ec;
        json::value v = json::parse(data, ec, &arena);
        if (ec)
            return fail(reason, "packet data is not valid JSON");
        switch (p.type) {
            case sio_type::event:
            case sio_type::binary_event:
                if (!v.is_array() || v.as_array().empty() || !v.as_array()[0].is_string()) {
                    return fail(reason, "an event must be an array starting with its name");
                }
                break;
            case sio_type::ack:
            case sio_type::binary_ack:
                if (!v.is_array())
                    return fail(reason, "an ack must carry an array");
                break;
            case sio_type::connect:
            case sio_type::connect_error:
                if (!v.is_object())
                    return fail(reason, "connect data must be an object");
                break;
            case sio_type::disconnect:
                return fail(reason, "disconnect carries no data");
        }
        p.data.assign(data);
    } else if (p.type == sio_type::event || p.type == sio_type::binary_event ||
               p.type == sio_type::ack || p.type == sio_type::binary_ack) {
        return fail(reason, "missing data");
    }
    return p;
}

result<event> parse_event(const sio_packet& p) {
    if (p.type != sio_type::event && p.type != sio_type::binary_event)
        return make_error_code(errc::bad_input);
    boost::system::error_code ec;
    json::value v = json::parse(p.data, ec);
    if (ec || !v.is_array() || v.as_array().empty() || !v.as_array()[0].is_string()) {
        return make_error_code(errc::bad_input);
    }
    auto& arr = v.as_array();
    event e;
    e.name = std::string(arr[0].as_string());
    arr.erase(arr.begin());
    e.args = std::move(arr);
    return e;
}

std::string encode_event(std::string_view nsp, std::string_view name, std::string_view payload_json,
                         std::optional<std::uint64_t> ack_id, std::size_t attachments) {
    std::string out = attachments > 0 ? "5" + std::to_string(attachments) + "-" + nsp_prefix(nsp)
                                      : "2" + nsp_prefix(nsp);
    if (ack_id)
        out += std::to_string(*ack_id);
    out += "[";
    out += json::serialize(json::string_view(name));
    if (!payload_json.empty()) {
        out += ",";
        out += payload_json;
    }
    out += "]";
    return out;
}

std::string encode_ack(std::string_view nsp, std::uint64_t ack_id, std::string_view args_json_array,
                       std::size_t attachments) {
    const std::string type = attachments > 0 ? "6" + std::to_string(attachments) + "-" : "3";
    return type + nsp_prefix(nsp) + std::to_string(ack_id) + std::string(args_json_array);
}

std::string encode_connect(std::string_view nsp, std::string_view socket_id) {
    return "0" + nsp_prefix(nsp) + "{\"sid\":" + json::serialize(json::string_view(socket_id)) +
           "}";
}

std::string encode_connect_error(std::string_view nsp, std::string_view message) {
    return "4" + nsp_prefix(nsp) + "{\"message\":" + json::serialize(json::string_view(message)) +
           "}";
}

std::string echoable_namespace(std::string_view nsp) {
    static constexpr char hex[] = "0123456789ABCDEF";
    nsp = nsp.substr(0, 64);
    std::string out;
    out.reserve(nsp.size());
    for (char c : nsp) {
        const auto b = static_cast<unsigned char>(c);
        const bool plain = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
                           (b >= '0' && b <= '9') || b == '/' || b == '_' || b == '.' || b == '~' ||
                           b == '-';
        if (plain) {
            out += c;
        } else {
            out += '%';
            out += hex[b >> 4];
            out += hex[b & 0x0F];
        }
    }
    return out;
}

}  // namespace redchat::socketio
