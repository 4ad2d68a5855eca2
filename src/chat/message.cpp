#include "chat/message.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace redchat::chat {
namespace {

namespace json = boost::json;

const json::value* field(const json::object& o, std::string_view camel, std::string_view pascal) {
    if (auto* v = o.if_contains(camel))
        return v;
    return o.if_contains(pascal);
}

std::optional<std::string> as_id_string(const json::value& v) {
    if (v.is_string())
        return std::string(v.get_string());
    if (v.is_int64())
        return std::to_string(v.get_int64());
    if (v.is_uint64())
        return std::to_string(v.get_uint64());
    if (v.is_double()) {
        const double d = v.get_double();
        if (std::isfinite(d) && d >= 0 && d < 1e18 && std::floor(d) == d) {
            return std::to_string(static_cast<long long>(d));
        }
    }
    return std::nullopt;
}

std::optional<double> as_seconds(const json::value& v) {
    double d = 0;
    if (v.is_int64()) {
        d = static_cast<double>(v.get_int64());
    } else if (v.is_uint64()) {
        d = static_cast<double>(v.get_uint64());
    } else if (v.is_double()) {
        d = v.get_double();
    } else if (v.is_string()) {
        const auto& s = v.get_string();
        auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
        if (ec != std::errc{} || ptr != s.data() + s.size())
            return std::nullopt;
    } else {
        return std::nullopt;
    }
    if (!std::isfinite(d))
        return std::nullopt;
    return d;
}

}  // namespace

std::optional<message> parse_message(std::string_view text) {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec || !v.is_object())
        return std::nullopt;
    const auto& o = v.get_object();
    message m;
    const auto* room = field(o, "roomId", "RoomId");
    const auto* from = field(o, "from", "From");
    const auto* date = field(o, "date", "Date");
    const auto* body = field(o, "message", "Message");
    if (room == nullptr || from == nullptr || date == nullptr || body == nullptr)
        return std::nullopt;
    if (!body->is_string())
        return std::nullopt;
    auto room_id = as_id_string(*room);
    auto sender = as_id_string(*from);
    auto seconds = as_seconds(*date);
    if (!room_id || !sender || !seconds)
        return std::nullopt;
    m.room_id = std::move(*room_id);
    m.from = std::move(*sender);
    m.date = *seconds;
    m.text = std::string(body->get_string());
    if (const auto* id = field(o, "id", "Id"); id != nullptr) {
        if (auto s = as_id_string(*id))
            m.id = std::move(*s);
    }
    return m;
}

std::string format_date(double seconds) {
    // fmt's shortest representation; force fixed notation for large values.
    std::string out = fmt::format("{}", seconds);
    if (out.find_first_of("eE") != std::string::npos)
        out = fmt::format("{:.6f}", seconds);
    return out;
}

std::string json_quote(std::string_view s) {
    return json::serialize(json::string_view(s));
}

std::string to_json(const message& m) {
    std::string out;
    out.reserve(64 + m.text.size() + m.id.size());
    out += "{";
    if (!m.id.empty()) {
        out += "\"id\":";
        out += json_quote(m.id);
        out += ",";
    }
    out += "\"roomId\":";
    out += json_quote(m.room_id);
    out += ",\"from\":";
    out += json_quote(m.from);
    out += ",\"date\":";
    out += format_date(m.date);
    out += ",\"message\":";
    out += json_quote(m.text);
    out += "}";
    return out;
}

}  // namespace redchat::chat
