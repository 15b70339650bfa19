"""Keywords of posts with code: from the whole body (code blocks included, as before) and from its prose only (shipped).

On the research blog (../shared/data/kexue, 312 posts, many with Python in fenced blocks), indexed BM25-only for the
document frequencies. For each post with a code block: how many of its 10 keywords occur in its code and nowhere in
its prose (an identifier such as `tqdm` or `jnp`, which says nothing of what the post is about), with examples.

Run: python bench/keywords_code.py
"""

from __future__ import annotations

import shutil
from collections import Counter

from common import DATA, WORK, need, table

from jiansuo.analysis.keywords import keywords
from jiansuo.analysis.plaintext import plain_text
from jiansuo.analysis.tokenize import analyze
from jiansuo.engine import Engine
from jiansuo.ingest import IngestProblem, read_path


def main() -> None:
    documents = [d for d in read_path(need(DATA / "kexue" / "kexue.jsonl")) if not isinstance(d, IngestProblem)]
    store = WORK / "keywords_code"
    shutil.rmtree(store, ignore_errors=True)
    engine = Engine(store)
    engine.add(documents)
    engine.refresh()
    backend, total = engine.keyword, engine.keyword.num_docs()
    rows, examples = [], Counter()
    for name, code in (("whole body (before)", True), ("prose only (shipped)", False)):
        with_code = posts_hit = code_only = 0
        for document in documents:
            prose = plain_text(document.body, code=False)
            if prose == plain_text(document.body):
                continue  # no code block
            with_code += 1
            prose_terms = set(analyze(f"{document.title}\n{document.summary}\n{prose}"))
            text = "\n".join(part for part in (document.summary, plain_text(document.body, code=code)) if part)
            found = keywords(document.title, text, backend.document_frequency, total)
            from_code = [k.text for k in found if not set(k.terms) <= prose_terms]
            code_only += len(from_code)
            posts_hit += bool(from_code)
            if code:
                examples.update(from_code)
        rows.append([name, with_code, posts_hit, code_only])
    engine.close()
    print(table(["keywords from", "posts with a code block", "posts with a keyword found only in code",
                 "such keywords"], rows))
    print("\nmost frequent keywords found only in code, before:", ", ".join(w for w, _ in examples.most_common(15)))


if __name__ == "__main__":
    main()
