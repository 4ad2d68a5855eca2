#pragma once
// A coarse timer wheel: items fire after a whole number of ticks. One timer per thread drives
// it (see engineio_server), instead of a timer per connection: scheduling is a push_back and a
// tick touches only the items due in it. Pure; the owner decides what a tick is.

#include <cstddef>
#include <utility>
#include <vector>

namespace redchat {

template <typename Item>
class timer_wheel {
  public:
    // `horizon`: the longest delay, in ticks, that schedule() accepts.
    explicit timer_wheel(std::size_t horizon) : slots_(horizon + 1) {}

    // Fires `item` `ticks` ticks from now (at least 1, at most the horizon).
    void schedule(Item item, std::size_t ticks) {
        if (ticks < 1)
            ticks = 1;
        if (ticks > slots_.size() - 1)
            ticks = slots_.size() - 1;
        slots_[(current_ + ticks) % slots_.size()].push_back(std::move(item));
        ++size_;
    }

    // Moves to the next tick and calls `fire(item)` for each item due in it; `fire` may
    // schedule again (never into the tick being fired).
    template <typename Fire>
    void advance(Fire&& fire) {
        current_ = (current_ + 1) % slots_.size();
        auto due = std::move(slots_[current_]);
        slots_[current_].clear();
        size_ -= due.size();
        for (auto& item : due)
            fire(item);
    }

    std::size_t size() const { return size_; }

  private:
    std::vector<std::vector<Item>> slots_;
    std::size_t current_ = 0;
    std::size_t size_ = 0;
};

}  // namespace redchat
