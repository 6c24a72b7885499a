#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"

static enum log_format g_fmt = LOG_JSON;
static enum log_level g_min = LOG_INFO;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_init(enum log_format fmt, enum log_level min)
{
	g_fmt = fmt;
	g_min = min;
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

static void add_json_str(struct buf *b, const char *s)
{
	buf_addc(b, '"');
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			buf_addc(b, '\\');
			buf_addc(b, (char)c);
		} else if (c < 0x20) {
			buf_printf(b, "\\u%04x", c);
		} else {
			buf_addc(b, (char)c);
		}
	}
	buf_addc(b, '"');
}

static void emit(enum log_level lvl, const char *object, const char *msg, const char *const *kv)
{
	struct buf b = BUF_INIT(64 * 1024);
	struct timespec ts;
	struct tm tm;
	char tbuf[40];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", &tm);

	if (g_fmt == LOG_JSON) {
		buf_printf(&b, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":", tbuf,
		           ts.tv_nsec / 1000000, level_names[lvl]);
		add_json_str(&b, msg);
		if (object) {
			buf_adds(&b, ",\"object\":");
			add_json_str(&b, object);
		}
		for (; kv && kv[0] && kv[1]; kv += 2) {
			buf_addc(&b, ',');
			add_json_str(&b, kv[0]);
			buf_addc(&b, ':');
			add_json_str(&b, kv[1]);
		}
		buf_adds(&b, "}\n");
	} else {
		buf_printf(&b, "%s %-5s ", tbuf, level_names[lvl]);
		if (object)
			buf_printf(&b, "%s: ", object);
		buf_adds(&b, msg);
		for (; kv && kv[0] && kv[1]; kv += 2)
			buf_printf(&b, " %s=%s", kv[0], kv[1]);
		buf_addc(&b, '\n');
	}
	if (b.ptr) {
		pthread_mutex_lock(&g_lock);
		ssize_t w = write(STDERR_FILENO, b.ptr, b.len);
		(void)w;
		pthread_mutex_unlock(&g_lock);
	}
	buf_free(&b);
}

static void vlog(enum log_level lvl, const char *object, int with_errno, const char *fmt,
                 va_list ap)
{
	char msg[2048];
	int saved = errno;
	int n;

	if (lvl < g_min)
		return;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		return;
	if (with_errno && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", strerror(saved));
	emit(lvl, object, msg, NULL);
	errno = saved;
}

void log_msg(enum log_level lvl, const char *object, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(lvl, object, 0, fmt, ap);
	va_end(ap);
}

void log_warn(const char *object, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_WARN, object, 1, fmt, ap);
	va_end(ap);
}

void log_kv(enum log_level lvl, const char *object, const char *msg, const char *const *kv)
{
	if (lvl < g_min)
		return;
	emit(lvl, object, msg, kv);
}
