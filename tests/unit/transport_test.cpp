#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/random_id.hpp"
#include "transport/connection_limiter.hpp"
#include "transport/cookies.hpp"
#include "transport/http_session.hpp"
#include "transport/origin_policy.hpp"
#include "transport/static_files.hpp"

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

}  // namespace
}  // namespace redchat::transport
