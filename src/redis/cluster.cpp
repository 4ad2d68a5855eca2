#include "redis/cluster.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace redchat::redis::cluster {

std::uint16_t crc16(std::string_view bytes) {
    std::uint16_t crc = 0;
    for (const char c : bytes) {
        crc ^= static_cast<std::uint16_t>(static_cast<unsigned char>(c) << 8);
        for (int bit = 0; bit < 8; ++bit) {
            crc = (crc & 0x8000) != 0 ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021)
                                      : static_cast<std::uint16_t>(crc << 1);
        }
    }
    return crc;
}

std::string_view hash_tag(std::string_view key) {
    const auto open = key.find('{');
    if (open == std::string_view::npos)
        return key;
    const auto close = key.find('}', open + 1);
    if (close == std::string_view::npos || close == open + 1)
        return key;
    return key.substr(open + 1, close - open - 1);
}

std::uint16_t key_slot(std::string_view key) {
    return static_cast<std::uint16_t>(crc16(hash_tag(key)) % slot_count);
}

namespace {

template <typename Int>
std::optional<Int> parse_number(std::string_view text) {
    Int value{};
    const auto* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc{} || ptr != end || text.empty())
        return std::nullopt;
    return value;
}

std::optional<std::int64_t> integer_of(const reply& r) {
    if (r.type == reply::kind::integer)
        return r.integer;
    return std::nullopt;
}

}  // namespace

std::optional<std::string_view> routing_key(const std::vector<std::string>& cmd) {
    if (cmd.size() < 2)
        return std::nullopt;
    const auto is = [&](std::string_view name) {
        return std::equal(
            name.begin(), name.end(), cmd[0].begin(), cmd[0].end(),
            [](char a, char b) { return a == std::toupper(static_cast<unsigned char>(b)); });
    };
    if (is("EVAL") || is("EVALSHA") || is("EVAL_RO") || is("EVALSHA_RO") || is("FCALL")) {
        if (cmd.size() < 4 || cmd[2] == "0")
            return std::nullopt;
        return cmd[3];
    }
    for (const auto* keyless :
         {"PING",     "ECHO",    "PUBLISH", "SCRIPT",    "CLUSTER",     "WAIT",
          "INFO",     "CLIENT",  "CONFIG",  "SUBSCRIBE", "UNSUBSCRIBE", "AUTH",
          "SELECT",   "HELLO",   "ASKING",  "READONLY",  "TIME",        "DBSIZE",
          "FLUSHALL", "FLUSHDB", "COMMAND", "MULTI",     "EXEC",        "DISCARD"}) {
        if (is(keyless))
            return std::nullopt;
    }
    return cmd[1];
}

std::optional<redirect> parse_redirect(std::string_view error) {
    redirect out;
    if (error.starts_with("MOVED ")) {
        error.remove_prefix(6);
    } else if (error.starts_with("ASK ")) {
        out.ask = true;
        error.remove_prefix(4);
    } else {
        return std::nullopt;
    }
    const auto space = error.find(' ');
    if (space == std::string_view::npos)
        return std::nullopt;
    const auto slot = parse_number<std::uint32_t>(error.substr(0, space));
    if (!slot || *slot >= slot_count)
        return std::nullopt;
    out.slot = static_cast<std::uint16_t>(*slot);
    const auto address = error.substr(space + 1);
    const auto colon = address.rfind(':');
    if (colon == std::string_view::npos)
        return std::nullopt;
    const auto port = parse_number<std::uint16_t>(address.substr(colon + 1));
    if (!port || *port == 0)
        return std::nullopt;
    out.to.host.assign(address.substr(0, colon));
    out.to.port = *port;
    if (out.to.host.find(' ') != std::string::npos)
        return std::nullopt;
    return out;
}

std::optional<slot_table> slot_table::from_cluster_slots(const reply& r) {
    if (r.type != reply::kind::array)
        return std::nullopt;
    slot_table table;
    for (const auto& range : r.elements) {
        if (range.type != reply::kind::array || range.elements.size() < 3)
            return std::nullopt;
        const auto first = integer_of(range.elements[0]);
        const auto last = integer_of(range.elements[1]);
        if (!first || !last || *first < 0 || *last < *first ||
            *last >= static_cast<std::int64_t>(slot_count)) {
            return std::nullopt;
        }
        const auto& master = range.elements[2];
        if (master.type != reply::kind::array || master.elements.size() < 2)
            return std::nullopt;
        const auto host = master.elements[0].as_string();
        const auto port = integer_of(master.elements[1]);
        if (!host || !port || *port <= 0 || *port > 65535)
            return std::nullopt;
        const auto index = table.index_of(endpoint{*host, static_cast<std::uint16_t>(*port)});
        if (index != 0) {
            table.replicas_.resize(table.masters_.size());
            table.replicas_[index - 1] =
                static_cast<std::uint8_t>(std::min<std::size_t>(range.elements.size() - 3, 255));
        }
        for (auto slot = *first; slot <= *last; ++slot)
            table.owner_[static_cast<std::size_t>(slot)] = index;
    }
    return table;
}

std::uint16_t slot_table::index_of(const endpoint& node) {
    for (std::size_t i = 0; i < masters_.size(); ++i) {
        if (masters_[i] == node)
            return static_cast<std::uint16_t>(i + 1);
    }
    if (masters_.size() >= max_masters)
        return 0;  // no more room: the slot has no known owner, and the topology is read again
    masters_.push_back(node);
    return static_cast<std::uint16_t>(masters_.size());
}

const endpoint* slot_table::master_of(std::uint16_t slot) const {
    if (slot >= slot_count || owner_[slot] == 0)
        return nullptr;
    return &masters_[owner_[slot] - 1];
}

void slot_table::move(std::uint16_t slot, const endpoint& to) {
    if (slot >= slot_count)
        return;
    owner_[slot] = index_of(to);
}

void slot_table::fill_empty_hosts(std::string_view host) {
    for (auto& m : masters_) {
        if (m.host.empty())
            m.host.assign(host);
    }
}

std::size_t slot_table::replicas_of(std::uint16_t slot) const {
    if (slot >= slot_count || owner_[slot] == 0 || owner_[slot] > replicas_.size())
        return 0;
    return replicas_[owner_[slot] - 1];
}

bool slot_table::covers_all_slots() const {
    for (const auto owner : owner_) {
        if (owner == 0)
            return false;
    }
    return true;
}

}  // namespace redchat::redis::cluster
