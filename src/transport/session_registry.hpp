#pragma once
// The live connections of one I/O thread, so that shutdown can close the idle ones while busy
// ones finish their response. Touched only by its own thread.

#include <cstddef>
#include <functional>
#include <list>

namespace redchat::transport {

class session_registry {
    struct entry {
        std::function<void()> close;
        bool idle = true;
    };

  public:
    // Registers a connection for its lifetime; leaving happens in the destructor.
    class guard {
      public:
        guard(session_registry& owner, std::function<void()> close);
        ~guard();
        guard(const guard&) = delete;
        guard& operator=(const guard&) = delete;
        // Idle: waiting for a request, or streaming events (safe to close at shutdown).
        void set_idle(bool idle) { it_->idle = idle; }

      private:
        session_registry& owner_;
        std::list<entry>::iterator it_;
    };

    // From now on, sessions finish their current response and close; idle ones close now.
    void begin_drain();
    bool draining() const { return draining_; }
    std::size_t size() const { return entries_.size(); }

  private:
    std::list<entry> entries_;
    bool draining_ = false;
};

}  // namespace redchat::transport
