#!/usr/bin/env bash
# The test command from README.md: installs what the tests need, then runs them all.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -e '.[test]'
python3 -m ruff check colab_wizard tests
python3 -m mypy
python3 -m pytest -ra "$@"
