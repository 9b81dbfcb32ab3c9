/* The check both load clients make of every answer, so that a fast wrong
 * server cannot pass: answers come in the order of the numbers, and the
 * factors of a number >= 2 multiply to it (modulo 2^64: a lost, extra or
 * wrong factor shows). */
#ifndef PF_ANSWER_CHECK_H
#define PF_ANSWER_CHECK_H

#include <stdbool.h>
#include <stdint.h>

/* One answer (num, result, last) where the number `expected` is due;
 * *product is the product of its factors answered so far, 1 before the
 * first, and is 1 again after its last answer. Returns whether it fits. */
static inline bool pf_answer_fits(uint64_t *product, int64_t expected, int64_t num,
                                  int64_t result, bool last)
{
    *product *= (uint64_t)result;
    bool fits = num == expected && !(last && expected >= 2 && *product != (uint64_t)expected);
    if (last)
        *product = 1;
    return fits;
}

#endif
