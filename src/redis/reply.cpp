#include "redis/reply.hpp"

#include <hiredis/hiredis.h>

namespace redchat::redis {

std::optional<std::string> reply::as_string() const {
    if (type == kind::string || type == kind::status)
        return str;
    return std::nullopt;
}

std::optional<std::int64_t> reply::as_integer() const {
    if (type == kind::integer)
        return integer;
    return std::nullopt;
}

std::optional<std::vector<std::string>> reply::as_strings() const {
    if (type != kind::array)
        return std::nullopt;
    std::vector<std::string> out;
    out.reserve(elements.size());
    for (const auto& e : elements) {
        if (e.type == kind::string || e.type == kind::status)
            out.push_back(e.str);
    }
    return out;
}

reply from_hiredis(const redisReply& r) {
    reply out;
    switch (r.type) {
        case REDIS_REPLY_STRING:
            out.type = reply::kind::string;
            out.str.assign(r.str, r.len);
            break;
        case REDIS_REPLY_STATUS:
            out.type = reply::kind::status;
            out.str.assign(r.str, r.len);
            break;
        case REDIS_REPLY_ERROR:
            out.type = reply::kind::error;
            out.str.assign(r.str, r.len);
            break;
        case REDIS_REPLY_INTEGER:
            out.type = reply::kind::integer;
            out.integer = r.integer;
            break;
        case REDIS_REPLY_ARRAY:
            out.type = reply::kind::array;
            out.elements.reserve(r.elements);
            for (std::size_t i = 0; i < r.elements; ++i)
                out.elements.push_back(from_hiredis(*r.element[i]));
            break;
        default:
            out.type = reply::kind::nil;
            break;
    }
    return out;
}

}  // namespace redchat::redis
