"""Step 4, Done: what was made, how to switch to it, downloads, "Save for a fresh VM", and on
Colab "Use it in this notebook"."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Callable, Optional

import ipywidgets as w

from .. import colab, freshvm, inplace, notebook
from ..host import Host, notebook_path
from .guard import ClickGuard
from .job import Job
from .markup import error_html, escape
from .model import switch_sentence
from .widgets import FIELD, classes, show

DOWNLOAD_LINK_STYLE = "text-decoration:underline;color:#1976d2"


class DoneStep:
    """The fourth step's widgets and what its buttons do for the panel's current job
    (``job()``); ``page`` is the step."""

    def __init__(self, host: Host, save_dir: Path, clicks: ClickGuard,
                 job: Callable[[], Optional[Job]]) -> None:
        self.host = host
        self.clicks = clicks
        self.job = job
        self.done_summary = classes(w.HTML(""), "cw-done-summary")
        self.switch = classes(w.HTML(""), "cw-switch")
        self.downloads = classes(w.HTML(""), "cw-downloads")
        self.download_buttons = classes(w.HBox([]), "cw-download-buttons")
        self.save_folder = classes(w.Text(value=str(save_dir), description="Save to",
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
        show(self.copy_notebook, host == "colab" or notebook_path() is not None)
        # Colab: the notebook's own kernel restarts on the new one (inplace.py); the copy
        # above stays as the second choice.
        self.use_here = classes(w.Button(
            description="Use it in this notebook", icon="play", button_style="success",
            layout={"width": "auto"},
            tooltip="This notebook's kernel restarts on the new Python; show() then offers "
                    "the way back to Colab's Python"), "cw-use-here")
        self.use_result = classes(w.HTML(""), "cw-use-result")
        show(self.use_here, host == "colab")
        self.page = classes(w.VBox([
            self.done_summary, self.switch, w.HBox([self.use_here]), self.use_result,
            self.downloads, self.download_buttons, self.copy_notebook, self.copy_result,
            w.HBox([self.save_folder, self.save_button]), self.save_result,
        ]), "cw-step-done", "cw-page")
        clicks.on_click(self.save_button, self.save, self.save_result)
        clicks.on_click(self.copy_notebook, self.copy_to_new_kernel, self.copy_result)
        clicks.on_click(self.use_here, self.use_in_this_notebook, self.use_result)

    def fill(self, job: Job) -> None:
        """What ``job`` made, how to switch to it on this host, its project's files."""
        spec = job.spec
        self.done_summary.value = (
            "<b>Your kernel is ready.</b><ul>"
            f"<li>Python {html.escape(str(spec.python))}</li>"
            f"<li>Kernel <b>{html.escape(spec.display_name)}</b> "
            f"(<code>{html.escape(spec.name)}</code>)</li>"
            f"<li>Project folder <code>{html.escape(str(spec.project_dir))}</code></li></ul>")
        notice = job.workspace.fallback_notice() if job.workspace else None
        if notice:
            self.done_summary.value += f"<p class='cw-done-notice'>{html.escape(notice)}</p>"
        self.switch.value = html.escape(switch_sentence(self.host, spec.display_name))
        files = [p for p in (spec.project_dir / "pyproject.toml", spec.project_dir / "poetry.lock")
                 if p.is_file()]
        self.downloads.value = " &nbsp; ".join(_download_link(p) for p in files)
        self.download_buttons.children = tuple(
            self._colab_download_button(p) for p in files) if self.host == "colab" else ()

    def save(self) -> None:
        """Save what a fresh VM needs to restore this kernel into the chosen folder."""
        job = self.job()
        if job is None:
            return
        # Sent at once, also from inside a click: the wheels take a few seconds to fetch.
        self.save_result.value = "Saving the kernel's files and colab_wizard's own wheels\u2026"
        saved = freshvm.save(self.save_folder.value.strip(), job.spec.name)
        self.save_result.value = (
            f"Saved to <code>{html.escape(str(saved.folder))}</code>: {saved.wheels} wheels, "
            f"{saved.size / 1e6:.1f} MB. On a fresh VM, <code>show()</code> offers to restore "
            "it, and a copy of this notebook made now restores it in its first cell.")

    def copy_to_new_kernel(self) -> None:
        """Write (and on Colab offer) a copy of this notebook that opens on the new kernel."""
        job = self.job()
        if job is None:
            return
        # Where "Save for a fresh VM" writes now (the folder may have been typed over): a
        # save there is what the copy's first cell restores from.
        folder = self.save_folder.value.strip()
        try:
            _, message = notebook.switch(job.spec.name, notebook_path(),
                                         save_dir=Path(folder) if folder else None)
        except colab.PageError as exc:  # the page would not hand it over: a cell does it
            self.copy_result.value = error_html(str(exc), after=(
                "<br>Or run this in a new cell: <code>colab_wizard.switch_notebook("
                f"{escape(repr(job.spec.name))})</code>"))
            return
        self.copy_result.value = escape(message)

    def use_in_this_notebook(self) -> None:
        """Switch Colab's default kernel to the new one and restart this kernel onto it."""
        job = self.job()
        if job is None:
            return
        switch = inplace.use(job.spec.name)
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

        self.clicks.on_click(button, download)
        return button


def _download_link(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f"<a download='{path.name}' href='data:text/plain;base64,{data}' "
            f"class='cw-download-{path.stem}' style='{DOWNLOAD_LINK_STYLE}'>"
            f"Download {path.name}</a>")
