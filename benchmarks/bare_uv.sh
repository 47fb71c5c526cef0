#!/usr/bin/env bash
# The bare-uv baseline: a careful person's kernel with uv and a lock, doing the same work the
# wizard does: uv lock, uv sync, the kernelspec, one kernel start. Arguments: UV PYTHON
# PROJECT_DIR NAME DISPLAY_NAME HOST_PYTHON TIMES INDEX_URL (pyproject.toml is already in
# PROJECT_DIR; UV_CACHE_DIR is the caller's; each step's end time is appended to TIMES).
set -euo pipefail
uv=$1 python=$2 project=$3 name=$4 display=$5 host_python=$6 times=$7 index=$8
export UV_DEFAULT_INDEX=$index UV_NO_CONFIG=1 UV_PYTHON_DOWNLOADS=never UV_NO_PROGRESS=1
mark() { echo "$1 $(date +%s.%N)" >>"$times"; }
cd "$project"
mark start
"$uv" lock --python "$python" >/dev/null 2>&1
mark lock
"$uv" sync --locked --python "$python" >/dev/null 2>&1
mark install
source "$(dirname "$0")/kernel_steps.sh"
