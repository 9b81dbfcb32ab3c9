#include "json_codec.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "num.h"

/* num's value as JSON: an integer or a string of digits. */
static int decode_num(const json_t *v, int64_t *num)
{
    if (json_is_integer(v)) {
        *num = json_integer_value(v); /* json_int_t is long long: all of int64 */
        return PF_OK;
    }
    if (json_is_real(v))
        return PF_EFRACTION;
    if (json_is_string(v))
        return pf_parse_i64(json_string_value(v), json_string_length(v), num);
    if (json_is_null(v))
        return PF_EMISSING;
    return PF_ENOTNUM;
}

/* json_loadb() takes a NUL byte after a value for the end of the text, so
 * "360\0" loaded as 360 while "360x" is an error. JSON has no NUL outside
 * strings (RFC 8259 2) and jansson refuses one inside a string: a text with
 * a NUL is never valid JSON. */
static bool has_nul(const char *text, size_t len)
{
    return memchr(text, '\0', len) != NULL;
}

/* jansson reports some allocation failures as syntax errors (a string its
 * lexer cannot copy) and some not at all: its allocations are watched here,
 * so that running out of memory is never answered "not valid JSON". malloc
 * is called by name so that the fault build's --wrap=malloc (Makefile) sees
 * jansson's allocations for pfgate too; set up before main, so from the
 * first one on (pfgate uses jansson only through this file). */
static _Thread_local bool ran_out;

static void *watched_malloc(size_t size)
{
    void *p = malloc(size);
    if (!p)
        ran_out = true;
    return p;
}

__attribute__((constructor)) static void watch_allocations(void)
{
    json_set_alloc_funcs(watched_malloc, free);
}

static int decode(const char *text, size_t len, int64_t *num)
{
    if (has_nul(text, len))
        return PF_ESYNTAX;
    json_error_t error;
    ran_out = false;
    json_t *root = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &error);
    if (!root) {
        if (ran_out)
            return PF_ENOMEM; /* not the request's fault */
        return json_error_code(&error) == json_error_numeric_overflow ? PF_ERANGE : PF_ESYNTAX;
    }

    int rc;
    if (!json_is_object(root)) {
        rc = decode_num(root, num);
    } else {
        json_t *v = json_object_get(root, "num");
        if (json_object_size(root) > (v ? 1u : 0u))
            rc = PF_EFIELD;
        else if (!v)
            rc = PF_EMISSING;
        else
            rc = decode_num(v, num);
    }
    json_decref(root);
    return rc;
}

int pf_json_is_end(const char *text, size_t len)
{
    if (len > 64 || !memchr(text, 'e', len) || has_nul(text, len))
        return 0; /* not worth a parse */
    ran_out = false;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    bool end = json_is_object(root) && json_object_size(root) == 1 &&
               json_is_true(json_object_get(root, "end"));
    json_decref(root);
    return ran_out ? PF_ENOMEM : end;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void pf_json_decode_request(const char *text, size_t len, pf_request *out)
{
    /* Fast path for the common bare number: no JSON tree to build. */
    size_t b = 0, e = len;
    while (b < e && is_space(text[b]))
        b++;
    while (e > b && is_space(text[e - 1]))
        e--;
    /* JSON numbers have no leading zeros ("007" is not JSON): jansson decides those. */
    const char *digits = text + b + (b < e && text[b] == '-');
    bool leading_zero = digits + 1 < text + e && digits[0] == '0';
    int64_t num = 0;
    int rc = leading_zero ? PF_ENOTNUM : pf_parse_i64(text + b, e - b, &num);
    if (rc == PF_ENOTNUM || rc == PF_EFRACTION)
        rc = decode(text, len, &num);
    out->num = rc == PF_OK ? num : 0;
    out->err = rc;
}

static char *put(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static char *put_i64_string(char *p, int64_t v)
{
    *p++ = '"';
    p += pf_format_i64(v, p);
    *p++ = '"';
    return p;
}

size_t pf_json_encode_response(const pf_response *r, char *buf)
{
    /* A fixed shape, written directly: a jansson tree per answer would cost
     * several allocations on the hottest path. Error texts come from
     * pf_strerror() and are escaped by jansson all the same. */
    char *p = buf;
    *p++ = '{';
    if (r->result) {
        p = put(p, "\"result\":");
        p = put_i64_string(p, r->result);
    }
    if (r->num) {
        p = put(p, p > buf + 1 ? ",\"num\":" : "\"num\":");
        p = put_i64_string(p, r->num);
    }
    if (r->last)
        p = put(p, p > buf + 1 ? ",\"last\":true" : "\"last\":true");
    if (r->error) {
        p = put(p, p > buf + 1 ? ",\"error\":" : "\"error\":");
        json_t *s = json_string(r->error);
        size_t room = (size_t)(buf + PF_JSON_RESPONSE_MAX - 2 - p);
        size_t n = s ? json_dumpb(s, p, room, JSON_ENCODE_ANY) : 0;
        json_decref(s);
        p = n && n <= room ? p + n : put(p, "\"internal error\"");
    }
    *p++ = '}';
    return (size_t)(p - buf);
}

/* What jansson built while one of its allocations failed may lack a part
 * (json_array_append_new drops a NULL value; 2.14's json_dumps can leave a
 * key out): no text then, never a wrong one. */
static char *unless_ran_out(char *text)
{
    if (!ran_out)
        return text;
    free(text);
    return NULL;
}

char *pf_json_encode_factors(int64_t num, const int64_t *factors, size_t n)
{
    char digits[21];
    ran_out = false;
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++) {
        digits[pf_format_i64(factors[i], digits)] = '\0';
        json_array_append_new(list, json_string(digits));
    }
    digits[pf_format_i64(num, digits)] = '\0';
    json_t *root = json_pack("{s:s, s:o}", "num", digits, "factors", list);
    char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    return unless_ran_out(text);
}

char *pf_json_encode_error(const char *error)
{
    ran_out = false;
    json_t *root = json_pack("{s:s}", "error", error);
    char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    return unless_ran_out(text);
}
