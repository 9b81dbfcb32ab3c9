package factor

import "testing"

func u40(i int64) uint64 {
	z := uint64(i)*0x9e3779b97f4a7c15 + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return 2 + z%((uint64(1)<<40)-1)
}

func BenchmarkU40(b *testing.B) {
	var out []uint64
	for i := 0; i < b.N; i++ {
		out = Factors(u40(int64(2+i%100000)), out[:0])
	}
}
