"""The derived-index registry: a new kind of index is one class and one registration line."""

from __future__ import annotations

import json

from conftest import FIXTURES

from jiansuo import derived
from jiansuo.engine import Engine
from jiansuo.ingest import read_path
from jiansuo.model import Document


class LanguageCounts:
    """A toy derived index: documents per language, versioned like the others."""

    kind = "languages"
    refreshed_with_store = True

    def __init__(self, engine):
        self.engine = engine
        self.dirs = derived.IndexDirs(engine.path / "indexes", self.kind)
        self.version = None

    def live(self) -> dict | None:
        self.version = self.dirs.current()
        return derived.IndexDirs.read_params(self.version) if self.version else None

    def refresh(self, progress=None) -> int:
        built = self.live()
        return self.rebuild(progress) if built is None or built["store_seq"] != self.engine.store.seq else 0

    def rebuild(self, progress=None) -> int:
        counts: dict[str, int] = {}
        for document in self.engine.store.documents():
            counts[document.language or "?"] = counts.get(document.language or "?", 0) + 1
        version = self.dirs.new_version()
        self.dirs.publish(version, {"kind": self.kind, "store_seq": self.engine.store.seq, "counts": counts})
        return sum(counts.values())

    def stats(self) -> dict | None:
        return self.live()


def test_a_registered_index_is_built_refreshed_and_reported(tmp_path, monkeypatch):
    # in a module of its own this is `@register("languages")` above the class; here it is undone after the test
    monkeypatch.setitem(derived.REGISTRY, "languages", LanguageCounts)
    engine = Engine(tmp_path / "store")
    engine.add(d for d in read_path(FIXTURES / "posts.jsonl") if isinstance(d, Document))
    engine.refresh()
    assert engine.indexes["languages"].live()["counts"] == {"en": 3, "zh": 2}
    engine.add([Document(id="new", title="新文章", language="zh")])
    engine.refresh()
    assert engine.stats()["indexes"]["languages"]["counts"] == {"en": 3, "zh": 3}
    assert json.loads((engine.indexes["languages"].version / "params.json").read_text())["store_seq"] == \
        engine.store.seq
    assert engine.search("新文章", hydrate=False).hits[0].doc_id == "new"  # the built-in kinds still work
