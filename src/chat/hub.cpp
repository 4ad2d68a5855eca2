#include "chat/hub.hpp"

#include "chat/rules.hpp"

#include <algorithm>

namespace redchat::chat {
namespace {

// Takes `socket`'s entry under `key` out of an index.
template <class Index, class Key>
void erase_entry(Index& index, const Key& key, const client_socket* socket) {
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

client_socket::activity& client_socket::active() {
    if (!activity_)
        activity_ = std::make_unique<activity>();
    return *activity_;
}

const std::vector<std::string>& client_socket::watched() const {
    static const std::vector<std::string> none;
    return activity_ ? activity_->watched : none;
}

bool room_set::contains(std::string_view room) const {
    return std::binary_search(rooms_.begin(), rooms_.end(), room, std::less<>{});
}

bool room_set::insert(std::string_view room) {
    auto at = std::lower_bound(rooms_.begin(), rooms_.end(), room, std::less<>{});
    if (at != rooms_.end() && *at == room)
        return false;
    rooms_.emplace(at, room);
    return true;
}

bool room_set::insert_all(const std::vector<std::string>& rooms) {
    if (rooms.size() <= 4) {  // the usual case: a room or two, inserted in place
        bool more = false;
        for (const auto& room : rooms)
            more = insert(room) || more;
        return more;
    }
    const std::size_t before = rooms_.size();
    rooms_.insert(rooms_.end(), rooms.begin(), rooms.end());
    std::sort(rooms_.begin(), rooms_.end());
    rooms_.erase(std::unique(rooms_.begin(), rooms_.end()), rooms_.end());
    return rooms_.size() > before;
}

std::size_t room_set::erase(std::string_view room) {
    auto at = std::lower_bound(rooms_.begin(), rooms_.end(), room, std::less<>{});
    if (at == rooms_.end() || *at != room)
        return 0;
    rooms_.erase(at);
    return 1;
}

hub::~hub() {
    for (auto* s : sockets_) {
        s->hub_ = nullptr;
        s->channels_.clear();
    }
}

void hub::route_through(bus_routes* routes, bool tutorial_bus, bool private_rooms_by_room) {
    routes_ = routes;
    tutorial_bus_ = tutorial_bus;
    private_rooms_by_room_ = private_rooms_by_room;
}

void hub::add(client_socket& socket) {
    if (socket.hub_ == this)
        return;
    if (socket.hub_ != nullptr)
        socket.hub_->remove(socket);
    socket.hub_ = this;
    socket.serial_ = ++next_serial_;
    sockets_.insert(&socket);
    if (socket.account)
        index_user(socket);
    index_presence(socket);
    reroute(socket);
}

void hub::index_user(client_socket& socket) {
    const std::string& id = socket.account->id;
    auto it = users_.find(id);
    if (it == users_.end())
        it = users_.emplace(compact_string(id), user_entry{}).first;
    auto& e = it->second;
    if (e.first == nullptr) {
        e.first = &socket;
        return;
    }
    if (!e.more)
        e.more = std::make_unique<std::vector<client_socket*>>();
    e.more->push_back(&socket);
}

void hub::unindex_user(std::string_view user_id, const client_socket* socket) {
    auto it = users_.find(user_id);
    if (it == users_.end())
        return;
    auto& e = it->second;
    if (e.first == socket) {
        e.first = nullptr;
        if (e.more) {  // another socket takes the first place
            e.first = e.more->back();
            e.more->pop_back();
        }
    } else if (e.more) {
        std::erase(*e.more, socket);
    }
    if (e.more && e.more->empty())
        e.more.reset();
    drop_if_unused(it);
}

void hub::drop_if_unused(user_index::iterator it) {
    if (it->second.first == nullptr && it->second.presence == 0)
        users_.erase(it);
}

std::size_t hub::sockets_of(std::string_view user_id) const {
    auto it = users_.find(user_id);
    if (it == users_.end() || it->second.first == nullptr)
        return 0;
    return 1 + (it->second.more ? it->second.more->size() : 0);
}

void hub::count_presence(std::string_view user_id, int delta) {
    auto it = users_.find(user_id);
    if (it == users_.end()) {
        if (delta <= 0)
            return;
        it = users_.emplace(compact_string(user_id), user_entry{}).first;
    }
    // Never below none: an extra leave must not cancel the next join's count.
    it->second.presence = std::max(0, it->second.presence + delta);
    drop_if_unused(it);
}

std::unordered_map<std::string, int> hub::presence_counts() const {
    std::unordered_map<std::string, int> counts;
    for (const auto& [id, e] : users_) {
        if (e.presence > 0)
            counts.emplace(id.str(), e.presence);
    }
    return counts;
}

// Presence reaches logged-in sockets only: an anonymous one is in neither index.
void hub::index_presence(client_socket& socket) {
    if (!socket.account)
        return;
    if (socket.watches_presence) {
        for (const auto& id : socket.watched())
            watchers_.emplace(id, &socket);
    } else {
        presence_all_.insert(&socket);
    }
}

void hub::unindex_presence(client_socket& socket) {
    presence_all_.erase(&socket);
    for (const auto& id : socket.watched())
        erase_entry(watchers_, id, &socket);
}

void hub::watch_presence(client_socket& socket, std::vector<std::string> users) {
    const bool here = socket.hub_ == this;
    if (here)
        unindex_presence(socket);
    socket.watches_presence = true;
    socket.active().watched = std::move(users);
    if (here) {
        index_presence(socket);
        reroute(socket);
    }
}

void hub::join_rooms(client_socket& socket, const std::vector<std::string>& room_ids) {
    const bool more = socket.rooms_.insert_all(room_ids);
    if (more && socket.hub_ == this)
        reroute(socket);
}

void hub::leave_room(client_socket& socket, const std::string& room_id) {
    if (socket.rooms_.erase(room_id) > 0 && socket.hub_ == this)
        reroute(socket);
}

void hub::remove(client_socket& socket) {
    if (socket.hub_ != this)
        return;
    socket.hub_ = nullptr;
    sockets_.erase(&socket);
    unindex_presence(socket);
    if (socket.account)
        unindex_user(socket.account->id, &socket);
    reroute(socket);
}

void hub::update_user(client_socket& socket, const std::optional<user>& before) {
    if (before)
        unindex_user(before->id, &socket);
    if (!sockets_.contains(&socket))
        return;
    if (socket.account)
        index_user(socket);
    unindex_presence(socket);
    index_presence(socket);
    reroute(socket);
}

// A logged-in socket in this hub needs its user's channel (private rooms, show.room, group
// changes), General's, those of its other shared rooms, and, when presence is routed, the
// presence channel or its watched users' channels. New holds come before old releases, so that
// a channel needed before and after is never dropped in between.
void hub::reroute(client_socket& socket) {
    std::vector<const compact_string*> next;
    if (routes_ != nullptr && socket.hub_ == this && socket.account) {
        next.push_back(hold(routing::user_channel(socket.account->id)));
        next.push_back(hold(routing::room_channel(general_room_id)));
        if (!tutorial_bus_) {
            if (!socket.watches_presence) {
                next.push_back(hold(routing::presence_channel));
            } else {
                for (const auto& id : socket.watched())
                    next.push_back(hold(routing::presence_channel_of(id)));
            }
        }
        for (const auto& room : socket.rooms_) {
            if (room != general_room_id && (private_rooms_by_room_ || !private_room_members(room)))
                next.push_back(hold(routing::room_channel(room)));
        }
    }
    for (const auto* channel : socket.channels_)
        release(*channel);
    socket.channels_ = std::move(next);
}

const compact_string* hub::hold(std::string_view channel) {
    auto it = channel_refs_.find(channel);
    if (it == channel_refs_.end())
        it = channel_refs_.emplace(compact_string(channel), 0).first;
    if (++it->second == 1)
        routes_->want(it->first);
    return &it->first;
}

void hub::release(std::string_view channel) {
    auto it = channel_refs_.find(channel);
    if (it == channel_refs_.end() || --it->second > 0)
        return;
    if (routes_ != nullptr)
        routes_->drop(it->first);
    channel_refs_.erase(it);
}

void hub::deliver_when_routed(client_socket& s, std::string channel, packet_ptr packet) {
    std::vector<std::string> channels(1, std::move(channel));
    routes_->when_ready(std::move(channels),
                        [this, socket = &s, serial = s.serial_, packet = std::move(packet)] {
                            // Compared, never dereferenced, unless it is still that socket.
                            if (sockets_.contains(socket) && socket->serial_ == serial)
                                socket->deliver(packet);
                        });
}

boost::asio::awaitable<void> hub::routes_ready(const client_socket& socket) {
    if (routes_ == nullptr || socket.channels_.empty())
        co_return;
    std::vector<std::string> names;
    names.reserve(socket.channels_.size());
    for (const auto* channel : socket.channels_)
        names.push_back(channel->str());
    co_await routes_->ready(std::move(names));
}

std::size_t hub::deliver_presence(const bus_event& ev, const packet_ptr& packet,
                                  const routing::scope& scope) {
    using kind = routing::scope::kind;
    std::size_t n = 0;
    if (scope.what == kind::everyone || scope.what == kind::presence_all) {
        for (auto* s : presence_all_) {
            s->deliver(packet);
            ++n;
        }
    }
    if (scope.what == kind::everyone || scope.what == kind::presence_of) {
        auto [first, last] = watchers_.equal_range(ev.user_id);
        for (auto it = first; it != last; ++it) {
            it->second->deliver(packet);
            ++n;
        }
    }
    return n;
}

namespace {

// Whether `s` (logged in) is in the room of `ev` as far as delivery goes: everyone is in
// General, the two users in their private room, and the sockets joined to any other room.
bool in_room(const client_socket& s, const bus_event& ev) {
    if (ev.room_id == general_room_id)
        return true;
    if (auto members = private_room_members(ev.room_id))
        return s.account->id == members->first || s.account->id == members->second;
    return s.rooms().contains(ev.room_id);
}

bool listed(const std::vector<std::string>& ids, const std::string& id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

std::size_t hub::deliver_one(client_socket& s, const bus_event& ev, const packet_ptr& packet) {
    if (!s.account)
        return 0;
    const std::string& me = s.account->id;
    bool entitled = false;
    switch (ev.type) {
        case bus_event_type::message:
            entitled = in_room(s, ev);
            break;
        case bus_event_type::show_room: {
            // The two users now belong to the room: their sockets join it.
            auto members = private_room_members(ev.room_id);
            entitled = members && (me == members->first || me == members->second);
            if (entitled && private_rooms_by_room_ && !s.rooms_.contains(ev.room_id)) {
                std::vector<std::string> room(1, ev.room_id);
                join_rooms(s, room);  // its events come on its own channel
            } else if (entitled) {
                s.rooms_.insert(ev.room_id);  // its events come on the users' channels
            }
            break;
        }
        case bus_event_type::typing:
            // To everyone in the room but the typist.
            entitled = s.protocol >= 1 && me != ev.user_id && in_room(s, ev);
            break;
        case bus_event_type::room_read:
            // In General, where everyone is, only to the reader's own sockets.
            entitled = s.protocol >= 1 &&
                       (ev.room_id == general_room_id ? me == ev.user_id : in_room(s, ev));
            break;
        case bus_event_type::message_updated:
        case bus_event_type::message_reactions:
            entitled = s.protocol >= 1 && in_room(s, ev);
            break;
        case bus_event_type::group_changed: {
            // Every socket of a member is in the room from now on, and every socket of a user
            // who left is out of it at once (whatever its protocol: a tutorial socket must stop
            // receiving too); the event itself goes to the protocol-1 sockets of both.
            const bool member = listed(ev.members, me);
            const bool removed = !member && listed(ev.removed, me);
            if (member && !s.rooms_.contains(ev.room_id)) {
                std::vector<std::string> room(1, ev.room_id);
                join_rooms(s, room);
                // A new member hears of the group once the room's messages reach this instance:
                // a message sent after it saw the change is never missed.
                if (routes_ != nullptr && s.protocol >= 1) {
                    deliver_when_routed(s, routing::room_channel(ev.room_id), packet);
                    return 1;
                }
            } else if (removed) {
                leave_room(s, ev.room_id);
            }
            entitled = (member || removed) && s.protocol >= 1;
            break;
        }
        case bus_event_type::user_connected:
        case bus_event_type::user_disconnected:
            break;  // deliver_presence
    }
    if (!entitled)
        return 0;
    s.deliver(packet);
    return 1;
}

std::size_t hub::deliver_to_user(std::string_view user_id, const bus_event& ev,
                                 const packet_ptr& packet) {
    auto it = users_.find(user_id);
    if (it == users_.end() || it->second.first == nullptr)
        return 0;
    std::size_t n = deliver_one(*it->second.first, ev, packet);
    if (it->second.more) {
        for (auto* s : *it->second.more)
            n += deliver_one(*s, ev, packet);
    }
    return n;
}

std::size_t hub::deliver_to_all(const bus_event& ev, const packet_ptr& packet) {
    std::size_t n = 0;
    for (auto* s : sockets_)
        n += deliver_one(*s, ev, packet);
    return n;
}

std::size_t hub::deliver(const bus_event& ev, const packet_ptr& packet,
                         const routing::scope& scope) {
    using kind = routing::scope::kind;
    if (ev.type == bus_event_type::user_connected || ev.type == bus_event_type::user_disconnected)
        return deliver_presence(ev, packet, scope);
    if (scope.what == kind::user)
        return deliver_to_user(scope.id, ev, packet);
    if (scope.what != kind::everyone)
        return 0;
    // The candidates: the users an event names, else every socket here.
    if (ev.type == bus_event_type::group_changed) {
        std::size_t n = 0;
        for (const auto* list : {&ev.members, &ev.removed}) {
            for (const auto& id : *list)
                n += deliver_to_user(id, ev, packet);
        }
        return n;
    }
    if (ev.type == bus_event_type::room_read && ev.room_id == general_room_id)
        return deliver_to_user(ev.user_id, ev, packet);
    if (auto members = private_room_members(ev.room_id)) {
        return deliver_to_user(members->first, ev, packet) +
               deliver_to_user(members->second, ev, packet);
    }
    return deliver_to_all(ev, packet);
}

}  // namespace redchat::chat
