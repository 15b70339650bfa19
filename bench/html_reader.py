"""The generic HTML reader (jiansuo.ingest.html) on real pages: the 2,560 Chinese LibreOffice help pages from the
Debian package, against the page-specific extraction the demo uses (scripts/demo_corpora.help_page: the text of
the page's #DisplayArea, which the generic reader is never told about).

Per page, the visible text of each (the reader's Markdown body as plain text, links as their text) as a
multiset of words (CJK characters one by one, Latin words lower-cased):
recall = the reference's words the reader kept; precision = the reader's words that are in the reference (what
is left is page chrome that leaked in: menus, index, footer). Also: pages stored, titles equal.

Run: python bench/html_reader.py [--deb PATH]   (apt-get download libreoffice-help-zh-cn when no --deb is given)
"""

from __future__ import annotations

import argparse
import glob
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
from common import table

from jiansuo.analysis.plaintext import plain_text
from jiansuo.ingest import IngestProblem
from jiansuo.ingest.html import read_html

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from demo_corpora import LO_PACKAGE, help_page  # noqa: E402

WORD = re.compile(r"[\u3400-\u9fff]|[A-Za-z0-9]+")


def words(text: str) -> Counter:
    return Counter(w.lower() for w in WORD.findall(text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deb", help="the downloaded libreoffice-help-zh-cn .deb")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        deb = args.deb
        if not deb:
            subprocess.run(["apt-get", "download", LO_PACKAGE], cwd=tmp, check=True, capture_output=True)
            deb = glob.glob(f"{tmp}/*.deb")[0]
        subprocess.run(["dpkg-deb", "-x", deb, f"{tmp}/x"], check=True)
        root = Path(tmp) / "x/usr/share/libreoffice/help/zh-CN"
        pages = sorted(root.glob("text/**/*.html"))
        recalls, precisions, titles, stored, reasons = [], [], 0, 0, Counter()
        compared = 0
        for page in pages:
            reference = help_page(page, page.relative_to(root).as_posix())
            items = list(read_html(page, root))
            document = next((i for i in items if not isinstance(i, IngestProblem)), None)
            if document is None:
                reasons.update(p.reason.split(";")[0] for p in items if isinstance(p, IngestProblem))
                continue
            stored += 1
            if reference is None:
                continue
            compared += 1
            ours = words(f"{document.title}\n{plain_text(document.body)}")
            theirs = words(f"{reference['title']}\n{reference['body']}")
            shared = sum((ours & theirs).values())
            recalls.append(shared / max(1, sum(theirs.values())))
            precisions.append(shared / max(1, sum(ours.values())))
            titles += document.title == reference["title"]
    print(f"python bench/html_reader.py   ({LO_PACKAGE}: {len(pages)} pages)\n")
    print(table(["pages", "stored by the HTML reader", "compared (the reference kept them too)", "title equal",
                 "word recall (mean / 5th pct)", "word precision (mean / 5th pct)"],
                [[len(pages), stored, compared, f"{titles / max(1, compared):.3f}",
                  f"{np.mean(recalls):.3f} / {np.percentile(recalls, 5):.3f}",
                  f"{np.mean(precisions):.3f} / {np.percentile(precisions, 5):.3f}"]]))
    if reasons:
        print("\nnot stored: " + "; ".join(f"{count} × {reason}" for reason, count in reasons.most_common()))


if __name__ == "__main__":
    main()
