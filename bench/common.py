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
