/* hash.c - SipHash-2-4, written from the paper's description (Aumasson
 * and Bernstein, "SipHash: a fast short-input PRF", 2012), and random
 * keys for it. Faster than byte-wise FNV-1a on keys of a few dozen
 * bytes, and with a secret key a client cannot choose keys that collide.
 * Owns: nothing. Threads: pure functions. */
#include "config.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "tg.h"
#include "tg_hash.h"
#include "tg_log.h"

/* hash_le64 - 8 bytes at p as a little-endian number, whatever the host
 * (one load on a little-endian one: the loop was a third of the time) */
static uint64_t
hash_le64(const uint8_t *p)
{
	uint64_t v = 0;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(&v, p, sizeof v);
#else
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
#endif
	return v;
}

#define HASH_ROTL(x, b)	(((x) << (b)) | ((x) >> (64 - (b))))

/* One SipRound over the four words of state. */
#define HASH_ROUND(v0, v1, v2, v3) do {					\
	v0 += v1; v1 = HASH_ROTL(v1, 13); v1 ^= v0; v0 = HASH_ROTL(v0, 32); \
	v2 += v3; v3 = HASH_ROTL(v3, 16); v3 ^= v2;			\
	v0 += v3; v3 = HASH_ROTL(v3, 21); v3 ^= v0;			\
	v2 += v1; v1 = HASH_ROTL(v1, 17); v1 ^= v2; v2 = HASH_ROTL(v2, 32); \
} while (0)

uint64_t
tg_hash_sip(const uint8_t k[TG_HASH_KEY_LEN], const void *p, size_t n)
{
	const uint8_t *in = p;
	uint64_t k0 = hash_le64(k), k1 = hash_le64(k + 8), m, last;
	/* "somepseudorandomlygeneratedbytes", as the paper starts. */
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
	uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
	uint64_t v3 = k1 ^ 0x7465646279746573ULL;
	size_t whole = n - n % 8;

	/* Compression: two rounds per 8-byte word. */
	for (size_t i = 0; i < whole; i += 8) {
		m = hash_le64(in + i);
		v3 ^= m;
		HASH_ROUND(v0, v1, v2, v3);
		HASH_ROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	/* The last word: the remaining bytes, and the length mod 256 in
	 * the top byte. */
	last = (uint64_t)(n & 0xff) << 56;
	for (size_t i = 0; i < n % 8; i++)
		last |= (uint64_t)in[whole + i] << (8 * i);
	v3 ^= last;
	HASH_ROUND(v0, v1, v2, v3);
	HASH_ROUND(v0, v1, v2, v3);
	v0 ^= last;
	/* Finalization: four rounds. */
	v2 ^= 0xff;
	for (int i = 0; i < 4; i++)
		HASH_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

void
tg_hash_key_new(uint8_t k[TG_HASH_KEY_LEN])
{
	struct timespec ts;
	uint64_t mix[2];

	if (RAND_bytes(k, TG_HASH_KEY_LEN) == 1)
		return;
	/* No randomness: something a remote client cannot know to the
	 * nanosecond, hashed so that every bit depends on all of it. */
	tg_log_err("hash: no random bytes from OpenSSL; hash keys made from "
	    "the clock");
	clock_gettime(CLOCK_REALTIME, &ts);
	mix[0] = (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 32) ^
	    (uint64_t)(uintptr_t)k;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	mix[1] = (uint64_t)ts.tv_nsec ^ ((uint64_t)(uintptr_t)&ts << 16);
	memcpy(k, mix, TG_HASH_KEY_LEN);
	mix[0] = tg_hash_sip(k, mix, sizeof mix);
	mix[1] = tg_hash_sip(k, &mix[0], sizeof mix[0]);
	memcpy(k, mix, TG_HASH_KEY_LEN);
}
