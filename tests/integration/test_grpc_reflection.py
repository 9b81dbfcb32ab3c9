"""grpc.reflection.v1 and v1alpha ServerReflection (SPEC: Health, reflection, TLS and running
many). The client is generated from the official reflection proto; the primefactor client is
then built from the served descriptors alone (no primefactor .proto on this side), and gives
exact answers."""
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from pfutil import expected

VERSIONS = ["v1", "v1alpha"]
SERVICES = {"primefactor.Factors", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection"}


@pytest.fixture(scope="module")
def refl(tmp_path_factory):
    """Stubs for both reflection versions, from proto/reflection_*.proto."""
    out = tmp_path_factory.mktemp("refl")
    mods = {}
    for v in VERSIONS:
        subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-Iproto", f"--python_out={out}",
                        f"--grpc_python_out={out}", f"proto/reflection_{v}.proto"], check=True,
                       timeout=60)
    sys.path.insert(0, str(out))
    for v in VERSIONS:
        mods[v] = (__import__(f"reflection_{v}_pb2"), __import__(f"reflection_{v}_pb2_grpc"))
    return mods


def ask(channel, refl, version, **request):
    pb2, pb2_grpc = refl[version]
    stub = pb2_grpc.ServerReflectionStub(channel)
    return list(stub.ServerReflectionInfo(iter([pb2.ServerReflectionRequest(**request)]),
                                          timeout=5))[0]


@pytest.mark.parametrize("version", VERSIONS)
def test_list_services(channel, refl, version):
    r = ask(channel, refl, version, list_services="")
    assert {s.name for s in r.list_services_response.service} == SERVICES


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("symbol,file", [
    ("primefactor.Factors", "primefactor.proto"),
    ("primefactor.Factors.PrimeFactors", "primefactor.proto"),
    ("primefactor.Request", "primefactor.proto"),
    ("grpc.health.v1.HealthCheckResponse.ServingStatus", "health.proto"),
    ("grpc.health.v1.Health", "health.proto"),
])
def test_file_containing_symbol(channel, refl, version, symbol, file):
    r = ask(channel, refl, version, file_containing_symbol=symbol)
    names = [descriptor_pb2.FileDescriptorProto.FromString(b).name
             for b in r.file_descriptor_response.file_descriptor_proto]
    assert names and names[0] == file


@pytest.mark.parametrize("version", VERSIONS)
def test_unknown_symbol_and_file_are_not_found(channel, refl, version):
    for req in ({"file_containing_symbol": "no.such.Thing"}, {"file_by_filename": "nope.proto"}):
        r = ask(channel, refl, version, **req)
        assert r.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]


def test_client_from_reflected_descriptors_alone(channel, refl):
    r = ask(channel, refl, "v1", file_by_filename="primefactor.proto")
    pool = descriptor_pool.DescriptorPool()
    for raw in r.file_descriptor_response.file_descriptor_proto:
        pool.Add(descriptor_pb2.FileDescriptorProto.FromString(raw))
    service = pool.FindServiceByName("primefactor.Factors")
    method = service.methods_by_name["PrimeFactors"]
    # protobuf 3.21 (Debian 12) has MessageFactory.GetPrototype; newer ones GetMessageClass.
    message_class = getattr(message_factory, "GetMessageClass", None) or \
        message_factory.MessageFactory(pool).GetPrototype
    Request = message_class(method.input_type)
    Response = message_class(method.output_type)
    call = channel.stream_stream(f"/{service.full_name}/{method.name}",
                                 request_serializer=Request.SerializeToString,
                                 response_deserializer=Response.FromString)
    nums = [360, 0, 1, -5, 2**63 - 1, 9223372036854775783]
    got = [(a.result, a.num, a.last, bool(a.error))
           for a in call(iter([Request(num=n) for n in nums]), timeout=10)]
    assert got == expected(nums)



ASKS = [("primefactor.proto", "primefactor.proto"), ("health.proto", "health.proto"),
        ("reflection_v1.proto", "reflection_v1.proto")]


def _reflection_client(addr, out_dir, first, streams, rounds):
    """One process: `streams` reflection streams on one connection, each asking `rounds` files
    in turn; returns the mismatches."""
    import threading
    sys.path.insert(0, out_dir)
    import reflection_v1_pb2 as pb2, reflection_v1_pb2_grpc as pb2_grpc
    channel = grpc.insecure_channel(addr, options=[("grpc.use_local_subchannel_pool", 1)])
    stub = pb2_grpc.ServerReflectionStub(channel)
    errors = []

    def stream(i):
        order = [ASKS[(i + k) % len(ASKS)] for k in range(rounds)]
        try:
            answers = stub.ServerReflectionInfo(
                iter([pb2.ServerReflectionRequest(file_by_filename=f) for f, _ in order]), timeout=30)
            for (f, want), r in zip(order, answers):
                got = [descriptor_pb2.FileDescriptorProto.FromString(b).name
                       for b in r.file_descriptor_response.file_descriptor_proto]
                if got[:1] != [want] or r.original_request.file_by_filename != f:
                    errors.append((i, f, got[:1]))
        except grpc.RpcError as e:
            errors.append((i, "rpc", str(e.code())))

    threads = [threading.Thread(target=stream, args=(first + i,)) for i in range(streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    channel.close()
    return errors


def test_concurrent_streams_get_their_own_files(pfgate_factory, refl):
    """48 streams on 8 connections (8 client processes) ask at once for files of different sizes:
    each answer is the file it asked for. A scratch buffer shared by the completion-queue threads
    once answered one stream with another's files, failed streams with INTERNAL, and overflowed
    the heap under ASan."""
    import multiprocessing
    server = pfgate_factory("--threads", "4")
    out_dir = str(Path(refl["v1"][0].__file__).parent)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(8) as pool:
        results = pool.starmap(_reflection_client,
                               [(server.grpc, out_dir, 6 * c, 6, 400) for c in range(8)])
    errors = [e for r in results for e in r]
    assert errors[:5] == [] and len(errors) == 0
