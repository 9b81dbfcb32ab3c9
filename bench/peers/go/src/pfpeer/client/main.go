// pfpeer-client: a load client on grpc-go that sends each number as its own
// message, one Send per number and no batching, the way grpc-go clients do
// (issue 15; bench/grpc_load.c is pfgate's own run-sending client).
//
//	pfpeer-client -addr HOST:PORT [-streams S] [-conns C] [-numbers N]
//	              [-window W | -rate R] [-start X]
//
// S streams spread over C connections each send the N numbers u40(X..X+N-1),
// uniform in [2, 2^40] (the hash of bench/uniform40.h), keeping at most W
// unanswered per stream. With -rate, the streams send R numbers/s in all
// instead, on one schedule spread evenly over them (stream s sends its k-th
// number at (k*S + s)/R s), and the line adds p50_us, p99_us and max_us: the
// latency of a number from just before its Send to its last answer. (Go's
// timers wake at best every millisecond or so: sends due within one wake go
// together.) Every answer is checked (its num, non-decreasing factors whose
// product is the number, last on the final one). Prints one line like
// grpc_load's; exits 1 when an answer or a stream was wrong.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	pb "pfpeer/pb"
)

// u40 is u40_at of bench/uniform40.h.
func u40(i int64) int64 {
	z := uint64(i)*0x9e3779b97f4a7c15 + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return int64(2 + z%((uint64(1)<<40)-1))
}

var wrong int64

// Latencies of the answered numbers, with -rate.
var (
	latMu sync.Mutex
	lats  []time.Duration
)

func fail(format string, a ...interface{}) {
	if atomic.AddInt64(&wrong, 1) <= 5 {
		fmt.Fprintf(os.Stderr, "pfpeer-client: "+format+"\n", a...)
	}
}

// pace says when a stream sends its k-th number; nil: as the window allows.
type pace func(k int64) time.Time

// With a pace, every stream is open before the schedule starts (begin), so
// that no number's latency includes opening its stream.
var (
	opened sync.WaitGroup
	begin  = make(chan struct{})
)

// run sends n numbers on one stream and checks every answer.
func run(cc *grpc.ClientConn, start, n, window int64, at pace) {
	st, err := pb.NewFactorsClient(cc).PrimeFactors(context.Background())
	if at != nil {
		opened.Done()
		<-begin
	}
	if err != nil {
		fail("stream: %v", err)
		return
	}
	room := make(chan struct{}, window)
	var sent chan time.Time // send times, in order, with a pace
	if at != nil {
		sent = make(chan time.Time, n)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var i int64
		prod, prev := uint64(1), uint64(0)
		for {
			r, err := st.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				fail("recv: %v", err)
				return
			}
			want := u40(start + i)
			f := uint64(r.GetResult())
			if i >= n || r.GetNum() != want || r.GetError() != "" || f < 2 || f < prev {
				fail("answer %v to number %d", r, want)
				return
			}
			prod, prev = prod*f, f
			if r.GetLast() != (prod == uint64(want)) {
				fail("last=%v with product %d of %d", r.GetLast(), prod, want)
				return
			}
			if r.GetLast() {
				i++
				prod, prev = 1, 0
				if sent != nil {
					d := time.Since(<-sent)
					latMu.Lock()
					lats = append(lats, d)
					latMu.Unlock()
				} else {
					<-room
				}
			}
		}
		if i != n {
			fail("%d of %d numbers answered", i, n)
		}
	}()
	for i := int64(0); i < n; i++ {
		if at != nil {
			time.Sleep(time.Until(at(i)))
			sent <- time.Now()
		} else {
			room <- struct{}{}
		}
		if err := st.Send(&pb.Request{Num: u40(start + i)}); err != nil {
			fail("send: %v", err)
			break
		}
	}
	st.CloseSend()
	<-done
}

func main() {
	addr := flag.String("addr", "", "HOST:PORT of the server")
	streams := flag.Int("streams", 1, "streams")
	conns := flag.Int("conns", 1, "connections")
	numbers := flag.Int64("numbers", 100000, "numbers per stream")
	window := flag.Int64("window", 1000, "unanswered numbers per stream")
	rate := flag.Float64("rate", 0, "numbers/s over all streams (0: as the window allows)")
	start := flag.Int64("start", 2, "index of the first number")
	flag.Parse()
	if *addr == "" || *streams < 1 || *conns < 1 || *window < 1 || *rate < 0 {
		fmt.Fprintln(os.Stderr, "usage: pfpeer-client -addr HOST:PORT [-streams S] [-conns C] [-numbers N] [-window W | -rate R] [-start X]")
		os.Exit(2)
	}
	ccs := make([]*grpc.ClientConn, *conns)
	for i := range ccs {
		cc, err := grpc.Dial(*addr, grpc.WithInsecure(), grpc.WithBlock())
		if err != nil {
			fmt.Fprintln(os.Stderr, "pfpeer-client:", err)
			os.Exit(1)
		}
		ccs[i] = cc
	}
	t0 := time.Now()
	var wg sync.WaitGroup
	if *rate > 0 {
		opened.Add(*streams)
	}
	for s := 0; s < *streams; s++ {
		wg.Add(1)
		var at pace
		if *rate > 0 {
			s, every := int64(s), float64(*streams)
			at = func(k int64) time.Time {
				return t0.Add(time.Duration((float64(k)*every + float64(s)) / *rate * 1e9))
			}
		}
		go func(s int) {
			defer wg.Done()
			run(ccs[s%len(ccs)], *start, *numbers, *window, at)
		}(s)
	}
	if *rate > 0 {
		opened.Wait()
		t0 = time.Now() // read by the paces after begin
		close(begin)
	}
	wg.Wait()
	secs := time.Since(t0).Seconds()
	total := *numbers * int64(*streams)
	fmt.Printf("numbers=%d streams=%d conns=%d seconds=%.3f numbers_per_s=%.0f wrong=%d",
		total, *streams, *conns, secs, float64(total)/secs, wrong)
	if *rate > 0 {
		sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
		us := func(i int) float64 {
			if len(lats) == 0 {
				return 0
			}
			return float64(lats[i]) / 1e3
		}
		k := len(lats)
		fmt.Printf(" p50_us=%.0f p99_us=%.0f max_us=%.0f", us(k/2), us(k*99/100), us(k-1))
	}
	fmt.Println()
	if wrong != 0 {
		os.Exit(1)
	}
}
