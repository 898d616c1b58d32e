#ifndef CHONGBAO_HIREDIS_SHIM_H
#define CHONGBAO_HIREDIS_SHIM_H
#include <errno.h>
#include <hiredis/hiredis.h>

/// `errstr` is a char[128] that Swift imports as a 128-element tuple: hand it over as a C string.
static inline const char *hb_redis_errstr(const redisContext *context) { return context->errstr; }

/// The reply's i-th element: `element` is a `redisReply **`, awkward to index from Swift.
static inline redisReply *hb_reply_element(const redisReply *reply, size_t index) { return reply->element[index]; }

/// `errno` is a macro (a thread-local lvalue) in glibc: read it through a function.
static inline int hb_errno(void) { return errno; }
#endif
