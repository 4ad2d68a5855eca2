#pragma once
// Which browser origins may open a socket or change state (cross-site WebSocket hijacking and
// CSRF protection). A request without an Origin header is not a browser's cross-site request
// and passes; so does the server's own origin (the Host it was reached at, same port, and https
// when the server sits behind TLS), an origin of the allow-list (scheme, host and port), and,
// only when enabled (by default when the server listens on loopback only), localhost on any port.

#include <string>
#include <string_view>
#include <vector>

namespace redchat::transport {

class origin_policy {
  public:
    struct options {
        bool allow_localhost = true;  // http(s)://localhost|127.0.0.1|[::1] on any port
        bool require_https = false;   // the own origin must be https (cookies are Secure)
    };

    // `allowed`: extra origins such as "https://chat.example.com"; "*" allows every origin.
    origin_policy(std::vector<std::string> allowed, options opts);
    explicit origin_policy(std::vector<std::string> allowed)
        : origin_policy(std::move(allowed), options{}) {}

    // `origin`: the Origin header (empty when absent); `host`: the Host header.
    bool allows(std::string_view origin, std::string_view host) const;

  private:
    std::vector<std::string> allowed_;  // normalised: lowercase, default port dropped
    bool any_ = false;
    options opts_;
};

}  // namespace redchat::transport
