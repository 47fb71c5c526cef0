"""The Done step says, in one sentence, why a kernel got profile *plain* instead of *full*."""

from __future__ import annotations

import html
from pathlib import Path

from colab_wizard import api, colab, paths
from colab_wizard.plan import Workspace
from colab_wizard.runner import Runner
from colab_wizard.ui import Panel
from colab_wizard.ui.job import Job


def test_done_step_names_what_the_kernel_could_not_import(wizard_env: dict[str, Path]) -> None:
    spec = api.make_spec("3.12", [], name="fb-kernel",
                         project_dir=wizard_env["projects"] / "fb")
    workspace = Workspace(spec, profile=colab.FULL)
    reason = colab.fallback_reason(["ModuleNotFoundError: No module named 'numpy'"])
    # What the verify stage records when the *full* kernel died and *plain* started.
    workspace.record_fallback(reason)
    panel = Panel(versions=lambda: [("3.12", "3.12")], host="colab", check_index=False)
    panel.job = Job(spec, Runner([], paths.new_log_path(spec.name)), workspace)
    panel.done_step.fill(panel.job)
    assert html.escape(reason) in panel.done_step.done_summary.value

    # A kernel that kept *full* gets no such sentence.
    panel.job = Job(spec, Runner([], paths.new_log_path(spec.name)), Workspace(spec))
    panel.done_step.fill(panel.job)
    assert "could not import" not in panel.done_step.done_summary.value
