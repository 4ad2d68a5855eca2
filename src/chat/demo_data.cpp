#include "chat/demo_data.hpp"

#include <array>
#include <cmath>
#include <random>

#include "chat/message.hpp"
#include "chat/patiently.hpp"
#include "chat/rules.hpp"
#include "core/random_id.hpp"

namespace redchat::chat {
namespace {

// Each step of the load is tried again while Redis fails, for this long: a hiccup of Redis
// while the server starts must not leave the demo half loaded. Every step is safe to repeat.
constexpr std::chrono::milliseconds step_patience{10'000};

boost::asio::awaitable<result<void>> store_message(store& db, std::string room, std::string from,
                                                   double date, std::string text) {
    // Ids of the same form as those of live messages ("<date in ms>-<hex>"), so that a demo
    // message works as a history cursor too.
    // The date is whole milliseconds, as for live messages, so the cursor is exactly its score.
    date = std::round(date * 1000.0) / 1000.0;
    message m{message_id(date), std::move(room), std::move(from), date, std::move(text)};
    // Encoded once: a repeated attempt adds the same member again, which changes nothing.
    const std::string json = to_json(m);
    co_return co_await patiently(step_patience,
                                 [&] { return db.append_message(m.room_id, m.date, json); });
}

// The demo history is old news: its users have read it all (nothing is unread at first login).
boost::asio::awaitable<result<void>> mark_demo_read(store& db, std::string room,
                                                    std::string user_id) {
    constexpr double far_future = 4'102'444'800;  // 2100: raised to the room's newest message
    auto r = co_await patiently(
        step_patience, [&] { return db.mark_read(room, user_id, far_future, std::string()); });
    if (!r)
        co_return r.error();
    co_return result<void>{};
}

std::vector<std::string> ids(std::string a, std::string b) {
    std::vector<std::string> out;
    out.push_back(std::move(a));
    out.push_back(std::move(b));
    return out;
}

}  // namespace

boost::asio::awaitable<result<bool>> load_demo_data(store& db, password_hasher& hasher,
                                                    double now) {
    auto claimed = co_await db.claim_empty_store();
    if (!claimed)
        co_return failure<bool>(claimed.error());
    if (!*claimed)
        co_return false;

    if (auto named = co_await patiently(
            step_patience,
            [&] { return db.set_room_name(std::string(general_room_id), std::string("General")); });
        !named) {
        co_return failure<bool>(named.error());
    }

    std::uint32_t seed = 0;
    random_bytes(&seed, sizeof seed);
    std::mt19937 rng(seed);
    auto pick = [&rng](std::size_t n) {
        return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
    };

    // A demo name that someone registered first keeps its owner (and password); the demo rooms
    // and messages are made with that account, so that the demo data is never lost.
    static constexpr std::array<const char*, 4> names{"Pablo", "Joe", "Mary", "Alex"};
    std::vector<user> users;
    for (const char* name : names) {
        auto hashed = co_await hasher.hash(std::string("password123"));
        if (!hashed)
            co_return failure<bool>(errc::bad_input);
        // A repeated registration finds the name taken (by the first attempt): then the
        // account is read back below, as for a name someone registered first.
        auto created = co_await patiently(
            step_patience, [&] { return db.create_user(std::string(name), *hashed); });
        if (!created)
            co_return failure<bool>(created.error());
        if (*created) {
            users.push_back(**created);
            continue;
        }
        auto existing =
            co_await patiently(step_patience, [&] { return db.find_user(std::string(name)); });
        if (!existing)
            co_return failure<bool>(existing.error());
        if (!*existing)
            co_return failure<bool>(errc::conflict);  // taken, and yet no such user: give up
        users.push_back((*existing)->account);
    }

    static constexpr std::array<const char*, 4> greetings{"Hello", "Hi", "Yo", "Hola"};
    for (std::size_t a = 0; a < users.size(); ++a) {
        for (std::size_t b = a + 1; b < users.size(); ++b) {
            const std::string room = private_room_id(users[a].id, users[b].id);
            if (auto added = co_await patiently(
                    step_patience,
                    [&] { return db.add_room(room, ids(users[a].id, users[b].id)); });
                !added) {
                co_return failure<bool>(added.error());
            }
            // One greeting from each side, a few minutes back, in a random order.
            const bool b_first = pick(2) == 1;
            const double first = now - 300 + static_cast<double>(pick(120000)) / 1000.0;
            const double second = first + 1 + static_cast<double>(pick(120000)) / 1000.0;
            const auto& opener = b_first ? users[b] : users[a];
            const auto& answer = b_first ? users[a] : users[b];
            auto r = co_await store_message(db, room, opener.id, first,
                                            greetings[pick(greetings.size())]);
            if (!r)
                co_return failure<bool>(r.error());
            r = co_await store_message(db, room, answer.id, second,
                                       greetings[pick(greetings.size())]);
            if (!r)
                co_return failure<bool>(r.error());
            for (const auto* member : {&users[a], &users[b]}) {
                if (auto read = co_await mark_demo_read(db, room, member->id); !read)
                    co_return failure<bool>(read.error());
            }
        }
    }

    static constexpr std::array<const char*, 5> general{
        "Hello!", "Hi, How are you? What about our next meeting?", "Yeah everything is fine",
        "Next meeting tomorrow 10.00AM", "Wow that's great"};
    for (std::size_t i = 0; i < general.size(); ++i) {
        const double date = now - 1000 + 200 * static_cast<double>(i);
        auto r = co_await store_message(db, std::string(general_room_id),
                                        users[pick(users.size())].id, date, general[i]);
        if (!r)
            co_return failure<bool>(r.error());
    }
    for (const auto& u : users) {
        if (auto read = co_await mark_demo_read(db, std::string(general_room_id), u.id); !read)
            co_return failure<bool>(read.error());
    }
    co_return true;
}

}  // namespace redchat::chat
