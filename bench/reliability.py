"""Reliability as a hostile user checks it, in one run; prints the figures the reliability issue asks for.

1. Malformed input: a file of 2,000 good and 1,000 bad lines (invalid JSON, wrong types, huge fields, NUL,
   invalid UTF-8, lone surrogates, deep nesting, overflow numbers, missing / duplicate / over-long ids, odd dates,
   a raw CR, ...) through `jiansuo index`: exit code, good lines stored, bad lines reported at the right line,
   tracebacks.
2. kill -9 at random moments of an ingest, a `--rebuild` and a re-index (changed documents), N times each:
   acknowledged documents lost, stores that fail to open or search, indexes that do not catch up.
3. An 800 kB adversarial document (one word repeated) searched: p50 / max of the result page.
4. Fuzzed requests over every route of a real `jiansuo serve`: 5xx, connection resets, slowest request.

Run: python bench/reliability.py [--kills 20] [--requests 10000]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import httpx
from common import WORK, percentiles, serve, table

from jiansuo.engine import Engine

JIANSUO = [sys.executable, "-m", "jiansuo.cli"]
WORDS = "扩散 模型 条件 控制 检索 矩阵 分解 diffusion retrieval matrix encoder ranking cosine anchor".split()


def good_line(i: int, rng: random.Random) -> bytes:
    record = {"id": f"good-{i}", "title": f"good {i} {rng.choice(WORDS)}", "date": "2023-05-01",
              "body": " ".join(rng.choice(WORDS) for _ in range(40)), "reads": rng.randint(0, 1000)}
    return json.dumps(record, ensure_ascii=False).encode()


BAD_KINDS = [
    ("invalid JSON", lambda i: b'{"id": "bad-%d", "title": ' % i),
    ("not an object", lambda i: b"[1, 2, 3]"),
    ("id of a wrong type", lambda i: b'{"id": {"n": %d}, "title": "x"}' % i),
    ("id a boolean", lambda i: b'{"id": true, "title": "x"}'),
    ("missing id", lambda i: b'{"title": "no id %d"}' % i),
    ("over-long id", lambda i: b'{"id": "%s", "title": "x"}' % (b"x" * 600)),
    ("duplicate id", lambda i: b'{"id": "good-0", "title": "again %d"}' % i),
    ("huge title", lambda i: b'{"id": "bad-%d", "title": "%s"}' % (i, b"t" * 5000)),
    ("NUL", lambda i: b'{"id": "bad-%d", "title": "a\\u0000b"}' % i),
    ("invalid UTF-8", lambda i: b'{"id": "bad-%d", "title": "\xff\xfe"}' % i),
    ("lone surrogate", lambda i: b'{"id": "bad-%d", "title": "\\ud800"}' % i),
    ("deep nesting", lambda i: b'{"id": "bad-%d", "x": %s%s}' % (i, b"[" * 600, b"]" * 600)),
    ("overflow number", lambda i: b'{"id": "bad-%d", "reads": 1e400}' % i),
    ("Infinity", lambda i: b'{"id": "bad-%d", "reads": Infinity}' % i),
    ("NaN in metadata", lambda i: b'{"id": "bad-%d", "score": NaN}' % i),
    ("reads beyond 2^63", lambda i: b'{"id": "bad-%d", "reads": 1e30}' % i),
    ("odd date (warning; stored)", lambda i: b'{"id": "odd-%d", "title": "x", "date": "2021-02-30"}' % i),
]


def malformed(folder: Path) -> list[list]:
    rng = random.Random(20261129)
    lines: list[bytes] = []
    bad_lines: dict[int, str] = {}
    good_ids: list[str] = []
    slots = set(rng.sample(range(3000), 1000))
    for number in range(1, 3001):
        if number - 1 in slots:
            kind, make = BAD_KINDS[len(bad_lines) % len(BAD_KINDS)]
            lines.append(make(number))
            bad_lines[number] = kind
        else:
            good_ids.append(f"good-{len(good_ids)}")
            lines.append(good_line(len(good_ids) - 1, rng))
    path = folder / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    store = folder / "malformed-site"
    done = subprocess.run([*JIANSUO, "index", str(path), "--store", str(store), "--progress", "none"],
                          capture_output=True, text=True)
    reported = {int(m.group(1)) for m in re.finditer(rf"{re.escape(str(path))}:(\d+): ", done.stderr)}
    engine = Engine(store)
    stored = engine.store.get_many(good_ids)
    indexed = engine.stats()["indexed_documents"]
    engine.close()
    return [["exit code", done.returncode], ["good lines stored", f"{len(stored)}/{len(good_ids)}"],
            ["bad lines reported at their line", f"{len(reported & set(bad_lines))}/{len(bad_lines)}"],
            ["lines reported that were not bad", len(reported - set(bad_lines))],
            ["documents indexed", indexed], ["tracebacks", done.stderr.count("Traceback")]]


def write_corpus(path: Path, count: int, prefix: str, seed: int) -> None:
    rng = random.Random(seed)
    with open(path, "wb") as handle:
        for i in range(count):
            record = {"id": f"{prefix}{i}", "title": f"{prefix} {i}", "body": " ".join(rng.choices(WORDS, k=60))}
            handle.write(json.dumps(record, ensure_ascii=False).encode() + b"\n")


def killed(command: list[str], delay: float) -> int:
    """Run `command`, kill -9 after `delay` s; the count of documents it acknowledged ('stored N' lines)."""
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + delay
    acked = 0
    import selectors

    selector = selectors.DefaultSelector()
    selector.register(process.stderr, selectors.EVENT_READ)
    while time.monotonic() < deadline and process.poll() is None:
        if selector.select(timeout=max(0.0, deadline - time.monotonic())):
            line = process.stderr.readline()
            if line.startswith("stored ") and line.split()[1].isdigit():
                acked = int(line.split()[1])
    process.send_signal(signal.SIGKILL)
    process.wait()
    return acked


def crashes(folder: Path, kills: int) -> list[list]:
    rng = random.Random(7)
    corpus, changed = folder / "corpus.jsonl", folder / "changed.jsonl"
    write_corpus(corpus, 6000, "d", 1)
    write_corpus(changed, 6000, "d", 2)  # the same ids, other text: a re-index
    rows = []
    for phase in ("ingest", "rebuild", "re-index"):
        lost = broken = behind = 0
        for attempt in range(kills):
            store = folder / f"crash-{phase}-{attempt}"
            if phase != "ingest":
                subprocess.run([*JIANSUO, "index", str(corpus), "--store", str(store), "--progress", "none"],
                               check=True, capture_output=True)
            arguments = {"ingest": [str(corpus)], "rebuild": ["--rebuild"], "re-index": [str(changed)]}[phase]
            acked = killed([*JIANSUO, "index", *arguments, "--store", str(store), "--progress", "lines",
                            "--batch", "200"], rng.uniform(0.2, 3.0))
            try:
                engine = Engine(store)
                count = engine.store.count()
                engine.search("retrieval")
                engine.close()
            except Exception:  # any failure to open or search is what this counts
                broken += 1
                continue
            if phase == "ingest" and count < acked:
                lost += acked - count
            subprocess.run([*JIANSUO, "index", "--store", str(store), "--progress", "none"], capture_output=True)
            engine = Engine(store)
            behind += engine.stats()["indexed_documents"] != engine.store.count()
            engine.close()
        rows.append([f"kill -9 during {phase} x {kills}", f"lost {lost}, broken {broken}, not caught up {behind}"])
    return rows


def fuzz_value(rng: random.Random) -> str:
    pieces = ["", "a", "扩散", '"', "-", "AND", "OR", "title:", "category:", "\\", "%", "$$", "$\\frac{", "\x00",
              "\x01", "\ud7ff", "2022-02-30", "-1", "99999999999999999999", "<script>", "../../etc/passwd",
              "lorem", " " * 50, "x" * 2000, "\u202e", "\ufeff", "𝔸", "/\\evil.example", "//evil.example"]
    return "".join(rng.choice(pieces) for _ in range(rng.randint(0, 4)))


def serve_and_fuzz(folder: Path, requests: int) -> list[list]:
    store = folder / "served"
    engine = Engine(store)
    write_corpus(folder / "served.jsonl", 2000, "s", 3)
    subprocess.run([*JIANSUO, "index", str(folder / "served.jsonl"), "--store", str(store), "--progress", "none"],
                   check=True, capture_output=True)
    from jiansuo.model import Document

    engine.add([Document(id="adversarial", title="lorem", body="lorem " * 140_000)])  # ~840 kB
    engine.refresh()
    engine.close()
    server, base = serve(store)
    try:
        adversarial = []
        with httpx.Client(base_url=base, timeout=30) as client:
            for _ in range(21):
                started = time.perf_counter()
                client.get("/", params={"q": "lorem"})
                adversarial.append((time.perf_counter() - started) * 1000)
        adversarial = adversarial[1:]
        routes = ["/", "/api/search", "/feed.atom", "/doc/{}", "/api/doc/{}", "/click", "/feed/category/{}.atom",
                  "/feed/venue/{}.atom", "/api/stats", "/static/style.css", "/favicon.ico", "/{}"]
        names = ["q", "from", "to", "category", "venue", "tag", "sort", "page", "limit", "mode", "rerank", "budget",
                 "lang", "id", "rank", "back"]

        def one(seed: int) -> tuple[int, float]:
            local = random.Random(seed)
            route = local.choice(routes).replace("{}", quote(fuzz_value(local), safe="") or "s1")
            params = {local.choice(names): fuzz_value(local) for _ in range(local.randint(0, 5))}
            started = time.perf_counter()
            try:
                with httpx.Client(base_url=base, timeout=10) as client:
                    status = client.get(route, params=params).status_code
            except httpx.RemoteProtocolError:
                status = -1  # connection reset or closed without an answer
            except httpx.HTTPError:
                status = -2
            return status, time.perf_counter() - started

        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(one, range(requests)))
    finally:
        server.terminate()
        server.wait()
    statuses = [s for s, _ in results]
    p50, p95 = percentiles(adversarial)
    return [["800 kB adversarial document, result page ms (p50 / max)", f"{p50:.0f} / {max(adversarial):.0f}"],
            [f"fuzzed requests over {len(routes)} routes", len(results)],
            ["5xx", sum(500 <= s < 600 for s in statuses)], ["resets / no answer", statuses.count(-1)],
            ["other client errors", statuses.count(-2)], ["4xx", sum(400 <= s < 500 for s in statuses)],
            ["slowest request, s", f"{max(t for _, t in results):.2f}"]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--requests", type=int, default=10_000)
    args = parser.parse_args()
    folder = WORK / "reliability"
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rows = malformed(folder) + serve_and_fuzz(folder, args.requests) + crashes(folder, args.kills)
    print(table(["check", "result"], rows))


if __name__ == "__main__":
    main()
