#include "pf.h"

const char *pf_strerror(int err)
{
    switch (err) {
    case PF_OK: return "ok";
    case PF_EAGAIN: return "no answer ready";
    case PF_EFULL: return "too many requests in flight";
    case PF_ENOMEM: return "out of memory";
    case PF_EINVAL: return "invalid argument";
    case PF_ENEGATIVE: return "negative numbers have no prime factorization";
    case PF_ESYNTAX: return "request is not valid JSON";
    case PF_ENOTNUM: return "num must be an integer or a string of digits";
    case PF_EFRACTION: return "num must be a whole number without fraction or exponent";
    case PF_ERANGE: return "num is outside the int64 range";
    case PF_EMISSING: return "request has no num";
    case PF_EFIELD: return "request has an unknown field; only num is allowed";
    case PF_ETOOLONG: return "request is longer than the limit";
    }
    return "unknown error";
}
