/* SPDX-License-Identifier: MIT */
/*
 * autoaccept.h - how much the node accepts by itself.
 *
 * With auto_accept_verified (banter.conf) the node accepts a verified
 * colleague's file offers without asking. Trusting a person is no licence
 * to fill the disk - theirs could be a stolen laptop, or a script gone
 * wrong - so an offer is accepted by itself only when
 *   - it (all its files) is at most limits.max_file bytes (0: no limit);
 *   - what the node accepted by itself in this hour and the 23 before it
 *     ("24 hours" below), this offer included, stays within
 *     limits.per_day bytes (0: no limit); and
 *   - the disk keeps limits.keep_free bytes free after it, counting what
 *     transfers already accepted still have to write (the caller's `room`:
 *     free space minus that).
 * Any other offer waits for the person, as every offer does without
 * auto-accept; nothing is declined here.
 *
 * The 24 hours are 24 hourly buckets of a monotonic clock: what was
 * accepted counts from the hour it was accepted in until 23 to 24 hours
 * later (so up to twice per_day can pass within 23 hours across the
 * boundary), and counts when the node decided, even if the accept then
 * failed. The count is in memory: a restart of the node starts it again.
 *
 * Sans-I/O: the caller hands in the time (monotonic milliseconds) and the
 * room. Not thread-safe (the node's loop owns it).
 */
#ifndef BANTER_PEER_AUTOACCEPT_H
#define BANTER_PEER_AUTOACCEPT_H

#include <stdint.h>

typedef struct autoaccept autoaccept;

typedef struct aa_limits {
    uint64_t max_file;  /* bytes of one offer (all its files); 0: no limit */
    uint64_t per_day;   /* bytes in 24 hours; 0: no limit */
    uint64_t keep_free; /* bytes the disk keeps free; 0: none */
} aa_limits;

typedef enum aa_verdict {
    AA_YES,      /* accept it */
    AA_TOO_BIG,  /* over max_file */
    AA_OVER_DAY, /* over per_day with what was accepted in 24 hours */
    AA_NO_ROOM   /* the disk would keep less than keep_free */
} aa_verdict;

/* A new, empty count (NULL only when out of memory). Free with
 * autoaccept_free (NULL is fine). */
autoaccept *autoaccept_new(void);
void autoaccept_free(autoaccept *a);

/* Whether an offer of size bytes is accepted by itself now; room: the
 * bytes the disk can still take (free space minus what accepted
 * transfers still write). Counts nothing: call autoaccept_took when it
 * is accepted. */
aa_verdict autoaccept_check(const autoaccept *a, const aa_limits *l, uint64_t size, uint64_t room,
                            int64_t now_ms);

/* Count size bytes accepted by itself at now_ms. */
void autoaccept_took(autoaccept *a, uint64_t size, int64_t now_ms);

/* What was accepted by itself in the last 24 hours (bytes). */
uint64_t autoaccept_used(const autoaccept *a, int64_t now_ms);

/* Why an offer waits, for a log line ("" for AA_YES); static text. */
const char *autoaccept_why(aa_verdict v);

#endif
