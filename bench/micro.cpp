// redchat-micro: Google Benchmark timings of the pure code every chat message goes through
// (UTF-8 validation, the bus envelope's parse, the Socket.IO event's encoding). Each variant
// that replaced another keeps the old one beside it here ("_reference"), so that one run
// measures both on the same machine at the same moment (bench/RESULTS.md).
//
//   build/release/redchat-micro --benchmark_repetitions=5 --benchmark_report_aggregates_only=true

#include <benchmark/benchmark.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "chat/bus_event.hpp"
#include "core/utf8.hpp"
#include "socketio/socketio_codec.hpp"

namespace {

// A chat text of the rooms benchmark's size (64 bytes), and one with accents and an emoji.
const std::string ascii_text = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do.";
const std::string mixed_text =
    "Caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9"
    "e \xf0\x9f\x98\x80 \xe2\x82\xac 12, d\xc3\xa9"
    "j\xc3\xa0 vu, na\xc3\xaf"
    "ve fa\xc3\xa7"
    "ade";

// utf8_length as it was before the eight-byte ASCII step: one code point at a time.
std::optional<std::size_t> utf8_length_reference(std::string_view s) {
    std::size_t count = 0;
    for (std::size_t i = 0; i < s.size();) {
        if (!redchat::next_code_point(s, i))
            return std::nullopt;
        ++count;
    }
    return count;
}

// `count` (the current utf8_length or the old loop) over `text`.
void utf8(benchmark::State& state, std::optional<std::size_t> (*count)(std::string_view),
          const std::string* text) {
    for (auto _ : state)
        benchmark::DoNotOptimize(count(*text));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text->size()));
}
BENCHMARK_CAPTURE(utf8, length_ascii, &redchat::utf8_length, &ascii_text);
BENCHMARK_CAPTURE(utf8, length_ascii_reference, &utf8_length_reference, &ascii_text);
BENCHMARK_CAPTURE(utf8, length_mixed, &redchat::utf8_length, &mixed_text);
BENCHMARK_CAPTURE(utf8, length_mixed_reference, &utf8_length_reference, &mixed_text);

// A message as the tutorial's bus carries it (compat-spec: serverId, type, data).
const std::string envelope =
    R"({"serverId":"redchat-0a1b2c3d4e5f","type":"message","data":{"id":"1796204884235-b5e852f1",)"
    R"("from":"17","date":1796204884.235,"message":")" +
    ascii_text + R"(","roomId":"17:42"}})";

void bus_envelope_parse(benchmark::State& state) {
    for (auto _ : state)
        benchmark::DoNotOptimize(redchat::chat::parse_envelope(envelope));
}
BENCHMARK(bus_envelope_parse);

void socketio_event_encode(benchmark::State& state) {
    const std::string data = R"({"id":"1796204884235-b5e852f1","from":"17","date":1796204884.235,)"
                             R"("message":")" +
                             ascii_text + R"(","roomId":"17:42"})";
    for (auto _ : state)
        benchmark::DoNotOptimize(redchat::socketio::encode_event("/", "message", data));
}
BENCHMARK(socketio_event_encode);

}  // namespace

BENCHMARK_MAIN();
