"""A fault-injecting TCP proxy on loopback, for testing sync over a bad network.

It sits between kiosk and server and, per chunk of bytes, may delay it, cut
the connection before forwarding a request (the server never sees it), or
cut it after the server answered (the server applied the batch but the kiosk
never hears so: the case that makes idempotency necessary). Cuts are TCP
resets (SO_LINGER 0) or plain closes. Faults come from a seeded RNG so a
failing run can be repeated.
"""

from __future__ import annotations

import random
import socket
import struct
import threading
from dataclasses import dataclass


@dataclass
class Faults:
    delay: float = 0.0  # seconds added before forwarding each chunk
    drop_request: float = 0.0  # P(cut before a client->server chunk is forwarded)
    drop_response: float = 0.0  # P(cut instead of forwarding a server->client chunk)
    reset: bool = True  # cut with RST (else a clean close)


class FaultProxy:
    def __init__(self, target_port: int, faults: Faults | None = None, seed: int = 1) -> None:
        self.target = ("127.0.0.1", target_port)
        self.faults = faults or Faults()
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = int(self._sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self.cuts = 0
        self.connections = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._sock.close()

    def _roll(self, p: float) -> bool:
        if p <= 0:
            return False
        with self._rng_lock:
            return self._rng.random() < p

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _cut(self, *socks: socket.socket) -> None:
        self.cuts += 1
        for s in socks:
            try:
                if self.faults.reset:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                # close() alone does not wake a recv() blocked in the other pipe thread
                # (the kernel keeps the socket until it returns); SHUT_RD does, silently,
                # and the last close then sends the RST
                s.shutdown(socket.SHUT_RD)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=10)
        except OSError:
            self._cut(client)
            return
        done = threading.Event()

        def pipe(src: socket.socket, dst: socket.socket, p_drop: float) -> None:
            try:
                while not done.is_set():
                    data = src.recv(65536)
                    if not data:
                        break
                    if self.faults.delay:
                        self._stop.wait(self.faults.delay)
                    if self._roll(p_drop):
                        self._cut(client, upstream)
                        break
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                done.set()
                for s in (client, upstream):
                    try:
                        s.close()
                    except OSError:
                        pass

        t = threading.Thread(
            target=pipe, args=(upstream, client, self.faults.drop_response), daemon=True
        )
        t.start()
        pipe(client, upstream, self.faults.drop_request)
        t.join(30)
