#!/usr/bin/env bash
# Create .venv (if needed) and install jiansuo with the extras named in $1 (default: web,eval).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-web,eval}"
python3 -c 'import sys; assert sys.version_info >= (3, 11), "jiansuo needs Python >= 3.11"'
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[${extras}]"
