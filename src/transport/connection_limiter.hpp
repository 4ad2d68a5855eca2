#pragma once
// Counts open connections per key (a client address, a user) across all I/O threads. The one
// mutex guards a counter update, never I/O: threads still share nothing they do I/O on.

#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "core/compact_string.hpp"

namespace redchat::transport {

class connection_limiter {
  public:
    explicit connection_limiter(std::size_t max_per_key) : max_(max_per_key) {}

    // Holds one connection's place until destroyed. It points at its key's count (an
    // unordered_map entry does not move), so that a slot is two pointers.
    class slot {
      public:
        slot() = default;  // holds no place (a session keeps one without an optional's flag)
        slot(slot&& other) noexcept : owner_(other.owner_), entry_(other.entry_) {
            other.owner_ = nullptr;
        }
        slot& operator=(slot&& other) noexcept {
            if (this != &other) {
                if (owner_ != nullptr)
                    owner_->release(*entry_);
                owner_ = other.owner_;
                entry_ = other.entry_;
                other.owner_ = nullptr;
            }
            return *this;
        }
        slot(const slot&) = delete;
        ~slot() {
            if (owner_ != nullptr)
                owner_->release(*entry_);
        }

      private:
        friend class connection_limiter;
        using entry = std::pair<const compact_string, std::size_t>;
        slot(connection_limiter& owner, entry& e) : owner_(&owner), entry_(&e) {}
        connection_limiter* owner_ = nullptr;
        entry* entry_ = nullptr;
    };

    // A slot, or nullopt when `key` is at its limit.
    std::optional<slot> try_acquire(std::string_view key) {
        std::lock_guard lock(mutex_);
        auto it = counts_.find(key);
        if (it == counts_.end())
            it = counts_.emplace(compact_string(key), 0).first;
        auto& e = *it;
        if (e.second >= max_)
            return std::nullopt;
        ++e.second;
        return slot(*this, e);
    }

    std::size_t count(std::string_view key) {
        std::lock_guard lock(mutex_);
        auto it = counts_.find(key);
        return it == counts_.end() ? 0 : it->second;
    }

  private:
    void release(slot::entry& e) {
        std::lock_guard lock(mutex_);
        if (--e.second == 0)
            counts_.erase(counts_.find(e.first));  // by position: `e` is the erased entry
    }

    std::size_t max_;
    std::mutex mutex_;
    // A key (a user id, an address) kept in place: a node of 48 bytes and no block of its own.
    std::unordered_map<compact_string, std::size_t, compact_string_hash, std::equal_to<>> counts_;
};

}  // namespace redchat::transport
