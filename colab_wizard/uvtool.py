"""uv, the installer: its own binary, fetched from the ``uv`` wheel on the package index.

Poetry stays the resolver and the source of truth (pyproject.toml, poetry.lock);
uv makes the virtualenvs and installs what the lock pins, several times faster
than Poetry's installer. Colab ships a uv, but an old one, with ``UV_*``
settings that once pointed at missing files, so the wizard keeps its own:
the newest ``uv`` wheel for this platform, checked against the index's
sha256, unpacked into the tools folder. Its cache lives beside it (a fresh VM
starts empty, as with Poetry's), and every inherited ``UV_*`` setting is
dropped (procenv) in favour of the ones below.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path
from typing import Optional

from . import index, paths, settings
from .errors import DownloadError
from .files import done_note, mark_done


def home() -> Path:
    # Resolved like Poetry's tool environment: paths written into venvs must stay valid.
    return paths.tools_dir().resolve() / "uv"


def binary() -> Path:
    return home() / "bin" / "uv"


def cache_dir() -> Path:
    return home() / "cache"


def wanted() -> bool:
    return settings.uv_wanted()


def ready() -> bool:
    """uv is unpacked and usable (and not switched off)."""
    return wanted() and binary().is_file() and done_note(home()) is not None


def env(index_url: Optional[str] = None,
        auth: Optional[index.Credentials] = None) -> dict[str, str]:
    """Settings for every uv command; ``index_url`` becomes the only index.

    The index is named like Poetry's source so that uv takes its credentials from
    ``UV_INDEX_<NAME>_USERNAME``/``_PASSWORD``: never an argv (``ps`` shows those) nor a file.
    """
    values = {
        "UV_CACHE_DIR": str(cache_dir()),
        "UV_NO_CONFIG": "1",
        # The interpreter is always given as a path; uv must never fetch one on its own.
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_NO_PROGRESS": "1",
    }
    if index_url:
        from .pyproject import SOURCE_NAME

        values["UV_DEFAULT_INDEX"] = f"{SOURCE_NAME}={index_url}"
        if auth is not None:
            suffix = index.env_suffix(SOURCE_NAME)
            values[f"UV_INDEX_{suffix}_USERNAME"] = auth[0]
            values[f"UV_INDEX_{suffix}_PASSWORD"] = auth[1]
    return values


def _best_wheel(files: list[index.IndexFile]) -> Optional[index.IndexFile]:
    """The newest non-yanked release wheel this machine can run, best tag first."""
    from packaging.tags import sys_tags
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    priority = {tag: rank for rank, tag in enumerate(sys_tags())}
    best: Optional[tuple[object, int, index.IndexFile]] = None
    for entry in files:
        if entry.yanked or not entry.filename.endswith(".whl") or not entry.sha256:
            continue
        try:
            _, version, _, tags = parse_wheel_filename(entry.filename)
        except InvalidWheelFilename:
            continue
        ranks = [priority[t] for t in tags if t in priority]
        if not ranks or version.is_prerelease:
            continue
        key = (version, -min(ranks))
        if best is None or key > best[:2]:  # type: ignore[operator]
            best = (version, -min(ranks), entry)
    return None if best is None else best[2]


def fetch(index_url: str, auth: Optional[index.Credentials] = None,
          timeout: float = 120.0) -> str:
    """Download the uv wheel, check its sha256, unpack the binary; returns the file name.

    Blocking (run it in an executor). Raises :class:`DownloadError` with the reason.
    """
    import requests

    try:
        choice = _best_wheel(index.project_files(index_url, "uv", auth, timeout=30.0))
    except (requests.RequestException, ValueError) as exc:
        raise DownloadError(f"the index {index_url} did not list uv ({exc})") from None
    if choice is None:
        raise DownloadError(f"the index {index_url} has no uv wheel for this platform")
    target = home()
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target) as tmp:
        wheel = Path(tmp) / choice.filename
        digest = hashlib.sha256()
        try:
            with requests.get(choice.url, auth=auth, stream=True, timeout=timeout) as response:
                response.raise_for_status()
                with open(wheel, "wb") as out:
                    for block in response.iter_content(1 << 20):
                        digest.update(block)
                        out.write(block)
        except (requests.RequestException, OSError) as exc:
            raise DownloadError(f"{choice.filename} could not be downloaded ({exc})") from None
        if digest.hexdigest() != choice.sha256:
            raise DownloadError(f"{choice.filename} does not match the sha256 the index lists")
        install_wheel(wheel)
    return choice.filename


def kept_wheel() -> Optional[Path]:
    """The wheel uv was unpacked from (a saved kernel carries it, for an offline restore)."""
    name = (done_note(home()) or "").strip()
    path = home() / name
    return path if name and path.is_file() else None


def install_wheel(wheel: Path) -> None:
    """Unpack the uv binary from ``wheel`` (checked by the caller) and keep the wheel."""
    target = home()
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target) as tmp:
        with zipfile.ZipFile(wheel) as archive:
            member = next((n for n in archive.namelist()
                           if n.endswith(".data/scripts/uv")), None)
            if member is None:
                raise DownloadError(f"{wheel.name} holds no uv binary")
            unpacked = Path(tmp) / "uv"
            with archive.open(member) as source, open(unpacked, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
        unpacked.chmod(unpacked.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        binary().parent.mkdir(parents=True, exist_ok=True)
        os.replace(unpacked, binary())
        if wheel.parent != target:
            kept = Path(tmp) / wheel.name
            shutil.copyfile(wheel, kept)
            os.replace(kept, target / wheel.name)
    mark_done(target, wheel.name)
