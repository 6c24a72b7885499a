/*
 * log: the one log module. JSON lines on stderr by default
 * ({"ts","level","msg","object",...}), a human format behind log_init().
 *
 * log_warn() appends strerror(errno); log_warnx() does not (OpenBSD style).
 * The object is "kind ns/name" or NULL. Never pass a secret to any of these:
 * messages and fields are logged verbatim (JSON-escaped).
 * Thread-safe: one line is written with a single write under a lock.
 */
#ifndef VW_LOG_H
#define VW_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_JSON = 0, LOG_HUMAN };

void log_init(enum log_format fmt, enum log_level min);
/* Parse "debug|info|warn|error"; returns -1 when unknown. */
int log_level_parse(const char *s, enum log_level *out);

void log_msg(enum log_level lvl, const char *object, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Like log_msg with extra string fields: kv is NULL-terminated key,value pairs. */
void log_kv(enum log_level lvl, const char *object, const char *msg, const char *const *kv);

#define log_debug(obj, ...)  log_msg(LOG_DEBUG, obj, __VA_ARGS__)
#define log_info(obj, ...)   log_msg(LOG_INFO, obj, __VA_ARGS__)
#define log_warnx(obj, ...)  log_msg(LOG_WARN, obj, __VA_ARGS__)
#define log_errorx(obj, ...) log_msg(LOG_ERROR, obj, __VA_ARGS__)
void log_warn(const char *object, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
