/* pffactor: GNU factor's interface on pfgate's factoring core.
 *
 *   pffactor [NUMBER]...   factors each NUMBER, or whitespace-separated numbers
 *                          read from standard input when none is given.
 *
 * Output is GNU factor's, byte for byte: "360: 2 2 2 3 3 5", "1:". Numbers may
 * have leading spaces, a '+' and leading zeros, and go up to 2^64 - 1. A bad
 * number gets a message on standard error; the rest are still factored and the
 * exit status is 1. I/O is done in large blocks: the benchmark feeds it millions. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "factor.h"

#define OUT_CAP (1u << 20)
#define OUT_LINE_MAX (21 + 2 + PF_FACTORS_MAX * 21 + 1) /* one output line at most */
#define IN_CHUNK (1u << 20)

static char out_buf[OUT_CAP];
static size_t out_len;
static int exit_status;

static void out_flush(void)
{
    size_t off = 0;
    while (off < out_len) {
        ssize_t w = write(STDOUT_FILENO, out_buf + off, out_len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "pffactor: write error: %s\n", strerror(errno));
            exit(1);
        }
        off += (size_t)w;
    }
    out_len = 0;
}

static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Writes v in decimal at p; returns the end. */
static char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    char *t = tmp + sizeof tmp;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        t -= 2;
        memcpy(t, digit_pairs + 2 * r, 2);
    }
    if (v >= 10) {
        t -= 2;
        memcpy(t, digit_pairs + 2 * v, 2);
    } else {
        *--t = (char)('0' + v);
    }
    size_t len = (size_t)(tmp + sizeof tmp - t);
    memcpy(p, t, len);
    return p + len;
}

static void print_factors(uint64_t n)
{
    uint64_t f[PF_FACTORS_MAX];
    size_t k = pf_factor(n, f);
    if (out_len > OUT_CAP - OUT_LINE_MAX)
        out_flush();
    char *p = out_buf + out_len;
    p = put_u64(p, n);
    *p++ = ':';
    for (size_t i = 0; i < k; i++) {
        *p++ = ' ';
        p = put_u64(p, f[i]);
    }
    *p++ = '\n';
    out_len = (size_t)(p - out_buf);
}

/* Length of the valid UTF-8 sequence of a printable character at s[0..len), or 0. */
static size_t utf8_printable(const unsigned char *s, size_t len)
{
    size_t need;
    uint32_t cp;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        need = 2;
        cp = s[0] & 0x1fu;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        need = 3;
        cp = s[0] & 0x0fu;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        need = 4;
        cp = s[0] & 0x07u;
    } else {
        return 0;
    }
    if (len < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    if ((need == 3 && cp < 0x800) || (need == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp < 0xa0))
        return 0; /* overlong, out of range, surrogate, or a C1 control */
    return need;
}

/* Reports a bad token the way GNU factor does: ‘tok’, with control characters
 * and bytes that are not UTF-8 escaped. */
static void report_invalid(const char *tok, size_t len, const char *why)
{
    out_flush(); /* keep stdout and stderr in order on a terminal */
    fputs("pffactor: \xe2\x80\x98", stderr);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)tok[i];
        const char *esc = NULL;
        switch (c) {
        case '\a': esc = "\\a"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\v': esc = "\\v"; break;
        case '\\': esc = "\\\\"; break;
        default: break;
        }
        if (esc) {
            fputs(esc, stderr);
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(stderr, "\\%03o", c);
        } else if (c < 0x80) {
            putc(c, stderr);
        } else {
            size_t k = utf8_printable((const unsigned char *)tok + i, len - i);
            if (k == 0) {
                fprintf(stderr, "\\%03o", c);
            } else {
                fwrite(tok + i, 1, k, stderr);
                i += k - 1;
            }
        }
    }
    fprintf(stderr, "\xe2\x80\x99 %s\n", why);
    exit_status = 1;
}

/* Parses and factors one token (not NUL-terminated). */
static void factor_token(const char *tok, size_t len)
{
    size_t i = 0;
    while (i < len && tok[i] == ' ') /* GNU factor skips leading spaces only */
        i++;
    if (i < len && tok[i] == '+')
        i++;
    if (i == len) {
        report_invalid(tok, len, "is not a valid positive integer");
        return;
    }
    uint64_t v = 0;
    bool overflow = false;
    for (; i < len; i++) {
        unsigned d = (unsigned)(unsigned char)tok[i] - '0';
        if (d > 9) {
            report_invalid(tok, len, "is not a valid positive integer");
            return;
        }
        if (v > (UINT64_MAX - d) / 10)
            overflow = true;
        v = v * 10 + d;
    }
    if (overflow) {
        report_invalid(tok, len, "is too large (pffactor handles numbers below 2^64)");
        return;
    }
    print_factors(v);
}

static bool is_delim(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n';
}

/* Reads whitespace-separated tokens (space, tab, newline, as GNU factor) from stdin. */
static void factor_stdin(void)
{
    size_t cap = IN_CHUNK * 2;
    char *buf = malloc(cap);
    if (!buf) {
        fputs("pffactor: out of memory\n", stderr);
        exit(1);
    }
    size_t len = 0; /* bytes held: a partial token carried over, then new data */
    bool eof = false;
    while (!eof) {
        if (cap - len < IN_CHUNK) {
            /* One token longer than a chunk: grow (only garbage gets this long). */
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                fputs("pffactor: out of memory\n", stderr);
                exit(1);
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(STDIN_FILENO, buf + len, IN_CHUNK);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "pffactor: read error: %s\n", strerror(errno));
            exit(1);
        }
        if (r == 0)
            eof = true;
        len += (size_t)r;

        size_t i = 0, keep = 0;
        for (;;) {
            while (i < len && is_delim((unsigned char)buf[i]))
                i++;
            if (i == len) {
                keep = len;
                break;
            }
            size_t start = i;
            /* The fast path: a plain decimal number, as the benchmark sends. */
            uint64_t v = 0;
            size_t j = i;
            while (j < len && (unsigned)(unsigned char)buf[j] - '0' <= 9 && j - start < 19) {
                v = v * 10 + (unsigned)(buf[j] - '0');
                j++;
            }
            if (j < len && is_delim((unsigned char)buf[j]) && j > start) {
                print_factors(v);
                i = j;
                continue;
            }
            while (j < len && !is_delim((unsigned char)buf[j]))
                j++;
            if (j == len && !eof) {
                keep = start; /* incomplete: wait for more input */
                break;
            }
            /* GNU factor reads tokens as C strings: a NUL byte ends one. */
            size_t tlen = j - start;
            const char *nul = memchr(buf + start, '\0', tlen);
            if (nul)
                tlen = (size_t)(nul - (buf + start));
            factor_token(buf + start, tlen);
            i = j;
        }
        memmove(buf, buf + keep, len - keep);
        len -= keep;
    }
    free(buf);
}

static void usage(void)
{
    fputs("Usage: pffactor [NUMBER]...\n"
          "Print the prime factors of each NUMBER (0 <= NUMBER < 2^64).\n"
          "With no NUMBER, read whitespace-separated numbers from standard input.\n",
          stdout);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        if (strcmp(argv[1], "--help") == 0) {
            usage();
            return 0;
        }
        if (strcmp(argv[1], "--version") == 0) {
            puts("pffactor (pfgate)");
            return 0;
        }
    }
    /* The first "--" ends the options wherever it is (GNU getopt permutes). Other
     * arguments that start with '-' are reported as invalid numbers. */
    int numbers = 0, seen_dashdash = 0;
    for (int i = 1; i < argc; i++) {
        if (!seen_dashdash && strcmp(argv[i], "--") == 0) {
            seen_dashdash = 1;
            continue;
        }
        numbers++;
        factor_token(argv[i], strlen(argv[i]));
    }
    if (numbers == 0)
        factor_stdin();
    out_flush();
    return exit_status;
}
