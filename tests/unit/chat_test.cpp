#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <optional>

#include "chat/demo_data.hpp"
#include "chat/message.hpp"
#include "chat/rest_api.hpp"
#include "chat/rules.hpp"
#include "fake_store.hpp"

namespace redchat::chat {
namespace {

namespace json = boost::json;
using testing::fake_hasher;
using testing::fake_store;

template <typename T>
T run(boost::asio::awaitable<T> task) {
    boost::asio::io_context ctx;
    std::optional<T> out;
    boost::asio::co_spawn(ctx, std::move(task), [&](std::exception_ptr e, T value) {
        if (e)
            std::rethrow_exception(e);
        out.emplace(std::move(value));
    });
    ctx.run();
    return std::move(*out);
}

// ---- rules ----

TEST(rules, utf8_length_counts_code_points_and_rejects_invalid) {
    EXPECT_EQ(utf8_length(""), 0u);
    EXPECT_EQ(utf8_length("abc"), 3u);
    EXPECT_EQ(utf8_length("h\xc3\xa9llo"), 5u);      // é
    EXPECT_EQ(utf8_length("\xf0\x9f\x98\x80"), 1u);  // 😀
    EXPECT_FALSE(utf8_length("\xc3"));               // truncated
    EXPECT_FALSE(utf8_length("\xc0\xaf"));           // overlong '/'
    EXPECT_FALSE(utf8_length("\xed\xa0\x80"));       // surrogate
    EXPECT_FALSE(utf8_length("\xf4\x90\x80\x80"));   // > U+10FFFF
    EXPECT_FALSE(utf8_length("\xff"));
}

TEST(rules, usernames) {
    EXPECT_FALSE(username_problem("Pablo", 32));
    EXPECT_FALSE(username_problem("J\xc3\xb6rg", 32));
    EXPECT_FALSE(username_problem(std::string(32, 'a'), 32));
    EXPECT_TRUE(username_problem(std::string(33, 'a'), 32));
    EXPECT_TRUE(username_problem("", 32));
    EXPECT_TRUE(username_problem("two words", 32));
    EXPECT_TRUE(username_problem("tab\there", 32));
    EXPECT_TRUE(username_problem("a:b", 32));
    EXPECT_TRUE(username_problem("nul\x01", 32));
    EXPECT_TRUE(username_problem("nbsp\xc2\xa0x", 32));
    EXPECT_TRUE(username_problem("bad\xff", 32));
}

TEST(rules, passwords) {
    EXPECT_FALSE(password_problem("secret", 6));
    EXPECT_TRUE(password_problem("short", 6));
    EXPECT_TRUE(password_problem(std::string(73, 'x'), 6));
    EXPECT_TRUE(password_problem("bad\xff\xfe\xfd", 6));
}

TEST(rules, user_ids_and_private_rooms) {
    EXPECT_TRUE(is_user_id("1"));
    EXPECT_TRUE(is_user_id("123456789012345678"));
    EXPECT_FALSE(is_user_id("0"));
    EXPECT_FALSE(is_user_id("01"));
    EXPECT_FALSE(is_user_id("-1"));
    EXPECT_FALSE(is_user_id("1a"));
    EXPECT_FALSE(is_user_id(""));
    EXPECT_EQ(private_room_id("2", "1"), "1:2");
    EXPECT_EQ(private_room_id("10", "9"), "9:10");  // numeric, not lexicographic
    EXPECT_EQ(private_room_id("3", "12"), "3:12");
    auto members = private_room_members("9:10");
    ASSERT_TRUE(members);
    EXPECT_EQ(members->first, "9");
    EXPECT_EQ(members->second, "10");
    EXPECT_FALSE(private_room_members("10:9"));
    EXPECT_FALSE(private_room_members("1:1"));
    EXPECT_FALSE(private_room_members("0"));
    EXPECT_FALSE(private_room_members("a:b"));
    EXPECT_TRUE(is_room_id("0"));
    EXPECT_TRUE(is_room_id("1:2"));
    EXPECT_FALSE(is_room_id(""));
    EXPECT_FALSE(is_room_id("has space"));
    EXPECT_FALSE(is_room_id(std::string(65, 'x')));
}

// ---- message codec ----

TEST(message, reads_reference_shapes) {
    auto node =
        parse_message(R"({"from":2,"date":1795830140.8863416,"message":"Hello","roomId":"1:2"})");
    ASSERT_TRUE(node);
    EXPECT_EQ(node->from, "2");
    EXPECT_EQ(node->room_id, "1:2");
    EXPECT_DOUBLE_EQ(node->date, 1795830140.8863416);
    EXPECT_EQ(node->text, "Hello");
    EXPECT_TRUE(node->id.empty());

    auto python =
        parse_message(R"({"roomId": "0", "message": "hi", "from": "1", "date": 1795830333})");
    ASSERT_TRUE(python);
    EXPECT_EQ(python->from, "1");
    EXPECT_DOUBLE_EQ(python->date, 1795830333.0);

    auto pascal =
        parse_message(R"({"RoomId":"0","From":3,"Date":"1718000000.5","Message":"x","Id":"m1"})");
    ASSERT_TRUE(pascal);
    EXPECT_EQ(pascal->from, "3");
    EXPECT_EQ(pascal->id, "m1");
    EXPECT_DOUBLE_EQ(pascal->date, 1718000000.5);
}

TEST(message, keeps_dates_exactly_as_written) {
    // Decimals that a naive conversion rounds differently (seen in reference data).
    for (const char* date : {"1795830326.6633039", "1795829748.1534905", "1795830202.5657299",
                             "1795830304.3836079", "1718000000", "1718000000.5"}) {
        const std::string json =
            std::string(R"({"roomId":"0","from":"1","date":)") + date + R"(,"message":"x"})";
        auto m = parse_message(json);
        ASSERT_TRUE(m) << json;
        EXPECT_EQ(format_date(m->date), date);
    }
}

TEST(message, nested_values_and_duplicates) {
    auto nested = parse_message(
        R"({"meta":{"date":"x","from":{}},"roomId":"0","from":"1","date":5,"message":"ok","extra":[1,{"a":2}]})");
    ASSERT_TRUE(nested);
    EXPECT_EQ(nested->text, "ok");
    EXPECT_DOUBLE_EQ(nested->date, 5.0);
    EXPECT_FALSE(parse_message(R"({"roomId":"0","from":"1","date":[5],"message":"x"})"));
    EXPECT_FALSE(parse_message(R"({"roomId":"0","from":"1","date":5,"message":"x"} trailing)"));
    EXPECT_FALSE(parse_message(R"({"roomId":"0","from":true,"date":5,"message":"x"})"));
    EXPECT_FALSE(parse_message(R"({"roomId":"0","from":1.5,"date":5,"message":"x"})"));
    auto escaped = parse_message(R"({"roomId":"0","from":"1","date":5,"message":"a\"b\u00e9\n"})");
    ASSERT_TRUE(escaped);
    EXPECT_EQ(escaped->text, "a\"b\xc3\xa9\n");
}

TEST(message, rejects_unreadable) {
    for (const char* bad : {"", "not json", "[]", "{}", R"({"roomId":"0","from":"1","date":1})",
                            R"({"roomId":"0","from":"1","date":"soon","message":"x"})",
                            R"({"roomId":"0","from":{"a":1},"date":1,"message":"x"})",
                            R"({"roomId":"0","from":"1","date":1,"message":42})"}) {
        EXPECT_FALSE(parse_message(bad)) << bad;
    }
}

TEST(message, canonical_form_round_trips_raw_text) {
    message m{"abc", "1:2", "1", 1718000000.123, "<b>bold</b> & \"quoted\"\n"};
    const std::string text = to_json(m);
    EXPECT_EQ(
        text,
        R"({"id":"abc","roomId":"1:2","from":"1","date":1718000000.123,"message":"<b>bold</b> & \"quoted\"\n"})");
    auto back = parse_message(text);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->text, m.text);
    EXPECT_EQ(format_date(1718000000.0), "1718000000");
    EXPECT_EQ(format_date(1795830140.8863416), "1795830140.8863416");
}

// ---- REST API on the fake store ----

class rest_api_test : public ::testing::Test {
  protected:
    rest_api_test() : api_(db_, hasher_, cfg_) {
        db_.add_user("Pablo", "fake$password123");
        db_.add_user("Joe", "fake$password123");
        db_.add_user("Mary", "fake$password123");
        db_.room_name["0"] = "General";
        db_.rooms_of["1"].insert("1:2");
        db_.rooms_of["2"].insert("1:2");
        db_.sessions[pablo_sid_] = "1";
    }

    api_response call(std::string method, std::string target, std::string body = {},
                      std::optional<std::string> sid = std::nullopt) {
        return run(
            api_.handle({std::move(method), std::move(target), std::move(body), std::move(sid)}));
    }
    api_response as_pablo(std::string method, std::string target, std::string body = {}) {
        return call(std::move(method), std::move(target), std::move(body), pablo_sid_);
    }
    static json::value body(const api_response& r) { return json::parse(r.body); }

    config::server_config cfg_;
    fake_store db_;
    fake_hasher hasher_;
    rest_api api_;
    std::string pablo_sid_ = std::string(32, 'a');
};

TEST_F(rest_api_test, routes) {
    EXPECT_EQ(rest_api::match("/me"), metrics::route::me);
    EXPECT_EQ(rest_api::match("/room/1:2/messages?offset=0"), metrics::route::room_messages);
    EXPECT_EQ(rest_api::match("/rooms/1"), metrics::route::rooms);
    EXPECT_EQ(rest_api::match("/users/online"), metrics::route::users_online);
    EXPECT_FALSE(rest_api::match("/"));
    EXPECT_FALSE(rest_api::match("/assets/app.js"));
    EXPECT_FALSE(rest_api::match("/rooms"));
    EXPECT_EQ(normalize_target("/users?ids[]=1&ids[]=2"), "/users?ids%5B%5D=1&ids%5B%5D=2");
}

TEST_F(rest_api_test, login_existing_user) {
    auto ok = call("POST", "/login", R"({"username":"Pablo","password":"password123"})");
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(body(ok), json::parse(R"({"id":"1","username":"Pablo"})"));
    ASSERT_TRUE(ok.set_session);
    EXPECT_EQ(db_.sessions.at(*ok.set_session), "1");

    auto wrong = call("POST", "/login", R"({"username":"Pablo","password":"nope123"})");
    EXPECT_EQ(wrong.status, 404);
    EXPECT_EQ(body(wrong).at("message"), "Invalid username or password");
    EXPECT_FALSE(wrong.set_session);
}

TEST_F(rest_api_test, login_rotates_the_session) {
    auto again =
        call("POST", "/login", R"({"username":"Pablo","password":"password123"})", pablo_sid_);
    ASSERT_EQ(again.status, 200);
    ASSERT_TRUE(again.set_session);
    EXPECT_NE(*again.set_session, pablo_sid_);
    EXPECT_FALSE(db_.sessions.contains(pablo_sid_));
}

TEST_F(rest_api_test, login_registers_unknown_names) {
    auto created = call("POST", "/login", R"({"username":"Newbie","password":"secret99"})");
    EXPECT_EQ(created.status, 201);
    EXPECT_EQ(body(created), json::parse(R"({"id":"4","username":"Newbie"})"));
    EXPECT_EQ(db_.users.at("4").second, "fake$secret99");
    EXPECT_TRUE(db_.rooms_of.at("4").contains("0"));
    EXPECT_EQ(hasher_.hashes, 1);
}

TEST_F(rest_api_test, login_validates_input) {
    for (const char* bad :
         {"", "[]", "nope", R"({"username":"x"})", R"({"username":1,"password":"x"})",
          R"({"username":"x","password":null})"}) {
        auto r = call("POST", "/login", bad);
        EXPECT_EQ(r.status, 400) << bad;
        EXPECT_TRUE(body(r).at("message").is_string());
    }
    EXPECT_EQ(call("POST", "/login", R"({"username":"two words","password":"secret99"})").status,
              400);
    EXPECT_EQ(call("POST", "/login", R"({"username":"colon:name","password":"secret99"})").status,
              400);
    EXPECT_EQ(call("POST", "/login", R"({"username":"Shorty","password":"12345"})").status, 400);
    EXPECT_EQ(db_.total_users, 3);  // nothing registered
}

TEST_F(rest_api_test, me_and_logout) {
    EXPECT_EQ(call("GET", "/me").body, "null");
    EXPECT_EQ(body(as_pablo("GET", "/me")), json::parse(R"({"id":"1","username":"Pablo"})"));
    auto out = as_pablo("POST", "/logout");
    EXPECT_EQ(out.status, 200);
    EXPECT_TRUE(out.clear_session);
    EXPECT_FALSE(db_.sessions.contains(pablo_sid_));
    EXPECT_EQ(as_pablo("GET", "/me").body, "null");
}

TEST_F(rest_api_test, session_required) {
    for (const char* target : {"/users/online", "/users?ids[]=1", "/rooms/1", "/room/0/messages"}) {
        EXPECT_EQ(call("GET", normalize_target(target)).status, 401) << target;
    }
    EXPECT_EQ(call("POST", "/room", R"({"user1":1,"user2":2})").status, 401);
    EXPECT_EQ(call("GET", "/room/0/messages", {}, std::string(32, 'b')).status,
              401);  // unknown sid
}

TEST_F(rest_api_test, users_online_skips_dangling_ids) {
    db_.online = {"1", "99", "junk"};
    auto r = as_pablo("GET", "/users/online");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(body(r), json::parse(R"({"1":{"id":"1","username":"Pablo","online":true}})"));
}

TEST_F(rest_api_test, users_by_ids) {
    db_.online = {"2"};
    auto r = as_pablo("GET", "/users?ids%5B%5D=1&ids%5B%5D=2&ids%5B%5D=77");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(body(r), json::parse(R"({"1":{"id":"1","username":"Pablo","online":false},
                                       "2":{"id":"2","username":"Joe","online":true}})"));
    EXPECT_EQ(as_pablo("GET", "/users").status, 404);
    EXPECT_EQ(as_pablo("GET", "/users?ids%5B%5D=abc").status, 400);
    std::string many = "/users?";
    for (int i = 1; i <= 101; ++i)
        many += "ids%5B%5D=" + std::to_string(i) + "&";
    EXPECT_EQ(as_pablo("GET", many).status, 400);
}

TEST_F(rest_api_test, rooms_only_for_oneself) {
    auto r = as_pablo("GET", "/rooms/1");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(body(r), json::parse(R"([{"id":"0","names":["General"]},
                                       {"id":"1:2","names":[["Pablo"],["Joe"]]}])"));
    EXPECT_EQ(as_pablo("GET", "/rooms/2").status, 403);
}

TEST_F(rest_api_test, history_pages_newest_first_for_members_only) {
    for (int i = 0; i < 5; ++i) {
        message m{"m" + std::to_string(i), "1:2", i % 2 ? "2" : "1", 1000.0 + i,
                  "text " + std::to_string(i)};
        db_.messages["1:2"].emplace_back(m.date, to_json(m));
    }
    // Written by other ports: numeric sender, PascalCase, and an unreadable member.
    db_.messages["1:2"].emplace_back(1005,
                                     R"({"RoomId":"1:2","From":2,"Date":1005,"Message":"pascal"})");
    db_.messages["1:2"].emplace_back(1006, "garbage");
    auto page = as_pablo("GET", "/room/1:2/messages?offset=0&size=3");
    ASSERT_EQ(page.status, 200);
    auto items = body(page).as_array();
    // The unreadable newest member is skipped; a page has at most `size` items.
    ASSERT_EQ(items.size(), 2u);
    EXPECT_EQ(items[0].at("message"), "pascal");
    EXPECT_EQ(items[0].at("from"), "2");
    EXPECT_EQ(items[1].at("id"), "m4");
    auto next = body(as_pablo("GET", "/room/1:2/messages?offset=3&size=3")).as_array();
    ASSERT_EQ(next.size(), 3u);
    EXPECT_EQ(next[0].at("id"), "m3");
    EXPECT_EQ(next[2].at("id"), "m1");

    EXPECT_EQ(as_pablo("GET", "/room/2:3/messages").status, 403);
    EXPECT_EQ(as_pablo("GET", "/room/1:2/messages?offset=-1").status, 400);
    EXPECT_EQ(as_pablo("GET", "/room/1:2/messages?size=x").status, 400);
    EXPECT_EQ(as_pablo("GET", "/room/1:2/messages?offset=99999999").status, 400);
    EXPECT_EQ(as_pablo("GET", "/room/1%3A2/messages?size=100000").status, 200);
}

TEST_F(rest_api_test, create_private_room) {
    auto r = as_pablo("POST", "/room", R"({"user1":1,"user2":"3"})");
    EXPECT_EQ(r.status, 201);
    EXPECT_EQ(body(r), json::parse(R"({"id":"1:3","names":[["Pablo"],["Mary"]]})"));
    EXPECT_TRUE(db_.rooms_of["1"].contains("1:3"));
    EXPECT_TRUE(db_.rooms_of["3"].contains("1:3"));
    EXPECT_EQ(as_pablo("POST", "/room", R"({"user1":2,"user2":3})").status, 403);
    EXPECT_EQ(as_pablo("POST", "/room", R"({"user1":1,"user2":1})").status, 400);
    EXPECT_EQ(as_pablo("POST", "/room", R"({"user1":1,"user2":42})").status, 404);
    EXPECT_EQ(as_pablo("POST", "/room", R"({"user1":1})").status, 400);
    EXPECT_EQ(as_pablo("POST", "/room", "[1,2]").status, 400);
}

TEST_F(rest_api_test, methods_and_unknown_paths) {
    auto r = call("GET", "/login");
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.allow, "POST");
    EXPECT_EQ(call("DELETE", "/me").status, 405);
    EXPECT_EQ(call("GET", "/links").status, 200);
    EXPECT_TRUE(body(call("GET", "/links")).at("github").is_string());
}

TEST_F(rest_api_test, store_outage_is_503_json) {
    db_.unavailable = true;
    for (auto r :
         {as_pablo("GET", "/me"), call("POST", "/login", R"({"username":"Pablo","password":"x"})"),
          as_pablo("GET", "/rooms/1")}) {
        EXPECT_EQ(r.status, 503);
        EXPECT_TRUE(body(r).at("message").is_string());
    }
}

// ---- demo data ----

TEST(demo_data, loads_once_into_an_empty_store) {
    fake_store db;
    fake_hasher hasher;
    auto first = run(load_demo_data(db, hasher, 1'800'000'000.0));
    ASSERT_TRUE(first);
    EXPECT_TRUE(*first);
    EXPECT_EQ(db.total_users, 4);
    EXPECT_EQ(db.room_name.at("0"), "General");
    const std::vector<std::string> names{"Pablo", "Joe", "Mary", "Alex"};
    for (std::size_t i = 0; i < names.size(); ++i) {
        EXPECT_EQ(db.user_by_name.at(names[i]), std::to_string(i + 1));
        EXPECT_EQ(db.users.at(std::to_string(i + 1)).second, "fake$password123");
        EXPECT_EQ(db.rooms_of.at(std::to_string(i + 1)).size(), 4u);  // General + 3 private
    }
    for (const char* room : {"1:2", "1:3", "1:4", "2:3", "2:4", "3:4"}) {
        const auto& list = db.messages.at(room);
        ASSERT_EQ(list.size(), 2u) << room;
        auto a = parse_message(list[0].second);
        auto b = parse_message(list[1].second);
        ASSERT_TRUE(a && b);
        EXPECT_NE(a->from, b->from) << room;  // one greeting from each side
        EXPECT_DOUBLE_EQ(a->date, list[0].first);
        EXPECT_LT(a->date, 1'800'000'000.0);
    }
    const auto& general = db.messages.at("0");
    ASSERT_EQ(general.size(), 5u);
    const std::vector<std::string> texts{"Hello!", "Hi, How are you? What about our next meeting?",
                                         "Yeah everything is fine", "Next meeting tomorrow 10.00AM",
                                         "Wow that's great"};
    for (std::size_t i = 0; i < 5; ++i) {
        auto m = parse_message(general[i].second);
        ASSERT_TRUE(m);
        EXPECT_EQ(m->text, texts[i]);
        EXPECT_DOUBLE_EQ(m->date, 1'800'000'000.0 - 1000 + 200 * static_cast<double>(i));
        EXPECT_FALSE(m->id.empty());
    }

    auto second = run(load_demo_data(db, hasher, 1'800'000'100.0));
    ASSERT_TRUE(second);
    EXPECT_FALSE(*second);
    EXPECT_EQ(db.total_users, 4);
    EXPECT_EQ(db.messages.at("0").size(), 5u);
}

}  // namespace
}  // namespace redchat::chat
