"""Cancel on the Colab-shaped host: Colab's kernel (google.colab._kernel.Kernel on ipykernel
6.17.1, ipywidgets 7.7.1, Colab's IPython config) started by name through the kernel gateway,
driven over its websocket as Colab's page drives it. The Install click runs the plan in the
foreground; a Cancel click sent meanwhile stops it and kills its process."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import colab_host
import gateway
import pytest

pytestmark = pytest.mark.slow

TESTS = Path(__file__).resolve().parent

SETUP = colab_host.CELL_BOOTSTRAP + """\
sys.path.insert(0, {tests!r})
from pathlib import Path
from ui_plans import quick_plan, sleeper
from colab_wizard.ui import Panel
p = Panel(versions=lambda: [("3.12", "3.12")], check_index=False,
          plan_factory=quick_plan(Path({marks!r}), middle=sleeper(Path({pid!r}))))
p.next.click()
p.deps_step.requirements.value = "six"
print(p.mode, p.install_step.cancel.model_id)
"""


def _send(ws: object, msg_type: str, content: dict[str, object]) -> str:
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps(gateway._message(msg_type, msg_id, content)))  # type: ignore[attr-defined]
    return msg_id


def test_cancel_click_stops_a_foreground_run_in_colabs_kernel(
    colab_vm: colab_host.Host, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    with gateway.Gateway(colab_vm, tmp_path / "gateway.log") as gw:
        kernel = gw.start_kernel("python3")
        gw.wait_ready(kernel)
        setup = gw.execute(kernel, SETUP.format(tests=str(TESTS), marks=str(tmp_path / "marks"),
                                                pid=str(pid_file)))
        assert setup.status == "ok", setup.traceback
        mode, cancel_id = setup.stdout.split()
        assert mode == "foreground"  # Colab's default: the run happens inside the click
        ws = gw._connect(kernel, 60)
        try:
            run_id = _send(ws, "execute_request", {
                "code": "p.install_button.click()\nprint('after', p.install.outcome)",
                "silent": False, "store_history": True, "user_expressions": {},
                "allow_stdin": False, "stop_on_error": True})
            deadline = time.monotonic() + 60
            while not (pid_file.exists() and pid_file.read_text()) \
                    and time.monotonic() < deadline:
                time.sleep(0.05)
            pid = int(pid_file.read_text())
            started = time.monotonic()
            _send(ws, "comm_msg", {"comm_id": cancel_id, "data": {
                "method": "custom", "content": {"event": "click"}}})
            result = gateway._collect(ws, run_id, 60)
        finally:
            ws.close()
        assert result.status == "ok", result.traceback
        assert time.monotonic() - started < 15  # not the sleeper's 60 s
        assert result.stdout.split() == ["after", "cancelled"]
        try:
            with open(f"/proc/{pid}/stat") as f:
                assert f.read().split()[2] == "Z"
        except FileNotFoundError:
            pass
        gw.shutdown(kernel)
