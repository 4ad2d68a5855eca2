// Whole HTTP requests as a client sends them: Beast's parser with the server's limits, then
// everything the server derives from the request (target, cookie, Origin) and the REST API's
// handling of it, JSON body and query string included, on an in-memory store.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/url/parse.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

#include "chat/rest_api.hpp"
#include "config/config.hpp"
#include "fake_store.hpp"
#include "transport/cookies.hpp"
#include "transport/origin_policy.hpp"

namespace {

namespace http = boost::beast::http;
using namespace redchat;

struct fixture {
    config::server_config cfg;
    testing::fake_store db;
    testing::fake_hasher hasher;
    keyed_buckets room_rates{1000, 1000};
    keyed_buckets registration_rates{1000, 1000};
    chat::rest_api api{db, hasher, cfg, room_rates, registration_rates};
    transport::origin_policy origins{{"https://chat.example.com"}};

    fixture() {
        db.add_user("Pablo", "fake$password123");
        db.add_user("Joe", "fake$password123");
        db.room_name["0"] = "General";
        db.rooms_of["1"].insert("1:2");
        db.sessions[std::string(32, 'a')] = "1";
        db.messages["0"].emplace_back(1.0, R"({"roomId":"0","from":"1","date":1,"message":"hi"})");
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fixture f;  // fresh per input, so that every run is reproducible
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(f.cfg.limit.max_header_bytes));
    parser.body_limit(f.cfg.limit.max_body_bytes);
    parser.eager(true);
    boost::beast::error_code ec;
    parser.put(boost::asio::buffer(data, size), ec);
    if (ec || !parser.is_done())
        return 0;
    const auto& req = parser.get();

    chat::api_request api_req;
    api_req.method = std::string(req.method_string());
    api_req.target = chat::normalize_target(req.target());
    api_req.body = req.body();
    api_req.client_address = "127.0.0.1";
    if (auto cookie = req.find(http::field::cookie); cookie != req.end())
        api_req.session_id = transport::session_from_cookie(cookie->value());
    std::string_view origin, host;
    if (auto o = req.find(http::field::origin); o != req.end())
        origin = o->value();
    if (auto h = req.find(http::field::host); h != req.end())
        host = h->value();
    (void)f.origins.allows(origin, host);
    if (auto url = boost::urls::parse_origin_form(api_req.target))
        (void)url->path();
    if (!chat::rest_api::match(api_req.target))
        return 0;

    boost::asio::io_context ioc;
    boost::asio::co_spawn(
        ioc,
        [](chat::rest_api& api, chat::api_request r) -> boost::asio::awaitable<void> {
            auto res = co_await api.handle(std::move(r));
            if (res.status < 200 || res.status > 599)
                __builtin_trap();  // every answer is a real HTTP status
        }(f.api, std::move(api_req)),
        boost::asio::detached);
    ioc.run();
    return 0;
}
