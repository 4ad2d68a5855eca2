#pragma once
// An allocator for Asio handlers that wait long, such as an idle connection's wait for input.
//
// Without one, Asio takes a handler's memory from its per-thread recycling cache, which hands out
// any cached block big enough: often a coroutine frame's 640 bytes for a 180-byte wait, held for
// as long as the client stays silent. Bound to a handler (`boost::asio::bind_allocator`), this
// allocator asks malloc for exactly what the operation needs instead.

#include <cstddef>
#include <new>

namespace redchat {

template <typename T>
struct plain_allocator {
    using value_type = T;

    plain_allocator() noexcept = default;
    template <typename U>
    plain_allocator(const plain_allocator<U>&) noexcept {}  // NOLINT: rebinding is implicit

    T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
    void deallocate(T* p, std::size_t) noexcept { ::operator delete(p); }

    template <typename U>
    bool operator==(const plain_allocator<U>&) const noexcept {
        return true;
    }
};

}  // namespace redchat
