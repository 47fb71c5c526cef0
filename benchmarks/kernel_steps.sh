# Sourced by bare.sh and bare_uv.sh: the steps after the install, the same for both, timed
# with their mark function: the kernelspec, then the kernel started once and run, as the
# wizard's pre-flight does. Uses $name, $display and $host_python.
.venv/bin/python -m ipykernel install --user --name "$name" --display-name "$display" \
    >/dev/null 2>&1
mark kernel
"$host_python" "$(dirname "${BASH_SOURCE[0]}")/start_kernel.py" "$name" 2>/dev/null
mark verify
