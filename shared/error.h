/* SPDX-License-Identifier: MIT */
/*
 * error.h - the error codes of the shared library.
 *
 * Every fallible call in shared/ returns 0 on success or one of these
 * negative codes. Codes are stable: tests and programs switch on them, and
 * banter_strerror() gives the text a person reads.
 */
#ifndef BANTER_ERROR_H
#define BANTER_ERROR_H

#define BANTER_WUR __attribute__((warn_unused_result))

enum banter_err {
    BANTER_OK = 0,
    BANTER_ENOMEM = -1,        /* allocation failed */
    BANTER_EINVAL = -2,        /* the caller passed a bad argument */
    BANTER_ETOOBIG = -3,       /* a length is over its cap */
    BANTER_ETRUNCATED = -4,    /* input ended inside a frame or field */
    BANTER_EBADTAG = -5,       /* authentication tag did not verify */
    BANTER_EBADTYPE = -6,      /* unknown or unexpected message type */
    BANTER_EUTF8 = -7,         /* text is not valid UTF-8 */
    BANTER_EJSON = -8,         /* body is not well-formed JSON */
    BANTER_ESCHEMA = -9,       /* JSON lacks a field or has a wrong type */
    BANTER_ETOOLONG = -10,     /* a field is longer than allowed */
    BANTER_EDH = -11,          /* Diffie-Hellman gave a low-order result */
    BANTER_ESTATE = -12,       /* call not valid in the object's state */
    BANTER_ENONCE = -13,       /* cipher nonce space exhausted */
    BANTER_EIO = -14,          /* a file operation failed (see errno) */
    BANTER_EPERM = -15,        /* key file readable by others */
    BANTER_EFORMAT = -16,      /* a stored file is not in the expected format */
    BANTER_EIDENTITY = -17,    /* peer's identity proof is invalid */
    BANTER_EPROTO = -18,       /* peer broke the protocol */
    BANTER_EUNSUPPORTED = -19, /* protocol name or version not supported */
    BANTER_EKEYMISMATCH = -20, /* peer's key is not the one expected */
    BANTER_ETRAILING = -21,    /* bytes left over after a complete value */
    BANTER_ENOENT = -22,       /* no such record, peer or file */
    BANTER_EDB = -23,          /* the database refused or failed */
    BANTER_ENOSPC = -24,       /* the disk is full */
    BANTER_EAMBIGUOUS = -25,   /* a name or prefix matches more than one */
    BANTER_ETIMEDOUT = -26,    /* no answer in time */
    BANTER_EAGAIN = -27,       /* full for now: try again when told */
    BANTER_ERATE = -28,        /* over a rate: try again later */
    BANTER_ELIMIT = -29,       /* over a cap that waiting does not lift */
};

/* Text for an error code; never NULL, never needs freeing. */
const char *banter_strerror(int err);

/* Short stable identifier ("ETOOBIG"), for logs and the control socket. */
const char *banter_errname(int err);

#endif
