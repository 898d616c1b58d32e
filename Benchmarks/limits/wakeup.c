// What handing work to a sleeping thread costs on this machine: two threads pass a token back and forth through
// two POSIX semaphores, so every pass wakes a thread that is asleep in sem_wait (a futex). Modes:
//   same    both threads pinned to CPU 0: a wake-up is a context switch on one CPU
//   cross   pinned to CPUs 0 and 1: a wake-up reaches the other CPU (an inter-processor interrupt; on a virtual
//           machine, exits to the hypervisor), which is what a service's thread hand-offs pay when its threads
//           sleep on different CPUs
// Usage: wakeup MODE PASSES   → prints "MODE PASSES WALL_US_PER_WAKEUP CPU_US_PER_WAKEUP" (CPU: both threads)
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static sem_t to_peer, to_main;
static long passes;

static void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    int error = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    if (error) { fprintf(stderr, "wakeup: cannot pin to CPU %d: %s\n", cpu, strerror(error)); exit(1); }
}

static int peer_cpu;
static void *peer(void *unused) {
    (void)unused;
    pin(peer_cpu);
    for (long i = 0; i < passes; i++) { sem_wait(&to_peer); sem_post(&to_main); }
    return NULL;
}

static double micros(struct timeval t) { return t.tv_sec * 1e6 + t.tv_usec; }

int main(int argc, char **argv) {
    if (argc != 3 || (strcmp(argv[1], "same") && strcmp(argv[1], "cross")) || (passes = atol(argv[2])) <= 0) {
        fprintf(stderr, "usage: wakeup same|cross PASSES\n");
        return 2;
    }
    int cross = strcmp(argv[1], "cross") == 0;
    if (cross && sysconf(_SC_NPROCESSORS_ONLN) < 2) { fprintf(stderr, "wakeup: cross needs two CPUs\n"); return 1; }
    peer_cpu = cross ? 1 : 0;
    pin(0);
    sem_init(&to_peer, 0, 0);
    sem_init(&to_main, 0, 0);
    pthread_t thread;
    if (pthread_create(&thread, NULL, peer, NULL)) { fprintf(stderr, "wakeup: no thread\n"); return 1; }
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long i = 0; i < passes; i++) { sem_post(&to_peer); sem_wait(&to_main); }
    clock_gettime(CLOCK_MONOTONIC, &end);
    pthread_join(thread, NULL);
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    double wall = (end.tv_sec - start.tv_sec) * 1e6 + (end.tv_nsec - start.tv_nsec) / 1e3;
    double cpu = micros(usage.ru_utime) + micros(usage.ru_stime);
    long wakeups = 2 * passes;
    printf("%s %ld %.2f %.2f\n", argv[1], passes, wall / wakeups, cpu / wakeups);
    return 0;
}
