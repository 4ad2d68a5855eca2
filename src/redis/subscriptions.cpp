#include "redis/subscriptions.hpp"

namespace redchat::redis {

void subscription_set::touch(const compact_string& channel, entry& e) {
    if (!e.dirty) {
        e.dirty = true;
        dirty_.push_back(channel);
    }
}

void subscription_set::want(std::string_view channel) {
    auto it = channels_.find(channel);
    if (it == channels_.end())
        it = channels_.emplace(compact_string(channel), entry{}).first;
    if (it->second.wanted)
        return;
    it->second.wanted = true;
    ++wanted_;
    touch(it->first, it->second);
}

void subscription_set::drop(std::string_view channel) {
    auto it = channels_.find(channel);
    if (it == channels_.end() || !it->second.wanted)
        return;
    it->second.wanted = false;
    --wanted_;
    touch(it->first, it->second);
}

subscription_set::changes subscription_set::take() {
    changes out;
    for (auto& name : dirty_) {
        auto it = channels_.find(name);
        if (it == channels_.end())
            continue;
        entry& e = it->second;
        e.dirty = false;
        if (e.wanted && e.st == state::idle) {
            e.st = state::subscribing;
            out.subscribe.push_back(name.str());
        } else if (!e.wanted && e.st == state::active) {
            e.st = state::unsubscribing;
            out.unsubscribe.push_back(name.str());
        } else if (!e.wanted && e.st == state::idle) {
            channels_.erase(it);
        }
        // subscribing or unsubscribing: the confirmation decides.
    }
    dirty_.clear();
    return out;
}

bool subscription_set::subscribed(std::string_view channel) {
    auto it = channels_.find(channel);
    if (it == channels_.end() || it->second.st != state::subscribing)
        return false;
    entry& e = it->second;
    e.st = state::active;
    if (!e.wanted) {
        touch(it->first, e);  // dropped meanwhile: unsubscribe it
        return false;
    }
    return true;
}

void subscription_set::unsubscribed(std::string_view channel) {
    auto it = channels_.find(channel);
    if (it == channels_.end() || it->second.st != state::unsubscribing)
        return;
    it->second.st = state::idle;
    touch(it->first, it->second);  // wanted again meanwhile: subscribe it; else forget it
}

void subscription_set::lost(std::string_view channel) {
    auto it = channels_.find(channel);
    if (it == channels_.end() || it->second.st == state::idle)
        return;
    it->second.st = state::idle;
    touch(it->first, it->second);
}

void subscription_set::reset() {
    dirty_.clear();
    for (auto it = channels_.begin(); it != channels_.end();) {
        if (!it->second.wanted) {
            it = channels_.erase(it);
            continue;
        }
        it->second.st = state::idle;
        it->second.dirty = true;
        dirty_.push_back(it->first);
        ++it;
    }
}

bool subscription_set::active(std::string_view channel) const {
    auto it = channels_.find(channel);
    return it != channels_.end() && it->second.wanted && it->second.st == state::active;
}

}  // namespace redchat::redis
