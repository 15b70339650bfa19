import os
from pathlib import Path

import pytest

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


class LiveServer:
    """A real uvicorn server on a loopback port, in a background thread."""

    def __init__(self, app):
        import threading

        import uvicorn

        from jiansuo.web.serve import listening_socket

        sock = listening_socket("127.0.0.1", 0)
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
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
    for path in (FIXTURES / "posts.jsonl", FIXTURES / "blog", FIXTURES / "hostile.jsonl"):
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
