#!/usr/bin/env bash
# The test command from README.md: installs what the tests need, then runs them all.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -e '.[test,browser]'
# The browser tests drive Debian's Chromium (Playwright cannot download its own here).
if [ ! -x /usr/bin/chromium ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
python3 -m ruff check colab_wizard tests
python3 -m mypy
python3 -m pytest -ra "$@"
