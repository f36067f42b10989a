/* Descriptions of runnel's internal error codes. */
#include "rn_err.h"

const char *rn_strerror(int err)
{
    switch (err) {
    case RN_OK: return "success";
    case RN_EIO: return "I/O error";
    case RN_ENOMEM: return "out of memory";
    case RN_EINVAL: return "invalid argument";
    case RN_ECORRUPT: return "corrupt data";
    case RN_ETRUNC: return "truncated data";
    case RN_ENOTFOUND: return "not found";
    case RN_ERANGE: return "out of range";
    case RN_EEXIST: return "already exists";
    case RN_ELOCKED: return "locked by another process";
    case RN_ETOOBIG: return "too large";
    case RN_EUNSUPPORTED: return "unsupported";
    case RN_EFULL: return "full";
    case RN_ECANCELED: return "cancelled";
    case RN_ENOTLEADER: return "not the leader";
    default: return "unknown error";
    }
}
