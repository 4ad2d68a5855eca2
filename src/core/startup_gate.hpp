#pragma once
// What the process still does before it may take every request (loading the demo data into an
// empty Redis). Set once by the app, read by every I/O thread: /readyz answers 503 and new
// accounts are refused while it holds, so that nobody registers a demo user's name first.

#include <atomic>

namespace redchat {

class startup_gate {
  public:
    void hold() { holding_.store(true, std::memory_order_release); }
    void open() { holding_.store(false, std::memory_order_release); }
    bool holding() const { return holding_.load(std::memory_order_acquire); }

  private:
    std::atomic<bool> holding_{false};
};

}  // namespace redchat
