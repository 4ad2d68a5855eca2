#pragma once
// The HTTP API of compat-spec §1, independent of any HTTP library: the transport turns a request
// into an api_request, awaits handle(), and writes the api_response.

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "chat/store.hpp"
#include "config/config.hpp"
#include "core/keyed_buckets.hpp"
#include "core/metrics.hpp"
#include "core/startup_gate.hpp"

namespace redchat::chat {

struct api_request {
    std::string method;  // "GET", "POST", ...
    std::string target;  // origin-form: path and query, still encoded
    std::string body;
    std::optional<std::string> session_id;  // from the session cookie, if any
    std::string client_address;             // the peer's IP address (login throttling)
};

struct api_response {
    int status = 200;
    std::string body;                        // JSON
    std::optional<std::string> set_session;  // a new session id to send as a cookie
    bool clear_session = false;              // expire the session cookie
    std::string allow;                       // for 405: the allowed methods
    long long retry_after = 0;               // for 429: seconds (Retry-After)
};

class rest_api {
  public:
    // `room_rates`: the per-user room-creation buckets; `registration_rates`: new accounts per
    // client address. Both shared by every thread's rest_api.
    rest_api(store& db, password_hasher& hasher, const config::server_config& cfg,
             keyed_buckets& room_rates, keyed_buckets& registration_rates,
             std::string server_id = "redchat");

    // The metrics route of `target` if it is an API path, nullopt otherwise (static files).
    static std::optional<metrics::route> match(std::string_view target);

    // Never throws for bad input; store failures become 503.
    boost::asio::awaitable<api_response> handle(api_request req);

    // While `gate` holds, new accounts are refused with 503 (logins of existing users work).
    void set_startup_gate(const startup_gate* gate) { startup_ = gate; }

  private:
    struct context;
    struct page_query;
    boost::asio::awaitable<api_response> me(context& ctx);
    boost::asio::awaitable<api_response> login(context& ctx);
    boost::asio::awaitable<api_response> logout(context& ctx);
    boost::asio::awaitable<api_response> users_online(context& ctx);
    boost::asio::awaitable<api_response> users(context& ctx);
    boost::asio::awaitable<api_response> rooms(context& ctx);
    boost::asio::awaitable<api_response> room_messages(context& ctx);
    // A history page with the session read in the same round trip (the session's user unknown).
    boost::asio::awaitable<api_response> room_page(context& ctx, page_query query);
    static std::variant<page_query, api_response> page_query_of(const context& ctx,
                                                                const config::server_config& cfg);
    boost::asio::awaitable<api_response> create_room(context& ctx);
    boost::asio::awaitable<api_response> read_state(context& ctx);
    boost::asio::awaitable<api_response> room_reads(context& ctx);
    boost::asio::awaitable<api_response> room_reactions(context& ctx);
    boost::asio::awaitable<api_response> create_group(context& ctx);
    boost::asio::awaitable<api_response> show_group(context& ctx);
    boost::asio::awaitable<api_response> rename_group(context& ctx);
    boost::asio::awaitable<api_response> add_group_members(context& ctx);
    boost::asio::awaitable<api_response> remove_group_member(context& ctx);
    boost::asio::awaitable<api_response> search_users(context& ctx);
    // A group and its members with their names and online state, as JSON.
    boost::asio::awaitable<api_response> group_reply(int status, group_info group);
    // A group change's outcome as an answer: the group with `status`, or the refusal.
    boost::asio::awaitable<api_response> group_changed_reply(result<group_change> changed,
                                                             int status);

    store& db_;
    password_hasher& hasher_;
    const config::server_config& cfg_;
    keyed_buckets& room_rates_;
    keyed_buckets& registration_rates_;
    std::string server_id_;  // of the events this API publishes (group changes)
    const startup_gate* startup_ = nullptr;
};

// The request target with bytes that browsers and HTTP clients send raw but RFC 3986 forbids
// (`[`, `]`, `{`, `}`, `|`, `^`, `"`, `<`, `>`, `\`, backtick, non-ASCII) percent-encoded, so
// that `/users?ids[]=1` parses like `/users?ids%5B%5D=1`. Control characters stay (and fail).
std::string normalize_target(std::string_view target);

// {"message": text} with escaping.
std::string error_body(std::string_view text);

}  // namespace redchat::chat
