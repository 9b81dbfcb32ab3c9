// Package factor: the prime factors of a uint64 for the grpc-go peer
// (bench/peers/go), non-decreasing with multiplicity. The same plan as
// pfgate's core (so that the benchmark compares gRPC stacks, not factoring):
// trial division by the primes below 512 with exact-division inverses, then
// Miller-Rabin and Pollard-Brent rho in Montgomery arithmetic (math/bits.Mul64).
package factor

import (
	"math/bits"
	"sort"
)

const trialLimit = 512

type divisor struct{ p, inv, lim uint64 }

// oddPrimes: n is divisible by p exactly when n*inv <= lim (inv = p^-1 mod 2^64).
var oddPrimes = func() []divisor {
	var ds []divisor
	for n := uint64(3); n < trialLimit; n += 2 {
		prime := true
		for _, d := range ds {
			if n%d.p == 0 {
				prime = false
				break
			}
		}
		if prime {
			ds = append(ds, divisor{n, inv64(n), ^uint64(0) / n})
		}
	}
	return ds
}()

var smallPrimes = []uint64{2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37}

// Deterministic Miller-Rabin bases: below 4759123141, and for all of uint64.
var bases32 = []uint64{2, 7, 61}
var bases64 = []uint64{2, 325, 9375, 28178, 450775, 9780504, 1795265022}

// inv64 is n^-1 mod 2^64 for odd n (Newton's iteration).
func inv64(n uint64) uint64 {
	x := (3 * n) ^ 2
	for i := 0; i < 4; i++ {
		x *= 2 - n*x
	}
	return x
}

// mont: arithmetic modulo the odd n in Montgomery form (x*2^64 mod n).
type mont struct{ n, ninv, one, r2 uint64 }

func newMont(n uint64) mont {
	one := -n % n
	_, r2 := bits.Div64(one, 0, n)
	return mont{n, inv64(n), one, r2}
}

func (m *mont) mul(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	mh, _ := bits.Mul64(lo*m.ninv, m.n)
	r := hi - mh
	if hi < mh {
		r += m.n
	}
	return r
}

func (m *mont) add(a, b uint64) uint64 {
	s := a + b
	if s < a || s >= m.n {
		s -= m.n
	}
	return s
}

func (m *mont) sub(a, b uint64) uint64 {
	d := a - b
	if a < b {
		d += m.n
	}
	return d
}

func (m *mont) to(x uint64) uint64 { return m.mul(x%m.n, m.r2) }

func (m *mont) pow(b, e uint64) uint64 {
	r := m.one
	for ; e > 0; e >>= 1 {
		if e&1 == 1 {
			r = m.mul(r, b)
		}
		b = m.mul(b, b)
	}
	return r
}

// isPrimeOdd: Miller-Rabin, exact for an odd n > 61.
func isPrimeOdd(n uint64) bool {
	bases := bases64
	if n < 4759123141 {
		bases = bases32
	}
	m := newMont(n)
	d := n - 1
	s := bits.TrailingZeros64(d)
	d >>= uint(s)
	minus1 := m.n - m.one
next:
	for _, a := range bases {
		a = m.to(a)
		if a == 0 {
			continue // n divides the base
		}
		x := m.pow(a, d)
		if x == m.one || x == minus1 {
			continue
		}
		for i := 1; i < s; i++ {
			x = m.mul(x, x)
			if x == minus1 {
				continue next
			}
		}
		return false
	}
	return true
}

// IsPrime is exact for every uint64.
func IsPrime(n uint64) bool {
	for _, p := range smallPrimes {
		if n%p == 0 {
			return n == p
		}
	}
	return n > 37 && (n < 37*37 || isPrimeOdd(n))
}

func gcd(a, b uint64) uint64 {
	if a == 0 {
		return b
	}
	if b == 0 {
		return a
	}
	k := bits.TrailingZeros64(a | b)
	a >>= uint(bits.TrailingZeros64(a))
	for b != 0 {
		b >>= uint(bits.TrailingZeros64(b))
		if a > b {
			a, b = b, a
		}
		b -= a
	}
	return a << uint(k)
}

// rho returns a non-trivial factor of the odd composite n (Brent's variant).
func rho(n uint64) uint64 {
	m := newMont(n)
	for c0 := uint64(1); ; c0++ {
		c := m.to(c0)
		y, r, q, g := m.add(m.one, m.one), uint64(1), m.one, uint64(1)
		var x, ys uint64
		const batch = 128
		for g == 1 {
			x = y
			for i := uint64(0); i < r; i++ {
				y = m.add(m.mul(y, y), c)
			}
			for k := uint64(0); k < r && g == 1; k += batch {
				ys = y
				for i := uint64(0); i < batch && i < r-k; i++ {
					y = m.add(m.mul(y, y), c)
					q = m.mul(q, m.sub(x, y))
				}
				g = gcd(q, n)
			}
			r <<= 1
		}
		if g == n {
			for g = 1; g == 1; {
				ys = m.add(m.mul(ys, ys), c)
				g = gcd(m.sub(x, ys), n)
			}
		}
		if g != n {
			return g
		}
	}
}

// split appends the prime factors of n, odd with no factor below trialLimit.
func split(n uint64, out []uint64) []uint64 {
	if n < trialLimit*trialLimit || isPrimeOdd(n) {
		return append(out, n)
	}
	d := rho(n)
	return split(n/d, split(d, out))
}

// Factors appends the prime factors of n to out; 0 and 1 have none.
func Factors(n uint64, out []uint64) []uint64 {
	if n < 2 {
		return out
	}
	for ; n&1 == 0; n >>= 1 {
		out = append(out, 2)
	}
	for _, d := range oddPrimes {
		if d.p*d.p > n {
			if n > 1 {
				out = append(out, n)
			}
			return out
		}
		for n*d.inv <= d.lim {
			n *= d.inv
			out = append(out, d.p)
		}
	}
	if n > 1 {
		tail := len(out)
		out = split(n, out)
		big := out[tail:]
		sort.Slice(big, func(i, j int) bool { return big[i] < big[j] })
	}
	return out
}
