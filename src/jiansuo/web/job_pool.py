"""A worker's searches and pages run in a pool of processes, each with its own engine.

In threads, a long request (the page of a 170 kB post, a rerank) holds the worker's one GIL for most of its
time, and every short request beside it waits its turn: 3.9x its idle p50 (bench/http_load.py). In a pool of
processes the long one holds only its own process's GIL, and short requests run beside it on the other cores.
Each pool process builds the same app over its own engine and keeps its jobs (the functions create_app marks
with `job`) by name; the worker sends a job's name and arguments and gets its picklable result back. Processes
are spawned, not forked: an engine's SQLite connections and ONNX Runtime thread pools do not survive a fork.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from jiansuo.config import Config

_JOBS: dict[str, Callable] = {}


def _start(store: str, reranker: str | None, base_url: str, settings: Config, threads: int) -> None:
    """A pool process: its own engine, warmed up, and the app's jobs over it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which stops its pool
    _exit_with_parent()
    os.environ["OMP_NUM_THREADS"] = str(threads)
    from jiansuo.engine import Engine
    from jiansuo.web.app import create_app

    engine = Engine(store, reranker=reranker, create=False)
    engine.warm_up()
    _JOBS.update(create_app(engine, base_url, settings=settings).state.jobs)


def _exit_with_parent() -> None:
    """End this process when the worker that started it dies. A worker killed outright (kill -9, the out-of-memory
    killer) cannot close its pool, and its processes, each holding an engine and its models, would wait forever
    for jobs that never come."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _run(name: str, args: tuple) -> Any:
    return _JOBS[name](*args)


def _ready() -> int:
    return os.getpid()


class JobPool:
    """`size` processes for one worker's jobs; `threads` model threads in each (cores shared out)."""

    def __init__(self, size: int, store: str, reranker: str | None, base_url: str, settings: Config, threads: int):
        self.size = size
        self._arguments = (store, reranker, base_url, settings, threads)
        self._executor = self._started()

    def _started(self) -> ProcessPoolExecutor:
        executor = ProcessPoolExecutor(self.size, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=_start, initargs=self._arguments)
        # submitted together, so every process starts (and loads its models) now, not on a reader's request
        for ready in [executor.submit(_ready) for _ in range(self.size)]:
            ready.result()
        return executor

    async def run(self, name: str, args: tuple) -> Any:
        executor = self._executor
        try:
            return await asyncio.wrap_future(executor.submit(_run, name, args))
        except BrokenProcessPool:  # a process died (killed, out of memory): later requests get a new pool
            if executor is self._executor:
                self._executor = await asyncio.to_thread(self._started)
            raise

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
