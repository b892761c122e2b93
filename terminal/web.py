"""The counter page's server: FastAPI on 127.0.0.1 only, results pushed live as
Server-Sent Events (the page reconnects by itself and gets the latest result again).

Loopback only: the server binds 127.0.0.1, and refuses requests whose Host header is not
a loopback name (a web page elsewhere cannot use DNS rebinding to read the counter).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

from terminal.page import PAGE

LOOPBACK = "127.0.0.1"
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "[::1]"}
HEARTBEAT_SECONDS = 15.0


class ResultHub:
    """Results for the page, in order; safe to publish from any thread."""

    def __init__(self, keep: int = 20) -> None:
        self._lock = threading.Lock()
        self._items: deque[tuple[int, str]] = deque(maxlen=keep)
        self.seq = 0

    def publish(self, public: dict) -> None:
        data = json.dumps(public, ensure_ascii=False)
        with self._lock:
            self.seq += 1
            self._items.append((self.seq, data))

    def after(self, seq: int) -> list[tuple[int, str]]:
        with self._lock:
            return [(s, d) for s, d in self._items if s > seq]

    def latest(self) -> dict | None:
        with self._lock:
            return json.loads(self._items[-1][1]) if self._items else None


def create_app(hub: ResultHub, status: Callable[[], dict]) -> FastAPI:
    app = FastAPI(title="sscard terminal", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def loopback_only(request: Request, call_next):
        host = (request.headers.get("host") or "").rsplit(":", 1)[0]
        client = request.client.host if request.client else ""
        if host not in LOOPBACK_NAMES or client not in ("127.0.0.1", "::1", "testclient"):
            return Response("this page is served to the terminal itself only", status_code=403)
        return await call_next(request)

    @app.get("/", response_class=HTMLResponse)
    def page() -> HTMLResponse:
        return HTMLResponse(PAGE, headers={"Cache-Control": "no-store", "Content-Security-Policy":
                                           "default-src 'self'; img-src 'self' data:; "
                                           "style-src 'unsafe-inline'; script-src 'unsafe-inline'"})

    @app.get("/api/latest")
    def latest() -> JSONResponse:
        return JSONResponse(hub.latest() or {})

    @app.get("/api/status")
    def api_status() -> JSONResponse:
        return JSONResponse(status())

    @app.get("/events")
    async def events(request: Request) -> StreamingResponse:
        last = request.headers.get("last-event-id")
        start = int(last) if last and last.isdigit() else max(hub.seq - 1, 0)  # new page: the latest result

        async def stream():
            seq, idle = start, 0.0
            yield "retry: 1000\n\n"
            while not await request.is_disconnected():
                items = hub.after(seq)
                for seq, data in items:
                    yield f"id: {seq}\nevent: result\ndata: {data}\n\n"
                if items:
                    idle = 0.0
                    continue
                await asyncio.sleep(0.05)
                idle += 0.05
                if idle >= HEARTBEAT_SECONDS:
                    idle = 0.0
                    yield ": heartbeat\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    return app


class PageServer:
    """uvicorn in a thread, bound to 127.0.0.1:`port` (0: any free port)."""

    def __init__(self, app: FastAPI, port: int) -> None:
        self.config = uvicorn.Config(app, host=LOOPBACK, port=port, log_level="warning", lifespan="off",
                                     timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self.server.run, name="counter page", daemon=True)

    @property
    def port(self) -> int:
        for server in self.server.servers:
            for sock in server.sockets:
                return sock.getsockname()[1]
        return self.config.port

    def start(self, timeout: float = 10.0) -> PageServer:
        self.thread.start()
        deadline = threading.Event()
        for _ in range(int(timeout / 0.05)):
            if self.server.started:
                return self
            if not self.thread.is_alive():
                break
            deadline.wait(0.05)
        raise RuntimeError(f"the counter page could not listen on {LOOPBACK}:{self.config.port}")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
