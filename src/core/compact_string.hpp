#pragma once
// An immutable string that keeps up to 31 bytes inside itself, where std::string keeps 15.
//
// The bus's channel names ("redchat:bus:user:{<id>}", about 24 bytes) key a map in each
// thread's hub, in the bus router and in the subscriber's subscription set: one per logged-in
// user in each. As std::string keys each had a heap block of its own; as compact strings they
// have none (bench/RESULTS.md, "Idle connections"). Longer strings are kept on the heap.
//
// `compact_string_hash` and `std::equal_to<>` make an unordered container keyed by it
// searchable by std::string_view.

#include <cstddef>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>

namespace redchat {

class compact_string {
  public:
    static constexpr std::size_t inline_capacity = 31;

    compact_string() noexcept { bytes_[tag_at] = 0; }
    explicit compact_string(std::string_view s) { assign(s); }
    compact_string(const compact_string& other) { assign(other.view()); }
    compact_string(compact_string&& other) noexcept {
        std::memcpy(bytes_, other.bytes_, sizeof bytes_);
        other.bytes_[tag_at] = 0;  // a heap block now belongs to this one
    }
    compact_string& operator=(const compact_string& other) {
        if (this != &other) {
            compact_string copy(other);
            *this = std::move(copy);
        }
        return *this;
    }
    compact_string& operator=(compact_string&& other) noexcept {
        if (this != &other) {
            release();
            std::memcpy(bytes_, other.bytes_, sizeof bytes_);
            other.bytes_[tag_at] = 0;
        }
        return *this;
    }
    ~compact_string() { release(); }

    std::string_view view() const noexcept {
        if (on_heap())
            return {heap().data, heap().size};
        return {bytes_, static_cast<std::size_t>(bytes_[tag_at])};
    }
    operator std::string_view() const noexcept { return view(); }  // NOLINT: a string's view
    std::string str() const { return std::string(view()); }
    std::size_t size() const noexcept { return view().size(); }
    bool on_heap() const noexcept { return static_cast<unsigned char>(bytes_[tag_at]) == heap_tag; }

    friend bool operator==(const compact_string& a, const compact_string& b) noexcept {
        return a.view() == b.view();
    }
    friend bool operator==(const compact_string& a, std::string_view b) noexcept {
        return a.view() == b;
    }

  private:
    static constexpr std::size_t tag_at = inline_capacity;  // the last byte: size, or heap_tag
    static constexpr unsigned char heap_tag = 0xff;
    struct heap_block {
        char* data;
        std::size_t size;
    };
    heap_block heap() const noexcept {
        heap_block h;
        std::memcpy(&h, bytes_, sizeof h);
        return h;
    }
    void assign(std::string_view s) {
        if (s.size() <= inline_capacity) {
            if (!s.empty())  // an empty view may have no data pointer, which memcpy must not get
                std::memcpy(bytes_, s.data(), s.size());
            bytes_[tag_at] = static_cast<char>(s.size());
            return;
        }
        heap_block h{new char[s.size()], s.size()};
        std::memcpy(h.data, s.data(), s.size());
        std::memcpy(bytes_, &h, sizeof h);
        bytes_[tag_at] = static_cast<char>(heap_tag);
    }
    void release() noexcept {
        if (on_heap())
            delete[] heap().data;
        bytes_[tag_at] = 0;
    }

    char bytes_[inline_capacity + 1];
};

static_assert(sizeof(compact_string) == 32);

struct compact_string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

}  // namespace redchat
