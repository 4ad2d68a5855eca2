#pragma once
// Builds the one-line JSON result object: fields in insertion order, nested objects, numbers
// with at most three decimals, null for figures that were not measured.

#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace redchat::bench {

class latency_histogram;

class json_line {
  public:
    json_line() : out_("{") {}

    json_line& field(std::string_view key, std::string_view text);
    json_line& field(std::string_view key, const char* text) {
        return field(key, std::string_view(text));
    }
    json_line& field(std::string_view key, double value);
    template <std::integral Int>
    json_line& field(std::string_view key, Int value) {
        begin(key);
        out_ += std::to_string(value);
        return *this;
    }
    template <class T>
    json_line& field(std::string_view key, const std::optional<T>& value) {
        if (value)
            return field(key, *value);
        begin(key);
        out_ += "null";
        return *this;
    }
    // {"p50":..,"p99":..,"p999":..,"max":..,"mean":..,"samples":..} in milliseconds.
    json_line& percentiles(std::string_view key, const latency_histogram& h);

    json_line& open(std::string_view key);
    json_line& close();

    // The finished line (without a newline).
    std::string str() const { return out_ + "}"; }

  private:
    void begin(std::string_view key);

    std::string out_;
    bool first_ = true;
};

}  // namespace redchat::bench
