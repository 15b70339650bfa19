#!/usr/bin/env bash
# Install everything the tests need (Python extras, Debian chromium for the browser tests), then run them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "wqy\|noto.*cjk"; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null) \
      || echo "could not install chromium: browser tests will skip" >&2
  else
    echo "chromium is not installed and we are not root: browser tests will skip" >&2
  fi
fi
.venv/bin/ruff check src tests bench scripts
.venv/bin/mypy
.venv/bin/python -m pytest -q "$@"
