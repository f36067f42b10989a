/* rn_err: runnel's internal error codes. Functions return 0 on success and a negative
 * RN_E* on failure. Kafka's protocol error codes are a separate enum (client/) used only
 * for what goes back to clients. */
#ifndef RN_ERR_H
#define RN_ERR_H

enum {
    RN_OK = 0,
    RN_EIO = -1,           /* a system call failed; errno says why */
    RN_ENOMEM = -2,        /* an allocation failed */
    RN_EINVAL = -3,        /* bad argument or bad configuration */
    RN_ECORRUPT = -4,      /* bytes failed validation (CRC, length, magic) */
    RN_ETRUNC = -5,        /* input ends before a complete item */
    RN_ENOTFOUND = -6,     /* no such topic, partition, offset, file */
    RN_ERANGE = -7,        /* offset or value outside the valid range */
    RN_EEXIST = -8,        /* already exists */
    RN_ELOCKED = -9,       /* another process holds the lock */
    RN_ETOOBIG = -10,      /* over a configured size limit */
    RN_EUNSUPPORTED = -11, /* valid but not supported (legacy magic, unknown codec) */
    RN_EFULL = -12,        /* an index or buffer is full */
    RN_ECANCELED = -13,    /* abandoned: stopped, or the state it worked on changed meanwhile */
    RN_ENOTLEADER = -14,   /* this node does not lead what was asked of it (quorum, partition) */
};

/* A short English description of an RN_E* code, for logs and error messages. */
const char *rn_strerror(int err);

#endif
