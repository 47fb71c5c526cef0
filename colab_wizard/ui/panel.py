"""The wizard panel: four steps of core ipywidgets (7.7.1 and 8.x) over the view model.

The panel builds the frame (title, step indicator, Back/Next/Install), composes
one builder per step (:mod:`.python_step`, :mod:`.deps_step`, :mod:`.install_step`,
:mod:`.done_step`), hands every change to the form's rules (:class:`.model.Form`)
and every runner event to :class:`.model.InstallModel`, and copies what they say
back onto the widgets. Runs come from :class:`.job.Job` driven by :class:`.driver.Driver`.
Compatibility rules (see DESIGN.md): no Stack (children are swapped), no
TagsInput, no HTML in descriptions, Button.style keys button_color/font_weight.
"""

from __future__ import annotations

import asyncio
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import ipywidgets as w
from packaging.requirements import Requirement

from .. import freshvm, index
from ..events import Event, RunFinished, StageFailed
from ..host import Host, detect_host
from ..sync import running_loop
from . import model
from .deps_step import DepsStep
from .done_step import DoneStep
from .driver import Driver, Mode, default_mode
from .guard import ClickGuard
from .install_step import InstallStep
from .job import Job, PlanFactory
from .markup import error_html
from .python_step import PythonStep
from .widgets import classes, show

FRAME = {"border": "1px solid rgba(128,128,128,0.4)", "padding": "8px", "max_width": "60em"}


class Panel:
    """The whole wizard; ``Panel(...).widget`` is the root to display."""

    def __init__(
        self,
        state: Optional[model.FormState] = None,
        mode: Optional[Mode] = None,
        plan_factory: Optional[PlanFactory] = None,
        versions: Optional[Callable[[], model.VersionOptions]] = None,
        host: Optional[Host] = None,
        check_index: bool = True,
        save_dir: Optional[Path] = None,
    ) -> None:
        self.state = state if state is not None else model.FormState()
        self.host = host or detect_host()
        self.mode = mode or default_mode(self.host)
        self.plan_factory = plan_factory
        self.check_index = check_index
        self.save_dir = Path(save_dir) if save_dir is not None else freshvm.default_folder()
        self.name_check: Optional[asyncio.Future[None]] = None
        self.install = model.InstallModel()
        self.redraws = model.Redraws(self._render, lambda: self.install.running)
        self.driver = Driver(self.mode, self._surface_error)
        self.job: Optional[Job] = None
        self.renders = 0
        self._quiet = False  # True while the panel itself sets a widget value
        options = (versions or model.version_options)()
        self.form = model.Form(self.state, options)
        self.clicks = ClickGuard(self._notify)
        self.python_step = PythonStep(options, self.save_dir)
        self.deps_step = DepsStep(self.state)
        self.adopt = self.deps_step.adopt
        self.install_step = InstallStep()
        self.done_step = DoneStep(self.host, self.save_dir, self.clicks, lambda: self.job)
        self._build_frame()
        self._wire()
        self._restore()

    # -- building ---------------------------------------------------------------------

    def _build_frame(self) -> None:
        self.title = w.HTML("<b style='font-size:1.15em'>colab_wizard</b> \u2014 a new Python "
                            "kernel with Poetry")
        self.steps = classes(w.HTML(model.step_indicator_html(0)), "cw-steps")
        self.pages = [self.python_step.page, self.deps_step.page, self.install_step.page,
                      self.done_step.page]
        self.body = classes(w.VBox([self.python_step.page]), "cw-body")
        self.back = classes(w.Button(description="Back", icon="arrow-left"), "cw-back")
        self.next = classes(w.Button(description="Next", icon="arrow-right",
                                     button_style="primary"), "cw-next")
        self.install_button = classes(w.Button(description="Install", icon="download",
                                               button_style="success"), "cw-install")
        self.nav = classes(w.HBox([self.back, self.next, self.install_button]), "cw-nav")
        self.notice = classes(w.HTML(""), "cw-notice")
        show(self.notice, False)
        self.widget = classes(w.VBox([self.title, self.steps, self.body, self.nav, self.notice],
                                     layout=FRAME), "cw-panel")

    def _wire(self) -> None:
        python, deps, install = self.python_step, self.deps_step, self.install_step
        python.version.observe(self._on_version, "value")
        python.display_name.observe(self._on_display_name, "value")
        python.kernel_name.observe(self._on_kernel_name, "value")
        deps.requirements.observe(self._on_requirements, "value")
        deps.pyproject_toggle.observe(self._on_toggle, "value")
        self.adopt.choice.observe(self._on_deps_choice, "value")
        self.adopt.source.observe(lambda _: self._update_nav(), "value")
        self.on_click(self.adopt.check, self._prepare_adoption)
        self.on_click(self.back, lambda: self.go(self.state.step - 1))
        self.on_click(self.next, lambda: self.go(self.state.step + 1))
        self.on_click(self.install_button, self.start)
        self.on_click(python.replace_button, self.confirm_replace)
        self.clicks.on_click(python.restore_button, self.start_restore, python.python_error)
        self.on_click(install.retry, lambda: self.start(retry=True))
        self.on_click(install.cancel, self.cancel_run)
        self.on_click(install.show_log, self._show_full_log)

    # -- the one guard every click handler runs in --------------------------------------

    def on_click(self, button: w.Button, action: Callable[[], object]) -> None:
        """Wire ``button`` to ``action`` through the panel's one guard (never directly)."""
        self.clicks.on_click(button, action)

    def _notify(self, text: str) -> None:
        self.notice.value = error_html(text, banner=True)
        show(self.notice, True)

    @contextmanager
    def _quietly(self) -> Iterator[None]:
        """The panel sets widget values: its own observers let them pass."""
        self._quiet = True
        try:
            yield
        finally:
            self._quiet = False

    def _restore(self) -> None:
        with self._quietly():
            self.python_step.show_fields(self.state)
            self.deps_step.show_text(self.state, self.form.deps_text)
        self._validate_python()
        self._validate_deps()
        # An unfinished install is not resumed by a new panel: come back to Dependencies.
        self.go(min(self.state.step, 1))

    # -- steps ------------------------------------------------------------------------

    def go(self, step: int) -> None:
        if not self.form.move(step):
            self._show_python_message()  # why the first step cannot be left yet
            return
        if self.state.step == 1:
            self.adopt.forget()  # the Python or the names may have changed meanwhile
        self._show_step()

    def _show_step(self) -> None:
        step = self.state.step
        with self.body.hold_sync(), self.steps.hold_sync():
            self.body.children = (self.pages[step],)
            self.steps.value = model.step_indicator_html(step)
        self._update_nav()

    def _update_nav(self) -> None:
        nav = self.form.nav(self.install.running, self.adopt.active, self.adopt.source.value)
        show(self.back, nav.back)
        self.back.disabled = nav.back_disabled
        show(self.next, nav.next)
        self.next.disabled = nav.next_disabled
        show(self.install_button, nav.install)
        self.install_button.disabled = nav.install_disabled
        self.deps_step.show_nav(nav)

    # -- step 1 -------------------------------------------------------------------------

    def _on_version(self, change: dict[str, Any]) -> None:
        if not self._quiet:
            self.form.choose_python(change["new"])
            self._python_changed()

    def _on_display_name(self, change: dict[str, Any]) -> None:
        if not self._quiet:
            self.form.type_display_name(change["new"])
            self._python_changed()

    def _on_kernel_name(self, change: dict[str, Any]) -> None:
        if not self._quiet:
            self.form.type_kernel_name(change["new"])
            self._python_changed()

    def _python_changed(self) -> None:
        """What the form's rules made of a change on the first step, back on its widgets."""
        with self._quietly():
            self.python_step.show_fields(self.state)
        self.python_step.offer_replace(self.form.replace_offer)
        self._validate_python()

    def _validate_python(self) -> bool:
        ok = self.form.check_python()
        self._show_python_message()
        return ok

    def _show_python_message(self) -> None:
        self.python_step.show_message(self.form.python_message)
        self._update_nav()

    def confirm_replace(self) -> None:
        """The user said yes to replacing the kernel registered under this name."""
        self.form.confirm_replace()
        self.python_step.offer_replace(None)
        self.python_step.show_message("")
        self.start()

    # -- step 2 ----------------------------------------------------------------------------

    def _on_requirements(self, change: dict[str, Any]) -> None:
        if not self._quiet:
            self.form.type_deps(change["new"])
            self._validate_deps()

    def _on_toggle(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        switched = self.form.switch_view(bool(change["new"]))
        with self._quietly():
            # Not switched: what is there cannot be converted, and would be lost. Stay.
            self.deps_step.show_text(self.state, self.form.deps_text)
        if switched:
            self._validate_deps()
        else:
            self.deps_step.show_messages(self.form.deps_message, self.form.deps_notes())

    def _on_deps_choice(self, change: dict[str, Any]) -> None:
        self.state.adopt_mode = change["new"] == "project"
        self._update_nav()

    def _validate_deps(self) -> bool:
        ok = self.form.check_deps()
        self.deps_step.show_messages(self.form.deps_message, self.form.deps_notes())
        self._update_nav()
        if ok:
            self._start_name_check()
        return ok

    def _start_name_check(self) -> None:
        """Ask the package index about the names, off the UI's path (a thread for the HTTP,
        the widget update back on the kernel's loop); only where a loop is running."""
        loop = running_loop()
        if not self.check_index or loop is None:
            return
        if self.name_check is not None:
            self.name_check.cancel()
        wanted = self.form.parsed.requirements
        names = sorted({Requirement(r).name for r in wanted})
        self.deps_step.show_missing([])

        async def check() -> None:
            missing = await loop.run_in_executor(None, index.missing_names, names)
            if self.form.parsed.requirements == wanted and missing:
                self.deps_step.show_missing(missing)

        self.name_check = asyncio.ensure_future(check())
        self.name_check.add_done_callback(_quiet_result)

    def _prepare_adoption(self) -> Any:
        """Read (clone) the project and show what will change."""
        return self.adopt.prepare(*self.form.adopt_choices())

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
            spec = self.form.spec()
            if spec is None:
                self._show_refusal()
                return
            self.job = Job.create(spec, self._on_event, self.plan_factory,
                                  self.form.edited_pyproject)
        self._launch(start_at)

    def _show_refusal(self) -> None:
        """Why Install did not start, on the step of the field at fault."""
        self.python_step.show_message(self.form.python_message)
        self.python_step.offer_replace(self.form.replace_offer)
        self.deps_step.show_messages(self.form.deps_message, self.form.deps_notes())
        self._show_step()

    def start_restore(self) -> None:
        """Rebuild the chosen saved kernel from its saved folder, shown like any install."""
        choice = self.python_step.restore_choice.value
        if self.driver.busy or not choice:
            return
        self.job = Job.restore(Path(choice), self._on_event)
        self._launch(None)

    def _launch(self, start_at: Optional[str]) -> None:
        job = self.job
        assert job is not None
        self.install.begin()
        self.redraws.stop()
        self.install_step.start(job.spec)
        self.go(2)
        self._render()
        self.driver.start(lambda: job.run(start_at), job.cancel, job.children)
        if self.mode == "foreground" or not self.driver.busy:
            self.install.interrupted()  # a foreground run the runner could not finish
            self._render()

    def cancel_run(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _surface_error(self, exc: BaseException) -> None:
        """Whatever went wrong outside the runner's own reporting ends up in the banner."""
        self.install.broke()
        self._render()
        self.install_step.show_broken(
            "".join(traceback.format_exception_only(type(exc), exc)).strip())

    def _on_event(self, event: Event) -> None:
        self.install.apply(event)
        # How a run or a stage failed is shown at once; lines and progress as throttled.
        self.redraws.request(now=isinstance(event, (RunFinished, StageFailed)))

    def _render(self) -> None:
        """Copy the model onto the Install step, then the nav; on to Done when it is done."""
        self.redraws.drawing()
        self.renders += 1
        self.install_step.render(self.install, self.driver.can_cancel)
        self._update_nav()
        self.redraws.keep_clock()
        if self.install.outcome == "done" and self.state.step == 2 and self.job is not None:
            self.done_step.fill(self.job)
            self.go(3)

    def _show_full_log(self) -> None:
        self.install_step.show_full_log(self.install.log_path)


def _quiet_result(task: asyncio.Future[None]) -> None:
    """A failed name check is only a missing warning, never an error in the kernel's log."""
    if not task.cancelled():
        task.exception()
