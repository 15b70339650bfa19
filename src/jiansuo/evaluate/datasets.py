"""Readers for BEIR-layout evaluation folders: corpus.jsonl, queries.jsonl, qrels/<split>.tsv."""

from __future__ import annotations

import csv
import json
from pathlib import Path


def read_queries(folder: Path) -> dict[str, str]:
    queries: dict[str, str] = {}
    with open(folder / "queries.jsonl", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                queries[str(record["_id"])] = record["text"]
    return queries


def read_qrels(folder: Path, split: str = "test") -> dict[str, dict[str, int]]:
    """{query id: {doc id: grade}} for judgments with grade > 0."""
    qrels: dict[str, dict[str, int]] = {}
    with open(folder / "qrels" / f"{split}.tsv", encoding="utf-8", newline="") as handle:
        rows = csv.reader(handle, delimiter="\t")
        for row in rows:
            if len(row) < 3 or row[0] == "query-id":
                continue
            grade = int(float(row[2]))
            if grade > 0:
                qrels.setdefault(row[0].strip(), {})[row[1].strip()] = grade
    return qrels
