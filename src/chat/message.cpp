#include "chat/message.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string_view.hpp>

#include <array>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "core/random_id.hpp"

namespace redchat::chat {
namespace {

namespace json = boost::json;
using boost::system::error_code;

// The raw text of one top-level field. Numbers keep their exact spelling: Boost.JSON 1.81
// rounds some decimals when it converts them to double, and a date read back must equal the
// one written (it is also the sorted-set score).
struct raw_field {
    enum class kind { none, string, number, boolean, other };
    kind type = kind::none;
    std::string text;
};

// The fields we read, camelCase first, then the PascalCase spelling of other ports.
enum slot : std::size_t { id, room_id, from, date, text, edited, deleted, slot_count };
constexpr std::array<std::string_view, slot_count> camel{"id",      "roomId", "from",   "date",
                                                         "message", "edited", "deleted"};
constexpr std::array<std::string_view, slot_count> pascal{"Id",      "RoomId", "From",   "Date",
                                                          "Message", "Edited", "Deleted"};

// A SAX handler that keeps only the top-level fields of one JSON object.
class message_handler {
  public:
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);

    std::array<raw_field, slot_count * 2> fields;  // camel slots, then pascal slots
    bool top_is_object = false;

    bool on_document_begin(error_code&) { return true; }
    bool on_document_end(error_code&) { return true; }
    bool on_object_begin(error_code&) {
        if (depth_ == 0)
            top_is_object = true;
        mark_other();
        ++depth_;
        return true;
    }
    bool on_object_end(std::size_t, error_code&) {
        --depth_;
        return true;
    }
    bool on_array_begin(error_code&) {
        mark_other();
        ++depth_;
        return true;
    }
    bool on_array_end(std::size_t, error_code&) {
        --depth_;
        return true;
    }
    bool on_key_part(json::string_view s, std::size_t, error_code&) {
        if (depth_ == 1)
            key_.append(s.data(), s.size());
        return true;
    }
    bool on_key(json::string_view s, std::size_t, error_code&) {
        if (depth_ == 1) {
            key_.append(s.data(), s.size());
            current_ = find_slot(key_);
            key_.clear();
        }
        return true;
    }
    bool on_string_part(json::string_view s, std::size_t, error_code&) {
        if (wanted())
            buffer_.append(s.data(), s.size());
        return true;
    }
    bool on_string(json::string_view s, std::size_t, error_code&) {
        if (wanted()) {
            buffer_.append(s.data(), s.size());
            store(raw_field::kind::string);
        }
        return true;
    }
    bool on_number_part(json::string_view s, error_code&) {
        if (wanted())
            buffer_.append(s.data(), s.size());
        return true;
    }
    bool on_int64(std::int64_t, json::string_view s, error_code&) { return number(s); }
    bool on_uint64(std::uint64_t, json::string_view s, error_code&) { return number(s); }
    bool on_double(double, json::string_view s, error_code&) { return number(s); }
    bool on_bool(bool b, error_code&) {
        if (wanted()) {
            buffer_ = b ? "true" : "false";
            store(raw_field::kind::boolean);
        }
        return true;
    }
    bool on_null(error_code&) {
        mark_other();
        return true;
    }
    bool on_comment_part(json::string_view, error_code&) { return true; }
    bool on_comment(json::string_view, error_code&) { return true; }

  private:
    static std::size_t find_slot(std::string_view key) {
        for (std::size_t i = 0; i < slot_count; ++i) {
            if (key == camel[i])
                return i;
            if (key == pascal[i])
                return slot_count + i;
        }
        return fields_none;
    }
    bool wanted() const { return depth_ == 1 && current_ != fields_none; }
    bool number(json::string_view s) {
        if (wanted()) {
            buffer_.append(s.data(), s.size());
            store(raw_field::kind::number);
        }
        return true;
    }
    void store(raw_field::kind k) {
        fields[current_] = {k, std::move(buffer_)};
        buffer_.clear();
        current_ = fields_none;
    }
    void mark_other() {
        if (wanted())
            store(raw_field::kind::other);
    }

    static constexpr std::size_t fields_none = std::size_t(-1);
    std::size_t depth_ = 0;
    std::size_t current_ = fields_none;
    std::string key_;
    std::string buffer_;
};

const raw_field& pick(const message_handler& h, slot s) {
    const auto& c = h.fields[s];
    return c.type != raw_field::kind::none ? c : h.fields[slot_count + s];
}

std::optional<double> to_double(std::string_view s) {
    double d = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (ec != std::errc{} || ptr != s.data() + s.size() || !std::isfinite(d))
        return std::nullopt;
    return d;
}

// Ids are strings; numbers written by other ports become their integer spelling.
std::optional<std::string> as_id(const raw_field& f) {
    if (f.type == raw_field::kind::string)
        return f.text;
    if (f.type != raw_field::kind::number)
        return std::nullopt;
    if (!f.text.empty() && f.text.find_first_not_of("0123456789") == std::string::npos)
        return f.text;
    auto d = to_double(f.text);
    if (!d || *d < 0 || *d >= 1e18 || std::floor(*d) != *d)
        return std::nullopt;
    return std::to_string(static_cast<long long>(*d));
}

}  // namespace

std::optional<message> parse_message(std::string_view json_text) {
    json::basic_parser<message_handler> parser{json::parse_options{}};
    error_code ec;
    const std::size_t used = parser.write_some(false, json_text.data(), json_text.size(), ec);
    if (ec || !parser.done() || !parser.handler().top_is_object)
        return std::nullopt;
    if (json_text.substr(used).find_first_not_of(" \t\r\n") != std::string_view::npos) {
        return std::nullopt;  // trailing garbage
    }
    const auto& h = parser.handler();

    const auto& body = pick(h, text);
    const auto& when = pick(h, date);
    if (body.type != raw_field::kind::string)
        return std::nullopt;
    if (when.type != raw_field::kind::number && when.type != raw_field::kind::string) {
        return std::nullopt;
    }
    auto seconds = to_double(when.text);
    auto room = as_id(pick(h, room_id));
    auto sender = as_id(pick(h, from));
    if (!seconds || !room || !sender)
        return std::nullopt;

    message m;
    m.room_id = std::move(*room);
    m.from = std::move(*sender);
    m.date = *seconds;
    m.text = body.text;
    if (auto mid = as_id(pick(h, id)))
        m.id = std::move(*mid);
    if (const auto& e = pick(h, edited); e.type == raw_field::kind::number)
        m.edited = to_double(e.text);
    const auto& d = pick(h, deleted);
    m.deleted = d.type == raw_field::kind::boolean && d.text == "true";
    return m;
}

std::optional<double> cursor_score(std::string_view before) {
    if (before.empty() || before.size() > 40)
        return std::nullopt;
    const auto dash = before.find('-');
    if (dash != std::string_view::npos) {
        const auto ms = before.substr(0, dash);
        if (ms.empty() || ms.find_first_not_of("0123456789") != std::string_view::npos)
            return std::nullopt;
        auto v = to_double(ms);
        if (!v)
            return std::nullopt;
        return *v / 1000.0;
    }
    auto seconds = to_double(before);
    if (!seconds || *seconds < 0)
        return std::nullopt;
    return seconds;
}

std::optional<double> parse_date(std::string_view text) {
    return to_double(text);
}

std::string message_id(double date) {
    return fmt::format("{:.0f}-{}", date * 1000.0, random_hex(4));
}

std::string format_date(double seconds) {
    // The shortest text that reads back to the same double; fmt (like JavaScript) switches to
    // an exponent only for extreme values, which JSON and Redis scores accept too.
    return fmt::format("{}", seconds);
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
    if (m.edited) {
        out += ",\"edited\":";
        out += format_date(*m.edited);
    }
    if (m.deleted)
        out += ",\"deleted\":true";
    out += "}";
    return out;
}

}  // namespace redchat::chat
