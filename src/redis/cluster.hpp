#pragma once
// Redis Cluster routing, sans-I/O (the first piece of issue 14): the hash slot of a key (CRC16
// of the key, or of its hash tag), the slot table of a cluster (read from CLUSTER SLOTS), and
// the redirections a node answers with (MOVED, ASK). No sockets here: a client asks the table
// which node to send a command to, and tells it what the nodes answered. Never throws on bad
// input: a malformed reply or redirection is nullopt.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "redis/reply.hpp"

namespace redchat::redis::cluster {

inline constexpr std::size_t slot_count = 16384;

// CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), as the cluster specification uses.
std::uint16_t crc16(std::string_view bytes);

// What of `key` is hashed: the content of its first `{...}` when that is not empty, else the
// whole key. Keys that must live together (a script's keys) share a tag: `{room:1:2}:messages`.
std::string_view hash_tag(std::string_view key);

std::uint16_t key_slot(std::string_view key);

// The key a command is routed by: the first key of EVAL/EVALSHA (none when it has no keys),
// the channel of SPUBLISH/SSUBSCRIBE, none for the commands that name no key (PING, PUBLISH,
// SCRIPT, CLUSTER, WAIT, ...), else the first argument. Commands with several keys must keep
// them in one slot (hash tags): Redis refuses them otherwise (CROSSSLOT).
std::optional<std::string_view> routing_key(const std::vector<std::string>& cmd);

struct endpoint {
    std::string host;  // as the node announced it; may be empty (see parse_redirect)
    std::uint16_t port = 0;
    bool operator==(const endpoint&) const = default;
};

struct redirect {
    bool ask = false;  // ASK: this command only, after ASKING; MOVED: the slot moved for good
    std::uint16_t slot = 0;
    endpoint to;  // an empty host means the host of the node that answered
};

// `MOVED <slot> <host>:<port>` or `ASK <slot> <host>:<port>` (an IPv6 host keeps its colons: the
// port follows the last one). nullopt for any other error text.
std::optional<redirect> parse_redirect(std::string_view error);

class slot_table {
  public:
    // From a CLUSTER SLOTS reply: an array of [start, end, [host, port, ...], replicas...]. nullopt
    // when it is malformed (a range out of order or past the last slot, a node without a port).
    static std::optional<slot_table> from_cluster_slots(const reply& r);

    // The master that serves `slot`; nullptr when no node does (the cluster is not covered).
    const endpoint* master_of(std::uint16_t slot) const;
    // After a MOVED: the slot is served by `to` from now on.
    void move(std::uint16_t slot, const endpoint& to);
    // Masters announced without a host (a node that does not know its own address) are at
    // `host`, the address the table was read from.
    void fill_empty_hosts(std::string_view host);
    // Every master, each once.
    const std::vector<endpoint>& masters() const { return masters_; }
    // The replicas listed with `slot`'s master (CLUSTER SLOTS leaves out failed ones): how many
    // could take over from it now.
    std::size_t replicas_of(std::uint16_t slot) const;
    bool covers_all_slots() const;

    // Nodes remembered at most (a cluster has at most a few hundred masters).
    static constexpr std::size_t max_masters = 4096;

  private:
    std::uint16_t index_of(const endpoint& node);

    std::vector<endpoint> masters_;
    std::array<std::uint16_t, slot_count> owner_{};  // slot -> index in masters_ + 1; 0: none
    std::vector<std::uint8_t> replicas_;             // per master, as listed (at most 255)
};

}  // namespace redchat::redis::cluster
