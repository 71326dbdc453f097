/* SPDX-License-Identifier: MIT */
/* error.c - text for the shared library's error codes. */
#include "error.h"

#include <stddef.h>

struct err_text {
    int code;
    const char *name;
    const char *text;
};

static const struct err_text errs[] = {
    {BANTER_OK, "OK", "success"},
    {BANTER_ENOMEM, "ENOMEM", "out of memory"},
    {BANTER_EINVAL, "EINVAL", "invalid argument"},
    {BANTER_ETOOBIG, "ETOOBIG", "length over the allowed maximum"},
    {BANTER_ETRUNCATED, "ETRUNCATED", "input ended inside a frame or field"},
    {BANTER_EBADTAG, "EBADTAG", "authentication failed (bad tag)"},
    {BANTER_EBADTYPE, "EBADTYPE", "unknown or unexpected message type"},
    {BANTER_EUTF8, "EUTF8", "text is not valid UTF-8"},
    {BANTER_EJSON, "EJSON", "malformed JSON"},
    {BANTER_ESCHEMA, "ESCHEMA", "message does not match its schema"},
    {BANTER_ETOOLONG, "ETOOLONG", "field longer than allowed"},
    {BANTER_EDH, "EDH", "key exchange gave an invalid shared secret"},
    {BANTER_ESTATE, "ESTATE", "operation not valid in this state"},
    {BANTER_ENONCE, "ENONCE", "nonce space exhausted"},
    {BANTER_EIO, "EIO", "file operation failed"},
    {BANTER_EPERM, "EPERM", "key file is accessible by other users"},
    {BANTER_EFORMAT, "EFORMAT", "file is not in the expected format"},
    {BANTER_EIDENTITY, "EIDENTITY", "peer's identity proof is invalid"},
    {BANTER_EPROTO, "EPROTO", "protocol violation by peer"},
    {BANTER_EUNSUPPORTED, "EUNSUPPORTED", "protocol or version not supported"},
    {BANTER_EKEYMISMATCH, "EKEYMISMATCH", "peer's key is not the one expected"},
    {BANTER_ETRAILING, "ETRAILING", "unexpected bytes after the end of a value"},
    {BANTER_ENOENT, "ENOENT", "no such record"},
    {BANTER_EDB, "EDB", "database error"},
    {BANTER_ENOSPC, "ENOSPC", "no space left on the disk"},
    {BANTER_EAMBIGUOUS, "EAMBIGUOUS", "more than one match"},
    {BANTER_ETIMEDOUT, "ETIMEDOUT", "timed out"},
    {BANTER_EAGAIN, "EAGAIN", "full for now, try again later"},
    {BANTER_ERATE, "ERATE", "too many at once, try again later"},
    {BANTER_ELIMIT, "ELIMIT", "over a limit of the receiver"},
};

static const struct err_text *find(int err)
{
    for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
        if (errs[i].code == err)
            return &errs[i];
    return NULL;
}

const char *banter_strerror(int err)
{
    const struct err_text *e = find(err);
    return e ? e->text : "unknown error";
}

const char *banter_errname(int err)
{
    const struct err_text *e = find(err);
    return e ? e->name : "EUNKNOWN";
}
