"""Which release of a package installs on another Python: the host's, or the nearest."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path
from typing import Iterator

import pytest
from packaging.version import Version

from colab_wizard import index, wheels

LINUX = "manylinux_2_17_x86_64.manylinux2014_x86_64"


def files(*names: str, requires: str = "") -> list[dict[str, object]]:
    return [{"filename": n, "requires-python": requires, "yanked": False} for n in names]


def test_nearest_release_with_a_wheel_for_the_target_python() -> None:
    listed = [
        *files(f"numpy-2.0.2-cp39-cp39-{LINUX}.whl", f"numpy-2.0.2-cp312-cp312-{LINUX}.whl"),
        *files(f"numpy-2.1.3-cp312-cp312-{LINUX}.whl", f"numpy-2.1.3-cp313-cp313-{LINUX}.whl",
               requires=">=3.10"),
        *files("numpy-2.1.3.tar.gz", f"numpy-2.3.0-cp314-cp314-{LINUX}.whl"),
    ]
    assert wheels.fitting_releases(listed, 9) == {Version("2.0.2")}
    assert wheels.nearest(Version("2.1.3"), wheels.fitting_releases(listed, 9)) == Version("2.0.2")
    assert wheels.nearest(Version("2.1.3"), wheels.fitting_releases(listed, 12)) == Version("2.1.3")
    # Newer Pythons take the oldest newer release when no older one fits.
    assert wheels.nearest(Version("2.1.3"), wheels.fitting_releases(listed, 14)) == Version("2.3.0")
    yanked = [{**entry, "yanked": True} for entry in listed]
    assert wheels.fitting_releases(yanked, 9) == set()


def test_pure_and_abi3_wheels_fit_every_version() -> None:
    listed = files("six-1.17.0-py2.py3-none-any.whl", f"tornado-6.5.7-cp39-abi3-{LINUX}.whl")
    assert wheels.fitting_releases(listed, 9) == {Version("1.17.0"), Version("6.5.7")}
    assert wheels.python_fits(">=3.10", 9) is False and wheels.python_fits(">=3.9.1", 9)


@pytest.fixture
def html_index(tmp_path: Path) -> Iterator[str]:
    """A PEP 503 (HTML only) index on a loopback server, like many company mirrors."""
    page = tmp_path / "numpy" / "index.html"
    page.parent.mkdir()
    page.write_text(
        "<html><body>"
        f'<a href="../f/numpy-2.0.2-cp39-cp39-{LINUX}.whl#sha256=00">'
        f"numpy-2.0.2-cp39-cp39-{LINUX}.whl</a>\n"
        f'<a href="../f/numpy-2.1.3-cp313-cp313-{LINUX}.whl" data-requires-python="&gt;=3.10">'
        f"numpy-2.1.3-cp313-cp313-{LINUX}.whl</a>\n"
        "</body></html>")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kw: object) -> None:
            super().__init__(*args, directory=str(tmp_path), **kw)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_an_html_index_is_read_too(html_index: str) -> None:
    assert wheels.release_for("numpy", "2.1.3", 9, html_index) == "2.0.2"


def test_a_name_the_index_does_not_have_cannot_be_installed(html_index: str) -> None:
    assert wheels.release_for("colab-wizard-nonesuch", "1.0", 12, html_index) is None


def test_the_host_release_is_kept_when_the_index_cannot_tell() -> None:
    assert wheels.release_for("numpy", "2.1.3", 9, "http://127.0.0.1:9/") == "2.1.3"


@pytest.mark.slow
def test_numpy_for_python_39_from_the_real_index() -> None:
    """numpy 2.1 dropped 3.9: a kernel of 3.9 on a host with 2.1.3 takes 2.0.2."""
    assert wheels.release_for("numpy", "2.1.3", 9, index.resolve_index_url()) == "2.0.2"
