#include "chat/hub.hpp"

#include "chat/rules.hpp"

namespace redchat::chat {
namespace {

// Takes `socket`'s entry under `key` out of an index.
void erase_entry(std::unordered_multimap<std::string, client_socket*>& index,
                 const std::string& key, const client_socket* socket) {
    auto [first, last] = index.equal_range(key);
    for (auto it = first; it != last; ++it) {
        if (it->second == socket) {
            index.erase(it);
            return;
        }
    }
}

}  // namespace

client_socket::~client_socket() {
    if (hub_ != nullptr)
        hub_->remove(*this);
}

hub::~hub() {
    for (auto* s : sockets_)
        s->hub_ = nullptr;
}

void hub::add(client_socket& socket) {
    if (socket.hub_ == this)
        return;
    if (socket.hub_ != nullptr)
        socket.hub_->remove(socket);
    socket.hub_ = this;
    sockets_.insert(&socket);
    if (socket.account)
        by_user_.emplace(socket.account->id, &socket);
    index_presence(socket);
}

// Presence reaches logged-in sockets only: an anonymous one is in neither index.
void hub::index_presence(client_socket& socket) {
    if (!socket.account)
        return;
    if (socket.watches_presence) {
        for (const auto& id : socket.watched)
            watchers_.emplace(id, &socket);
    } else {
        presence_all_.insert(&socket);
    }
}

void hub::unindex_presence(client_socket& socket) {
    presence_all_.erase(&socket);
    for (const auto& id : socket.watched)
        erase_entry(watchers_, id, &socket);
}

void hub::watch_presence(client_socket& socket, std::vector<std::string> users) {
    const bool here = socket.hub_ == this;
    if (here)
        unindex_presence(socket);
    socket.watches_presence = true;
    socket.watched = std::move(users);
    if (here)
        index_presence(socket);
}

void hub::remove(client_socket& socket) {
    if (socket.hub_ != this)
        return;
    socket.hub_ = nullptr;
    sockets_.erase(&socket);
    unindex_presence(socket);
    if (socket.account)
        erase_entry(by_user_, socket.account->id, &socket);
}

void hub::update_user(client_socket& socket, const std::optional<user>& before) {
    if (before)
        erase_entry(by_user_, before->id, &socket);
    if (!sockets_.contains(&socket))
        return;
    if (socket.account)
        by_user_.emplace(socket.account->id, &socket);
    unindex_presence(socket);
    index_presence(socket);
}

std::size_t hub::deliver_presence(const bus_event& ev, const packet_ptr& packet) {
    std::size_t n = 0;
    for (auto* s : presence_all_) {
        s->deliver(packet);
        ++n;
    }
    auto [first, last] = watchers_.equal_range(ev.user_id);
    for (auto it = first; it != last; ++it) {
        it->second->deliver(packet);
        ++n;
    }
    return n;
}

std::size_t hub::deliver_to_user(const std::string& user_id, const packet_ptr& packet,
                                 int min_protocol) {
    std::size_t n = 0;
    auto [first, last] = by_user_.equal_range(user_id);
    for (auto it = first; it != last; ++it) {
        if (it->second->protocol >= min_protocol) {
            it->second->deliver(packet);
            ++n;
        }
    }
    return n;
}

std::size_t hub::deliver_group_change(const bus_event& ev, const packet_ptr& packet) {
    // Every socket of a member is in the room from now on, and every socket of a user who left
    // is out of it at once (whatever its protocol: a tutorial socket must stop receiving too);
    // the event itself goes to the protocol-1 sockets of both.
    std::size_t n = 0;
    for (const auto* list : {&ev.members, &ev.removed}) {
        const bool member = list == &ev.members;
        for (const auto& id : *list) {
            auto [first, last] = by_user_.equal_range(id);
            for (auto it = first; it != last; ++it) {
                client_socket& s = *it->second;
                if (member)
                    s.rooms.insert(ev.room_id);
                else
                    s.rooms.erase(ev.room_id);
                if (s.protocol >= 1) {
                    s.deliver(packet);
                    ++n;
                }
            }
        }
    }
    return n;
}

std::size_t hub::deliver_extension(const bus_event& ev, const packet_ptr& packet) {
    // In General, where everyone is, a read position goes only to the reader's own sockets.
    if (ev.type == bus_event_type::room_read && ev.room_id == general_room_id)
        return deliver_to_user(ev.user_id, packet, 1);
    // Typing goes to everyone in the room but the typist.
    const std::string* skip = ev.type == bus_event_type::typing ? &ev.user_id : nullptr;
    std::size_t n = 0;
    if (auto members = private_room_members(ev.room_id)) {
        for (const auto* id : {&members->first, &members->second}) {
            if (skip == nullptr || *id != *skip)
                n += deliver_to_user(*id, packet, 1);
        }
        return n;
    }
    const bool everyone = ev.room_id == general_room_id;
    for (auto* s : sockets_) {
        if (s->protocol < 1 || !s->account || (skip != nullptr && s->account->id == *skip))
            continue;
        if (everyone || s->rooms.contains(ev.room_id)) {
            s->deliver(packet);
            ++n;
        }
    }
    return n;
}

std::size_t hub::deliver(const bus_event& ev, const packet_ptr& packet) {
    std::size_t n = 0;
    switch (ev.type) {
        case bus_event_type::user_connected:
        case bus_event_type::user_disconnected:
            return deliver_presence(ev, packet);
        case bus_event_type::show_room: {
            auto members = private_room_members(ev.room_id);
            if (!members)
                return 0;
            // The two users now belong to the room: their sockets join it.
            for (const auto* id : {&members->first, &members->second}) {
                auto [first, last] = by_user_.equal_range(*id);
                for (auto it = first; it != last; ++it)
                    it->second->rooms.insert(ev.room_id);
                n += deliver_to_user(*id, packet);
            }
            return n;
        }
        case bus_event_type::typing:
        case bus_event_type::room_read:
        case bus_event_type::message_updated:
        case bus_event_type::message_reactions:
            return deliver_extension(ev, packet);
        case bus_event_type::group_changed:
            return deliver_group_change(ev, packet);
        case bus_event_type::message:
            break;
    }
    if (ev.room_id == general_room_id) {
        for (auto* s : sockets_) {
            if (s->account) {
                s->deliver(packet);
                ++n;
            }
        }
        return n;
    }
    if (auto members = private_room_members(ev.room_id)) {
        return deliver_to_user(members->first, packet) + deliver_to_user(members->second, packet);
    }
    for (auto* s : sockets_) {
        if (s->account && s->rooms.contains(ev.room_id)) {
            s->deliver(packet);
            ++n;
        }
    }
    return n;
}

}  // namespace redchat::chat
