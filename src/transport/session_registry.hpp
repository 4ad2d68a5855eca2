#pragma once
// The live connections of one I/O thread, so that shutdown can close the idle ones while busy
// ones finish their response, and close all of them at its deadline. Touched only by its own
// thread. The list is shared with the guards, so that a connection whose coroutine frame is
// destroyed late (with its io_context, after the registry) still unregisters safely.

#include <cstddef>
#include <functional>
#include <list>
#include <memory>

namespace redchat::transport {

class session_registry {
    struct entry {
        std::function<void()> close;
        bool idle = true;
    };
    using entries = std::list<entry>;

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
        std::shared_ptr<entries> list_;
        entries::iterator it_;
    };

    // From now on, sessions finish their current response and close; idle ones close now.
    void begin_drain();
    // The deadline: every connection closes now, busy or not (its pending I/O is cancelled).
    void close_all();
    bool draining() const { return draining_; }
    std::size_t size() const { return entries_->size(); }

  private:
    std::shared_ptr<entries> entries_ = std::make_shared<entries>();
    bool draining_ = false;
};

}  // namespace redchat::transport
