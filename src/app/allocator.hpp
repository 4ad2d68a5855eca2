#pragma once
// The process's memory allocator: glibc's malloc, or jemalloc or mimalloc when the build links
// one (CMake option REDCHAT_ALLOCATOR; the release preset picks the one bench/RESULTS.md
// measured best). Sanitizer builds keep glibc's: the sanitizers replace malloc themselves.

#include <string_view>

namespace redchat::app {

// "glibc", "jemalloc" or "mimalloc": logged at start.
std::string_view allocator_name();

// Hands free memory back to the system, after a wave of disconnects.
void release_free_memory();

}  // namespace redchat::app
