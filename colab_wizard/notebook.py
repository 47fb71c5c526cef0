"""The notebook switch: a copy of a notebook that opens on the new kernel.

The copy's ``metadata.kernelspec`` and ``language_info`` name the new kernel.
A fresh VM does not know that kernel yet and falls back to ``python3``; the
copy's first cell therefore rebuilds the environment (from a saved cache when
there is one, else from the spec), so one run and a page reload bring it back.
Reading the open notebook and offering the file on Colab is in :mod:`.colab`.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Optional, Union

from . import adoption, colab, paths, selfwheel
from .host import detect_host
from .spec import EnvSpec, SpecError
from .version import DISTRIBUTION, __version__

MARK = "colab_wizard"
RESTORE_TAG = "colab_wizard-restore"


def saved_folder(spec: EnvSpec, save_dir: Optional[Path]) -> Optional[Path]:
    """The folder a save of ``spec``'s kernel went to (``save_dir/name``), if it has one."""
    if save_dir is None:
        return None
    from .freshvm import MANIFEST

    folder = Path(save_dir) / spec.name
    return folder if (folder / MANIFEST).is_file() else None


def _install_lines(saved: Optional[Path]) -> list[str]:
    """Cell lines installing colab_wizard unless importable: from the saved wheels (the
    version that wrote the save, no index) when present, else ``pip install colab-wizard``."""
    lines = ["if importlib.util.find_spec('colab_wizard') is None:",
             "    pip = [sys.executable, '-m', 'pip', 'install', '-q']"]
    if saved is not None:
        wheels = str(saved / selfwheel.WHEELS_DIR)
        lines += [
            f"    wheels = {wheels!r}",
            f"    offline = ['--no-index', '--find-links', wheels, "
            f"'{DISTRIBUTION}=={__version__}']",
            "    if not os.path.isdir(wheels) or subprocess.run(pip + offline).returncode:",
            f"        subprocess.run(pip + [{DISTRIBUTION!r}], check=True)",
        ]
    else:
        lines.append(f"    subprocess.run(pip + [{DISTRIBUTION!r}], check=True)")
    return [*lines, "    importlib.invalidate_caches()"]


# The notebook the user gave (or, on Colab, the open one) is what a refusal names.
FIELD = "notebook_path"


def as_v4(notebook: Any, where: str) -> dict[str, Any]:
    """``notebook`` as nbformat 4 JSON: older versions converted with nbformat, anything
    that is not a notebook refused with a sentence naming ``where``."""
    if not isinstance(notebook, dict):
        raise SpecError(FIELD, f"{where} holds a JSON {type(notebook).__name__}, not a "
                        "notebook; give the path of an .ipynb file.")
    major = notebook.get("nbformat", 4)
    if not isinstance(major, int) or major > 4:
        raise SpecError(FIELD, f"{where} says nbformat {major!r}, which colab_wizard does not "
                        "know; save it as an nbformat 4 notebook first.")
    if major < 4 or "worksheets" in notebook:
        try:
            import nbformat
        except ImportError:
            raise SpecError(FIELD, f"{where} is an nbformat {major} notebook; install nbformat "
                            "(pip install nbformat) to convert it, or open and save it in "
                            "Jupyter once.") from None
        try:
            converted = nbformat.convert(nbformat.from_dict(notebook), 4)
        except Exception as exc:  # nbformat's own errors vary by version
            raise SpecError(FIELD, f"{where} is an nbformat {major} notebook that nbformat "
                            f"cannot convert ({exc}); open and save it in Jupyter once.") from None
        return json.loads(json.dumps(converted))
    if not isinstance(notebook.get("cells", []), list):
        raise SpecError(FIELD, f"{where} has a \"cells\" field that is not a list; it is not "
                        "a notebook Jupyter wrote.")
    return notebook


def read_notebook(path: Path) -> dict[str, Any]:
    """The notebook at ``path`` as nbformat 4 JSON, or a sentence naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(FIELD, f"{path} does not exist; give the path of an .ipynb "
                        "file.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(FIELD, f"{path} cannot be read ({exc}).") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SpecError(FIELD, f"{path} is not JSON ({exc}); give the path of an .ipynb "
                        "file.") from None
    return as_v4(data, str(path))


def write_new(target: Path, text: str) -> Path:
    """Write ``text`` to ``target``, or to ``target`` numbered 2, 3, ... if that exists:
    never over a file (a copy made earlier may hold the user's edits)."""
    candidate, number = target, 1
    while True:
        try:
            with open(candidate, "x", encoding="utf-8") as handle:
                handle.write(text)
            return candidate
        except FileExistsError:
            number += 1
            candidate = target.with_name(f"{target.stem} {number}{target.suffix}")
        except OSError as exc:
            raise SpecError("dest", f"cannot write {candidate} ({exc.strerror}); choose a "
                            "folder you can write to.") from None


def restore_source(spec: EnvSpec, save_dir: Optional[Path] = None,
                   profile: colab.Profile = colab.NONE) -> str:
    """The first cell: unless already in this kernel, install colab_wizard, then rebuild the
    kernel from its save when one exists (mounting Drive first when it is there), else
    from the spec. ``save_dir`` is where saves go; a save is used only if it has one."""
    saved = saved_folder(spec, save_dir)
    # The same project folder as on the first VM: the kernelspec and the guard above name it.
    where = f"project_dir={str(spec.project_dir)!r}"
    args = [repr(str(spec.python)), repr(list(spec.dependencies)), f"name={spec.name!r}",
            f"display_name={spec.display_name!r}", where]
    if profile != colab.NONE:  # none: the new VM's host decides, as on the first
        args.append(f"profile={profile!r}")
    create = f"colab_wizard.create({', '.join(args)}, listeners=[TerminalView()])"
    # The user's own project is adopted again (a repository cloned at the same commit).
    adopt_call = adoption.rebuild_call(spec, profile)
    rebuild = adopt_call if adopt_call is not None else create
    if saved is not None:
        build = [f"if os.path.isfile(os.path.join({str(saved)!r}, 'manifest.json')):",
                 f"    colab_wizard.restore({str(saved)!r}, {where})",
                 "else:",
                 f"    {rebuild}"]
    else:
        build = [rebuild]
    body = [
        # Drive first when the save, or an adopted folder, lives there.
        *(colab.mount_lines(saved) or colab.mount_lines(
            spec.project_dir if adopt_call is not None else None)),
        *_install_lines(saved),
        "import colab_wizard",
        "from colab_wizard.terminal import TerminalView",
        *build,
    ]
    return "\n".join([
        "# colab_wizard: on a fresh machine run this cell once, then reload the page and pick",
        f"# '{spec.display_name}' in Runtime > Change runtime type (or Kernel > Change kernel).",
        f"# It installs colab_wizard (pip install {DISTRIBUTION}) and rebuilds the kernel.",
        "import importlib.util, os, subprocess, sys",
        f"if not sys.prefix.startswith({str(spec.project_dir)!r}):",
        *("    " + line for line in body),
    ])


def switched(notebook: dict[str, Any], spec: EnvSpec, restore_cell: Optional[str] = None
             ) -> dict[str, Any]:
    """A copy of ``notebook`` (nbformat 4 JSON) set to open on ``spec``'s kernel."""
    nb = copy.deepcopy(as_v4(notebook, "the notebook"))
    nb.setdefault("nbformat", 4)
    nb.setdefault("nbformat_minor", 5)
    meta = nb.setdefault("metadata", {})
    meta["kernelspec"] = {"name": spec.name, "display_name": spec.display_name,
                          "language": "python"}
    info = meta.get("language_info") if isinstance(meta.get("language_info"), dict) else {}
    info = dict(info or {})
    info.update({"name": "python", "version": str(spec.python), "mimetype": "text/x-python",
                 "file_extension": ".py",
                 "codemirror_mode": {"name": "ipython", "version": 3},
                 "pygments_lexer": "ipython3", "nbconvert_exporter": "python"})
    meta["language_info"] = info
    meta[MARK] = {"kernel": spec.name, "python": str(spec.python)}
    cells = [c for c in nb.setdefault("cells", [])
             if RESTORE_TAG not in c.get("metadata", {}).get("tags", [])]
    if restore_cell is not None:
        cell: dict[str, Any] = {"cell_type": "code", "execution_count": None,
                                "metadata": {"tags": [RESTORE_TAG]}, "outputs": [],
                                "source": restore_cell}
        if nb.get("nbformat_minor", 0) >= 5:
            cell["id"] = "colab-wizard-restore"
        cells.insert(0, cell)
    nb["cells"] = cells
    return nb


def copy_path(original: Path, spec: EnvSpec) -> Path:
    return original.with_name(f"{original.stem} ({spec.name}){original.suffix or '.ipynb'}")


def write_switched(source: Union[str, Path, dict[str, Any]], spec: EnvSpec,
                   dest: Union[str, Path, None] = None, save_dir: Optional[Path] = None,
                   profile: colab.Profile = colab.NONE) -> Path:
    """Write the switched copy; ``source`` is a path (left untouched) or notebook JSON.

    Never over an existing file: a second copy gets the next free number."""
    if isinstance(source, dict):
        if dest is None:
            raise SpecError("dest", "Give dest (where to write the copy) when the notebook is "
                            "not read from a file.")
        notebook = as_v4(source, "the notebook")
    else:
        notebook = read_notebook(Path(source))
    target = Path(dest) if dest is not None else copy_path(Path(str(source)), spec)
    nb = switched(notebook, spec, restore_source(spec, save_dir, profile))
    return write_new(target, json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def switch(name: Optional[str] = None, notebook_path: Union[str, Path, None] = None,
           dest: Union[str, Path, None] = None, save_dir: Union[str, Path, None] = None
           ) -> tuple[Path, str]:
    """Write the switched copy of a notebook for kernel ``name``; returns (path, instruction).

    On Colab without a path, the open notebook is read from the page and the copy is
    offered (Drive when mounted, else a download). Elsewhere the copy goes next to
    ``notebook_path``.
    """
    from .freshvm import spec_of

    if notebook_path is None and detect_host() != "colab":
        raise SpecError(FIELD, "Give the notebook's path (only Colab can read the open "
                        "notebook).")
    spec, profile, _ = spec_of(name)
    saves = Path(save_dir) if save_dir is not None else None
    if notebook_path is None:
        nb = colab.read_current_notebook()
        title = str(nb.get("metadata", {}).get("colab", {}).get("name") or "notebook.ipynb")
        target = Path(dest) if dest else copy_path(paths.COLAB_CONTENT / title, spec)
        written = write_switched(nb, spec, target, saves, profile)
        return written, colab.offer(written) + f" Then pick '{spec.display_name}'."
    written = write_switched(notebook_path, spec, dest, saves, profile)
    return written, (f"Wrote {written}. Open it; it starts on '{spec.display_name}' "
                     "(reload the page first if the kernel list is stale).")
