/*
 * jgen: terse helpers to write JSON with yajl_gen, for renderers that build
 * Kubernetes objects. Errors are sticky in yajl_gen (a bad state makes every
 * later call fail), so callers check once, at jgen_finish().
 */
#ifndef VW_JGEN_H
#define VW_JGEN_H

#include <yajl/yajl_gen.h>

yajl_gen jgen_new(void);
/* The document as a new string (caller frees), then frees g. NULL on error. */
char *jgen_finish(yajl_gen g);
/* As jgen_finish, and wipe the generator's buffer: for JSON holding secrets. */
char *jgen_finish_secret(yajl_gen g);

void jo(yajl_gen g);                                /* { */
void jc(yajl_gen g);                                /* } */
void jao(yajl_gen g);                               /* [ */
void jac(yajl_gen g);                               /* ] */
void jk(yajl_gen g, const char *k);                 /* "k": */
void js(yajl_gen g, const char *s);                 /* "s" (null when s is NULL) */
void ji(yajl_gen g, long long v);                   /* 12 */
void jb(yajl_gen g, int v);                         /* true/false */
void jkv(yajl_gen g, const char *k, const char *v); /* "k":"v" */
void jki(yajl_gen g, const char *k, long long v);   /* "k":12 */
void jkb(yajl_gen g, const char *k, int v);         /* "k":true */
void jko(yajl_gen g, const char *k);                /* "k":{ */
void jka(yajl_gen g, const char *k);                /* "k":[ */

#endif
