"""Formulas and Markdown as a reader sees them, on the research-blog corpus (../shared/data/kexue).

1. Every document page is fetched from the real app (`/doc/<id>`, in-process HTTP) and its formulas counted:
   rendered as MathML, shown as a clean fallback (the TeX in a `<code class="tex">` box), and raw TeX still
   visible in the page text (outside MathML, fallback boxes and the post's own code blocks).
2. The same for the excerpts of 300 queries (the titles of 300 posts, fixed seed, top 10 each, BM25 mode):
   formulas rendered / elided / fallback, raw TeX, and Markdown syntax (link, heading, emphasis, image, table).

Run: python bench/math_render.py [--show-raw 5]
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
from urllib.parse import quote

from common import DATA, WORK, need, table
from lxml import html as lxml_html
from starlette.testclient import TestClient

from jiansuo.analysis.plaintext import Formulas
from jiansuo.engine import Engine
from jiansuo.ingest import IngestProblem, read_path
from jiansuo.web.app import create_app

RAW_TEX = re.compile(r"\\(?:begin|end)\{|\\[A-Za-z]{2,}|\$\$|(?<![\w$])\$[^\s$][^$\n]{0,200}?[^\s\\$]\$(?![\w$])")
MARKDOWN_SYNTAX = {
    "link": re.compile(r"\]\((?:/|https?:)"),
    "heading": re.compile(r"(?:^|\s)#{2,6} |\s#$"),
    "emphasis": re.compile(r"\*\*[^*]+\*\*|__[^_]+__|(?<![A-Za-z0-9_*])\*[^\W\d_][^*\n]*?\w\*(?![A-Za-z0-9_*])"),
    "image": re.compile(r"!\["),
    "table": re.compile(r"\|\s*-{3,}"),
}


def visible_text(element) -> str:
    """Text of `element` without MathML, fallback boxes, code blocks, scripts and styles."""
    clone = lxml_html.fromstring(lxml_html.tostring(element))
    for node in clone.xpath("//*[local-name()='math'] | //code | //pre | //script | //style"):
        node.drop_tree()
    return clone.text_content()


def count_page(body) -> tuple[int, int, list[str]]:
    mathml = len(body.xpath(".//*[local-name()='math']"))
    fallback = len(body.xpath(".//code[contains(concat(' ', @class, ' '), ' tex ')]"))
    raw = RAW_TEX.findall(visible_text(body))
    return mathml, fallback, raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--show-raw", type=int, default=5, help="print this many raw-TeX examples")
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()

    corpus = need(DATA / "kexue" / "kexue.jsonl")
    documents = [d for d in read_path(corpus, "jsonl") if not isinstance(d, IngestProblem)]
    folder = WORK / "math_render"
    shutil.rmtree(folder, ignore_errors=True)
    engine = Engine(folder)
    engine.add(documents)
    engine.refresh()
    client = TestClient(create_app(engine))

    formulas = mathml = fallback = raw_pages = raw_total = 0
    examples: list[str] = []
    for document in documents:
        found = [s for s in Formulas.of(document.body).spans if s.tex.strip()]
        page = client.get(f"/doc/{quote(document.id)}")
        assert page.status_code == 200, (document.id, page.status_code)
        body = lxml_html.fromstring(page.text).xpath("//section[@class='body']")[0]
        rendered, boxed, raw = count_page(body)
        formulas += len(found)
        mathml += rendered
        fallback += boxed
        raw_total += len(raw)
        raw_pages += bool(raw)
        examples += [f"{document.id}: {r[:80]!r}" for r in raw[:2]]
    print(f"## Document pages ({len(documents)} posts of kexue)\n")
    print(table(["formulas found", "MathML", "fallback <code>", "MathML share", "raw TeX visible",
                 "pages with raw TeX"],
                [[formulas, mathml, fallback, f"{mathml / max(1, mathml + fallback):.2%}", raw_total, raw_pages]]))

    titles = [d.title for d in documents if d.title]
    queries = random.Random(20261129).sample(titles, min(args.queries, len(titles)))
    excerpt_formulas = excerpt_fallback = elided = excerpt_raw = excerpts = 0
    syntax = dict.fromkeys(MARKDOWN_SYNTAX, 0)
    for query in queries:
        page = client.get("/", params={"q": query, "mode": "bm25"})
        tree = lxml_html.fromstring(page.text)
        for node in tree.xpath("//p[@class='excerpt']"):
            excerpts += 1
            rendered, boxed, raw = count_page(node)
            excerpt_formulas += rendered
            excerpt_fallback += boxed
            elided += len(node.xpath(".//span[@class='formula-elided']"))
            excerpt_raw += len(raw)
            examples += [f"excerpt for {query!r}: {r[:80]!r}" for r in raw[:1]]
            text = visible_text(node)
            for name, pattern in MARKDOWN_SYNTAX.items():
                syntax[name] += bool(pattern.search(text))
    print(f"\n## Excerpts ({len(queries)} title queries, top 10, {excerpts} excerpts)\n")
    print(table(["MathML", "elided (long)", "fallback <code>", "raw TeX visible",
                 *(f"Markdown {name}" for name in MARKDOWN_SYNTAX)],
                [[excerpt_formulas, elided, excerpt_fallback, excerpt_raw, *syntax.values()]]))
    if examples and args.show_raw:
        print("\nRaw TeX examples:")
        for line in examples[: args.show_raw]:
            print(" ", line)


if __name__ == "__main__":
    main()
