#pragma once
// Which browser origins may open a socket or change state (cross-site WebSocket hijacking and
// CSRF protection). A request without an Origin header is not a browser's cross-site request
// and passes; the server's own origin (the Host it was reached at) and localhost always pass.

#include <string>
#include <string_view>
#include <vector>

namespace redchat::transport {

class origin_policy {
  public:
    // `allowed`: extra origins such as "https://chat.example.com"; "*" allows every origin.
    explicit origin_policy(std::vector<std::string> allowed);

    // `origin`: the Origin header (empty when absent); `host`: the Host header.
    bool allows(std::string_view origin, std::string_view host) const;

  private:
    std::vector<std::string> allowed_;
    bool any_ = false;
};

}  // namespace redchat::transport
