"""EnvSpec validation: each bad input names its field and says what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from colab_wizard.spec import EnvSpec, SpecError, name_from_display_name, parse_python


@pytest.mark.parametrize(
    ("text", "minor", "patch", "free"),
    [("3.12", 12, None, False), ("3.12.4", 12, 4, False), ("3.13t", 13, None, True),
     (" 3.9 ", 9, None, False), ("3.14", 14, None, False), ("3.14.0t", 14, 0, True)],
)
def test_python_versions_parse(text: str, minor: int, patch: int | None, free: bool) -> None:
    version = parse_python(text)
    assert (version.minor, version.patch, version.free_threaded) == (minor, patch, free)


BAD = [
    ({"python": "3.99"}, "python", "not supported"),
    ({"python": "three"}, "python", "not a Python version"),
    ({"python": ""}, "python", "Choose a Python version"),
    ({"python": "3.8"}, "python", "not supported"),
    ({"python": "3.12t"}, "python", "Free-threaded"),
    ({"python": "2.7"}, "python", "not a Python version"),
    ({"name": "my kernel"}, "name", "no spaces"),
    ({"name": "a/b"}, "name", "'/'"),
    ({"name": "..x"}, "name", "'..'"),
    ({"name": "ker..nel"}, "name", "'..'"),
    ({"name": "kérnel"}, "name", "lower-case"),
    ({"name": "k" * 200}, "name", "200 characters"),
    ({"name": ""}, "name", "Give the kernel a name"),
    ({"name": "python3"}, "name", "built-in"),
    ({"name": "Upper"}, "name", "lower-case"),
    ({"display_name": "   "}, "display_name", "display name"),
    ({"display_name": "a\nb"}, "display_name", "line breaks"),
    ({"dependencies": ["numpy>>=1"]}, "dependencies", "not a valid requirement"),
    ({"dependencies": ["numpy; rm -rf /"]}, "dependencies", "not a valid requirement"),
    ({"dependencies": ["numpy | curl x"]}, "dependencies", "'|'"),
    ({"dependencies": ["$(reboot)"]}, "dependencies", "'$'"),
    ({"dependencies": ["six", "Six>=1"]}, "dependencies", "listed twice"),
    ({"dependencies": [""]}, "dependencies", "empty"),
    ({"dependencies": "numpy"}, "dependencies", "list"),
    ({"index_url": "ftp://mirror/simple"}, "index_url", "not a package index URL"),
    ({"index_url": "https://x/simple; rm -rf /"}, "index_url", "shell characters"),
]


@pytest.mark.parametrize(("kwargs", "field", "words"), BAD)
def test_bad_input_names_the_field(kwargs: dict, field: str, words: str, tmp_path: Path) -> None:
    args = {"python": "3.12", "project_dir": tmp_path / "p", **kwargs}
    with pytest.raises(SpecError) as caught:
        EnvSpec.make(**args)
    assert caught.value.field == field
    assert words in str(caught.value)


def test_duplicate_names_the_second_line(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        EnvSpec.make("3.12", ["six", "requests", "six"], project_dir=tmp_path)
    assert caught.value.line == 3


def test_project_dir_that_is_a_file(tmp_path: Path) -> None:
    file = tmp_path / "f"
    file.write_text("x")
    with pytest.raises(SpecError) as caught:
        EnvSpec.make("3.12", project_dir=file)
    assert caught.value.field == "project_dir" and "is a file" in caught.value.message
    with pytest.raises(SpecError):
        EnvSpec.make("3.12", project_dir=file / "below")


def test_defaults_and_markers(tmp_path: Path) -> None:
    spec = EnvSpec.make("3.13t", ["requests[socks]>=2; python_version >= '3.9'"],
                        project_dir=tmp_path, index_url="https://example.invalid/simple")
    assert spec.display_name == "Python 3.13t (poetry)"
    assert spec.name == "python-3.13t-poetry"
    assert spec.index_url == "https://example.invalid/simple/"
    assert spec.dependencies[0].startswith("requests[socks]>=2")


@pytest.mark.parametrize(
    ("display", "name"),
    [("Python 3.12 (poetry)", "python-3.12-poetry"), ("Ünïcode  Kernel!", "unicode-kernel"),
     ("...", "poetry-kernel"), ("x" * 300, "x" * 64),
     # Nothing Latin in it: a stable suffix per display name, never one shared fallback.
     ("数据分析", "kernel-5d8ec6"), ("🐍", "kernel-fe67b2"), ("数据 3.12", "3.12-cc583f")],
)
def test_name_derivation_always_valid(display: str, name: str, tmp_path: Path) -> None:
    assert name_from_display_name(display) == name
    EnvSpec.make("3.12", display_name=display[:120], project_dir=tmp_path)


def test_the_listed_twice_rule_is_the_same_for_a_list_and_the_editors_text() -> None:
    """One package per line, by canonical name; a line with a marker may repeat a name."""
    from colab_wizard.requirements_text import parse

    both_ways = ["numpy<2; python_version < '3.10'", "six", "numpy>=2; python_version >= '3.10'"]
    assert len(EnvSpec.make("3.12", both_ways).dependencies) == 3
    assert parse("\n".join(both_ways)).errors == ()
    twice = ["six", "tabulate", "Six>=1"]
    with pytest.raises(SpecError) as caught:
        EnvSpec.make("3.12", twice)
    (error,) = parse("\n".join(twice)).errors
    for found in (caught.value, error):
        assert found.field == "dependencies" and found.line == 3
        assert "'Six' is listed twice (lines 1 and 3)" in str(found)
