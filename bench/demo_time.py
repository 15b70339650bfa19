"""`scripts/demo.sh` from a fresh clone, timed until it serves: the figure the README gives for the demo.

Clones this repository's HEAD into a temporary folder, runs the demo there (set-up, the two real corpora from
the package registries, the keyword and dense indexes, two searches, `jiansuo serve`), and stops it once the page
answers. Prints the wall time to serving, the encoding time the progress bar reported, and what the served store
holds (its dense index: the demo serves hybrid search). pip's download cache is whatever this machine has.

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
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        clone = Path(scratch) / "jiansuo"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        port = free_port()
        started = time.perf_counter()
        demo = subprocess.Popen(["bash", "scripts/demo.sh"], cwd=clone, env={**os.environ, "PORT": str(port)},
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        output = b""
        assert demo.stdout is not None
        while b"Serving http" not in output:
            chunk = demo.stdout.read1(65536)
            if not chunk:
                raise SystemExit(f"the demo stopped before serving:\n{output.decode(errors='replace')[-3000:]}")
            output += chunk
        serving = None
        while serving is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/stats", timeout=5) as answer:
                    serving = json.load(answer)
            except OSError:
                time.sleep(0.5)
        elapsed = time.perf_counter() - started
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/search?q=theory%20of%20relativity&limit=1") as a:
            first = json.load(a)["hits"][0]["title"]
        os.killpg(demo.pid, signal.SIGTERM)
        demo.wait(30)
    text = output.decode(errors="replace")
    encoding = re.findall(r"encoding \([^)]*\): 100%\|[^|]*\| (\d+)/\d+ \[(\d+):(\d+)", text)
    documents, minutes, seconds = encoding[-1] if encoding else ("?", "0", "0")
    dense = serving.get("dense") or {}
    print("| step | value |\n|---|---|")
    print(f"| fresh clone to serving | {elapsed:.0f} s ({elapsed / 60:.1f} min) |")
    print(f"| encoding, as the progress bar reported | {int(minutes)} min {int(seconds)} s for {documents} documents |")
    print(f"| documents served | {serving.get('documents')} |")
    held = {key: dense[key] for key in ("encoder", "documents", "passages") if key in dense}
    print(f"| dense index | {json.dumps(held)} |")
    print(f"| first hit of `theory of relativity` (default mode) | {first} |")


if __name__ == "__main__":
    main()
