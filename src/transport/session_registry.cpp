#include "transport/session_registry.hpp"

namespace redchat::transport {

session_registry::guard::guard(session_registry& owner, std::function<void()> close)
    : owner_(owner),
      it_(owner.entries_.insert(owner.entries_.end(), entry{std::move(close), true})) {}

session_registry::guard::~guard() {
    owner_.entries_.erase(it_);
}

void session_registry::begin_drain() {
    draining_ = true;
    // Closing only cancels pending I/O; the sessions unregister themselves later.
    for (auto& e : entries_) {
        if (e.idle)
            e.close();
    }
}

}  // namespace redchat::transport
