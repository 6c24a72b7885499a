#include "synccache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "strmap.h"
#include "util.h"

struct synced {
	unsigned char fp[SYNC_FP_LEN];
	long long at_ms;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct strmap *map;   /* key -> struct synced */
static struct strmap *notes; /* key -> char * */

int sync_fresh(const char *key, const unsigned char fp[SYNC_FP_LEN], long max_age_ms)
{
	struct synced *s;
	int fresh = 0;

	pthread_mutex_lock(&mu);
	s = map ? strmap_get(map, key) : NULL;
	if (s && CRYPTO_memcmp(s->fp, fp, SYNC_FP_LEN) == 0 && now_ms() - s->at_ms < max_age_ms)
		fresh = 1;
	pthread_mutex_unlock(&mu);
	return fresh;
}

void sync_record(const char *key, const unsigned char *fp)
{
	struct synced *s;
	void *old = NULL;

	pthread_mutex_lock(&mu);
	if (!fp) {
		if (map)
			free(strmap_del(map, key));
		goto out;
	}
	if (!map && !(map = strmap_new()))
		goto out;
	s = malloc(sizeof(*s));
	if (!s)
		goto out;
	memcpy(s->fp, fp, SYNC_FP_LEN);
	s->at_ms = now_ms();
	if (strmap_put(map, key, s, &old))
		free(s);
	else
		free(old);
out:
	pthread_mutex_unlock(&mu);
}

int sync_note_get(const char *key, char *out, size_t outlen)
{
	const char *v;
	int found = 0;

	pthread_mutex_lock(&mu);
	v = notes ? strmap_get(notes, key) : NULL;
	if (v && outlen) {
		snprintf(out, outlen, "%s", v);
		found = 1;
	}
	pthread_mutex_unlock(&mu);
	return found;
}

void sync_note_set(const char *key, const char *val)
{
	char *copy = NULL;
	void *old = NULL;

	pthread_mutex_lock(&mu);
	if (!val) {
		if (notes)
			free(strmap_del(notes, key));
		goto out;
	}
	if ((!notes && !(notes = strmap_new())) || !(copy = strdup(val)))
		goto out;
	if (strmap_put(notes, key, copy, &old))
		free(copy);
	else
		free(old);
out:
	pthread_mutex_unlock(&mu);
}

void sync_reset(void)
{
	pthread_mutex_lock(&mu);
	strmap_free(map, free);
	map = NULL;
	strmap_free(notes, free);
	notes = NULL;
	pthread_mutex_unlock(&mu);
}
