"""The seed demo client, generated from data/seed_primefactor.proto (two fields only).

Run as its own process (its messages have the same full names as the current proto's,
so both cannot live in one protobuf descriptor pool):

    PYTHONPATH=<dir with seed_primefactor_pb2*.py> python3 seed_client.py HOST:PORT NUM...

Streams the numbers one by one from a generator and prints each result as it arrives,
one per line, exactly as the original demo did. Exits 2 with the status on stderr if
the stream does not end with OK.
"""
import sys

import grpc

import seed_primefactor_pb2 as pb
import seed_primefactor_pb2_grpc as pb_grpc


def generate(nums):
    for n in nums:
        yield pb.Request(num=n)


def main(argv):
    addr, nums = argv[0], [int(a) for a in argv[1:]]
    with grpc.insecure_channel(addr) as channel:
        stub = pb_grpc.FactorsStub(channel)
        responses = stub.PrimeFactors(generate(nums), timeout=20)
        try:
            for r in responses:
                print(r.result, flush=True)
        except grpc.RpcError as e:
            print(f"status {e.code().name}: {e.details()}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
