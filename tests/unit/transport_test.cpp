#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>

#include "core/random_id.hpp"
#include "transport/connection_limiter.hpp"
#include "transport/cookies.hpp"
#include "transport/forwarded.hpp"
#include "transport/http_session.hpp"
#include "transport/origin_policy.hpp"
#include "transport/static_files.hpp"
#include "transport/ws_codec.hpp"

namespace redchat::transport {
namespace {

namespace fs = std::filesystem;

class static_files_test : public ::testing::Test {
  protected:
    static_files_test() : root_(fs::temp_directory_path() / ("redchat-static-" + random_hex(6))) {
        fs::create_directories(root_ / "assets");
        write(root_ / "index.html", "<!doctype html>");
        write(root_ / "assets/app-1234.js", "console.log(1)");
        write(root_ / "favicon.ico", "ico");
        write(root_.parent_path() / "outside-secret.txt", "secret");
    }
    ~static_files_test() override {
        fs::remove_all(root_);
        fs::remove(root_.parent_path() / "outside-secret.txt");
    }
    static void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

    fs::path root_;
};

TEST_F(static_files_test, serves_files_with_types_and_cache_policy) {
    static_files files(root_);
    auto index = files.lookup("/");
    ASSERT_TRUE(index);
    EXPECT_EQ(index->path.filename(), "index.html");
    EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
    EXPECT_EQ(index->cache_control, "no-cache");
    EXPECT_EQ(index->etag.front(), '"');

    auto js = files.lookup("/assets/app-1234.js");
    ASSERT_TRUE(js);
    EXPECT_EQ(js->content_type, "text/javascript; charset=utf-8");
    EXPECT_EQ(js->cache_control, "public, max-age=31536000, immutable");
    EXPECT_EQ(js->size, 14u);

    auto ico = files.lookup("/favicon.ico");
    ASSERT_TRUE(ico);
    EXPECT_EQ(ico->content_type, "image/x-icon");
    EXPECT_EQ(ico->cache_control, "public, max-age=3600");
}

TEST_F(static_files_test, spa_fallback_only_for_extensionless_paths) {
    static_files files(root_);
    auto route = files.lookup("/rooms/1:2");
    ASSERT_TRUE(route);
    EXPECT_EQ(route->path.filename(), "index.html");
    EXPECT_FALSE(files.lookup("/missing.js"));
    EXPECT_FALSE(files.lookup("/assets/missing.css"));
}

TEST_F(static_files_test, never_leaves_the_root) {
    static_files files(root_);
    EXPECT_FALSE(files.lookup("/../outside-secret.txt"));
    EXPECT_FALSE(files.lookup("/assets/../../outside-secret.txt"));
    EXPECT_FALSE(files.lookup("/..\\outside-secret.txt"));
    EXPECT_FALSE(files.lookup(std::string("/index.html\0.js", 15)));
    EXPECT_FALSE(files.lookup("relative.txt"));
}

TEST_F(static_files_test, missing_root_misses_everything) {
    static_files files(root_ / "nope");
    EXPECT_FALSE(files.has_index());
    EXPECT_FALSE(files.lookup("/"));
    EXPECT_FALSE(files.lookup("/some/route"));
}

TEST(mime, known_and_unknown_types) {
    EXPECT_EQ(mime_type(".CSS"), "text/css; charset=utf-8");
    EXPECT_EQ(mime_type(".svg"), "image/svg+xml");
    EXPECT_EQ(mime_type(".woff2"), "font/woff2");
    EXPECT_EQ(mime_type(".weird"), "application/octet-stream");
    EXPECT_EQ(mime_type(""), "application/octet-stream");
}

TEST(cookie, finds_a_well_formed_session_id) {
    const std::string sid(32, 'f');
    EXPECT_EQ(session_from_cookie("redchat_sid=" + sid), sid);
    EXPECT_EQ(session_from_cookie("a=1; redchat_sid=" + sid + "; b=2"), sid);
    EXPECT_EQ(session_from_cookie("  redchat_sid=" + sid + "  "), sid);
    EXPECT_FALSE(session_from_cookie("redchat_sid=short"));
    EXPECT_FALSE(session_from_cookie("redchat_sid=" + std::string(32, 'G')));
    EXPECT_FALSE(session_from_cookie("redchat_sidx=" + sid));
    EXPECT_FALSE(session_from_cookie("xredchat_sid=" + sid));
    EXPECT_FALSE(session_from_cookie(""));
    EXPECT_FALSE(session_from_cookie(";;;="));
    // The first well-formed one wins.
    EXPECT_EQ(session_from_cookie("redchat_sid=bad; redchat_sid=" + sid), sid);
}

TEST(origin_policy, own_origin_localhost_and_the_allow_list) {
    origin_policy policy({"https://chat.example.com"});
    EXPECT_TRUE(policy.allows("", "chat.example.com"));  // not a browser's cross-site request
    EXPECT_TRUE(policy.allows("https://redchat.io", "redchat.io"));
    EXPECT_TRUE(policy.allows("http://REDCHAT.io:8080", "redchat.io:8080"));
    EXPECT_TRUE(policy.allows("http://localhost:5173", "redchat.io"));
    EXPECT_TRUE(policy.allows("http://127.0.0.1:9", "redchat.io"));
    EXPECT_TRUE(policy.allows("http://[::1]:8080", "redchat.io"));
    EXPECT_TRUE(policy.allows("https://chat.example.com", "internal:8080"));
    EXPECT_FALSE(policy.allows("https://evil.example", "redchat.io"));
    EXPECT_FALSE(policy.allows("http://redchat.io:8081", "redchat.io:8080"));
    EXPECT_FALSE(policy.allows("https://localhost.evil.example", "redchat.io"));
    EXPECT_FALSE(policy.allows("null", "redchat.io"));
    EXPECT_FALSE(policy.allows("file://", "redchat.io"));
    EXPECT_FALSE(policy.allows("https://user@redchat.io", "redchat.io"));
    EXPECT_TRUE(origin_policy({"*"}).allows("https://evil.example", "redchat.io"));
}

TEST(origin_policy, localhost_only_when_enabled_and_scheme_and_port_compared) {
    const origin_policy served({"https://chat.example.com:8443"},
                               {.allow_localhost = false, .require_https = true});
    EXPECT_FALSE(served.allows("http://localhost:5173", "redchat.io"));
    EXPECT_FALSE(served.allows("http://127.0.0.1:8080", "127.0.0.1:8080"));  // not https
    EXPECT_TRUE(served.allows("https://redchat.io", "redchat.io"));
    EXPECT_TRUE(served.allows("https://redchat.io", "redchat.io:443"));  // default port
    EXPECT_FALSE(served.allows("http://redchat.io", "redchat.io"));      // behind TLS: https only
    EXPECT_FALSE(served.allows("https://redchat.io:8443", "redchat.io"));
    EXPECT_TRUE(served.allows("https://chat.example.com:8443", "internal:8080"));
    EXPECT_FALSE(served.allows("http://chat.example.com:8443", "internal:8080"));  // scheme
    EXPECT_FALSE(served.allows("https://chat.example.com", "internal:8080"));      // port
    const origin_policy plain({"https://chat.example.com/"}, {.allow_localhost = true});
    EXPECT_TRUE(plain.allows("https://chat.example.com:443", "internal"));
    EXPECT_TRUE(plain.allows("http://redchat.io:80", "redchat.io"));
}

TEST(forwarded, the_client_behind_trusted_proxies_only) {
    const std::vector<cidr> trusted{*parse_cidr("127.0.0.1/32"), *parse_cidr("10.0.0.0/8"),
                                    *parse_cidr("fd00::/8")};
    // An untrusted peer: its own address, whatever it claims.
    EXPECT_EQ(client_address("203.0.113.9", "1.2.3.4", "", trusted), "203.0.113.9");
    EXPECT_EQ(client_address("203.0.113.9", "", "", {}), "203.0.113.9");
    // A trusted proxy: the rightmost address that is not a proxy of ours.
    EXPECT_EQ(client_address("127.0.0.1", "198.51.100.7", "", trusted), "198.51.100.7");
    EXPECT_EQ(client_address("127.0.0.1", "6.6.6.6, 198.51.100.7, 10.1.2.3", "", trusted),
              "198.51.100.7");  // the spoofed left part is never reached
    EXPECT_EQ(client_address("::ffff:127.0.0.1", " 2001:db8::1 ", "", trusted), "2001:db8::1");
    EXPECT_EQ(client_address("127.0.0.1", "", R"(for="[2001:db8::2]:4711";proto=https)", trusted),
              "2001:db8::2");
    EXPECT_EQ(client_address("127.0.0.1", "", "for=192.0.2.60:1234, for=10.0.0.1", trusted),
              "192.0.2.60");
    // Nothing usable: the proxy itself.
    EXPECT_EQ(client_address("127.0.0.1", "", "", trusted), "127.0.0.1");
    EXPECT_EQ(client_address("127.0.0.1", "1.2.3.4, garbage", "", trusted), "127.0.0.1");
    EXPECT_EQ(client_address("10.0.0.5", "10.0.0.6", "", trusted), "10.0.0.5");
}

TEST(connection_limiter, counts_per_key_and_releases_on_destruction) {
    connection_limiter limiter(2);
    auto a = limiter.try_acquire("1.2.3.4");
    auto b = limiter.try_acquire("1.2.3.4");
    ASSERT_TRUE(a && b);
    EXPECT_FALSE(limiter.try_acquire("1.2.3.4"));
    EXPECT_TRUE(limiter.try_acquire("5.6.7.8"));  // released at once: a temporary
    EXPECT_EQ(limiter.count("5.6.7.8"), 0u);
    a.reset();
    EXPECT_EQ(limiter.count("1.2.3.4"), 1u);
    auto c = limiter.try_acquire("1.2.3.4");
    EXPECT_TRUE(c);
    std::optional<connection_limiter::slot> moved(std::move(c));
    c.reset();  // the moved-from slot releases nothing
    EXPECT_EQ(limiter.count("1.2.3.4"), 2u);
}

// ---- WebSocket codec ----

namespace ws_test {

// A client frame: masked with `mask`, FIN as given.
std::string client_frame(ws_opcode op, std::string_view payload, bool fin = true,
                         std::array<std::uint8_t, 4> mask = {1, 2, 3, 4}) {
    std::string f;
    f.push_back(static_cast<char>((fin ? 0x80 : 0) | static_cast<int>(op)));
    if (payload.size() < 126) {
        f.push_back(static_cast<char>(0x80 | payload.size()));
    } else if (payload.size() <= 0xFFFF) {
        f.push_back(static_cast<char>(0x80 | 126));
        f.push_back(static_cast<char>(payload.size() >> 8));
        f.push_back(static_cast<char>(payload.size() & 0xFF));
    } else {
        f.push_back(static_cast<char>(0x80 | 127));
        for (int i = 7; i >= 0; --i)
            f.push_back(static_cast<char>((payload.size() >> (8 * i)) & 0xFF));
    }
    for (auto m : mask)
        f.push_back(static_cast<char>(m));
    for (std::size_t i = 0; i < payload.size(); ++i)
        f.push_back(static_cast<char>(static_cast<std::uint8_t>(payload[i]) ^ mask[i % 4]));
    return f;
}

}  // namespace ws_test

TEST(ws_codec, accept_key_of_rfc6455_example) {
    EXPECT_EQ(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(ws_codec, server_frames_use_the_shortest_length) {
    EXPECT_EQ(ws_frame(ws_opcode::text, "hi"), std::string("\x81\x02hi"));
    const std::string mid(200, 'a');
    const auto f = ws_frame(ws_opcode::text, mid);
    ASSERT_EQ(f.size(), 4 + mid.size());
    EXPECT_EQ(static_cast<std::uint8_t>(f[1]), 126);
    EXPECT_EQ(static_cast<std::uint8_t>(f[2]) * 256 + static_cast<std::uint8_t>(f[3]), 200);
    EXPECT_EQ(ws_header_size(70000), 10u);
    EXPECT_EQ(ws_close_frame(1009, "big"), std::string("\x88\x05\x03\xF1"
                                                       "big",
                                                       7));
    EXPECT_EQ(ws_close_code(std::string("\x03\xE8", 2)), 1000);
    EXPECT_EQ(ws_close_code(""), 1005);
}

TEST(ws_codec, decodes_masked_frames_byte_by_byte_and_reassembles_fragments) {
    using ws_test::client_frame;
    const std::string big(70000, 'x');
    const std::string stream =
        client_frame(ws_opcode::text, "42[\"a\"]") + client_frame(ws_opcode::text, "frag", false) +
        client_frame(ws_opcode::ping, "p") +  // between fragments
        client_frame(ws_opcode::continuation, "ment") + client_frame(ws_opcode::binary, big);
    ws_decoder decoder(100000);
    std::vector<ws_message> got;
    std::string pending;
    for (char c : stream) {  // the worst case: one byte per read
        pending.push_back(c);
        std::string_view in(pending);
        ws_message m;
        for (;;) {
            const auto st = decoder.next(in, m);
            ASSERT_NE(st, ws_decoder::status::error);
            if (st == ws_decoder::status::need_more)
                break;
            got.push_back(m);
        }
        pending = std::string(in);
    }
    ASSERT_EQ(got.size(), 4u);
    EXPECT_EQ(got[0].opcode, ws_opcode::text);
    EXPECT_EQ(got[0].payload, "42[\"a\"]");
    EXPECT_EQ(got[1].opcode, ws_opcode::ping);
    EXPECT_EQ(got[2].payload, "fragment");
    EXPECT_EQ(got[3].opcode, ws_opcode::binary);
    EXPECT_EQ(got[3].payload, big);
    EXPECT_TRUE(pending.empty());
}

TEST(ws_codec, refuses_protocol_violations_with_their_close_code) {
    using ws_test::client_frame;
    auto first_error = [](const std::string& bytes, std::size_t max = 1000) {
        ws_decoder d(max);
        std::string_view in(bytes);
        ws_message m;
        while (d.next(in, m) == ws_decoder::status::message) {
        }
        return d.error();
    };
    EXPECT_EQ(first_error(std::string("\x81\x02hi")), ws_close::protocol_error);  // unmasked
    std::string rsv = client_frame(ws_opcode::text, "x");
    rsv[0] = static_cast<char>(rsv[0] | 0x40);
    EXPECT_EQ(first_error(rsv), ws_close::protocol_error);  // compression was not agreed
    EXPECT_EQ(first_error(client_frame(ws_opcode::ping, std::string(126, 'p'))),
              ws_close::protocol_error);  // control frames are short
    EXPECT_EQ(first_error(client_frame(ws_opcode::ping, "p", false)), ws_close::protocol_error);
    EXPECT_EQ(first_error(client_frame(ws_opcode::continuation, "x")), ws_close::protocol_error);
    EXPECT_EQ(
        first_error(client_frame(ws_opcode::text, "a", false) + client_frame(ws_opcode::text, "b")),
        ws_close::protocol_error);  // a new message inside a fragmented one
    std::string reserved = client_frame(ws_opcode::text, "x");
    reserved[0] = static_cast<char>(0x83);
    EXPECT_EQ(first_error(reserved), ws_close::protocol_error);
    EXPECT_EQ(first_error(client_frame(ws_opcode::text, std::string(1001, 'a'))),
              ws_close::too_big);
    // The length alone is refused: a huge announced frame is never buffered.
    std::string huge("\x81\xFF\x00\x00\x00\x01\x00\x00\x00\x00", 10);
    EXPECT_EQ(first_error(huge), ws_close::too_big);
    EXPECT_EQ(first_error(client_frame(ws_opcode::text, std::string(600, 'a'), false) +
                          client_frame(ws_opcode::continuation, std::string(600, 'a'))),
              ws_close::too_big);  // fragments add up
}

TEST(ws_codec, text_messages_must_be_utf8_as_a_whole) {
    using ws_test::client_frame;
    auto decode_all = [](const std::string& bytes, std::vector<ws_message>& out) {
        ws_decoder d(1000);
        std::string_view in(bytes);
        ws_message m;
        while (d.next(in, m) == ws_decoder::status::message)
            out.push_back(m);
        return d.error();
    };
    std::vector<ws_message> got;
    // "é" (C3 A9) split across two fragments is one valid character.
    EXPECT_EQ(decode_all(client_frame(ws_opcode::text, "caf\xc3", false) +
                             client_frame(ws_opcode::continuation, "\xa9"),
                         got),
              0);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].payload, "caf\xc3\xa9");
    got.clear();
    for (const char* bad : {"\xff", "\xc3", "\xed\xa0\x80", "\xc0\xaf", "ok\xf4\x90\x80\x80"}) {
        EXPECT_EQ(decode_all(client_frame(ws_opcode::text, bad), got), ws_close::invalid_payload)
            << bad;
    }
    EXPECT_EQ(decode_all(client_frame(ws_opcode::text, "caf\xc3", false) +
                             client_frame(ws_opcode::continuation, "!"),
                         got),
              ws_close::invalid_payload);
    EXPECT_TRUE(got.empty());
    // Binary messages are bytes: not checked.
    EXPECT_EQ(decode_all(client_frame(ws_opcode::binary, "\xff\xfe"), got), 0);
    EXPECT_EQ(got.size(), 1u);
}

}  // namespace
}  // namespace redchat::transport
