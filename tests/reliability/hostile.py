"""A small hostile HTTP server on 127.0.0.1: it answers however a test tells it to.

Each connection's request is read (head and ``Content-Length`` body), recorded, and
handed to ``behave(request, sock)``, which writes raw bytes: trickle a byte per second,
stream a 300 MB body, echo the key back, hand out page tokens that never end. Raw
sockets because a well-behaved framework would not misbehave the ways a broken proxy
or API does.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)


Behaviour = Callable[[Request, socket.socket], None]


def answer(sock: socket.socket, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
    head = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "Content-Type: application/json"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)


def answer_json(
    sock: socket.socket, status: int, payload: Any, headers: dict[str, str] | None = None
) -> None:
    answer(sock, status, json.dumps(payload).encode(), headers)


def trickle(
    sock: socket.socket, data: bytes, per_byte: float = 1.0, stop: threading.Event | None = None
) -> None:
    """Send ``data`` one byte at a time, ``per_byte`` seconds apart (until the peer goes away)."""
    for i in range(len(data)):
        if stop is not None and stop.is_set():
            return
        sock.sendall(data[i : i + 1])
        time.sleep(per_byte)


def stream_body(
    sock: socket.socket, status: int, size: int, chunk: bytes = b" " * 65536, *, announce: bool = True
) -> None:
    """Stream ``size`` bytes (never held in memory), announced or ended by closing; stops if the peer goes."""
    length = f"Content-Length: {size}" if announce else "Connection: close"
    sock.sendall(f"HTTP/1.1 {status} X\r\n{length}\r\nContent-Type: application/json\r\n\r\n".encode())
    sent = 0
    try:
        while sent < size:
            piece = chunk[: size - sent]
            sock.sendall(piece)
            sent += len(piece)
        if not announce:
            sock.shutdown(socket.SHUT_WR)
    except OSError:
        return


class HostileServer:
    """``with HostileServer(behave) as srv: srv.url``; ``srv.requests`` lists what arrived."""

    def __init__(self, behave: Behaviour) -> None:
        self.requests: list[Request] = []
        self.stop = threading.Event()
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock: socket.socket = self.request
                sock.settimeout(60)
                try:
                    while not outer.stop.is_set():
                        req = _read_request(sock)
                        if req is None:
                            return
                        outer.requests.append(req)
                        behave(req, sock)
                except OSError:
                    return

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._server.shutdown()
        self._server.server_close()


def _read_request(sock: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return Request(method, target, headers, rest[:length])


def run_server(behave: Behaviour) -> Iterator[HostileServer]:
    with HostileServer(behave) as server:
        yield server
