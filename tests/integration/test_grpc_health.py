"""grpc.health.v1.Health on the gRPC port (SPEC: Health, reflection, TLS and running many)."""
import queue
import signal
import threading
import time

import grpc
import pytest

from pfutil import expected, run_stream

SERVING = 1
NOT_SERVING = 2


@pytest.fixture
def health(channel, pb):
    return pb.health_grpc.HealthStub(channel)


@pytest.mark.parametrize("service", ["", "primefactor.Factors"])
def test_health_check_serving(health, pb, service):
    r = health.Check(pb.health.HealthCheckRequest(service=service), timeout=5)
    assert r.status == SERVING


def test_health_check_unknown_service_not_found(health, pb):
    with pytest.raises(grpc.RpcError) as ei:
        health.Check(pb.health.HealthCheckRequest(service="no.such.Service"), timeout=5)
    assert ei.value.code() == grpc.StatusCode.NOT_FOUND


def test_health_watch_reports_not_serving_on_drain(pfgate_factory, pb):
    """Watch sees SERVING, then NOT_SERVING from the first moment of a drain; pfgate still
    exits 0 within the drain timeout although the Watch stream was open."""
    srv = pfgate_factory()
    with grpc.insecure_channel(srv.grpc) as ch:
        ok = run_stream(pb.pb_grpc.FactorsStub(ch), pb, [360], timeout=5)
        assert ok.tuples == expected([360])
        call = pb.health_grpc.HealthStub(ch).Watch(pb.health.HealthCheckRequest(service=""), timeout=15)
        seen = queue.Queue()

        def read():
            try:
                for r in call:
                    seen.put(r.status)
                seen.put(("end", call.code()))
            except grpc.RpcError as e:
                seen.put(("end", e.code()))

        threading.Thread(target=read, daemon=True).start()
        assert seen.get(timeout=5) == SERVING
        srv.signal(signal.SIGTERM)
        nxt = seen.get(timeout=3)
        assert nxt == NOT_SERVING, f"after SIGTERM the Watch got {nxt}, expected NOT_SERVING"
        rc, took = srv.wait(5.5)
        if rc is None:
            srv.kill()
            pytest.fail("pfgate did not exit within 5.5 s of SIGTERM with an open Watch")
        assert rc == 0
        end = seen.get(timeout=5)
        assert end[0] == "end" and end[1] in (grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE), end
