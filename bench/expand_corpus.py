"""A seeded, documented expansion of the real text in ../shared/data to any size (default 100,000).

1. Real documents: SciFact, CISI, MEDLINE, LibreOffice help zh+en, CSL (2,000 full records and 5,888
   CSLDCP abstracts), kexue posts, arXiv (snapshot + May-2025 math CSV): about 31,000 documents, kept as
   they are (their ids prefixed by source).
2. Their text is split into sentences (at . ! ? 。 ！ ？ and line breaks) and pooled per language.
3. Synthetic document i (for i beyond the real ones) copies the title, authors, categories and
   language of real document i mod R, gets "(variant i)" appended to the title, a date drawn uniformly
   from 2000-01-01..2025-12-31, a read count drawn from a log-uniform range, and a body of as many
   sentences as its template had (at least 3), drawn from the pool of that language.
Everything is drawn from random.Random(seed): the same seed gives the same corpus, byte for byte.
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from jiansuo.ingest import IngestProblem, read_path
from jiansuo.model import Document

_SENTENCE = re.compile(r"(?<=[.!?。！？])\s*|\n+")


def real_documents(data: Path) -> list[Document]:
    documents: list[Document] = []
    for name in ("scifact", "cisi", "medline", "lo-help/zh", "lo-help/en"):
        for item in read_path(data / name / "corpus.jsonl", "beir"):
            if not isinstance(item, IngestProblem):
                item.id = f"{name}:{item.id}"
                item.categories = item.categories or [name]
                documents.append(item)
    with open(data / "csl" / "csl.jsonl", encoding="utf-8") as handle:
        for line in handle:
            r = json.loads(line)
            documents.append(Document(id=r["id"], title=r["title"], summary=r["abstract"], tags=r["keywords"],
                                      categories=[r["category"], r["discipline"]], language="zh"))
    with open(data / "csl" / "fewclue_csldcp.jsonl", encoding="utf-8") as handle:
        for line in handle:
            r = json.loads(line)
            documents.append(Document(id=r["id"], summary=r["abstract"], categories=[r["category"], r["discipline"]],
                                      language="zh"))
    for path, fmt in ((data / "kexue" / "kexue.jsonl", "jsonl"),
                      (data / "arxiv" / "kaggle_snapshot_first2000.jsonl", "arxiv")):
        documents += [d for d in read_path(path, fmt) if not isinstance(d, IngestProblem)]
    with open(data / "arxiv" / "arxiv_2505_math_sample.csv", encoding="utf-8", newline="") as handle:
        for r in csv.DictReader(handle):
            documents.append(Document(id=f"arxiv:{r['index']}", title=r["title"], summary=r["abstract"],
                                      authors=_py_list(r["authors"]), categories=_py_list(r["tags"]),
                                      date=date(2025, 5, 1), language="en"))
    for document in documents:
        document.language = document.language or "en"
    return documents


def expanded(data: Path, size: int = 100_000, seed: int = 20261121) -> Iterator[Document]:
    rng = random.Random(seed)
    real = real_documents(data)
    pools: dict[str, list[str]] = {}
    lengths: list[int] = []
    for document in real:
        sentences = [s.strip() for s in _SENTENCE.split(f"{document.summary}\n{document.body}") if len(s.strip()) > 5]
        pools.setdefault(document.language, []).extend(sentences)
        lengths.append(max(3, len(sentences)))
        yield document
    start = date(2000, 1, 1)
    for i in range(len(real), size):
        template = real[i % len(real)]
        pool = pools[template.language]
        body = " ".join(rng.choice(pool) for _ in range(min(lengths[i % len(real)], 80)))
        yield Document(id=f"x{i}", title=f"{template.title} (variant {i})", authors=template.authors,
                       categories=template.categories, language=template.language, summary=body,
                       date=start + timedelta(days=rng.randrange(9496)), reads=int(10 ** rng.uniform(0, 5)))


def _py_list(text: str) -> list[str]:
    return re.findall(r"'((?:[^'\\]|\\.)*)'", text)
