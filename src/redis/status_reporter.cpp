#include "redis/status_reporter.hpp"

#include <spdlog/spdlog.h>

namespace redchat::redis {
namespace {

// A cause inside a quoted log value: no quotes or line breaks of its own.
std::string quoted_value(std::string_view text) {
    std::string out(text.substr(0, 300));
    for (char& c : out) {
        if (c == '"')
            c = '\'';
        else if (c == '\n' || c == '\r')
            c = ' ';
    }
    return out;
}

}  // namespace

void status_reporter::failed(std::string_view connection, std::string_view cause) {
    const std::lock_guard lock(mutex_);
    if (!failing_.contains(connection))
        failing_.emplace(connection);
    if (cause == cause_)
        return;
    cause_ = std::string(cause);
    spdlog::error("event=redis_unavailable endpoint={} connection={} cause=\"{}\"", endpoint_,
                  connection, quoted_value(cause));
}

void status_reporter::up(std::string_view connection) {
    const std::lock_guard lock(mutex_);
    if (auto it = failing_.find(connection); it != failing_.end())
        failing_.erase(it);
    if (!failing_.empty() || cause_.empty())
        return;
    cause_.clear();
    spdlog::info("event=redis_available endpoint={}", endpoint_);
}

}  // namespace redchat::redis
