#!/usr/bin/env bash
# The floor for a restore: bare tools doing the least a restore must do from a saved folder
# on a fresh VM: unpack the wheels and the uv binary, `uv venv`, `uv pip install` of the
# saved wheels (offline, hash-checked, into an empty uv cache), the kernelspec, one kernel
# start. Arguments: SAVED_FOLDER PYTHON PROJECT_DIR NAME DISPLAY_NAME HOST_PYTHON TIMES
# REQUIREMENTS (the saved pins with their hashes). Each step's end time is appended to TIMES.
set -euo pipefail
saved=$1 python=$2 project=$3 name=$4 display=$5 host_python=$6 times=$7 requirements=$8
mark() { echo "$1 $(date +%s.%N)" >>"$times"; }
mkdir -p "$project"
cd "$project"
export UV_CACHE_DIR="$project/uv-cache" UV_NO_CONFIG=1 UV_PYTHON_DOWNLOADS=never UV_NO_PROGRESS=1
mark start
tar -xf "$saved/wheels.tar"
"$host_python" -c 'import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as w:
    name = next(n for n in w.namelist() if n.endswith(".data/scripts/uv"))
    open("uv", "wb").write(w.read(name))' tools/uv-*.whl
chmod +x uv
mark unpack
./uv venv -q --python "$python" .venv
./uv pip install -q --python .venv/bin/python --offline --no-index --find-links wheels \
    --require-hashes -r "$requirements"
mark install
source "$(dirname "$0")/kernel_steps.sh"
