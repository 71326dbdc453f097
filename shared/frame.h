/* SPDX-License-Identifier: MIT */
/*
 * frame.h - length-prefixed framing of Noise messages on a byte stream.
 *
 * Each frame is a 2-byte big-endian length followed by that many bytes (one
 * Noise message, at most 65535 bytes). The decoder is incremental: bytes may
 * arrive one at a time or many frames at once, and it yields the same frames.
 * It buffers only a partial frame, up to its cap; an idle decoder holds no
 * memory.
 */
#ifndef BANTER_FRAME_H
#define BANTER_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

typedef struct frame_dec {
    buf body;         /* private: partial frame body */
    uint32_t max;     /* private: largest length accepted */
    uint32_t need;    /* private: body length of the frame in progress */
    uint8_t hdr[2];   /* private */
    uint8_t hdr_have; /* private: 0, 1 or 2 header bytes seen */
    bool keep;        /* private: keep the body's memory between frames */
} frame_dec;

/* max: the largest frame length accepted (<= 65535). */
void frame_dec_init(frame_dec *d, size_t max);
/* Change the cap, e.g. once a handshake is over. Takes effect for the next
 * header read. */
void frame_dec_set_max(frame_dec *d, size_t max);
void frame_dec_free(frame_dec *d);
/* keep: the buffer a partial frame is gathered in keeps its memory between
 * frames (a decoder of bulk data: no allocation per frame), until
 * frame_dec_trim or frame_dec_free. Off by default: an idle decoder holds
 * nothing. */
void frame_dec_set_keep(frame_dec *d, bool keep);
/* Between frames (no partial frame pending), release the buffer the last
 * frame used; the frame last handed out must no longer be used. A partial
 * frame keeps its bytes. */
void frame_dec_trim(frame_dec *d);

/* Bytes the decoder holds allocated (what frame_dec_trim may release). */
static inline size_t frame_dec_held(const frame_dec *d) { return buf_held(&d->body); }

/*
 * Feed bytes. Returns 1 when a whole frame is ready: *frame and *flen
 * describe it (it may point into in or into the decoder; valid until the
 * next call); 0 when every byte was consumed and no frame is complete; or
 * BANTER_ETOOBIG when a length is over the cap, BANTER_ENOMEM. *used says
 * how much of in was consumed; call again with the rest.
 * After an error the decoder must not be fed again.
 */
BANTER_WUR int frame_dec_push(frame_dec *d, const uint8_t *in, size_t len, size_t *used,
                              const uint8_t **frame, size_t *flen);

/* At end of stream: 0 when no partial frame is pending, else
 * BANTER_ETRUNCATED. */
BANTER_WUR int frame_dec_finish(const frame_dec *d);

/* The 2-byte header for a frame of len bytes; BANTER_ETOOBIG over 65535. */
BANTER_WUR int frame_header(uint8_t hdr[static 2], size_t len);

#endif
