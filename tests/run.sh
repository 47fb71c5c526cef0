#!/usr/bin/env bash
# The test command from README.md: installs what the tests need, then runs them all.
set -euo pipefail
cd "$(dirname "$0")/.."
# A test run must leave the work tree as it found it (CONTRIBUTING.md): remember its state.
tree_state() {
    git rev-parse --is-inside-work-tree >/dev/null 2>&1 || return 0
    { git status --porcelain; git diff; } | sha256sum
}
TREE_BEFORE=$(tree_state)
python3 -m pip install -q -e '.[test,browser]'
# The browser tests drive Debian's Chromium (Playwright cannot download its own here).
if [ ! -x /usr/bin/chromium ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
python3 -m ruff check colab_wizard tests scripts
python3 -m mypy
# -R too: a browser test that passed on its one retry (conftest) is listed with its first failure.
python3 -m pytest -raR "$@"
# The panel again under Colab's widget stack (ipywidgets 7.7.1, IPython 7.34, ipykernel 6.17),
# in a virtualenv kept in the cache so later runs reuse it.
IPYW7="${COLAB_WIZARD_IPYW7_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/colab_wizard/ipywidgets-7.7.1-venv}"
[ -x "$IPYW7/bin/python" ] || python3 -m virtualenv -q "$IPYW7"
"$IPYW7/bin/python" -m pip install -q ipywidgets==7.7.1 ipython==7.34.0 ipykernel==6.17.1 \
    jupyter_client==7.4.9 'tomlkit==0.14.*' packaging requests virtualenv pbs-installer \
    nbformat pytest pytest-timeout
"$IPYW7/bin/python" -m pip install -q --no-deps -e .
"$IPYW7/bin/python" -m pytest -ra -p no:cacheprovider tests/test_ui_*.py
# The package itself supports Python 3.9: the engine's unit tests once more on the oldest one.
PY39=$(ls "${PYENV_ROOT:-/root/.pyenv}"/versions/3.9*/bin/python3.9 2>/dev/null | head -n 1 || true)
if [ -n "$PY39" ]; then
    V39="${XDG_CACHE_HOME:-$HOME/.cache}/colab_wizard/py39-venv"
    [ -x "$V39/bin/python" ] || python3 -m virtualenv -q -p "$PY39" "$V39"
    "$V39/bin/python" -m pip install -q -e '.[test]'
    "$V39/bin/python" -m pytest -ra -p no:cacheprovider tests/test_spec.py tests/test_pyproject.py \
        tests/test_streams.py tests/test_runner.py tests/test_runner_batching.py \
        tests/test_runner_cancel.py tests/test_sync.py tests/test_files.py tests/test_settings.py
else
    echo "No CPython 3.9 under ${PYENV_ROOT:-/root/.pyenv}/versions: skipped the 3.9 run."
fi
# Screenshots asked for with COLAB_WIZARD_SCREENSHOTS change docs/images on purpose.
if [ -z "${COLAB_WIZARD_SCREENSHOTS:-}" ] && [ "$(tree_state)" != "$TREE_BEFORE" ]; then
    echo "The test run changed the work tree (tests must write only to temporary folders):" >&2
    git status --porcelain >&2
    exit 1
fi
