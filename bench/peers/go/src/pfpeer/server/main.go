// pfpeer-server: primefactor.Factors/PrimeFactors on grpc-go, the seed's own
// stack, with pfgate's answers (issue 15's peer; bench/grpc_go_peer.sh).
//
//	pfpeer-server [-addr 127.0.0.1:0]
//
// Prints `listening grpc=HOST:PORT` once bound. Per number, in arrival order:
// one Response per prime factor (non-decreasing, with multiplicity), last on
// the final one; 0 and 1 get one {num, last}; a negative number gets
// {num, last, error} and the stream goes on. One Send per Response, as a
// grpc-go server written the plain way does.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"

	"pfpeer/factor"
	pb "pfpeer/pb"
)

const negative = "negative numbers have no prime factorization"

type server struct{}

func (server) PrimeFactors(st pb.Factors_PrimeFactorsServer) error {
	var fs []uint64
	for {
		req, err := st.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		num := req.GetNum()
		if num < 0 {
			if err := st.Send(&pb.Response{Num: num, Last: true, Error: negative}); err != nil {
				return err
			}
			continue
		}
		fs = factor.Factors(uint64(num), fs[:0])
		if len(fs) == 0 {
			if err := st.Send(&pb.Response{Num: num, Last: true}); err != nil {
				return err
			}
			continue
		}
		for i, f := range fs {
			r := &pb.Response{Result: int64(f), Num: num, Last: i == len(fs)-1}
			if err := st.Send(r); err != nil {
				return err
			}
		}
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pfpeer-server:", err)
		os.Exit(1)
	}
	s := grpc.NewServer()
	pb.RegisterFactorsServer(s, server{})
	fmt.Printf("listening grpc=%s\n", lis.Addr())
	go func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGINT, syscall.SIGTERM)
		<-c
		s.Stop()
	}()
	if err := s.Serve(lis); err != nil {
		fmt.Fprintln(os.Stderr, "pfpeer-server:", err)
		os.Exit(1)
	}
}
