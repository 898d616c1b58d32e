// The SQLite insert limit for a grab table: ROWS rows of six integer columns through one prepared statement,
// 100,000 rows per transaction, WAL and synchronous = NORMAL, no index — how Hongbao's RunLoader writes.
// Usage: sqlite_insert FILE ROWS   → prints "ROWS SECONDS ROWS_PER_S"
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: sqlite_insert FILE ROWS\n"); return 2; }
    long rows = atol(argv[2]);
    sqlite3 *db;
    if (sqlite3_open(argv[1], &db) != SQLITE_OK) { fprintf(stderr, "sqlite_insert: %s\n", sqlite3_errmsg(db)); return 1; }
    sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; DROP TABLE IF EXISTS grabs;"
                     "CREATE TABLE grabs (run_id INTEGER, packet_id INTEGER, seq INTEGER, member_id INTEGER,"
                     " amount_fen INTEGER, latency_ns INTEGER)", NULL, NULL, NULL);
    sqlite3_stmt *insert;
    sqlite3_prepare_v2(db, "INSERT INTO grabs VALUES (1, ?, ?, ?, ?, ?)", -1, &insert, NULL);
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long i = 0; i < rows; i++) {
        if (i % 100000 == 0) sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
        sqlite3_bind_int64(insert, 1, i / 10);
        sqlite3_bind_int64(insert, 2, i % 10 + 1);
        sqlite3_bind_int64(insert, 3, (i * 7919) % 1000000);
        sqlite3_bind_int64(insert, 4, 100 + i % 900);
        sqlite3_bind_int64(insert, 5, 20000 + i % 5000);
        if (sqlite3_step(insert) != SQLITE_DONE) { fprintf(stderr, "sqlite_insert: %s\n", sqlite3_errmsg(db)); return 1; }
        sqlite3_reset(insert);
        if (i % 100000 == 99999 || i == rows - 1) sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    sqlite3_finalize(insert);
    sqlite3_close(db);
    double seconds = (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
    printf("%ld %.3f %.0f\n", rows, seconds, rows / seconds);
    return 0;
}
