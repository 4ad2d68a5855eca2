#pragma once
// Who the client is behind trusted proxies: the TCP peer, unless the peer is one of
// `--trusted-proxies`; then the address its X-Forwarded-For (or, without one, Forwarded) header
// names, read from the right and skipping the trusted proxies in the chain. Untrusted bytes, no
// I/O: unit-tested and fuzzed.

#include <string>
#include <string_view>
#include <vector>

#include "core/cidr.hpp"

namespace redchat::transport {

// `peer`: the TCP peer's address; `x_forwarded_for` and `forwarded`: the headers (empty when
// absent). Returns the client's address in canonical text form.
std::string client_address(std::string_view peer, std::string_view x_forwarded_for,
                           std::string_view forwarded, const std::vector<cidr>& trusted);

}  // namespace redchat::transport
