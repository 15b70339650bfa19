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
