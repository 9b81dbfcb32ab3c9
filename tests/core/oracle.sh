#!/usr/bin/env bash
# Diffs pffactor against GNU factor, byte for byte, on a fixed set of numbers:
# bit lengths uniform over 1..63 and 1..64, values uniform over [2, 2^63) and
# [0, 2^64), semiprimes of two 20..32-bit primes, prime powers, numbers with
# many small factors, the primes just below 2^63 and 2^64, and edge values.
# Usage: tests/core/oracle.sh   (PFFACTOR=path, default $BUILD/pffactor)
# Prints one line, "oracle: N numbers identical", or the first differences; exit 0/1.
set -euo pipefail
cd "$(dirname "$0")/../.."
# pffactor quotes bad input as GNU factor does in a UTF-8 locale: ‘abc’.
export LC_ALL=C.UTF-8
BUILD=${BUILD:-build}
PFFACTOR=${PFFACTOR:-$BUILD/pffactor}
work=$BUILD/oracle
mkdir -p "$work"

if [ ! -x "$PFFACTOR" ]; then
    echo "oracle: $PFFACTOR is missing (make $BUILD/pffactor)"; exit 1
fi
gen=$work/numgen
if [ ! -x "$gen" ] || [ tools/numgen.c -nt "$gen" ]; then
    cc -std=c11 -O2 -Wall -Wextra -o "$gen" tools/numgen.c
fi

in=$work/input.txt
{
    "$gen" bits 40000 1 63
    "$gen" bits 10000 2 64
    "$gen" uniform 30000 3
    "$gen" uniform64 5000 4
    "$gen" semi 15000 5 20 32
    "$gen" semi 2000 6 28 32
    "$gen" powers 4000 7
    "$gen" below 500 9223372036854775807
    "$gen" below 200 18446744073709551615
    "$gen" below 200 4294967295
    "$gen" below 100 2147483647
    # edge values: 0, 1, small numbers, 2^k and 2^k +- 1, Carmichael numbers,
    # strong pseudoprimes, 2^63-1, 2^64-1
    seq 0 2000
    python3 -c 'for k in range(1, 65):
    print("\n".join(str(2 ** k + d) for d in (-1, 0, 1) if 2 ** k + d < 2 ** 64))'
    printf '%s\n' 18446744073709551615 18446744073709551614 18446744073709551557 \
        561 41041 825265 321197185 5394826801 232250619601 9746347772161 \
        3825123056546413051 318665857834031151167461 2>/dev/null | awk 'length($0) <= 20'
    printf '%s\n' 2047 3277 4033 4681 8321 15841 29341 42799 49141 52633 65281 74665 \
        80581 85489 88357 90751 3215031751 2152302898747 3474749660383 341550071728321 \
        3825123056546413051 318665857834031151 4611686014132420609 9223372036854775783 \
        9223371994482243049 18446744030759878681 18446743979220271189
} > "$in"

n=$(wc -l < "$in")
"$PFFACTOR" < "$in" > "$work/pffactor.out" 2> "$work/pffactor.err" || {
    echo "oracle: $PFFACTOR failed (exit $?), see $work/pffactor.err"; exit 1; }
factor < "$in" > "$work/factor.out"
if ! cmp -s "$work/pffactor.out" "$work/factor.out"; then
    echo "oracle: outputs differ (< pffactor, > GNU factor), first differences:"
    diff "$work/pffactor.out" "$work/factor.out" | head -20
    exit 1
fi

# Input parsing: numbers mixed with bad tokens ('+', leading zeros and spaces,
# signs, hex, control characters) and runs of separators. stdout, stderr (with
# the program name swapped) and the exit status must all match.
cli=$work/cli.txt
python3 - > "$cli" <<'PY'
import random, sys
random.seed(7)
# '\udcXX' stands for the raw byte XX (not UTF-8): it is encoded with surrogateescape
bad = ['abc', '-5', '1e5', '0x10', '12a', '+', '++1', '+-1', '\r5', '5\r', '\v7', '1.5',
       '\x01', '\x7f', 'a\\b', 'é', '日本', '\x85', '\udcff', '\udcc3', '\udce0\udc80\udc80']
out = []
for i in range(20000):
    r = random.random()
    if r < 0.6:
        t = str(random.randrange(0, 2 ** random.randint(1, 64)))
    elif r < 0.7:
        t = '+' + str(random.randrange(0, 10 ** 6))
    elif r < 0.75:
        t = '0' * random.randint(1, 5) + str(random.randrange(0, 10 ** 12))
    elif r < 0.8:
        t = random.choice(bad)
    else:
        t = str(random.randrange(2 ** 62, 2 ** 64))
    out.append(t + random.choice([' ', '\n', '\t', '  ', '\n\n', ' \t\n']))
sys.stdout.buffer.write(''.join(out).encode('utf-8', 'surrogateescape'))
PY
rc_pf=0 rc_gnu=0
"$PFFACTOR" < "$cli" > "$work/cli.pffactor.out" 2> "$work/cli.pffactor.err" || rc_pf=$?
factor < "$cli" > "$work/cli.factor.out" 2> "$work/cli.factor.err" || rc_gnu=$?
sed -i 's/^factor:/pffactor:/' "$work/cli.factor.err"
for f in out err; do
    if ! cmp -s "$work/cli.pffactor.$f" "$work/cli.factor.$f"; then
        echo "oracle: parsing differs on std$f (< pffactor, > GNU factor), first differences:"
        diff "$work/cli.pffactor.$f" "$work/cli.factor.$f" | head -20
        exit 1
    fi
done
if [ "$rc_pf" != "$rc_gnu" ]; then
    echo "oracle: exit status $rc_pf, GNU factor $rc_gnu"; exit 1
fi
echo "oracle: $n numbers identical (and 20000 tokens of parsing, errors included)"
