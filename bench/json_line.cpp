#include "json_line.hpp"

#include "latency_histogram.hpp"

#include <charconv>
#include <cmath>

namespace redchat::bench {
namespace {

void append_quoted(std::string& out, std::string_view text) {
    out += '"';
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20) {
            static constexpr char hex[] = "0123456789abcdef";
            out += "\\u00";
            out += hex[u >> 4];
            out += hex[u & 15];
        } else {
            out += c;
        }
    }
    out += '"';
}

}  // namespace

void json_line::begin(std::string_view key) {
    if (!first_)
        out_ += ',';
    first_ = false;
    append_quoted(out_, key);
    out_ += ':';
}

json_line& json_line::field(std::string_view key, std::string_view text) {
    begin(key);
    append_quoted(out_, text);
    return *this;
}

json_line& json_line::field(std::string_view key, double value) {
    begin(key);
    if (!std::isfinite(value)) {
        out_ += "null";
        return *this;
    }
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed, 3);
    if (ec != std::errc{}) {
        out_ += "null";
        return *this;
    }
    std::string_view text(buf, static_cast<std::size_t>(end - buf));
    while (text.ends_with('0'))
        text.remove_suffix(1);
    if (text.ends_with('.'))
        text.remove_suffix(1);
    if (text == "-0")
        text = "0";
    out_ += text;
    return *this;
}

json_line& json_line::percentiles(std::string_view key, const latency_histogram& h) {
    open(key);
    field("p50", h.percentile_ms(50));
    field("p99", h.percentile_ms(99));
    field("p999", h.percentile_ms(99.9));
    field("max", h.max_ms());
    field("mean", h.mean_ms());
    field("samples", h.count());
    return close();
}

json_line& json_line::open(std::string_view key) {
    begin(key);
    out_ += '{';
    first_ = true;
    return *this;
}

json_line& json_line::close() {
    out_ += '}';
    first_ = false;
    return *this;
}

}  // namespace redchat::bench
