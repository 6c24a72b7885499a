#include "jgen.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

yajl_gen jgen_new(void)
{
	return yajl_gen_alloc(NULL);
}

static char *finish(yajl_gen g, int wipe)
{
	const unsigned char *p;
	size_t n;
	char *out = NULL;

	if (!g)
		return NULL;
	if (yajl_gen_get_buf(g, &p, &n) == yajl_gen_status_ok) {
		if ((out = malloc(n + 1)) != NULL) {
			memcpy(out, p, n);
			out[n] = '\0';
		}
		if (wipe)
			OPENSSL_cleanse((void *)p, n);
	}
	yajl_gen_free(g);
	return out;
}

char *jgen_finish(yajl_gen g)
{
	return finish(g, 0);
}

char *jgen_finish_secret(yajl_gen g)
{
	return finish(g, 1);
}

void jo(yajl_gen g)
{
	yajl_gen_map_open(g);
}
void jc(yajl_gen g)
{
	yajl_gen_map_close(g);
}
void jao(yajl_gen g)
{
	yajl_gen_array_open(g);
}
void jac(yajl_gen g)
{
	yajl_gen_array_close(g);
}
void jk(yajl_gen g, const char *k)
{
	yajl_gen_string(g, (const unsigned char *)k, strlen(k));
}

void js(yajl_gen g, const char *s)
{
	if (s)
		yajl_gen_string(g, (const unsigned char *)s, strlen(s));
	else
		yajl_gen_null(g);
}

void ji(yajl_gen g, long long v)
{
	yajl_gen_integer(g, v);
}
void jb(yajl_gen g, int v)
{
	yajl_gen_bool(g, v);
}
void jkv(yajl_gen g, const char *k, const char *v)
{
	jk(g, k);
	js(g, v);
}
void jki(yajl_gen g, const char *k, long long v)
{
	jk(g, k);
	ji(g, v);
}
void jkb(yajl_gen g, const char *k, int v)
{
	jk(g, k);
	jb(g, v);
}
void jko(yajl_gen g, const char *k)
{
	jk(g, k);
	jo(g);
}
void jka(yajl_gen g, const char *k)
{
	jk(g, k);
	jao(g);
}
