"""Write API throughput beside `jiansuo index`, on the same 2,000 arXiv records (title + abstract).

API: a real server (uvicorn on loopback, one worker), 4 POSTs of 500 NDJSON records to /api/documents with
refresh=true (each answer means stored and searchable). CLI: `jiansuo index FILE` in a fresh process. Both for a
keyword-only store and for hybrid (the default encoder; each run with an empty embedding cache, so both encode).

Run: python bench/write_api.py [--records 2000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import DATA, WORK, table

from jiansuo.encoders import DEFAULT_ENCODER
from jiansuo.engine import Engine
from jiansuo.store.api_keys import ApiKeys
from jiansuo.web.app import create_app

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import LiveServer  # noqa: E402


def main() -> None:
    import httpx

    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=2000)
    args = parser.parse_args()
    source = DATA / "arxiv" / "kaggle_snapshot_first2000.jsonl"
    lines = source.read_text(encoding="utf-8").splitlines()[: args.records]
    work = WORK / "write_api"
    shutil.rmtree(work, ignore_errors=True)
    rows = []
    for label, encoder in (("BM25", None), (f"hybrid ({DEFAULT_ENCODER})", DEFAULT_ENCODER)):
        store = work / f"api-{encoder or 'bm25'}"
        engine = Engine(store, encoder=encoder)
        secret = ApiKeys(store / "store.sqlite").create("admin")[1]
        server = LiveServer(create_app(engine))
        started = time.perf_counter()
        with httpx.Client(base_url=server.url, timeout=600, headers={"Authorization": f"Bearer {secret}"}) as http:
            for start in range(0, len(lines), 500):
                answer = http.post("/api/documents?refresh=true", content="\n".join(lines[start : start + 500]))
                assert answer.status_code == 200 and answer.json()["searchable"], answer.text
        api_seconds = time.perf_counter() - started
        server.stop()
        count = engine.store.count()
        engine.close()
        with tempfile.TemporaryDirectory() as tmp:
            file = Path(tmp) / "records.jsonl"
            file.write_text("\n".join(lines) + "\n", encoding="utf-8")
            command = [sys.executable, "-m", "jiansuo.cli", "index", str(file), "--store", str(work / f"cli-{label}"),
                       "--progress", "none", *(["--encoder", encoder] if encoder else [])]
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, env={**os.environ})
            cli_seconds = time.perf_counter() - started
        rows.append([label, count, f"{api_seconds:.1f}", f"{count / api_seconds:.0f}", f"{cli_seconds:.1f}",
                     f"{count / cli_seconds:.0f}"])
        print(rows[-1], flush=True)
    print(f"{len(lines)} arXiv records (title + abstract), 2 cores; API: 4 x 500 per POST, refresh=true")
    print(table(["index", "documents", "API seconds", "API documents/s", "jiansuo index seconds",
                 "jiansuo index documents/s"], rows))


if __name__ == "__main__":
    main()
