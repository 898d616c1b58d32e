// The memory limit of a packet: the least a 100-share packet to a 500-member group needs when, as in Hongbao's
// arena, the group's members are stored once per group and the packet keeps a state word, one claim bit per
// member and one 8-byte record (member << 32 | fen) per share. Allocates PACKETS such packets over GROUPS groups,
// touches every byte, and reports the resident bytes per packet.
// Usage: packet_memory PACKETS GROUPS   → prints "PACKETS BYTES_PER_PACKET (floor BYTES)"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

enum { SHARES = 100, MEMBERS = 500 };
typedef struct {
    uint64_t state;                    // shares left << 40 | balance
    uint32_t group;                    // index of its group
    uint32_t seed_low;
    uint64_t claims[(MEMBERS + 63) / 64];
    uint64_t records[SHARES];
} packet_t;

static long resident_kib(void) { struct rusage u; getrusage(RUSAGE_SELF, &u); return u.ru_maxrss; }

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: packet_memory PACKETS GROUPS\n"); return 2; }
    long packets = atol(argv[1]), groups = atol(argv[2]);
    long before = resident_kib();
    uint32_t *members = malloc(sizeof(uint32_t) * MEMBERS * groups);
    packet_t *arena = malloc(sizeof(packet_t) * packets);
    if (!members || !arena) { fprintf(stderr, "packet_memory: out of memory\n"); return 1; }
    for (long i = 0; i < MEMBERS * groups; i++) members[i] = (uint32_t)i;
    memset(arena, 0, sizeof(packet_t) * packets);
    for (long p = 0; p < packets; p++) { arena[p].state = (uint64_t)SHARES << 40 | 20000; arena[p].group = p % groups; }
    long after = resident_kib();
    printf("%ld %.0f (floor %zu)\n", packets, (after - before) * 1024.0 / packets, sizeof(packet_t));
    return arena[packets - 1].state == 0;
}
