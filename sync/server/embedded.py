"""The central server inside another process: uvicorn in a thread on loopback.

Used by ``cinepass-kiosk --demo`` (the whole system on one machine) and by the
tests (a real HTTP server, not a mock). Production runs ``cinepass-server``.
"""

from __future__ import annotations

import socket
import threading
import time

from sqlalchemy import Engine


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedServer:
    """The real FastAPI app on a free loopback port, served from a daemon thread.

    ``ssl`` is (certfile, keyfile): the server then speaks HTTPS and ``url``
    names ``localhost`` so certificate host checks can pass.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        ssl: tuple[str, str] | None = None,
        trusted_proxies: tuple[str, ...] = (),
    ) -> None:
        import uvicorn

        from .app import create_app

        self.engine = engine
        self.port = free_port()
        scheme, host = ("https", "localhost") if ssl else ("http", "127.0.0.1")
        self.url = f"{scheme}://{host}:{self.port}"
        self.app = create_app(engine, trusted_proxies=trusted_proxies)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            ssl_certfile=ssl[0] if ssl else None,
            ssl_keyfile=ssl[1] if ssl else None,
            lifespan="off",
            proxy_headers=False,  # forwarded headers: only the app's trusted proxies count
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, name="cinepass-embedded-server", daemon=True
        )

    def start(self, timeout: float = 20.0) -> EmbeddedServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the embedded server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop serving, then the app's alerts worker (its threads read the database: left
        running, they met a folder the caller deleted next, bench/feeds.py's 'disk I/O error')."""
        self._server.should_exit = True
        self._thread.join(10)
        if self.app.fastapi is not None:
            self.app.fastapi.state.alerts.stop()
