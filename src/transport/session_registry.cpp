#include "transport/session_registry.hpp"

namespace redchat::transport {

session_registry::guard::guard(session_registry& owner, std::function<void()> close)
    : list_(owner.entries_), it_(list_->insert(list_->end(), entry{std::move(close), true})) {}

session_registry::guard::~guard() {
    list_->erase(it_);
}

void session_registry::begin_drain() {
    draining_ = true;
    // Closing only cancels pending I/O; the sessions unregister themselves later.
    for (auto& e : *entries_) {
        if (e.idle)
            e.close();
    }
}

void session_registry::close_all() {
    draining_ = true;
    for (auto& e : *entries_)
        e.close();
}

}  // namespace redchat::transport
