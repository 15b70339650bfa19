"""The baseline the original site search used: raw text into tantivy's default tokenizer (no segmentation)."""

from __future__ import annotations

import re
import tempfile

import tantivy


class DefaultTokenizerIndex:
    """title + text indexed with tantivy's `default` (or `en_stem`) tokenizer; queries parsed leniently."""

    def __init__(self, docs: dict[str, str], tokenizer: str = "default"):
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("id", stored=True, tokenizer_name="raw")
        builder.add_text_field("text", tokenizer_name=tokenizer)
        self.schema = builder.build()
        self.index = tantivy.Index(self.schema, path=tempfile.mkdtemp(prefix="tantivy-default-"))
        writer = self.index.writer(128_000_000, 1)
        for doc_id, text in docs.items():
            writer.add_document(tantivy.Document(id=doc_id, text=text))
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()

    def search(self, query: str, k: int = 100) -> dict[str, float]:
        cleaned = re.sub(r'[+\-&|!(){}\[\]^"~*?:\\/]', " ", query)
        parsed, _errors = self.index.parse_query_lenient(cleaned, ["text"])
        searcher = self.index.searcher()
        return {searcher.doc(a)["id"][0]: s for s, a in searcher.search(parsed, k).hits}
