#!/usr/bin/env bash
# The bare-tools baseline: what a careful person types to get the same kernel by hand,
# with the same Poetry binary, the same pyproject.toml/poetry.toml and the same flags
# the engine uses. Arguments: POETRY PYTHON PROJECT_DIR NAME DISPLAY_NAME HOST_PYTHON TIMES
# (pyproject.toml and poetry.toml are already in PROJECT_DIR; each step's end time is
# appended to the file TIMES as "step seconds-since-epoch").
set -euo pipefail
poetry=$1 python=$2 project=$3 name=$4 display=$5 host_python=$6 times=$7
export POETRY_VIRTUALENVS_IN_PROJECT=true PYTHON_KEYRING_BACKEND=keyring.backends.null.Keyring
mark() { echo "$1 $(date +%s.%N)" >>"$times"; }
cd "$project"
mark start
"$poetry" --no-ansi --no-interaction env use "$python" >/dev/null 2>&1
mark project
"$poetry" --no-ansi --no-interaction lock >/dev/null 2>&1
mark lock
"$poetry" --no-ansi --no-interaction sync >/dev/null 2>&1
mark install
source "$(dirname "$0")/kernel_steps.sh"
