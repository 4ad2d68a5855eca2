#pragma once
// The process's memory allocator: glibc's malloc, or jemalloc or mimalloc when the build links
// one (CMake option REDCHAT_ALLOCATOR; the release preset picks the one bench/RESULTS.md
// measured best). Sanitizer builds keep glibc's: the sanitizers replace malloc themselves.

#include <cstdint>
#include <optional>
#include <string_view>

namespace redchat::app {

// "glibc", "jemalloc" or "mimalloc": logged at start.
std::string_view allocator_name();

// Hands free memory back to the system, after a wave of disconnects.
void release_free_memory();

// Allocation requests since the start (small and large), as jemalloc counts them: its thread
// caches pass on their counts when they flush, so a reading trails by a few hundred requests
// per thread. nullopt with another allocator. bench/ divides it by the messages of a run.
std::optional<std::uint64_t> allocation_requests();

// Bytes held by live allocations now (jemalloc's stats.allocated; with thread caches' blocks,
// so it is exact to a few hundred kilobytes). nullopt with another allocator. bench/ divides
// its growth by the connections of an idle run: a steadier figure than the RSS, which also
// holds freed pages until jemalloc's decay hands them back.
std::optional<std::uint64_t> heap_allocated_bytes();

}  // namespace redchat::app
