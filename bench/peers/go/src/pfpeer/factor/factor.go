// Package factor: the prime factors of a uint64 for the grpc-go peer
// (bench/peers/go), non-decreasing with multiplicity. Trial division by the
// small primes first (the benchmark's numbers are mostly small), then
// Miller-Rabin with the deterministic 64-bit bases and Pollard-Brent rho.
package factor

import (
	"math/bits"
	"sort"
)

const trialLimit = 1000

var smallPrimes = func() []uint64 {
	var ps []uint64
	for n := uint64(2); n < trialLimit; n++ {
		prime := true
		for _, p := range ps {
			if p*p > n {
				break
			}
			if n%p == 0 {
				prime = false
				break
			}
		}
		if prime {
			ps = append(ps, n)
		}
	}
	return ps
}()

func mulmod(a, b, m uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	_, r := bits.Div64(hi%m, lo, m)
	return r
}

func powmod(b, e, m uint64) uint64 {
	r := uint64(1)
	b %= m
	for ; e > 0; e >>= 1 {
		if e&1 == 1 {
			r = mulmod(r, b, m)
		}
		b = mulmod(b, b, m)
	}
	return r
}

// IsPrime is exact for every uint64 (bases 2..37 suffice below 2^64).
func IsPrime(n uint64) bool {
	if n < 2 {
		return false
	}
	for _, p := range smallPrimes[:12] {
		if n%p == 0 {
			return n == p
		}
	}
	d, s := n-1, 0
	for d&1 == 0 {
		d >>= 1
		s++
	}
next:
	for _, a := range smallPrimes[:12] {
		x := powmod(a, d, n)
		if x == 1 || x == n-1 {
			continue
		}
		for i := 1; i < s; i++ {
			x = mulmod(x, x, n)
			if x == n-1 {
				continue next
			}
		}
		return false
	}
	return true
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// rho returns a non-trivial factor of the odd composite n (Brent's variant).
func rho(n uint64) uint64 {
	for c := uint64(1); ; c++ {
		f := func(x uint64) uint64 { return (mulmod(x, x, n) + c) % n }
		y, r, q, g := uint64(2), uint64(1), uint64(1), uint64(1)
		var x, ys uint64
		const m = 128
		for g == 1 {
			x = y
			for i := uint64(0); i < r; i++ {
				y = f(y)
			}
			for k := uint64(0); k < r && g == 1; k += m {
				ys = y
				for i := uint64(0); i < m && i < r-k; i++ {
					y = f(y)
					d := x - y
					if x < y {
						d = y - x
					}
					q = mulmod(q, d, n)
				}
				g = gcd(q, n)
			}
			r <<= 1
		}
		if g == n {
			for g = 1; g == 1; {
				ys = f(ys)
				d := x - ys
				if x < ys {
					d = ys - x
				}
				g = gcd(d, n)
			}
		}
		if g != n {
			return g
		}
	}
}

func split(n uint64, out []uint64) []uint64 {
	if n == 1 {
		return out
	}
	if IsPrime(n) {
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
	for _, p := range smallPrimes {
		if p*p > n {
			break
		}
		for n%p == 0 {
			out = append(out, p)
			n /= p
		}
	}
	if n > 1 && n < trialLimit*trialLimit {
		return append(out, n)
	}
	if n > 1 {
		tail := len(out)
		out = split(n, out)
		big := out[tail:]
		sort.Slice(big, func(i, j int) bool { return big[i] < big[j] })
	}
	return out
}
