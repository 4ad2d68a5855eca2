#include "chat/routing.hpp"

#include "chat/rules.hpp"

namespace redchat::chat::routing {

namespace {

std::string joined(std::string_view prefix, std::string_view id, std::string_view suffix = {}) {
    std::string out;
    out.reserve(prefix.size() + id.size() + suffix.size());
    out.append(prefix);
    out.append(id);
    out.append(suffix);
    return out;
}

}  // namespace

std::string room_channel(std::string_view room_id) {
    return joined(room_prefix, room_id, "}");
}

std::string user_channel(std::string_view user_id) {
    return joined(user_prefix, user_id, "}");
}

std::string presence_channel_of(std::string_view user_id) {
    return joined(presence_prefix, user_id);
}

std::vector<std::string> room_event_channels(std::string_view room_id, bool tutorial_event,
                                             bool tutorial_bus) {
    std::vector<std::string> out;
    if (tutorial_event && tutorial_bus) {
        out.emplace_back(tutorial_channel);
    } else if (auto members = private_room_members(room_id)) {
        out.push_back(user_channel(members->first));
        out.push_back(user_channel(members->second));
    } else {
        out.push_back(room_channel(room_id));
    }
    return out;
}

std::vector<std::string> read_channels(std::string_view room_id, std::string_view user_id) {
    if (room_id == general_room_id)
        return {user_channel(user_id)};
    return room_event_channels(room_id, false, false);
}

std::vector<std::string> presence_channels(std::string_view user_id, bool tutorial_bus) {
    std::vector<std::string> out;
    if (tutorial_bus) {
        out.emplace_back(tutorial_channel);
    } else {
        out.emplace_back(presence_channel);
        out.push_back(presence_channel_of(user_id));
    }
    return out;
}

scope scope_of(std::string_view channel) {
    if (channel.starts_with(user_prefix) && channel.ends_with('}')) {
        return {scope::kind::user,
                channel.substr(user_prefix.size(), channel.size() - user_prefix.size() - 1)};
    }
    if (channel.starts_with(presence_prefix))
        return {scope::kind::presence_of, channel.substr(presence_prefix.size())};
    if (channel == presence_channel)
        return {scope::kind::presence_all, {}};
    return {};
}

}  // namespace redchat::chat::routing
