/* The wasm2c side of the C embedding: making and freeing instances of the
 * zero-import core converted to C, and catching a trap. Everything else an
 * embedder calls is in include/shoal.h. */
#ifndef SHOAL_W2C_H
#define SHOAL_W2C_H

#include "shoal.h"

/* A new instance (its start function has run), or NULL. */
shoal_t *shoal_w2c_new(void);
void shoal_w2c_delete(shoal_t *s);

/* Runs fn(arg); if the core traps inside, prints the trap and returns -1. */
int shoal_w2c_guard(int (*fn)(void *arg), void *arg);

#endif
