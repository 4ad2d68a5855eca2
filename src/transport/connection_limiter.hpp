#pragma once
// Counts open connections per key (a client address, a user) across all I/O threads. The one
// mutex guards a counter update, never I/O: threads still share nothing they do I/O on.

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace redchat::transport {

class connection_limiter {
  public:
    explicit connection_limiter(std::size_t max_per_key) : max_(max_per_key) {}

    // Holds one connection's place until destroyed.
    class slot {
      public:
        slot(connection_limiter& owner, std::string key) : owner_(&owner), key_(std::move(key)) {}
        slot(slot&& other) noexcept : owner_(other.owner_), key_(std::move(other.key_)) {
            other.owner_ = nullptr;
        }
        slot& operator=(slot&& other) noexcept {
            if (this != &other) {
                if (owner_ != nullptr)
                    owner_->release(key_);
                owner_ = other.owner_;
                key_ = std::move(other.key_);
                other.owner_ = nullptr;
            }
            return *this;
        }
        slot(const slot&) = delete;
        ~slot() {
            if (owner_ != nullptr)
                owner_->release(key_);
        }

      private:
        connection_limiter* owner_;
        std::string key_;
    };

    // A slot, or nullopt when `key` is at its limit.
    std::optional<slot> try_acquire(const std::string& key) {
        std::lock_guard lock(mutex_);
        auto& n = counts_[key];
        if (n >= max_)
            return std::nullopt;
        ++n;
        return std::optional<slot>(std::in_place, *this, key);
    }

    std::size_t count(const std::string& key) {
        std::lock_guard lock(mutex_);
        auto it = counts_.find(key);
        return it == counts_.end() ? 0 : it->second;
    }

  private:
    void release(const std::string& key) {
        std::lock_guard lock(mutex_);
        auto it = counts_.find(key);
        if (it != counts_.end() && --it->second == 0)
            counts_.erase(it);
    }

    std::size_t max_;
    std::mutex mutex_;
    std::unordered_map<std::string, std::size_t> counts_;
};

}  // namespace redchat::transport
