/* tg_hash.h - keyed hashing for tables that hold client-chosen keys. An
 * unkeyed hash (FNV) lets a client pick keys that all land in one bucket
 * or shard; SipHash with a secret key chosen at start does not. Owns:
 * nothing. Threads: pure functions. */
#ifndef TG_HASH_H
#define TG_HASH_H

#include <stddef.h>
#include <stdint.h>

#define TG_HASH_KEY_LEN	16

/* SipHash-2-4 (Aumasson and Bernstein, 2012) of the n bytes at p under
 * the 16-byte key k: 64 bits. */
uint64_t tg_hash_sip(const uint8_t k[TG_HASH_KEY_LEN], const void *p,
	    size_t n);
/* A fresh random key (OpenSSL's RAND_bytes; when that fails, the clock,
 * the process id and addresses: worse, logged, never a refusal). */
void	tg_hash_key_new(uint8_t k[TG_HASH_KEY_LEN]);

#endif
