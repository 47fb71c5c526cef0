"""The errors a caller can meet: one base, so a caller catches ``WizardError`` once.

Every one of them is a sentence saying what went wrong and what to do about it; the CLI
prints it (no traceback) and the panel shows it. Where no caller acts on anything but the
sentence, the package raises ``WizardError`` itself (as pipx raises PipxError). Catch a
subclass only to act on what it carries:

- :class:`SpecError`: what was given must change; ``field`` names the setting (still a
  ``ValueError``, as it always was). ``naming.WouldReplace`` is one that offers to replace.
- ``api.CreateFailed``: a run did not finish; ``outcome`` and ``error``, a
  :class:`StageError` whose ``stage``, ``command``, ``exit_code``, ``tail`` and ``log_path``
  say where.
- ``api.Busy``: another run is building the same kernel or project; try again when it ends.

The rest say what a caller could not tell apart anyway, for the CLI's exit code or a stage's
hint: :class:`SaveError` ("Save for a fresh VM", or a restore from a saved folder),
:class:`DownloadError` (becomes the stage's failure), ``inplace.NotColab`` and
``colab.PageError`` (Colab-only actions elsewhere, the page not answering).

This module imports nothing from the package, so any module can raise these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional


class WizardError(Exception):
    """Anything colab_wizard cannot do; ``str(error)`` says why and what to do.

    ``bad_input``: what the caller gave must change (the CLI then exits 2, otherwise 1).
    """

    bad_input = False


class SpecError(WizardError, ValueError):
    """Invalid input: ``field`` is the setting at fault, the message says what to do."""

    bad_input = True

    def __init__(self, field: str, message: str, line: Optional[int] = None) -> None:
        self.field = field
        self.message = message
        self.line = line
        where = f"{field} (line {line})" if line is not None else field
        super().__init__(f"{where}: {message}")


class SaveError(WizardError):
    """A kernel that cannot be saved for a fresh VM, or a saved folder that cannot be restored
    (the folder, the kernel or the saved files are at fault: the CLI exits 2)."""

    bad_input = True


class DownloadError(WizardError):
    """A download (a Python build, uv) that cannot go on; ``hint`` says what to do."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}. {self.hint}" if self.hint else self.message


@dataclass
class StageError(WizardError):
    """Why a stage failed, with what a person needs to act on it."""

    stage: str
    message: str
    command: tuple[str, ...] = ()
    exit_code: Optional[int] = None
    tail: tuple[str, ...] = field(default=())
    log_path: Optional[Path] = None
    hint: str = ""

    def __str__(self) -> str:
        parts = [f"Stage '{self.stage}' failed: {self.message}"]
        # What to do comes first, above the tool's own words (which may be long).
        if self.hint:
            parts.append("What to try: " + self.hint)
        if self.command:
            parts.append("Command: " + " ".join(self.command))
        if self.exit_code is not None:
            parts.append(f"Exit code: {self.exit_code}")
        if self.tail:
            parts.append("Last output:\n  " + "\n  ".join(self.tail))
        if self.log_path is not None:
            parts.append(f"Full log: {self.log_path}")
        return "\n".join(parts)
