#ifndef CHONGBAO_ARENA_SHIM_H
#define CHONGBAO_ARENA_SHIM_H
// The packet arena's two needs that Swift cannot spell; imported only by Sources/HongbaoCore/Arena/.
#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

/// `membarrier(2)`: `syscall` is variadic, which Swift cannot call. -1 where the system has no membarrier.
static inline long hb_membarrier(int command) {
#if defined(__linux__) && defined(__NR_membarrier)
    return syscall(__NR_membarrier, command, 0, 0);
#else
    (void)command;
    return -1;
#endif
}

/// Registers the process for `MEMBARRIER_CMD_PRIVATE_EXPEDITED`; 0 on success.
static inline long hb_membarrier_register(void) {
#if defined(__linux__) && defined(__NR_membarrier)
    return hb_membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED);
#else
    return -1;
#endif
}

/// A full memory barrier on every running thread of this process (after which each thread's earlier stores are
/// visible to us and our earlier stores to its later loads); 0 on success.
static inline long hb_membarrier_private_expedited(void) {
#if defined(__linux__) && defined(__NR_membarrier)
    return hb_membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
#else
    return -1;
#endif
}

/// The calling thread's epoch record, or NULL before its first pin: a C thread-local (Swift has none, and
/// `pthread_getspecific` is a call into libc on every grab), defined once in shim.c — a `static` one here would be
/// copied into every LLVM module the importing Swift module is split into.
extern __thread void *_Nullable hb_epoch_record;

/// This thread's epoch record (a function: Swift refuses to touch a mutable C global directly).
static inline void *_Nullable hb_thread_record(void) { return hb_epoch_record; }

/// Sets this thread's epoch record, once, when the thread first pins.
static inline void hb_set_thread_record(void *_Nullable record) { hb_epoch_record = record; }

/// A compiler-only barrier (C11 `atomic_signal_fence(memory_order_seq_cst)`): the compiler may move no memory
/// access across it; the processor may. Paired with `hb_membarrier_private_expedited` on the other side.
static inline void hb_compiler_barrier(void) { __asm__ __volatile__("" ::: "memory"); }
#endif
