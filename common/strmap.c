#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct ent {
	struct ent *next;
	uint64_t hash;
	void *val;
	char key[];
};

struct strmap {
	struct ent **tab;
	size_t nbuckets;
	size_t len;
};

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

struct strmap *strmap_new(void)
{
	struct strmap *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->nbuckets = 64;
	m->tab = calloc(m->nbuckets, sizeof(*m->tab));
	if (!m->tab) {
		free(m);
		return NULL;
	}
	return m;
}

void strmap_free(struct strmap *m, void (*free_val)(void *))
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct ent *e = m->tab[i];
		while (e) {
			struct ent *n = e->next;
			if (free_val)
				free_val(e->val);
			free(e);
			e = n;
		}
	}
	free(m->tab);
	free(m);
}

static struct ent **find(const struct strmap *m, const char *key, uint64_t h)
{
	struct ent **pp = &m->tab[h & (m->nbuckets - 1)];
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && strcmp((*pp)->key, key) == 0)
			return pp;
	return pp;
}

void *strmap_get(const struct strmap *m, const char *key)
{
	struct ent **pp = find(m, key, fnv1a(key));
	return *pp ? (*pp)->val : NULL;
}

static void grow(struct strmap *m)
{
	size_t nb = m->nbuckets * 2;
	struct ent **nt = calloc(nb, sizeof(*nt));

	if (!nt)
		return; /* keep working with longer chains */
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct ent *e = m->tab[i];
		while (e) {
			struct ent *n = e->next;
			e->next = nt[e->hash & (nb - 1)];
			nt[e->hash & (nb - 1)] = e;
			e = n;
		}
	}
	free(m->tab);
	m->tab = nt;
	m->nbuckets = nb;
}

int strmap_put(struct strmap *m, const char *key, void *val, void **old)
{
	uint64_t h = fnv1a(key);
	struct ent **pp = find(m, key, h);
	size_t kl;

	if (*pp) {
		if (old)
			*old = (*pp)->val;
		(*pp)->val = val;
		return 0;
	}
	kl = strlen(key);
	struct ent *e = malloc(sizeof(*e) + kl + 1);
	if (!e)
		return -1;
	memcpy(e->key, key, kl + 1);
	e->hash = h;
	e->val = val;
	e->next = NULL;
	*pp = e;
	m->len++;
	if (old)
		*old = NULL;
	if (m->len > m->nbuckets * 2)
		grow(m);
	return 0;
}

void *strmap_del(struct strmap *m, const char *key)
{
	struct ent **pp = find(m, key, fnv1a(key));
	struct ent *e = *pp;
	void *v;

	if (!e)
		return NULL;
	*pp = e->next;
	v = e->val;
	free(e);
	m->len--;
	return v;
}

size_t strmap_len(const struct strmap *m)
{
	return m->len;
}

int strmap_foreach(const struct strmap *m, int (*cb)(const char *key, void *val, void *ctx),
                   void *ctx)
{
	for (size_t i = 0; i < m->nbuckets; i++)
		for (struct ent *e = m->tab[i]; e; e = e->next) {
			int r = cb(e->key, e->val, ctx);
			if (r)
				return r;
		}
	return 0;
}
