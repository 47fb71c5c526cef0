"""Every COLAB_WIZARD_* variable is read through colab_wizard.settings and documented once,
in the README's Settings table."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from colab_wizard import (
    catalog,
    download,
    host,
    index,
    inplace_boot,
    inplace_shim,
    paths,
    settings,
    uvtool,
)

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "colab_wizard"
NAME = re.compile(r"COLAB_WIZARD_[A-Z0-9_]+")
# Standard library only, run where colab_wizard cannot be imported: they keep their own copy.
STANDALONE = {"inplace_shim.py", "inplace_boot.py"}


def _readme_rows() -> dict[str, list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        found = NAME.fullmatch(cells[0].strip("`")) if line.startswith("|") else None
        if found:
            rows[found.group(0)] = cells
    return rows


def test_the_readme_table_lists_every_setting_with_its_default() -> None:
    rows = _readme_rows()
    assert sorted(rows) == sorted(s.name for s in settings.ALL)
    for setting in settings.ALL:
        assert rows[setting.name][1] == setting.default, setting.name
        assert rows[setting.name][2] == setting.does, setting.name
    # "The last four are set by the wizard for its own processes", the README says.
    assert [s.internal for s in settings.ALL] == [False] * (len(settings.ALL) - 4) + [True] * 4
    assert list(rows) == [s.name for s in settings.ALL]


def test_no_module_spells_a_variable_name_but_settings() -> None:
    """A bare name in a string is how a variable is read or set; sentences may mention them."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "settings.py" or path.name in STANDALONE:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and NAME.fullmatch(node.value):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value}")
    assert offenders == []


def test_the_standalone_files_use_the_same_names() -> None:
    assert inplace_shim.CONFIG_ENV == inplace_boot.CONFIG_ENV == settings.INPLACE.name
    assert inplace_shim.FAILED_ENV == inplace_boot.FAILED_ENV == settings.INPLACE_FAILED.name
    assert inplace_shim.FELL_BACK_ENV == settings.FELL_BACK.name
    used = set()
    for name in STANDALONE:
        used |= set(NAME.findall((PACKAGE / name).read_text(encoding="utf-8")))
    assert used <= {s.name for s in settings.ALL}


def test_settings_are_read_when_used_and_empty_means_unset(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(settings.HOME.name, str(tmp_path / "home"))
    assert paths.data_dir() == tmp_path / "home"
    monkeypatch.setenv(settings.HOME.name, "")
    assert paths.data_dir() != tmp_path / "home"
    monkeypatch.setenv(settings.HOST.name, "vscode")
    assert host.detect_host() == "vscode"
    monkeypatch.setenv(settings.INDEX_URL.name, "https://mirror.example/simple")
    assert index.resolve_index_url() == "https://mirror.example/simple/"
    monkeypatch.setenv(settings.PYTHON_MIRROR.name, "https://pythons.example")
    assert download.mirror() == "https://pythons.example"
    assert download.mirror("https://given.example") == "https://given.example"
    monkeypatch.setenv(settings.PYTHON_MIRROR.name, "")
    assert download.mirror() is None
    monkeypatch.setenv(settings.PYTHON_CACHE.name, str(tmp_path / "archives"))
    assert download.cache_dir() == tmp_path / "archives"
    monkeypatch.setenv(settings.PYTHON_CATALOG.name, str(tmp_path / "missing.json"))
    with pytest.raises(OSError):
        catalog.table()
    for value, wanted in (("0", False), (" off ", False), ("no", False), ("1", True),
                          ("", True)):
        monkeypatch.setenv(settings.UV.name, value)
        assert uvtool.wanted() is wanted, value
    monkeypatch.delenv(settings.UV.name)
    assert uvtool.wanted()
