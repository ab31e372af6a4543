"""gunicorn settings for the web process, and a gthread worker that slow clients cannot pin."""
from __future__ import annotations

import errno
import selectors
import time
from collections import deque
from functools import partial

from gunicorn.workers.gthread import TConn, ThreadWorker

from app.config import Config

HEAD_TIMEOUT = 20  # seconds from connecting to the end of the request head (408 after)
IO_TIMEOUT = 30  # seconds a body read or a response write may stall before the request is cut
MAX_HEAD = 32 * 1024  # bytes of request line and headers gathered before dispatch (431 beyond)


class HeadConn(TConn):
    """A connection whose request head the event loop has already read."""

    def __init__(self, *args):
        super().__init__(*args)
        self.head, self.deadline = bytearray(), time.monotonic() + HEAD_TIMEOUT

    def init(self):
        super().init()
        self.parser.unreader.unread(bytes(self.head))
        self.sock.settimeout(IO_TIMEOUT)

    def close(self, graceful=False):
        if self.sock.fileno() != -1:  # closed already by the thread that served it
            super().close(graceful)


class HeadFirstWorker(ThreadWorker):
    """gthread, except that a thread is taken only once a request's head has fully arrived.

    Stock gthread gives a connection a thread at its first byte, and the thread then blocks until
    the head is complete: a client sending it a byte at a time (slowloris) holds that thread as long
    as it likes. Here the event loop gathers heads without blocking, so half-sent requests cost a
    socket and at most MAX_HEAD bytes each (up to worker_connections), never a thread. Plain
    HTTP/1.1 without keep-alive: TLS ends at the router or proxy in front.
    """

    @classmethod
    def check_config(cls, cfg, log):
        super().check_config(cfg, log)
        if cfg.is_ssl or cfg.keepalive or cfg.http2_cleartext != "off":
            raise RuntimeError("HeadFirstWorker serves plain HTTP/1.1 with keepalive = 0 (TLS ends in front)")

    def init_process(self):
        self.heads: deque[HeadConn] = deque()  # oldest first, so the expired ones lead
        super().init_process()

    def accept(self, listener):
        try:
            sock, address = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        conn = HeadConn(self.cfg, sock, address, listener.getsockname())
        self.nr_conns += 1
        self.heads.append(conn)
        self.poller.register(sock, selectors.EVENT_READ, partial(self.read_head, conn))

    def read_head(self, conn: HeadConn, sock) -> None:
        try:
            data = sock.recv(MAX_HEAD)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        conn.head += data
        complete = bool(data) and b"\r\n\r\n" in conn.head[-len(data) - 3:]
        if data and not complete and len(conn.head) <= MAX_HEAD:
            return
        self.poller.unregister(sock)
        self.heads.remove(conn)
        if complete:
            conn.data_ready = True
            self.enqueue_req(conn)
        else:
            self.drop(conn, b"431 Request Header Fields Too Large" if data else b"")

    def murder_pending(self):
        super().murder_pending()
        now = time.monotonic()
        while self.heads and self.heads[0].deadline <= now:
            conn = self.heads.popleft()
            self.poller.unregister(conn.sock)
            self.drop(conn, b"408 Request Timeout")

    def drop(self, conn: HeadConn, status: bytes) -> None:
        if status:
            try:  # best effort on a non-blocking socket: the client may already be gone
                conn.sock.send(b"HTTP/1.1 " + status + b"\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
            except OSError:
                pass
        self.nr_conns -= 1
        conn.close()

    def handle(self, conn):
        keep = super().handle(conn)
        if keep is False:  # close here: waiting for the client's FIN must not stall the event loop
            conn.close(graceful=True)
        return keep


worker_class = HeadFirstWorker
# Per process (processes: WEB_CONCURRENCY, which gunicorn reads, else 1); live event streams hold a thread
# each, at most EVENTS_MAX_STREAMS of them, so the rest answer uploads and status calls.
threads = Config().WEB_THREADS
keepalive = 0  # each request its own connection, so every head passes through the event loop
timeout = 120  # the arbiter restarts a process whose event loop stopped for this long
