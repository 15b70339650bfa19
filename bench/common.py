"""Helpers shared by the benchmark scripts: where the data is, building engines, printing tables."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

DATA = Path(os.environ.get("JIANSUO_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
WORK = Path(os.environ.get("JIANSUO_BENCH_WORK", Path(__file__).resolve().parents[1] / "runs"))


def need(path: Path) -> Path:
    if not path.exists():
        sys.exit(f"missing {path}: the benchmarks read ../shared/data (set JIANSUO_SHARED_DATA)")
    return path


def percentiles(latencies_ms: list[float]) -> tuple[float, float]:
    return float(np.percentile(latencies_ms, 50)), float(np.percentile(latencies_ms, 95))


def table(headers: list[str], rows: list[list]) -> str:
    def cell(value) -> str:
        return f"{value:.4f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(store: Path, *options: str, environment: dict[str, str] | None = None):
    """`jiansuo serve` on a free loopback port, answered once; (process, base URL). Terminate it when done.
    `environment`: extra variables (settings such as JIANSUO_SERVER_SEARCH_PROCESSES)."""
    import os
    import subprocess

    import httpx

    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "jiansuo.cli", "serve", "--store", str(store), "--port",
                                str(port), *options], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, **(environment or {})})
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            httpx.get(base + "/api/stats", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    return process, base


def add_in_batches(engine, documents, size: int = 2000) -> None:
    """Store `documents` in transactions of `size`."""
    batch = []
    for document in documents:
        batch.append(document)
        if len(batch) == size:
            engine.add(batch)
            batch = []
    engine.add(batch)
