package factor

import "testing"

func TestFactors(t *testing.T) {
	cases := map[uint64][]uint64{
		0: nil, 1: nil, 2: {2}, 360: {2, 2, 2, 3, 3, 5}, 997 * 997: {997, 997},
		1000003 * 1000003:    {1000003, 1000003},
		4611686014132420609:  {2147483647, 2147483647},
		9223372036854775783:  {9223372036854775783},
		18446744073709551615: {3, 5, 17, 257, 641, 65537, 6700417},
	}
	for n, want := range cases {
		got := Factors(n, nil)
		if len(got) != len(want) {
			t.Fatalf("%d: got %v want %v", n, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%d: got %v want %v", n, got, want)
			}
		}
	}
	for n := uint64(2); n < 200000; n++ {
		p := uint64(1)
		prev := uint64(0)
		for _, f := range Factors(n, nil) {
			if f < prev || !IsPrime(f) || !naivePrime(f) {
				t.Fatalf("%d: bad factor %d", n, f)
			}
			prev = f
			p *= f
		}
		if p != n {
			t.Fatalf("%d: product %d", n, p)
		}
	}
}

func naivePrime(n uint64) bool {
	for d := uint64(2); d*d <= n; d++ {
		if n%d == 0 {
			return false
		}
	}
	return n > 1
}

// Numbers with large factors take the rho and Miller-Rabin paths.
func TestLarge(t *testing.T) {
	for i := int64(0); i < 20000; i++ {
		n := u40(i)*(u40(i+7)>>16) | 1
		p := uint64(1)
		prev := uint64(0)
		for _, f := range Factors(n, nil) {
			if f < prev || !IsPrime(f) {
				t.Fatalf("%d: bad factor %d", n, f)
			}
			prev = f
			p *= f
		}
		if p != n {
			t.Fatalf("%d: product %d", n, p)
		}
	}
}
