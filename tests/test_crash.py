"""kill -9 during `jiansuo index` must lose no acknowledged document and leave an index that serves."""

import json
import random
import signal
import subprocess
import sys
import time

import pytest

from jiansuo.engine import Engine

pytestmark = pytest.mark.processes

WORDS = ("扩散 模型 条件 控制 检索 矩阵 分解 交互式 相似度 损失 函数 diffusion retrieval matrix "
         "encoder ranking cosine hubness anchor sparse dense").split()


def write_corpus(path, count, prefix, seed):
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(count):
            body = " ".join(rng.choice(WORDS) for _ in range(60))
            record = {"id": f"{prefix}{i}", "title": f"{prefix} {i} " + rng.choice(WORDS), "body": body}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def start_index(store, *paths, batch=100):
    return subprocess.Popen(
        [sys.executable, "-m", "jiansuo.cli", "index", *map(str, paths), "--store", str(store),
         "--progress", "lines", "--batch", str(batch)],
        stderr=subprocess.PIPE, text=True)


def kill_after(process, acks_wanted, extra_delay):
    """Read 'stored N' acknowledgements, then kill -9; returns the last acknowledged count."""
    acked = 0
    for line in process.stderr:
        if line.startswith("stored ") and line.split()[1].isdigit():
            acked = int(line.split()[1])
            if acked >= acks_wanted:
                break
    time.sleep(extra_delay)
    process.send_signal(signal.SIGKILL)
    process.wait()
    return acked


# The last three kill during the index phase (storing 8,000 documents takes ~1 s here, indexing ~1 s).
@pytest.mark.parametrize(("acks_wanted", "extra_delay"), [(300, 0.0), (5000, 0.0), (8000, 0.15), (8000, 0.5),
                                                         (8000, 0.8)])
def test_kill_minus_nine_loses_nothing_acknowledged(tmp_path, acks_wanted, extra_delay):
    store = tmp_path / "store"
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    write_corpus(first, 200, "old", seed=1)
    write_corpus(second, 8000, "new", seed=2)
    assert start_index(store, first).wait() == 0

    process = start_index(store, second)
    acked = kill_after(process, acks_wanted, extra_delay)
    assert acked >= acks_wanted and process.returncode == -signal.SIGKILL

    engine = Engine(store)  # the store opens
    stored = {d.id for d in engine.store.documents()}
    assert {f"new{i}" for i in range(acked)} <= stored
    assert engine.keyword is not None  # a previous or a new index serves
    assert engine.search("title:old", limit=1).total >= 200
    engine.close()

    assert start_index(store).wait() == 0  # the next run catches up
    engine = Engine(store)
    assert engine.pending_changes() == 0
    assert engine.search("title:new", limit=1).total == len(stored) - 200
    for i in random.Random(3).sample(range(acked), min(acked, 20)):
        assert engine.search(f'title:"new {i}"', limit=5).hits[0].doc_id == f"new{i}"
    engine.close()
