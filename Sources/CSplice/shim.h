// splice(2), a GNU extension the Glibc module does not import. Called through syscall(2)
// so that no _GNU_SOURCE build of the C library's headers is needed.
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

/// Moves up to `length` bytes from `in` to `out` (one of them a pipe) at their file
/// offsets, without copying them through user space. As splice(2): -1 and errno on failure.
static inline long whittle_splice(int in, int out, size_t length) {
    return syscall(SYS_splice, in, (void *)0, out, (void *)0, length, 0u);
}
