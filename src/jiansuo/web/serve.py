"""`jiansuo serve`: uvicorn in N worker processes, each with its own listening socket on the same port
(SO_REUSEPORT), so the kernel spreads connections over the workers: with one shared socket, keep-alive clients
piled onto whichever worker accepted first (50 of 50 measured on one worker).

We bind the socket ourselves with proto=IPPROTO_TCP. asyncio only sets TCP_NODELAY on accepted
connections whose socket says IPPROTO_TCP, and uvicorn's own multi-worker mode binds with proto 0:
every keep-alive response after the first then waits ~40 ms for a delayed ACK (measured: 48 ms p50
instead of 4 ms).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import uvicorn

from jiansuo.config import Config, load_config
from jiansuo.engine import Engine
from jiansuo.web.job_pool import JobPool
from jiansuo.web.protocol import GuardedH11Protocol

SWITCH_INTERVAL_S = 0.0005
SERVER_LIMITS: dict[str, Any] = {
    "timeout_keep_alive": 5,  # seconds an idle keep-alive connection stays open
    "limit_concurrency": 512,  # connections + tasks at once; more get 503
    "h11_max_incomplete_event_size": 64 * 1024,  # request line + headers: larger gets 414 / 431
    "http": GuardedH11Protocol,  # a request must arrive within 10 s (408); oversize heads answered, not reset
}


def listening_socket(host: str, port: int, reuse_port: bool = False, listen: bool = True) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    if listen:
        sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _run_worker(store: str, sock: socket.socket | tuple[str, int], reranker: str | None = None, workers: int = 1,
                base_url: str = "", settings: Config | None = None) -> None:
    """One worker; `sock` is a listening socket, or (host, port) to listen on with a socket of its own."""
    from jiansuo.web.app import create_app

    if isinstance(sock, tuple):
        sock = listening_socket(*sock, reuse_port=True)
    _share_cores(workers)
    # A long request's Python work holds the GIL for the whole switch interval each time it gets it, and a short
    # request needs the GIL many times on its way through the event loop and the pool: handing it over more often
    # keeps short requests short beside a long one (bench/http_load.py).
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    settings = settings or load_config(store)
    reranker = reranker or settings["search.reranker"] or None
    processes = settings["server.search_processes"]
    pool = JobPool(processes, store, reranker, base_url, settings, _core_share(workers * processes)) \
        if processes > 0 else None
    engine = Engine(store, reranker=reranker)
    if pool is None:
        engine.warm_up()
    app = create_app(engine, base_url, settings=settings, pool=pool)
    limits = {**SERVER_LIMITS, "h11_max_incomplete_event_size": settings["server.max_header_bytes"]}
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", **limits))
    # uvicorn re-raises the SIGTERM it shut down on; as SystemExit the pool below is still closed
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    try:
        server.run(sockets=[sock])
    finally:
        if pool is not None:
            pool.close()


def _core_share(processes: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, processes))


def _share_cores(workers: int) -> None:
    """Give each worker's torch (query encoding, reranking) an equal share of the cores.

    N workers x all-core OpenMP pools oversubscribe the CPU and spin against each other: measured 1 s p50
    for a hybrid page with 2 workers x 2 threads on 2 cores.
    """
    threads = _core_share(workers)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(threads)


def serve(store: Path | str, host: str | None = None, port: int | None = None, workers: int | None = None,
          reranker: Path | str | None = None, base_url: str | None = None, settings: Config | None = None) -> None:
    """Bring the index up to date with the store, then answer HTTP until interrupted.

    Arguments left None come from `settings` (default: the store's jiansuo.toml, see config.py).
    `base_url`: where readers reach the site (feed links); default http://HOST:PORT."""
    settings = settings or load_config(store)
    host = host or settings["server.host"]
    port = port if port is not None else settings["server.port"]
    workers = workers or settings["server.workers"]
    base_url = base_url or settings["site.base_url"] or f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    engine = Engine(store)
    if engine.keyword is None or engine.pending_changes():
        engine.refresh()
    engine.close()
    if workers <= 1:
        _run_worker(str(store), listening_socket(host, port), str(reranker) if reranker else None, 1, base_url,
                    settings)
        return
    spread = hasattr(socket, "SO_REUSEPORT")
    if spread:  # claim the port (and fail here if it is taken) without listening: the workers listen
        probe = listening_socket(host, port, reuse_port=True, listen=False)
        address: socket.socket | tuple[str, int] = (host, probe.getsockname()[1])
    else:
        address = listening_socket(host, port)
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_run_worker, args=(str(store), address, str(reranker) if reranker else None,
                                                           workers, base_url, settings))
                 for _ in range(workers)]
    for process in processes:
        process.start()

    def stop(signum, frame):
        for process in processes:
            process.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for process in processes:
        process.join()
