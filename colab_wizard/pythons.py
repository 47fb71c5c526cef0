"""The Python versions on offer: what the panel's dropdown and ``python -m colab_wizard
pythons`` show.

Offline and fast: the download list is a file inside an installed package
(:mod:`colab_wizard.catalog`), local interpreters come from
:func:`interpreters.installed` with its probe cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from . import catalog, download, interpreters
from .spec import MAX_MINOR, MIN_FREE_THREADED_MINOR, MIN_MINOR


@dataclass(frozen=True)
class Offer:
    """One choice: ``label`` ("3.12", "3.13t") is what EnvSpec/--python accept."""

    label: str
    installed: Optional[str] = None  # the newest local version, e.g. "3.12.1"
    path: Optional[Path] = None
    download: Optional[str] = None  # the newest downloadable version, e.g. "3.12.11"
    download_size: Optional[int] = None  # bytes
    size_is_estimate: bool = True
    cached: bool = False  # the archive is already in the cache: no network needed

    @property
    def free_threaded(self) -> bool:
        return self.label.endswith("t")

    @property
    def available(self) -> bool:
        return self.installed is not None or self.download is not None

    def status(self) -> str:
        """Whether it is here, or what getting it costs: "installed here (3.12.1)",
        "download 3.14.9, ~33 MB", ... (the panel's dropdown labels use this)."""
        if self.installed:
            return f"installed here ({self.installed})"
        if self.download:
            if self.cached:
                return f"{self.download} from the archive cache"
            about = "~" if self.size_is_estimate else ""
            size = (self.download_size or 0) / 1e6
            return f"download {self.download}, {about}{size:.0f} MB"
        return "not available here"

    def describe(self) -> str:
        """One line for a terminal."""
        return f"Python {self.label}: {self.status()}"


def _labels() -> list[tuple[int, bool]]:
    plain = [(minor, False) for minor in range(MIN_MINOR, MAX_MINOR + 1)]
    free = [(minor, True) for minor in range(MIN_FREE_THREADED_MINOR, MAX_MINOR + 1)]
    return plain + free


def available(probe_cache: bool = True) -> list[Offer]:
    """Every version on offer, oldest first, then the free-threaded ones.

    Installed versions carry their local version and path; the others the
    newest downloadable release and its (estimated, unless cached) size.
    """
    local: dict[tuple[int, bool], interpreters.Interpreter] = {}
    for found in interpreters.installed(cached=probe_cache):  # newest first
        local.setdefault((found.version[1], found.free_threaded), found)
    builds = {(b.version[1], b.free_threaded): b for b in catalog.newest_per_minor()}
    offers = []
    for minor, free in _labels():
        label = f"3.{minor}" + ("t" if free else "")
        here = local.get((minor, free))
        build = builds.get((minor, free))
        size, estimate, cached = None, True, False
        if build is not None:
            archive = download.cache_dir() / build.filename
            cached = archive.is_file()
            size = archive.stat().st_size if cached else build.approx_size
            estimate = not cached
        offers.append(Offer(
            label,
            installed=here.label if here else None,
            path=here.path if here else None,
            download=build.label if build else None,
            download_size=size,
            size_is_estimate=estimate,
            cached=cached,
        ))
    return offers
