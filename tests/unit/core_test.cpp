#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/bcrypt.hpp"
#include "core/cidr.hpp"
#include "core/compact_string.hpp"
#include "core/error.hpp"
#include "core/keyed_buckets.hpp"
#include "core/metrics.hpp"
#include "core/random_id.hpp"
#include "core/sha1.hpp"
#include "core/timer_wheel.hpp"
#include "core/token_bucket.hpp"

namespace redchat {
namespace {

TEST(random_id, is_32_lowercase_hex_and_unique) {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        auto id = random_hex_id();
        ASSERT_EQ(id.size(), 32u);
        for (char c : id)
            ASSERT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << id;
        seen.insert(id);
    }
    EXPECT_EQ(seen.size(), 1000u);
}

// Small requests come from a per-thread block refilled from the kernel: across refills, on
// two threads, and beside requests too large for the block, no bytes are handed out twice.
TEST(random_id, pooled_bytes_are_never_handed_out_twice) {
    std::vector<std::string> a;
    std::vector<std::string> b;
    std::thread other([&] {
        for (int i = 0; i < 2000; ++i)
            b.push_back(random_hex(8));
    });
    for (int i = 0; i < 2000; ++i) {
        a.push_back(random_hex(8));  // 125 refills of the 512-byte block
        if (i % 100 == 0)
            a.push_back(random_hex(100).substr(0, 16));  // from the kernel directly
    }
    other.join();
    std::set<std::string> seen(a.begin(), a.end());
    seen.insert(b.begin(), b.end());
    EXPECT_EQ(seen.size(), a.size() + b.size());
    std::set<char> digits;
    for (const auto& id : a) {
        ASSERT_EQ(id.size(), 16u);
        digits.insert(id.begin(), id.end());
    }
    EXPECT_EQ(digits.size(), 16u);  // every hex digit shows up
}

TEST(random_id, tokens_are_url_safe_unique_and_use_the_whole_alphabet) {
    std::set<std::string> seen;
    std::set<char> chars;
    for (int i = 0; i < 1000; ++i) {
        auto token = random_token(12);
        ASSERT_EQ(token.size(), 12u);
        for (char c : token) {
            ASSERT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                        (c >= 'A' && c <= 'Z') || c == '-' || c == '_')
                << token;
            chars.insert(c);
        }
        seen.insert(token);
    }
    EXPECT_EQ(seen.size(), 1000u);
    EXPECT_EQ(chars.size(), 64u);  // 12,000 draws from 64 characters miss one with p < 1e-80
}

TEST(compact_string, keeps_up_to_31_bytes_inside_and_longer_ones_on_the_heap) {
    const std::string channel = "redchat:bus:user:{1234567890}";  // 29 bytes
    compact_string a(channel);
    EXPECT_EQ(a.view(), channel);
    EXPECT_FALSE(a.on_heap());
    compact_string edge(std::string(31, 'x'));
    EXPECT_FALSE(edge.on_heap());
    EXPECT_EQ(edge.size(), 31u);
    const std::string long_name(32, 'y');
    compact_string b(long_name);
    EXPECT_TRUE(b.on_heap());
    EXPECT_EQ(b.view(), long_name);
    EXPECT_EQ(compact_string().view(), "");
    EXPECT_EQ(compact_string(std::string_view{}).size(), 0u);
}

TEST(compact_string, copies_and_moves_keep_the_text_and_leave_the_source_empty_or_intact) {
    const std::string long_name(100, 'z');
    for (const std::string& text : {std::string("short"), long_name}) {
        compact_string a(text);
        compact_string copy(a);
        EXPECT_EQ(copy.view(), text);
        EXPECT_EQ(a.view(), text);
        compact_string moved(std::move(a));
        EXPECT_EQ(moved.view(), text);
        EXPECT_EQ(a.view(), "");  // NOLINT: a moved-from compact string is empty
        compact_string assigned("other");
        assigned = moved;
        EXPECT_EQ(assigned.view(), text);
        assigned = compact_string(long_name);  // replaces (and frees) what it held
        EXPECT_EQ(assigned.view(), long_name);
        const compact_string& self = assigned;
        assigned = self;
        EXPECT_EQ(assigned.view(), long_name);
        assigned = std::move(moved);
        EXPECT_EQ(assigned.view(), text);
        EXPECT_EQ(assigned, compact_string(text));
        EXPECT_FALSE(assigned == compact_string("else"));
    }
}

TEST(compact_string, keys_an_unordered_map_searchable_by_string_view) {
    std::unordered_map<compact_string, int, compact_string_hash, std::equal_to<>> map;
    map.emplace(compact_string("redchat:bus:room:{1:2}"), 1);
    map.emplace(compact_string(std::string(40, 'r')), 2);
    const std::string_view probe = "redchat:bus:room:{1:2}";
    ASSERT_NE(map.find(probe), map.end());
    EXPECT_EQ(map.find(probe)->second, 1);
    EXPECT_EQ(map.find(std::string(40, 'r'))->second, 2);
    EXPECT_EQ(map.find(std::string_view("redchat:bus:room:{1:3}")), map.end());
}

TEST(bcrypt, hash_is_2b_with_requested_cost_and_verifies) {
    auto h = bcrypt::hash("password123", 4);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->substr(0, 7), "$2b$04$");
    EXPECT_EQ(h->size(), 60u);
    EXPECT_TRUE(bcrypt::verify("password123", *h));
    EXPECT_FALSE(bcrypt::verify("password124", *h));
    EXPECT_FALSE(bcrypt::verify("", *h));
}

TEST(bcrypt, two_hashes_of_one_password_differ_by_salt) {
    auto a = bcrypt::hash("secret99", 4);
    auto b = bcrypt::hash("secret99", 4);
    ASSERT_TRUE(a && b);
    EXPECT_NE(*a, *b);
}

TEST(bcrypt, verifies_hashes_made_by_other_implementations) {
    // Made by the Node reference (bcrypt npm) and the Python reference (bcrypt PyPI).
    EXPECT_TRUE(bcrypt::verify("password123",
                               "$2b$10$gRER.yIrMobYkoZmuvvj4eT0aodcfFL5TSdFJDRbvqgstdVW79NR6"));
    // A classic OpenBSD test vector in its $2a$ form, and the same digest labelled $2y$ (PHP).
    EXPECT_TRUE(
        bcrypt::verify("U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
    EXPECT_TRUE(
        bcrypt::verify("U*U", "$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
    EXPECT_FALSE(
        bcrypt::verify("U*V", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
}

TEST(bcrypt, malformed_hashes_are_mismatches_not_errors) {
    EXPECT_FALSE(bcrypt::verify("x", ""));
    EXPECT_FALSE(bcrypt::verify("x", "plaintext"));
    EXPECT_FALSE(bcrypt::verify("x", "$1$abcdefgh$0123456789012345678901"));
    EXPECT_FALSE(bcrypt::verify("x", "$2b$10$short"));
    EXPECT_FALSE(
        bcrypt::verify("x", "$2x$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
    EXPECT_FALSE(bcrypt::verify(std::string("a\0b", 3),
                                "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
}

TEST(token_bucket, bursts_then_refills_at_its_rate) {
    using namespace std::chrono_literals;
    const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
    token_bucket bucket(10, 30, t0);
    for (int i = 0; i < 30; ++i)
        EXPECT_TRUE(bucket.try_take(t0)) << i;
    EXPECT_FALSE(bucket.try_take(t0));
    EXPECT_EQ(bucket.wait_time(t0), 101ms);
    EXPECT_FALSE(bucket.try_take(t0 + 50ms));
    EXPECT_TRUE(bucket.try_take(t0 + 100ms));
    EXPECT_FALSE(bucket.try_take(t0 + 100ms));
    EXPECT_TRUE(bucket.try_take(t0 + 10s));
    for (int i = 0; i < 29; ++i)
        EXPECT_TRUE(bucket.try_take(t0 + 10s)) << i;  // capped at burst
    EXPECT_FALSE(bucket.try_take(t0 + 10s));
    EXPECT_FALSE(bucket.try_take(t0));  // time going backwards gives nothing
}

TEST(keyed_buckets, one_rate_per_key_across_threads) {
    using namespace std::chrono_literals;
    const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
    keyed_buckets rates(10, 30);
    std::atomic<int> taken{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 100; ++i) {
                if (rates.try_take("user-1", t0).count() == 0)
                    taken.fetch_add(1);
            }
        });
    }
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(taken.load(), 30);  // one burst in all, not one per thread
    EXPECT_EQ(rates.try_take("user-1", t0), 101ms);
    EXPECT_EQ(rates.try_take("user-2", t0), 0ms);  // other keys have their own bucket
    EXPECT_EQ(rates.try_take("user-1", t0 + 100ms), 0ms);
}

TEST(keyed_buckets, forgets_full_buckets_when_a_shard_grows) {
    using namespace std::chrono_literals;
    const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
    keyed_buckets rates(10, 30);
    const std::size_t keys = keyed_buckets::shard_count * keyed_buckets::prune_above;
    for (std::size_t i = 0; i < keys; ++i)
        (void)rates.try_take("k" + std::to_string(i), t0);
    const std::size_t before = rates.size();
    EXPECT_GT(before, keys / 2);
    for (std::size_t i = 0; i < keys; ++i)  // much later: every old bucket is full again
        (void)rates.try_take("n" + std::to_string(i), t0 + 1h);
    EXPECT_LT(rates.size(), before + keys / 2);
}

TEST(sha1, known_digests) {
    EXPECT_EQ(sha1_hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    EXPECT_EQ(sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    EXPECT_EQ(sha1_hex(std::string(1000, 'a')), "291e9a6c66994949b57ba5e650361e98fc36b1ba");
}

TEST(timer_wheel, fires_each_item_after_its_ticks) {
    timer_wheel<int> wheel(5);
    wheel.schedule(1, 1);
    wheel.schedule(3, 3);
    wheel.schedule(33, 3);
    wheel.schedule(5, 50);  // beyond the horizon: fires at the horizon
    wheel.schedule(0, 0);   // at least one tick
    EXPECT_EQ(wheel.size(), 5u);
    std::vector<std::vector<int>> fired;
    for (int tick = 1; tick <= 7; ++tick) {
        std::vector<int> now;
        wheel.advance([&](int item) {
            now.push_back(item);
            if (item == 3)
                wheel.schedule(30, 2);  // rescheduling from a firing item
        });
        fired.push_back(now);
    }
    EXPECT_EQ(fired[0], (std::vector<int>{1, 0}));
    EXPECT_EQ(fired[1], std::vector<int>{});
    EXPECT_EQ(fired[2], (std::vector<int>{3, 33}));
    EXPECT_EQ(fired[4], (std::vector<int>{5, 30}));
    EXPECT_EQ(fired[5], std::vector<int>{});
    EXPECT_EQ(wheel.size(), 0u);
}

TEST(error, result_carries_our_category) {
    result<int> r = make_error_code(errc::redis_timeout);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().category().name(), std::string("redchat"));
    EXPECT_EQ(r.error().message(), "Redis did not answer in time");
    auto b = failure<bool>(errc::not_found);
    EXPECT_FALSE(b);
}

TEST(metrics, render_sums_shards_and_skips_empty_series) {
    metrics::registry reg(2);
    reg.for_thread(0).record_request(metrics::route::login, 200, 300'000);
    reg.for_thread(1).record_request(metrics::route::login, 200, 3'000'000);
    reg.for_thread(1).record_request(metrics::route::rooms, 403, 100);
    reg.for_thread(1).record_request(metrics::route::rooms, 299, 100);  // untracked status
    reg.for_thread(0).redis_errors += 2;
    reg.for_thread(1).connections_open += 3;
    const std::string text = reg.render();
    EXPECT_NE(text.find("redchat_http_requests_total{route=\"/login\",status=\"200\"} 2\n"),
              std::string::npos);
    EXPECT_NE(text.find("redchat_http_requests_total{route=\"/rooms/:userId\",status=\"403\"} 1\n"),
              std::string::npos);
    EXPECT_NE(
        text.find("redchat_http_requests_total{route=\"/rooms/:userId\",status=\"other\"} 1\n"),
        std::string::npos);
    EXPECT_EQ(text.find("route=\"/me\""), std::string::npos);
    EXPECT_NE(text.find("redchat_http_request_duration_seconds_bucket{le=\"0.0005\"} 3\n"),
              std::string::npos);
    EXPECT_NE(text.find("redchat_http_request_duration_seconds_bucket{le=\"+Inf\"} 4\n"),
              std::string::npos);
    EXPECT_NE(text.find("redchat_http_request_duration_seconds_count 4\n"), std::string::npos);
    EXPECT_NE(text.find("redchat_redis_command_errors_total 2\n"), std::string::npos);
    EXPECT_NE(text.find("redchat_connections_open 3\n"), std::string::npos);
}

TEST(metrics, process_counters_are_read_at_each_render_and_left_out_while_unknown) {
    metrics::registry reg(1);
    std::optional<std::uint64_t> value;
    int reads = 0;
    reg.add_process_counter("redchat_test_total", "A test counter.", [&] {
        ++reads;
        return value;
    });
    EXPECT_EQ(reg.render().find("redchat_test_total"), std::string::npos);
    value = 42;
    EXPECT_NE(reg.render().find("# HELP redchat_test_total A test counter.\n"
                                "# TYPE redchat_test_total counter\nredchat_test_total 42\n"),
              std::string::npos);
    value = 43;
    EXPECT_NE(reg.render().find("redchat_test_total 43\n"), std::string::npos);
    EXPECT_EQ(reads, 3);
}

TEST(metrics, a_process_gauge_is_typed_as_one) {
    metrics::registry reg(1);
    reg.add_process_gauge("redchat_test_bytes", "A test gauge.",
                          [] { return std::optional<std::uint64_t>(7); });
    EXPECT_NE(reg.render().find("# HELP redchat_test_bytes A test gauge.\n"
                                "# TYPE redchat_test_bytes gauge\nredchat_test_bytes 7\n"),
              std::string::npos);
}

TEST(cidr, parses_and_matches_v4_v6_and_mapped_addresses) {
    auto lan = parse_cidr("10.0.0.0/8");
    ASSERT_TRUE(lan);
    EXPECT_TRUE(lan->contains(*parse_ip("10.255.1.2")));
    EXPECT_FALSE(lan->contains(*parse_ip("11.0.0.1")));
    EXPECT_TRUE(lan->contains(*parse_ip("::ffff:10.1.1.1")));  // IPv4-mapped counts as IPv4
    auto odd = parse_cidr("192.168.1.128/25");
    EXPECT_TRUE(odd->contains(*parse_ip("192.168.1.200")));
    EXPECT_FALSE(odd->contains(*parse_ip("192.168.1.100")));
    auto one = parse_cidr("::1");
    EXPECT_TRUE(one->contains(*parse_ip("::1")));
    EXPECT_FALSE(one->contains(*parse_ip("::2")));
    EXPECT_FALSE(one->contains(*parse_ip("127.0.0.1")));
    EXPECT_TRUE(parse_cidr("0.0.0.0/0")->contains(*parse_ip("8.8.8.8")));
    for (const char* bad : {"", "10.0.0.0/33", "::/129", "10.0.0/8", "10.0.0.0/", "10.0.0.0/x",
                            "host.example", "1.2.3.4/8/9"})
        EXPECT_FALSE(parse_cidr(bad)) << bad;
    EXPECT_TRUE(in_any({*lan}, "10.2.3.4"));
    EXPECT_FALSE(in_any({*lan}, "not an address"));
}

}  // namespace
}  // namespace redchat
