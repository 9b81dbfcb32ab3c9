"""What one client, or the machine around pfgate, cannot take away from everyone else (issue 12):
signals, file descriptors, connection floods on the HTTP port and the health probe."""
import signal
import time

import grpc

from pfutil import expected, run_stream


def test_sighup_does_not_kill(pfgate_factory, pb):
    """SIGHUP (a closed terminal, a log rotation) is logged and ignored: pfgate keeps serving and
    still drains and exits 0 on SIGTERM."""
    srv = pfgate_factory()
    for _ in range(3):
        srv.signal(signal.SIGHUP)
        time.sleep(0.1)
    assert srv.alive(), srv.log_tail()
    with grpc.insecure_channel(srv.grpc) as ch:
        res = run_stream(pb.pb_grpc.FactorsStub(ch), pb, [360, 97])
    assert res.code == grpc.StatusCode.OK and res.tuples == expected([360, 97])
    assert srv.log_text().count("SIGHUP") == 3


def test_sighup_during_drain_is_not_a_second_signal(pfgate_factory):
    """A second SIGINT/SIGTERM during the drain exits at once with 1; a SIGHUP must not."""
    srv = pfgate_factory("--drain-timeout", "2")
    srv.signal(signal.SIGTERM)
    srv.signal(signal.SIGHUP)
    rc, _ = srv.wait(5)
    assert rc == 0, srv.log_tail()
