// The Redis client limit: THREADS connections, each sending CALLS commands in pipelines of BATCH (append BATCH,
// then read BATCH replies: one round trip each) — how Hongbao's engine talks to a server. COMMAND is `decr`
// (DECR of one counter per thread) or `grab SHA` (EVALSHA of limits/grab.lua, one grab per call, every member new).
// Usage: redis_client HOST PORT THREADS BATCH CALLS decr|grab [SHA]   → "COMMAND THREADS BATCH CALLS SECONDS CALLS_PER_S"
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *host, *command, *sha;
static int port, batch;
static long per_thread;

static void *run(void *arg) {
    long thread = (long)arg;
    redisContext *c = redisConnect(host, port);
    if (!c || c->err) { fprintf(stderr, "redis_client: %s\n", c ? c->errstr : "no memory"); exit(1); }
    char key[32], member[32];
    snprintf(key, sizeof key, "limits:counter:%ld", thread);
    for (long sent = 0; sent < per_thread; sent += batch) {
        int n = (int)(per_thread - sent < batch ? per_thread - sent : batch);
        for (int i = 0; i < n; i++) {
            if (strcmp(command, "decr") == 0) {
                redisAppendCommand(c, "DECR %s", key);
            } else {
                snprintf(member, sizeof member, "%ld", thread * per_thread + sent + i);
                redisAppendCommand(c, "EVALSHA %s 2 limits:shares limits:winners %s", sha, member);
            }
        }
        for (int i = 0; i < n; i++) {
            redisReply *reply;
            if (redisGetReply(c, (void **)&reply) != REDIS_OK) { fprintf(stderr, "redis_client: %s\n", c->errstr); exit(1); }
            if (reply->type == REDIS_REPLY_ERROR) { fprintf(stderr, "redis_client: %s\n", reply->str); exit(1); }
            freeReplyObject(reply);
        }
    }
    redisFree(c);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 7) { fprintf(stderr, "usage: redis_client HOST PORT THREADS BATCH CALLS decr|grab [SHA]\n"); return 2; }
    host = argv[1]; port = atoi(argv[2]);
    int threads = atoi(argv[3]);
    batch = atoi(argv[4]);
    long calls = atol(argv[5]);
    command = argv[6];
    sha = argc > 7 ? argv[7] : "";
    if (threads < 1 || threads > 64 || batch < 1 || calls < threads) { fprintf(stderr, "redis_client: bad arguments\n"); return 2; }
    per_thread = calls / threads;
    pthread_t ids[64];
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long t = 0; t < threads; t++) pthread_create(&ids[t], NULL, run, (void *)t);
    for (int t = 0; t < threads; t++) pthread_join(ids[t], NULL);
    clock_gettime(CLOCK_MONOTONIC, &end);
    double seconds = (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
    printf("%s %d %d %ld %.3f %.0f\n", command, threads, batch, per_thread * threads, seconds, per_thread * threads / seconds);
    return 0;
}
