// The in-process limit of a grab: one 64-bit word per packet, (shares left << 40 | balance in fen), and a
// double-mean share computed from a 48-bit random, taken with one compare-and-swap — what Hongbao's lock-free
// engine does around its lookup, membership and records. Modes:
//   cas          every thread on one hot packet (refilled with 10 shares of 100.00 when sold out)
//   sharded-cas  each thread its own packet, on its own cache line
//   mutex        one hot packet behind a pthread mutex
// Usage: grab_limits MODE THREADS GRABS   → prints "MODE THREADS GRABS SECONDS MGRABS_PER_S"
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SHARES 10ULL
#define TOTAL 10000ULL
#define FULL ((SHARES << 40) | TOTAL)

typedef struct { _Alignas(64) _Atomic uint64_t word; } line_t;

static line_t hot;
static line_t own[64];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t locked_word = FULL;
static const char *mode;
static long per_thread;

static uint64_t splitmix(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

// Double mean: a share uniform in [1, 2 × balance / remaining − 1], the last share takes the balance.
static uint64_t share(uint64_t balance, uint64_t remaining, uint64_t random48) {
    if (remaining == 1) return balance;
    uint64_t max = 2 * balance / remaining - 1;
    if (max < 1) max = 1;
    uint64_t amount = 1 + ((random48 * max) >> 48);
    uint64_t keep = remaining - 1;   // every later share needs at least 1 fen
    if (balance - amount < keep) amount = balance - keep;
    return amount;
}

static uint64_t take(uint64_t word, uint64_t random48, uint64_t *amount) {
    uint64_t remaining = word >> 40, balance = word & 0xFFFFFFFFFFULL;
    *amount = share(balance, remaining, random48);
    return remaining == 1 ? FULL : word - (1ULL << 40) - *amount;
}

static void *run(void *arg) {
    long thread = (long)arg;
    uint64_t seed = (uint64_t)thread + 1, paid = 0, amount;
    _Atomic uint64_t *word = strcmp(mode, "sharded-cas") == 0 ? &own[thread].word : &hot.word;
    for (long i = 0; i < per_thread; i++) {
        uint64_t random48 = splitmix(&seed) >> 16;
        if (strcmp(mode, "mutex") == 0) {
            pthread_mutex_lock(&lock);
            locked_word = take(locked_word, random48, &amount);
            pthread_mutex_unlock(&lock);
        } else {
            uint64_t old = atomic_load_explicit(word, memory_order_relaxed);
            while (!atomic_compare_exchange_weak_explicit(word, &old, take(old, random48, &amount),
                                                          memory_order_acq_rel, memory_order_relaxed)) {}
        }
        paid += amount;
    }
    return (void *)(uintptr_t)paid;
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: grab_limits cas|sharded-cas|mutex THREADS GRABS\n"); return 2; }
    mode = argv[1];
    int threads = atoi(argv[2]);
    long grabs = atol(argv[3]);
    if (threads < 1 || threads > 64 || grabs < threads) { fprintf(stderr, "grab_limits: bad arguments\n"); return 2; }
    per_thread = grabs / threads;
    atomic_store(&hot.word, FULL);
    for (int t = 0; t < 64; t++) atomic_store(&own[t].word, FULL);
    pthread_t ids[64];
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long t = 0; t < threads; t++) pthread_create(&ids[t], NULL, run, (void *)t);
    uint64_t paid = 0;
    for (int t = 0; t < threads; t++) { void *r; pthread_join(ids[t], &r); paid += (uintptr_t)r; }
    clock_gettime(CLOCK_MONOTONIC, &end);
    double seconds = (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
    printf("%s %d %ld %.3f %.1f\n", mode, threads, per_thread * threads, seconds, per_thread * threads / seconds / 1e6);
    return paid == 0;   // keeps the work observable
}
