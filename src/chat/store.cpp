#include "chat/store.hpp"

namespace redchat::chat {

// Two round trips; the Redis store overrides this with one.
store::task<store::session_page> store::session_and_page(std::string session_id,
                                                         std::chrono::seconds idle_ttl,
                                                         std::string room_id, std::size_t offset,
                                                         std::size_t count, double before) {
    auto user = co_await session_user(std::move(session_id), idle_ttl);
    if (!user)
        co_return user.error();
    session_page out;
    out.user_id = std::move(*user);
    if (!out.user_id || count == 0)
        co_return out;
    auto page = co_await room_messages(std::move(room_id), offset, count, before);
    if (!page)
        co_return page.error();
    out.messages = std::move(*page);
    co_return out;
}

}  // namespace redchat::chat
