"""The wizard panel: four steps of core ipywidgets (7.7.1 and 8.x) over the view model.

Widgets only show :mod:`.model` state and forward clicks; validation comes
from the engine (``make_spec`` / :mod:`colab_wizard.requirements_text`), runs
come from :class:`.job.Job` driven by :class:`.driver.Driver`.
Compatibility rules (see DESIGN.md): no Stack (children are swapped), no
TagsInput, no HTML in descriptions, Button.style keys button_color/font_weight.
"""

from __future__ import annotations

import asyncio
import base64
import html
import traceback
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable, Optional

import ipywidgets as w
from packaging.requirements import Requirement

from .. import (
    api,
    colab,
    freshvm,
    index,
    inplace,
    notebook,
    ownership,
    pyproject,
    requirements_text,
)
from ..errors import WizardError
from ..events import Event, RunFinished, StageFailed
from ..host import detect_host, notebook_path
from ..naming import WouldReplace
from ..spec import (
    EnvSpec,
    SpecError,
    check_display_name,
    check_name,
    default_display_name,
    name_from_display_name,
    parse_python,
)
from . import model
from .adopt_box import AdoptBox
from .driver import Driver, default_mode
from .guard import ClickGuard
from .job import Job, PlanFactory
from .markup import error_html, escape
from .widgets import FIELD, classes, show

FULL_LOG_LINES = 2000
LOG_LAYOUT = {"width": "100%", "height": "14em"}
# The first step's fields share one message line: it starts with the field's label.
FIELD_LABELS = {"python": "Python", "display_name": "Display name", "name": "Kernel name"}


class StageRowView:
    def __init__(self, row: model.StageRow) -> None:
        self.key = row.key
        self.icon = classes(w.Label(row.icon, layout={"width": "1.5em"}), "cw-stage-icon")
        # Label and bar never shrink; a long detail is cut at the row's end instead.
        self.label = classes(w.Label(row.label, layout={"width": "14em", "flex": "0 0 auto"}),
                              "cw-stage-label")
        self.bar = classes(w.FloatProgress(value=0, min=0, max=100,
                                            layout={"width": "12em", "flex": "0 0 auto"}),
                            "cw-stage-bar")
        self.detail = classes(w.Label("", layout={"width": "auto", "overflow": "hidden"}),
                               "cw-stage-detail")
        self.box = classes(w.HBox([self.icon, self.label, self.bar, self.detail]),
                            "cw-stage-row", f"cw-stage-{row.key}", "cw-status-pending")
        self.status = "pending"

    def widgets(self) -> list[w.Widget]:
        return [self.icon, self.label, self.bar, self.detail]

    def update(self, row: model.StageRow) -> None:
        self.icon.value = row.icon
        self.label.value = row.label
        fraction = row.fraction
        if fraction is None:  # indeterminate: a full, calm "info" bar with "working..."
            self.bar.value, self.bar.bar_style = 100.0, "info"
        else:
            self.bar.value = round(fraction * 100, 1)
            self.bar.bar_style = {"done": "success", "skipped": "success", "failed": "danger",
                                  "cancelled": "warning"}.get(row.status, "")
        self.detail.value = row.text
        if row.status != self.status:  # the row's class says its state to a browser test
            self.box.remove_class(f"cw-status-{self.status}")
            self.box.add_class(f"cw-status-{row.status}")
            self.status = row.status


class Panel:
    """The whole wizard; ``Panel(...).widget`` is the root to display."""

    def __init__(
        self,
        state: Optional[model.FormState] = None,
        mode: Optional[str] = None,
        plan_factory: Optional[PlanFactory] = None,
        versions: Optional[Callable[[], model.VersionOptions]] = None,
        host: Optional[str] = None,
        check_index: bool = True,
        cache_dir: Optional[Path] = None,
    ) -> None:
        self.state = state if state is not None else model.FormState()
        self.host = host or detect_host()
        self.mode = mode or default_mode(self.host)
        self.plan_factory = plan_factory
        self.check_index = check_index
        self.cache_dir = Path(cache_dir) if cache_dir is not None else freshvm.default_folder()
        self.name_check: Optional[asyncio.Future[None]] = None
        self.install = model.InstallModel()
        self.throttle = model.Throttle()
        self.driver = Driver(self.mode, self._surface_error)
        self.job: Optional[Job] = None
        self.renders = 0
        self._pending: Any = None
        self._tick: Any = None
        self._quiet = False  # True while the panel itself sets a widget value
        self.parsed = requirements_text.parse("")
        options = (versions or model.version_options)()
        self._build(options)
        self._restore()

    # -- building ---------------------------------------------------------------------

    def _build(self, options: model.VersionOptions) -> None:
        self.title = w.HTML("<b style='font-size:1.15em'>colab_wizard</b> \u2014 a new Python "
                            "kernel with Poetry")
        self.steps = classes(w.HTML(model.step_indicator_html(0)), "cw-steps")

        # 1. Python
        self.version = classes(w.Dropdown(options=options, description="Python", **FIELD),
                                "cw-version")
        self.display_name = classes(w.Text(description="Display name", **FIELD),
                                     "cw-display-name")
        self.kernel_name = classes(w.Text(description="Kernel name", **FIELD),
                                    "cw-kernel-name")
        self.python_error = classes(w.HTML(""), "cw-python-error")
        # Shown only when the kernel name belongs to another kernel: says it replaces that.
        self.replace_button = classes(w.Button(description="Replace it", icon="exchange",
                                                button_style="warning"), "cw-replace")
        show(self.replace_button, False)
        self.replace_confirmed: Optional[str] = None
        saved = freshvm.list_saved(self.cache_dir)
        self.restore_choice = classes(w.Dropdown(
            options=[(f"{m['display_name']} (Python {m['python']})", m["folder"]) for m in saved],
            description="Saved", **FIELD), "cw-restore-choice")
        self.restore_button = classes(w.Button(description="Restore", icon="upload"),
                                       "cw-restore")
        self.restore_box = classes(w.VBox([
            w.HTML(f"<b>Saved kernels found</b> in <code>{html.escape(str(self.cache_dir))}"
                   "</code>: restore one without downloading its packages again."),
            w.HBox([self.restore_choice, self.restore_button]),
        ]), "cw-restore-box")
        show(self.restore_box, bool(saved))
        self.page_python = classes(w.VBox([
            w.HTML("Which Python should the new kernel run? The kernel name is made from the "
                   "display name; you may change it."),
            self.version, self.display_name, self.kernel_name, self.python_error,
            self.replace_button, self.restore_box,
        ]), "cw-step-python", "cw-page")

        # 2. Dependencies
        self.deps_help = w.HTML("")
        self.pyproject_toggle = classes(w.ToggleButton(
            value=False, description="Edit pyproject.toml",
            tooltip="Show and edit the whole pyproject.toml instead of one package per line"),
            "cw-pyproject-toggle")
        self.requirements = classes(w.Textarea(
            continuous_update=False, placeholder="numpy>=1.26\npandas\n# comments are fine",
            layout={"width": "100%", "height": "12em"}), "cw-requirements")
        self.deps_error = classes(w.HTML(""), "cw-deps-error")
        self.deps_warnings = classes(w.HTML(""), "cw-deps-warnings")
        self.index_warning = classes(w.HTML(""), "cw-index-warning")
        self.adopt = AdoptBox(self.state)
        self.deps_list = w.VBox([self.deps_help, self.pyproject_toggle, self.requirements,
                                 self.deps_error, self.deps_warnings, self.index_warning])
        self.page_deps = classes(w.VBox([self.adopt.choice, self.deps_list, self.adopt.box]),
                                  "cw-step-deps", "cw-page")

        # 3. Install
        self.summary = classes(w.HTML(""), "cw-install-summary")
        self.overall = classes(w.FloatProgress(value=0, min=0, max=100, description="Overall",
                                                layout={"width": "30em"}), "cw-overall")
        self.overall_text = classes(w.Label("", layout={"width": "4em"}), "cw-overall-text")
        self.elapsed = classes(w.Label(""), "cw-elapsed")
        self.status = classes(w.Label(""), "cw-status")
        self.rows_box = classes(w.VBox([]), "cw-stage-rows")
        self.row_views: dict[str, StageRowView] = {}
        self.banner = classes(w.HTML(""), "cw-error")
        self.retry = classes(w.Button(description="Retry from this stage", icon="redo",
                                       button_style="warning"), "cw-retry")
        self.show_log = classes(w.Button(description="Show full log", icon="file-text"),
                                 "cw-show-log")
        self.cancel = classes(w.Button(description="Cancel", icon="stop", button_style="danger"),
                               "cw-cancel")
        self.cancel_hint = classes(w.Label(
            "To cancel, press the notebook's interrupt (stop) button."), "cw-cancel-hint")
        self.log = classes(w.Textarea("", disabled=True, rows=model.TAIL_LINES,
                                       layout={"width": "100%"}), "cw-log")
        self.log_path = classes(w.HTML(""), "cw-log-path")
        self.full_log = classes(w.Textarea("", disabled=True, layout=LOG_LAYOUT), "cw-full-log")
        for hidden in (self.banner, self.retry, self.show_log, self.cancel, self.cancel_hint,
                       self.full_log):
            show(hidden, False)
        self.page_install = classes(w.VBox([
            self.summary,
            w.HBox([self.overall, self.overall_text, self.elapsed]),
            self.status, self.rows_box, self.banner,
            w.HBox([self.retry, self.show_log]),
            w.HBox([self.cancel, self.cancel_hint]),
            w.HTML("<b>Latest output</b>"), self.log, self.log_path, self.full_log,
        ]), "cw-step-install", "cw-page")

        # 4. Done
        self.done_summary = classes(w.HTML(""), "cw-done-summary")
        self.switch = classes(w.HTML(""), "cw-switch")
        self.downloads = classes(w.HTML(""), "cw-downloads")
        self.download_buttons = classes(w.HBox([]), "cw-download-buttons")
        self.save_folder = classes(w.Text(value=str(self.cache_dir), description="Save to",
                                           **FIELD), "cw-save-folder")
        self.save_button = classes(w.Button(
            description="Save for a fresh VM", icon="save", layout={"width": "auto"},
            tooltip="Python, wheels and lock files in a few files, so a new VM restores "
                    "this kernel without the package index"), "cw-save")
        self.save_result = classes(w.HTML(""), "cw-save-result")
        self.copy_notebook = classes(w.Button(
            description="Copy this notebook onto the new kernel", icon="copy",
            layout={"width": "24em"},
            tooltip="A copy whose kernel is the new one, with a first cell that rebuilds it "
                    "on a fresh VM"), "cw-copy-notebook")
        self.copy_result = classes(w.HTML(""), "cw-copy-result")
        show(self.copy_notebook, self.host == "colab" or notebook_path() is not None)
        # Colab: the notebook's own kernel restarts on the new one (inplace.py); the copy
        # above stays as the second choice.
        self.use_here = classes(w.Button(
            description="Use it in this notebook", icon="play", button_style="success",
            layout={"width": "auto"},
            tooltip="This notebook's kernel restarts on the new Python; show() then offers "
                    "the way back to Colab's Python"), "cw-use-here")
        self.use_result = classes(w.HTML(""), "cw-use-result")
        show(self.use_here, self.host == "colab")
        self.page_done = classes(w.VBox([
            self.done_summary, self.switch, w.HBox([self.use_here]), self.use_result,
            self.downloads, self.download_buttons, self.copy_notebook, self.copy_result,
            w.HBox([self.save_folder, self.save_button]), self.save_result,
        ]), "cw-step-done", "cw-page")

        self.pages = [self.page_python, self.page_deps, self.page_install, self.page_done]
        self.body = classes(w.VBox([self.page_python]), "cw-body")
        self.back = classes(w.Button(description="Back", icon="arrow-left"), "cw-back")
        self.next = classes(w.Button(description="Next", icon="arrow-right",
                                      button_style="primary"), "cw-next")
        self.install_button = classes(w.Button(description="Install", icon="download",
                                                button_style="success"), "cw-install")
        self.nav = classes(w.HBox([self.back, self.next, self.install_button]), "cw-nav")
        self.notice = classes(w.HTML(""), "cw-notice")
        show(self.notice, False)
        self.clicks = ClickGuard(self._notify)
        self.widget = classes(w.VBox([self.title, self.steps, self.body, self.nav, self.notice],
                                      layout={"border": "1px solid rgba(128,128,128,0.4)",
                                              "padding": "8px", "max_width": "60em"}),
                               "cw-panel")

        self.version.observe(self._on_version, "value")
        self.display_name.observe(self._on_display_name, "value")
        self.kernel_name.observe(self._on_kernel_name, "value")
        self.requirements.observe(self._on_requirements, "value")
        self.pyproject_toggle.observe(self._on_toggle, "value")
        self.adopt.choice.observe(self._on_deps_choice, "value")
        self.adopt.source.observe(lambda _: self._update_nav(), "value")
        self.on_click(self.adopt.check, self._prepare_adoption)
        self.on_click(self.back, lambda: self.go(self.state.step - 1))
        self.on_click(self.next, lambda: self.go(self.state.step + 1))
        self.on_click(self.install_button, self.start)
        self.on_click(self.replace_button, self.confirm_replace)
        self.on_click(self.retry, lambda: self.start(retry=True))
        self.on_click(self.cancel, self.cancel_run)
        self.on_click(self.show_log, self._show_full_log)
        self.on_click(self.restore_button, self.start_restore)
        self.on_click(self.save_button, self.save)
        self.on_click(self.copy_notebook, self.copy_to_new_kernel)
        self.on_click(self.use_here, self.use_in_this_notebook)

    # -- the one guard every click handler runs in --------------------------------------

    def on_click(self, button: w.Button, action: Callable[[], object]) -> None:
        """Wire ``button`` to ``action`` through the panel's one guard (never directly)."""
        self.clicks.on_click(button, action)

    def _notify(self, text: str) -> None:
        self.notice.value = error_html(text, banner=True)
        show(self.notice, True)

    def _restore(self) -> None:
        state = self.state
        values = [v for _, v in self.version.options]
        if state.python not in values:
            state.python = model.default_version(list(self.version.options))
        if not state.display_name:
            state.display_name = default_display_name(parse_python(state.python))
        if not state.name_edited or not state.name:
            state.name = name_from_display_name(state.display_name)
        self._quiet = True
        try:
            self.version.value = state.python
            self.display_name.value = state.display_name
            self.kernel_name.value = state.name
            self.pyproject_toggle.value = state.pyproject_mode
            self.requirements.value = state.pyproject if state.pyproject_mode \
                else state.requirements
        finally:
            self._quiet = False
        self._validate_python()
        self._validate_deps()
        # An unfinished install is not resumed by a new panel: come back to Dependencies.
        self.go(min(state.step, 1))

    # -- steps ------------------------------------------------------------------------

    def go(self, step: int) -> None:
        step = max(0, min(step, len(self.pages) - 1))
        if step == 1 and self.state.step == 0 and not self._validate_python():
            return
        if step == 1:
            self.adopt.forget()  # the Python or the names may have changed meanwhile
        self.state.step = step
        with self.body.hold_sync(), self.steps.hold_sync():
            self.body.children = (self.pages[step],)
            self.steps.value = model.step_indicator_html(step)
        self._update_nav()

    def _update_nav(self) -> None:
        step = self.state.step
        running = self.install.running
        show(self.back, step in (1, 2, 3) and not running)
        self.back.disabled = running
        show(self.next, step == 0)
        self.next.disabled = step == 0 and bool(self.python_error.value)
        show(self.install_button, step == 1)
        adopting = self.adopt.active
        show(self.deps_list, not adopting)
        show(self.adopt.box, adopting)
        ready = bool(self.adopt.source.value.strip()) if adopting else self.parsed.ok
        self.install_button.disabled = not ready or running
        help_text = ("The whole <code>pyproject.toml</code>: edit freely; the wizard changes "
                     "only the keys it owns." if self.state.pyproject_mode else
                     "One requirement per line, like <code>numpy&gt;=1.26</code>; "
                     "<code># comments</code> are fine. Pasting a requirements.txt or a "
                     "pyproject.toml works too.")
        self.deps_help.value = help_text
        self.requirements.layout.height = "22em" if self.state.pyproject_mode else "12em"

    # -- step 1 -------------------------------------------------------------------------

    def _on_version(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        old, new = change["old"], change["new"]
        self.state.python = new
        if old and self.display_name.value == default_display_name(parse_python(old)):
            self.display_name.value = default_display_name(parse_python(new))
        self._validate_python()

    def _on_display_name(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        self.state.display_name = change["new"]
        if not self.state.name_edited:
            self._quiet = True
            try:
                self.kernel_name.value = name_from_display_name(change["new"])
            finally:
                self._quiet = False
            self.state.name = self.kernel_name.value
        self._validate_python()

    def _on_kernel_name(self, change: dict[str, Any]) -> None:
        # A confirmed replacement was for the name shown then, not for whatever comes next.
        self.replace_confirmed = None
        show(self.replace_button, False)
        if self._quiet:
            return
        self.state.name = change["new"]
        self.state.name_edited = bool(change["new"].strip())
        self._validate_python()

    def _validate_python(self) -> bool:
        try:
            parse_python(self.version.value or "")
            check_display_name(self.display_name.value)
            check_name(self.kernel_name.value)
        except SpecError as exc:
            self.python_error.value = error_html(self._field_error(exc))
            self._update_nav()
            return False
        self.python_error.value = ""
        self._update_nav()
        return True

    # -- step 2 ----------------------------------------------------------------------------

    def _on_requirements(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        if self.state.pyproject_mode:
            self.state.pyproject = change["new"]
        else:
            self.state.requirements = change["new"]
        self._validate_deps()

    def _on_toggle(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        to_pyproject = bool(change["new"])
        try:
            if to_pyproject and requirements_text.looks_like_pyproject(self.requirements.value):
                text = self.requirements.value  # a pasted pyproject.toml: edit it as it is
            elif to_pyproject:
                text = requirements_text.to_pyproject(
                    self.requirements.value, self.state.pyproject, self.kernel_name.value,
                    parse_python(self.version.value).minor)
            else:
                text = requirements_text.from_pyproject(self.requirements.value)
        except SpecError as exc:
            # Switching views would lose what cannot be converted: stay, say why.
            self._quiet = True
            self.pyproject_toggle.value = not to_pyproject
            self._quiet = False
            self.deps_error.value = error_html(
                f"Fix this first, then switch: {self._error_line(exc)}")
            return
        self.state.pyproject_mode = to_pyproject
        if to_pyproject:
            self.state.pyproject = text
        else:
            self.state.requirements = text
        self._quiet = True
        try:
            self.requirements.value = text
        finally:
            self._quiet = False
        self._validate_deps()

    @staticmethod
    def _field_error(exc: SpecError) -> str:
        label = FIELD_LABELS.get(exc.field)
        return f"{label}: {exc.message}" if label else exc.message

    @staticmethod
    def _error_line(exc: SpecError) -> str:
        return (f"Line {exc.line}: " if exc.line is not None else "") + exc.message

    def _validate_deps(self) -> bool:
        self.parsed = requirements_text.parse(self.requirements.value)
        if self.parsed.ok:
            self.deps_error.value = ""
        else:
            self.deps_error.value = error_html(self.parsed.message())
        notes = list(self.parsed.warnings)
        if self.parsed.ok and not self.state.pyproject_mode and self.parsed.kind == "pyproject":
            notes.append("Understood as a pyproject.toml: its dependencies will be installed.")
        self.deps_warnings.value = escape("\n".join(notes)) if notes else ""
        self._update_nav()
        if self.parsed.ok:
            self._start_name_check()
        return self.parsed.ok

    def _start_name_check(self) -> None:
        """Ask the package index about the names, off the UI's path (a thread for the HTTP,
        the widget update back on the kernel's loop); only where a loop is running."""
        loop = _loop()
        if not self.check_index or loop is None:
            return
        if self.name_check is not None:
            self.name_check.cancel()
        wanted = self.parsed.requirements
        names = sorted({Requirement(r).name for r in wanted})
        self.index_warning.value = ""

        async def check() -> None:
            missing = await loop.run_in_executor(None, index.missing_names, names)
            if self.parsed.requirements == wanted and missing:
                self.index_warning.value = (
                    "<span style='color:#b26a00'>Not found on the package index: "
                    f"{html.escape(', '.join(missing))}. Check the spelling.</span>")

        self.name_check = asyncio.ensure_future(check())
        self.name_check.add_done_callback(_quiet_result)

    # -- step 3 ------------------------------------------------------------------------------

    def start(self, retry: bool = False) -> None:
        """Validate, then run the plan (or re-run it from the failed stage)."""
        if self.driver.busy:
            return
        start_at = None
        if retry and self.job is not None and self.install.retry_from is not None:
            start_at = self.install.retry_from
        elif self.adopt.active:
            reviewed = self.adopt.reviewed
            adopted = self._prepare_adoption()
            if adopted is None or not reviewed:
                return  # first show what will change; the next Install click writes
            self.job = Job.adopt(adopted, self._on_event)
        else:
            if not self._validate_python() or not self._validate_deps():
                return
            try:
                spec = api.make_spec(self.version.value, list(self.parsed.requirements),
                                     name=self.kernel_name.value,
                                     display_name=self.display_name.value,
                                     replace=self.replace_confirmed == self.kernel_name.value)
            except SpecError as exc:
                text = error_html(self._error_line(exc))
                if isinstance(exc, WouldReplace):
                    self.replace_button.description = f"Replace '{exc.existing.name}'"
                    self.replace_button.tooltip = (
                        f"Register this kernel as '{exc.existing.name}' instead of the one for "
                        f"{exc.existing.project_dir} (that folder is kept)")
                    show(self.replace_button, True)
                if exc.field in FIELD_LABELS:
                    self.go(0)  # the field at fault is on the first step: show it there
                    self.python_error.value = error_html(self._field_error(exc))
                    self.next.disabled = True
                else:
                    self.deps_error.value = text
                return
            self._write_user_pyproject(spec)
            self.job = Job.create(spec, self._on_event, self.plan_factory)
        self._launch(start_at)

    def _on_deps_choice(self, change: dict[str, Any]) -> None:
        self.state.adopt_mode = change["new"] == "project"
        self._update_nav()

    def confirm_replace(self) -> None:
        """The user said yes to replacing the kernel registered under this name."""
        self.replace_confirmed = self.kernel_name.value
        show(self.replace_button, False)
        self.python_error.value = ""
        self.start()

    def _prepare_adoption(self) -> Any:
        """Read (clone) the project and show what will change; the step-1 choices apply
        where the user made them (else the project's name and newest fitting Python)."""
        python = self.version.value
        shown = self.display_name.value
        default_shown = default_display_name(parse_python(python)) if python else ""
        return self.adopt.prepare(
            python, self.kernel_name.value if self.state.name_edited else None,
            None if shown == default_shown else shown)

    def start_restore(self) -> None:
        """Rebuild the chosen saved kernel from its cache, shown like any install."""
        if self.driver.busy or not self.restore_choice.value:
            return
        try:
            self.job = Job.restore(Path(self.restore_choice.value), self._on_event)
        except WizardError as exc:
            self.python_error.value = error_html(str(exc))
            return
        self._launch(None)

    def _launch(self, start_at: Optional[str]) -> None:
        job = self.job
        assert job is not None
        self.install.begin()
        self.full_log.value = ""
        self._reset_timers()
        self.summary.value = (f"Python <b>{html.escape(str(job.spec.python))}</b>, kernel "
                              f"<b>{html.escape(job.spec.display_name)}</b> "
                              f"(<code>{html.escape(job.spec.name)}</code>), project "
                              f"<code>{html.escape(str(job.spec.project_dir))}</code>")
        self.go(2)
        self._render()
        self.driver.start(lambda: job.run(start_at), job.cancel, job.children)
        if self.mode == "foreground" or not self.driver.busy:
            self._after_foreground()

    def _write_user_pyproject(self, spec: EnvSpec) -> None:
        """A pyproject.toml the user edited in full goes into the project; the plan then
        changes only the keys it owns (tomlkit keeps the rest and the comments). Left alone
        when it would come out the same, so an unchanged re-run still skips every stage."""
        if not self.state.pyproject_mode or not self.state.pyproject.strip():
            return
        target = spec.project_dir / "pyproject.toml"
        if target.exists():
            current = target.read_text(encoding="utf-8")
            if pyproject.update(current, spec) == pyproject.update(self.state.pyproject, spec):
                return
        spec.project_dir.mkdir(parents=True, exist_ok=True)
        ownership.claim(spec.project_dir)  # the wizard's from now on: a retry may edit it
        target.write_text(self.state.pyproject, encoding="utf-8")

    def _after_foreground(self) -> None:
        self.install.interrupted()
        self._render()

    def cancel_run(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _surface_error(self, exc: BaseException) -> None:
        """Whatever went wrong outside the runner's own reporting ends up in the banner."""
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        self.install.broke()
        self._render()
        self.banner.value = error_html(detail, title="The install could not run.", banner=True)
        show(self.banner, True)

    def _on_event(self, event: Event) -> None:
        self.install.apply(event)
        if isinstance(event, (RunFinished, StageFailed)):
            self._render()
            return
        if self._pending is not None:  # a redraw is already due: it will show this event
            return
        wait = self.throttle.wait()
        if wait <= 0:
            self._render()
        else:
            loop = _loop()
            if loop is None:
                self._render()
            else:
                self._pending = loop.call_later(wait, self._render)

    def _reset_timers(self) -> None:
        for handle in (self._pending, self._tick):
            if handle is not None:
                handle.cancel()
        self._pending = self._tick = None

    def _on_tick(self) -> None:
        self._tick = None
        if self.install.running:
            self._render()

    def _render(self) -> None:
        """Copy the model onto the widgets: one batched message per changed widget."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        self.throttle.mark()
        self.renders += 1
        m = self.install
        if set(self.row_views) != set(m.rows):
            self.row_views = {k: StageRowView(r) for k, r in m.rows.items()}
            self.rows_box.children = tuple(v.box for v in self.row_views.values())
        touched: list[w.Widget] = [self.overall, self.overall_text, self.elapsed, self.status,
                                   self.log, self.log_path, self.banner, self.retry,
                                   self.show_log, self.cancel, self.cancel_hint]
        for view in self.row_views.values():
            touched += [*view.widgets(), view.box]
        with ExitStack() as stack:
            for widget in touched:
                stack.enter_context(widget.hold_sync())
            for key, view in self.row_views.items():
                view.update(m.rows[key])
            self.overall.value = round(m.overall.value * 100, 1)
            self.overall.bar_style = {"done": "success", "failed": "danger",
                                      "cancelled": "warning"}.get(m.outcome, "")
            self.overall_text.value = f"{m.overall.value * 100:.0f}%"
            self.elapsed.value = m.elapsed_text()
            self.status.value = m.status_text()
            self.log.value = m.tail_text()
            if m.log_path is not None:
                self.log_path.value = (f"Full log: <code>{html.escape(str(m.log_path))}</code>")
            title, advice = m.banner()
            if title:
                self.banner.value = error_html(f"What to try: {advice}", title=title,
                                               banner=True)
            show(self.banner, bool(title) or (m.outcome == "failed"))
            show(self.retry, m.outcome == "failed" and m.error is not None)
            show(self.show_log, m.outcome in ("failed", "cancelled") and m.log_path is not None)
            running = m.running
            show(self.cancel, running and self.driver.can_cancel)
            show(self.cancel_hint, running and not self.driver.can_cancel)
        self._update_nav()
        if m.running and self._tick is None:
            loop = _loop()
            if loop is not None:
                self._tick = loop.call_later(model.TICK_INTERVAL, self._on_tick)
        if not m.running:
            self._reset_timers()
        if m.outcome == "done" and self.state.step == 2:
            self._fill_done()
            self.go(3)

    def _show_full_log(self) -> None:
        path = self.install.log_path
        if path is None:
            return
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError as exc:
            self.full_log.value = f"Cannot read {path}: {exc}"
            return
        if len(lines) > FULL_LOG_LINES:
            lines = [f"... {len(lines) - FULL_LOG_LINES} earlier lines are in {path}",
                     *lines[-FULL_LOG_LINES:]]
        self.full_log.value = "\n".join(lines)
        show(self.full_log, True)

    # -- step 4 ---------------------------------------------------------------------------------

    def _fill_done(self) -> None:
        assert self.job is not None
        spec = self.job.spec
        self.done_summary.value = (
            "<b>Your kernel is ready.</b><ul>"
            f"<li>Python {html.escape(str(spec.python))}</li>"
            f"<li>Kernel <b>{html.escape(spec.display_name)}</b> "
            f"(<code>{html.escape(spec.name)}</code>)</li>"
            f"<li>Project folder <code>{html.escape(str(spec.project_dir))}</code></li></ul>")
        notice = self.job.workspace.fallback_notice() if self.job.workspace else None
        if notice:
            self.done_summary.value += f"<p class='cw-done-notice'>{html.escape(notice)}</p>"
        self.switch.value = html.escape(model.switch_sentence(self.host, spec.display_name))
        files = [spec.project_dir / "pyproject.toml", spec.project_dir / "poetry.lock"]
        links = []
        buttons = []
        for path in files:
            if not path.is_file():
                continue
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            links.append(f"<a download='{path.name}' href='data:text/plain;base64,{data}' "
                         f"class='cw-download-{path.stem}' style='text-decoration:underline;"
                         f"color:#1976d2'>Download {path.name}</a>")
            if self.host == "colab":
                buttons.append(self._colab_download_button(path))
        self.downloads.value = " &nbsp; ".join(links)
        self.download_buttons.children = tuple(buttons)

    def save(self) -> None:
        """Save what a fresh VM needs to restore this kernel into the chosen folder."""
        if self.job is None:
            return
        # Sent at once, also from inside a click: the wheels take a few seconds to fetch.
        self.save_result.value = "Saving the kernel's files and colab_wizard's own wheels\u2026"
        try:
            saved = freshvm.save(self.save_folder.value.strip(), self.job.spec.name)
        except (WizardError, OSError) as exc:
            self.save_result.value = error_html(str(exc))
            return
        self.save_result.value = (
            f"Saved to <code>{html.escape(str(saved.folder))}</code>: {saved.wheels} wheels, "
            f"{saved.size / 1e6:.1f} MB. On a fresh VM, <code>show()</code> offers to restore "
            "it, and a copy of this notebook made now restores it in its first cell.")

    def copy_to_new_kernel(self) -> None:
        """Write (and on Colab offer) a copy of this notebook that opens on the new kernel."""
        if self.job is None:
            return
        try:
            _, message = notebook.switch(self.job.spec.name, notebook_path(),
                                         cache_dir=self.cache_dir)
        except colab.PageError as exc:
            self.copy_result.value = error_html(str(exc), after=(
                "<br>Or run this in a new cell: <code>colab_wizard.switch_notebook("
                f"{escape(repr(self.job.spec.name))})</code>"))
            return
        except (OSError, ValueError, WizardError) as exc:
            self.copy_result.value = error_html(str(exc))
            return
        self.copy_result.value = escape(message)

    def use_in_this_notebook(self) -> None:
        """Switch Colab's default kernel to the new one and restart this kernel onto it."""
        if self.job is None:
            return
        try:
            switch = inplace.use(self.job.spec.name)
        except (WizardError, OSError) as exc:
            self.use_result.value = error_html(str(exc))
            return
        self.use_here.disabled = True
        self.use_result.value = (
            f"Restarting this notebook's kernel on <b>{html.escape(switch.display_name)}</b> "
            f"(Python {html.escape(switch.python)})\u2026 When it is back, run your cells "
            "again; <code>show()</code> there offers the way back to Colab's Python.")
        if inplace.in_kernel():
            inplace.restart_kernel()

    def _colab_download_button(self, path: Path) -> w.Button:
        button = classes(w.Button(description=f"Download {path.name}", icon="download"),
                          f"cw-download-{path.stem}")

        def download() -> None:
            from google.colab import files  # type: ignore[import-not-found]

            files.download(str(path))  # streamed through the page: it may refuse too

        self.on_click(button, download)
        return button


def _quiet_result(task: asyncio.Future[None]) -> None:
    """A failed name check is only a missing warning, never an error in the kernel's log."""
    if not task.cancelled():
        task.exception()


def _loop() -> Any:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
