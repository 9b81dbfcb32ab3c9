// pfpeer-client: a load client on grpc-go that sends each number as its own
// message, one Send per number and no batching, the way grpc-go clients do
// (issue 15; bench/grpc_load.c is pfgate's own run-sending client).
//
//	pfpeer-client -addr HOST:PORT [-streams S] [-conns C] [-numbers N]
//	              [-window W] [-start X]
//
// S streams spread over C connections each send the N numbers u40(X..X+N-1),
// uniform in [2, 2^40] (the hash of bench/uniform40.h), keeping at most W
// unanswered per stream. Every answer is checked (its num, non-decreasing
// factors whose product is the number, last on the final one). Prints one
// line like grpc_load's; exits 1 when an answer or a stream was wrong.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
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

func fail(format string, a ...interface{}) {
	if atomic.AddInt64(&wrong, 1) <= 5 {
		fmt.Fprintf(os.Stderr, "pfpeer-client: "+format+"\n", a...)
	}
}

// run sends n numbers on one stream and checks every answer.
func run(cc *grpc.ClientConn, start, n, window int64) {
	st, err := pb.NewFactorsClient(cc).PrimeFactors(context.Background())
	if err != nil {
		fail("stream: %v", err)
		return
	}
	room := make(chan struct{}, window)
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
				<-room
			}
		}
		if i != n {
			fail("%d of %d numbers answered", i, n)
		}
	}()
	for i := int64(0); i < n; i++ {
		room <- struct{}{}
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
	start := flag.Int64("start", 2, "index of the first number")
	flag.Parse()
	if *addr == "" || *streams < 1 || *conns < 1 || *window < 1 {
		fmt.Fprintln(os.Stderr, "usage: pfpeer-client -addr HOST:PORT [-streams S] [-conns C] [-numbers N] [-window W] [-start X]")
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
	for s := 0; s < *streams; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			run(ccs[s%len(ccs)], *start, *numbers, *window)
		}(s)
	}
	wg.Wait()
	secs := time.Since(t0).Seconds()
	total := *numbers * int64(*streams)
	fmt.Printf("numbers=%d streams=%d conns=%d seconds=%.3f numbers_per_s=%.0f wrong=%d\n",
		total, *streams, *conns, secs, float64(total)/secs, wrong)
	if wrong != 0 {
		os.Exit(1)
	}
}
