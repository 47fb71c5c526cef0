"""Step 3, Install: a row per stage, the overall bar, the log's tail, Cancel, Retry, the banner.

:meth:`InstallStep.render` copies an :class:`~.model.InstallModel` onto the widgets,
one small method per part, all inside one batch of messages to the browser.
"""

from __future__ import annotations

import html
from contextlib import ExitStack
from pathlib import Path
from typing import Optional

import ipywidgets as w

from ..spec import EnvSpec
from . import model
from .markup import error_html
from .widgets import classes, show

FULL_LOG_LINES = 2000
LOG_LAYOUT = {"width": "100%", "height": "14em"}
ROW_BAR_STYLES = {"done": "success", "skipped": "success", "failed": "danger",
                  "cancelled": "warning"}
OVERALL_BAR_STYLES = {"done": "success", "failed": "danger", "cancelled": "warning"}


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
        return [self.icon, self.label, self.bar, self.detail, self.box]

    def update(self, row: model.StageRow) -> None:
        self.icon.value = row.icon
        self.label.value = row.label
        fraction = row.fraction
        if fraction is None:  # indeterminate: a full, calm "info" bar with "working..."
            self.bar.value, self.bar.bar_style = 100.0, "info"
        else:
            self.bar.value = round(fraction * 100, 1)
            self.bar.bar_style = ROW_BAR_STYLES.get(row.status, "")
        self.detail.value = row.text
        if row.status != self.status:  # the row's class says its state to a browser test
            self.box.remove_class(f"cw-status-{self.status}")
            self.box.add_class(f"cw-status-{row.status}")
            self.status = row.status


class InstallStep:
    """The third step's widgets; ``page`` is the step."""

    def __init__(self) -> None:
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
        self.page = classes(w.VBox([
            self.summary,
            w.HBox([self.overall, self.overall_text, self.elapsed]),
            self.status, self.rows_box, self.banner,
            w.HBox([self.retry, self.show_log]),
            w.HBox([self.cancel, self.cancel_hint]),
            w.HTML("<b>Latest output</b>"), self.log, self.log_path, self.full_log,
        ]), "cw-step-install", "cw-page")

    def start(self, spec: EnvSpec) -> None:
        """A run of ``spec`` begins: what it builds, and no full log from an earlier run."""
        self.full_log.value = ""
        self.summary.value = (f"Python <b>{html.escape(str(spec.python))}</b>, kernel "
                              f"<b>{html.escape(spec.display_name)}</b> "
                              f"(<code>{html.escape(spec.name)}</code>), project "
                              f"<code>{html.escape(str(spec.project_dir))}</code>")

    # -- render: the model onto the widgets -------------------------------------------------

    def render(self, m: model.InstallModel, can_cancel: bool) -> None:
        """Copy the model onto the widgets: one batched message per changed widget."""
        self._match_rows(m)
        with ExitStack() as stack:
            for widget in self._touched():
                stack.enter_context(widget.hold_sync())
            for key, view in self.row_views.items():
                view.update(m.rows[key])
            self._render_overall(m)
            self._render_log(m)
            self._render_banner(m)
            self._render_buttons(m, can_cancel)

    def _match_rows(self, m: model.InstallModel) -> None:
        """One row view per stage of the run (a new run may have other stages)."""
        if set(self.row_views) != set(m.rows):
            self.row_views = {k: StageRowView(r) for k, r in m.rows.items()}
            self.rows_box.children = tuple(v.box for v in self.row_views.values())

    def _touched(self) -> list[w.Widget]:
        touched: list[w.Widget] = [self.overall, self.overall_text, self.elapsed, self.status,
                                   self.log, self.log_path, self.banner, self.retry,
                                   self.show_log, self.cancel, self.cancel_hint]
        for view in self.row_views.values():
            touched += view.widgets()
        return touched

    def _render_overall(self, m: model.InstallModel) -> None:
        self.overall.value = round(m.overall.value * 100, 1)
        self.overall.bar_style = OVERALL_BAR_STYLES.get(m.outcome, "")
        self.overall_text.value = f"{m.overall.value * 100:.0f}%"
        self.elapsed.value = m.elapsed_text()
        self.status.value = m.status_text()

    def _render_log(self, m: model.InstallModel) -> None:
        self.log.value = m.tail_text()
        if m.log_path is not None:
            self.log_path.value = f"Full log: <code>{html.escape(str(m.log_path))}</code>"

    def _render_banner(self, m: model.InstallModel) -> None:
        title, advice = m.banner()
        if title:
            self.banner.value = error_html(f"What to try: {advice}", title=title, banner=True)
        # A failure with no stage error keeps the banner :meth:`show_broken` wrote.
        show(self.banner, bool(title) or m.outcome == "failed")

    def _render_buttons(self, m: model.InstallModel, can_cancel: bool) -> None:
        show(self.retry, m.outcome == "failed" and m.error is not None)
        show(self.show_log, m.outcome in ("failed", "cancelled") and m.log_path is not None)
        show(self.cancel, m.running and can_cancel)
        show(self.cancel_hint, m.running and not can_cancel)

    # -- beyond the model -------------------------------------------------------------------

    def show_broken(self, detail: str) -> None:
        """What stopped the run outside the runner's own reporting (an exception's words)."""
        self.banner.value = error_html(detail, title="The install could not run.", banner=True)
        show(self.banner, True)

    def show_full_log(self, path: Optional[Path]) -> None:
        """The log file's last lines (all of it up to :data:`FULL_LOG_LINES`)."""
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
