"""TLS for the tests' own clients of the gRPC port (pfgate ends TLS itself there).

A server started for TLS carries `tls_ca` (the CA file its certificate chains to); the helpers
below then speak TLS to it, and plain TCP otherwise, so that one test covers both ports:
- grpc_channel(srv): a grpc channel (verifying, by the name "localhost", over TLS);
- h2_socket(srv): a socket for raw HTTP/2 frames (H2Conn and the attackers of
  test_hostile_grpc.py). Over TLS it is one end of a socketpair whose bytes a thread carries
  through an ssl.SSLObject (ALPN h2) to pfgate: raw-frame code written for a plain socket, a
  sender and a reader thread at once included, works unchanged, and only that thread ever
  touches the TLS state (an SSLSocket must not be read and written from two threads).
"""
import select
import socket
import ssl
import struct
import threading

import grpc

from pfhttp import connect


def localhost(addr):
    return "localhost:" + addr.rsplit(":", 1)[1]


def grpc_channel(srv):
    ca = getattr(srv, "tls_ca", None)
    if ca is None:
        return grpc.insecure_channel(srv.grpc)
    creds = grpc.ssl_channel_credentials(open(ca, "rb").read())
    return grpc.secure_channel(localhost(srv.grpc), creds)


def client_context(cafile, alpn=("h2",)):
    ctx = ssl.create_default_context(cafile=str(cafile))
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


def h2_socket(srv, timeout=5):
    ca = getattr(srv, "tls_ca", None)
    return connect(srv.grpc, timeout) if ca is None else tls_pipe(srv.grpc, ca, timeout)


def _abort(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class _Pump(threading.Thread):
    """Carries bytes between the plaintext socket and the TLS connection until either ends.
    The server's close (with or without close_notify) closes the plaintext socket once what
    came before it is delivered; the test closing its end resets the TCP connection."""

    def __init__(self, tcp, obj, inc, out, plain):
        super().__init__(daemon=True)
        self.tcp, self.obj, self.inc, self.out, self.plain = tcp, obj, inc, out, plain

    def run(self):
        tcp, obj, plain = self.tcp, self.obj, self.plain
        tcp.setblocking(False)
        plain.setblocking(False)
        to_tcp, to_plain = bytearray(self.out.read()), bytearray()
        tcp_eof = False
        try:
            while True:
                if tcp_eof and not to_plain:
                    break
                # poll(), not select(): tests that hold hundreds of these go past fd 1024.
                want = {plain.fileno(): (select.POLLIN if len(to_tcp) < 1 << 18 else 0)
                        | (select.POLLOUT if to_plain else 0),
                        tcp.fileno(): (select.POLLIN if not tcp_eof and len(to_plain) < 1 << 18
                                       else 0) | (select.POLLOUT if to_tcp else 0)}
                poller = select.poll()
                for fd, ev in want.items():
                    if ev:
                        poller.register(fd, ev)
                ready = dict(poller.poll(500))
                r = [x for x in (plain, tcp)
                     if ready.get(x.fileno(), 0) & (select.POLLIN | select.POLLHUP | select.POLLERR)]
                w = [x for x in (plain, tcp) if ready.get(x.fileno(), 0) & select.POLLOUT]
                if plain in r:
                    d = plain.recv(1 << 16)
                    if not d:
                        break           # the test closed its end
                    obj.write(d)
                    to_tcp += self.out.read()
                if tcp in r:
                    d = tcp.recv(1 << 16)
                    if d:
                        self.inc.write(d)
                    else:
                        self.inc.write_eof()
                    while True:
                        try:
                            x = obj.read(1 << 16)
                        except ssl.SSLWantReadError:
                            break
                        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                            tcp_eof = True
                            break
                        if not x:
                            tcp_eof = True
                            break
                        to_plain += x
                    to_tcp += self.out.read()
                if tcp in w and to_tcp:
                    del to_tcp[:tcp.send(to_tcp)]
                if plain in w and to_plain:
                    del to_plain[:plain.send(to_plain)]
        except (OSError, ssl.SSLError):
            pass
        _abort(tcp)
        _abort(plain)


def tls_pipe(addr, cafile, timeout=5, alpn=("h2",)):
    """A plaintext socket whose bytes travel over TLS to addr (see the module's comment).
    The handshake is done when this returns; ssl.SSLError if it failed."""
    tcp = connect(addr, timeout)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_context(cafile, alpn).wrap_bio(inc, out, server_hostname="localhost")
    try:
        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                tcp.sendall(out.read())
                d = tcp.recv(1 << 16)
                if not d:
                    raise ssl.SSLEOFError("the server closed during the handshake")
                inc.write(d)
        tcp.sendall(out.read())
    except BaseException:
        _abort(tcp)
        raise
    mine, theirs = socket.socketpair()
    theirs.settimeout(timeout)
    _Pump(tcp, obj, inc, out, mine).start()
    return theirs
