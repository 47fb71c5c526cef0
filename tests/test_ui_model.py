"""The panel's widget-free parts: the dependency text, the event reducer, the throttle."""

from __future__ import annotations

from pathlib import Path

import pytest

from colab_wizard import requirements_text as rt
from colab_wizard.errors import StageError
from colab_wizard.events import (
    RunFinished,
    RunStarted,
    StageDone,
    StageFailed,
    StageInfo,
    StageLine,
    StageProgress,
    StageStarted,
)
from colab_wizard.spec import SpecError
from colab_wizard.ui import model


def test_requirements_lines_comments_and_errors_with_line_numbers() -> None:
    parsed = rt.parse("# data\nnumpy>=1.26  # fast\n\nbad line here\nnumpy\n-r other.txt\n"
                      "--extra-index-url https://x.invalid/simple\nhttps://x/#frag @ y\n")
    assert parsed.kind == "requirements"
    assert parsed.requirements == ("numpy>=1.26",)
    lines = [e.line for e in parsed.errors]
    assert lines == [4, 5, 6, 8]
    message = parsed.message()
    assert "Line 4: 'bad line here' is not a valid requirement" in message
    assert "listed twice (lines 2 and 5)" in message
    assert "refers to another file" in message
    assert parsed.warnings and "Line 7" in parsed.warnings[0]


def test_requirements_txt_from_pip_compile() -> None:
    text = ("#\n# pip-compile output\n#\nsix==1.16.0 \\\n    --hash=sha256:1e61 \\\n"
            "    --hash=sha256:8abb\n    # via -r requirements.in\n"
            "urllib3==2.2.1 ; python_version >= '3.8'\n")
    parsed = rt.parse(text)
    assert parsed.ok, parsed.message()
    assert parsed.requirements == ("six==1.16.0", "urllib3==2.2.1 ; python_version >= '3.8'")


def test_pyproject_pasted_pep621_and_poetry_tables() -> None:
    pep621 = "[project]\nname = 'x'\ndependencies = [\n  'rich>=13',  # colour\n  'b a d',\n]\n"
    parsed = rt.parse(pep621)
    assert parsed.kind == "pyproject" and parsed.requirements == ("rich>=13",)
    assert [e.line for e in parsed.errors] == [5]
    poetry = ("[tool.poetry.dependencies]\npython = '^3.11'\nnumpy = '^1.26'\n"
              "requests = {version = '~2.31', extras = ['socks']}\nsix = '*'\n")
    assert rt.parse(poetry).requirements == (
        "numpy>=1.26,<2", "requests[socks]>=2.31,<2.32", "six")
    broken = rt.parse("[project]\nname = 'x'\ndependencies = [\n")
    assert not broken.ok and "not valid TOML" in broken.message()
    assert broken.errors[0].line is not None


def test_round_trip_keeps_comments_and_the_rest_of_the_file() -> None:
    text = "# science\nnumpy>=1.26  # arrays\nscipy"
    toml = rt.to_pyproject(text, name="k", python_minor=12)
    assert 'requires-python = ">=3.12,<3.13"' in toml and "package-mode = false" in toml
    assert rt.from_pyproject(toml) == text
    edited = toml.replace("[tool.poetry]", "# my own note\n[tool.black]\nline-length = 99\n\n"
                                           "[tool.poetry]")
    again = rt.to_pyproject(text + "\npandas  # frames", base=edited)
    assert "# my own note" in again and "line-length = 99" in again
    assert rt.from_pyproject(again) == text + "\npandas  # frames"
    with pytest.raises(SpecError):
        rt.to_pyproject("not valid!")


def _stages() -> RunStarted:
    return RunStarted((StageInfo("a", "Step A", 1), StageInfo("b", "Step B", 3)),
                      Path("/tmp/x.log"))


def test_install_model_folds_events() -> None:
    m = model.InstallModel()
    m.apply(_stages())
    assert m.running and [r.status for r in m.rows.values()] == ["pending", "pending"]
    m.apply(StageStarted("a", 0))
    assert m.rows["a"].fraction is None and m.rows["a"].text == "working\u2026"
    m.apply(StageProgress("a", 2e6, 8e6, "bytes"))
    assert m.rows["a"].text == "2.0 MB of 8.0 MB" and m.rows["a"].fraction == 0.25
    m.apply(StageDone("a", False, 1.5, "fetched"))
    m.apply(StageStarted("b", 1))
    m.apply(StageProgress("b", 1, 4, "packages"))
    assert m.rows["b"].text == "1 of 4 packages"
    for i in range(100):
        m.apply(StageLine("b", f"line {i}" + "x" * (1000 if i == 99 else 0)))
    assert len(m.tail) == model.TAIL_LINES and m.tail[0] == f"line {100 - model.TAIL_LINES}"
    assert len(m.tail[-1]) <= model.MAX_LINE_CHARS + 1
    overall = m.overall.value
    assert overall == pytest.approx(0.25 + 0.75 * 0.25)
    error = StageError("b", "poetry exited with code 1", hint="Check the names.")
    m.apply(StageFailed("b", error))
    m.apply(RunFinished("failed", 3.0, Path("/tmp/x.log")))
    assert m.outcome == "failed" and m.rows["b"].icon == "\u2716"
    title, advice = m.banner()
    assert "Step B" in title and "code 1" in title and advice == "Check the names."
    # A retry starts again: rows reset, the overall bar does not move back.
    m.apply(_stages())
    assert m.overall.value == overall and m.error is None


def test_throttle() -> None:
    now = [100.0]
    t = model.Throttle(0.1, clock=lambda: now[0])
    assert t.wait() == 0
    t.mark()
    now[0] += 0.04
    assert t.wait() == pytest.approx(0.06)
    now[0] += 0.06
    assert t.wait() == 0


def test_default_version_and_switch_sentence() -> None:
    options = [("3.14 \u2014 not found here", "3.14"), ("3.13t \u2014 installed here", "3.13t"),
               ("3.13 \u2014 installed here", "3.13"), ("3.12 \u2014 installed here", "3.12")]
    assert model.default_version(options, host_minor=13) == "3.12"
    assert model.default_version(options, host_minor=12) == "3.13"
    assert model.default_version([("3.14 \u2014 download", "3.14")], host_minor=12) == "3.14"
    assert "Use it in this notebook" in model.switch_sentence("colab", "Py")
    assert "Kernel \u203a Change Kernel" in model.switch_sentence("jupyter", "Py")
    assert "reload this page" in model.switch_sentence("jupyter", "Py")
    assert "kernel picker" in model.switch_sentence("vscode", "Py")


def test_version_options_cover_every_supported_minor() -> None:
    options = model.version_options()
    values = [v for _, v in options]
    assert [v for v in values if not v.endswith("t")] == [
        "3.14", "3.13", "3.12", "3.11", "3.10", "3.9"]
    assert {"3.13t", "3.14t"} <= set(values)
    labels = dict((v, label) for label, v in options)
    assert all(("installed here" in labels[v]) == (v in local_minors()) for v in values)
    # What is not here says what downloading it costs.
    assert all("download" in labels[v] and "MB" in labels[v]
               for v in values if v not in local_minors())


def local_minors() -> set[str]:
    from colab_wizard import interpreters

    return {f"3.{i.version[1]}" + ("t" if i.free_threaded else "")
            for i in interpreters.installed()}


def test_quickstart_notebook_has_install_and_show_cells_without_outputs() -> None:
    import json

    path = Path(__file__).resolve().parent.parent / "notebooks" / "quickstart.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    sources = ["".join(c["source"]) for c in code]
    assert sources[0].startswith("# Install") and "%pip install" in sources[0]
    assert "from colab_wizard import show" in sources[1] and sources[1].endswith("show()")
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)


def test_row_states_when_the_runner_cannot_say_how_the_run_ended() -> None:
    m = model.InstallModel()
    m.apply(_stages())
    m.apply(StageStarted("a", 0))
    m.interrupted()  # the interrupt button, before the runner saw it
    assert m.outcome == "cancelled" and m.rows["a"].status == "cancelled"
    assert m.rows["b"].status == "pending"
    m.interrupted()  # not running any more: nothing changes
    assert m.outcome == "cancelled"

    m.apply(StageFailed("a", StageError("a", "boom")))
    assert m.retry_from == "a"
    m.begin()
    assert m.running and m.error is None and m.retry_from is None
    m.apply(_stages())
    m.apply(StageStarted("b", 1))
    m.broke()  # an exception outside the runner: failed, and nothing to retry from
    assert m.outcome == "failed" and m.rows["b"].status == "failed"
    assert m.error is None and m.retry_from is None and m.rows["a"].status == "pending"


def test_error_html_escapes_once_and_marks_banners() -> None:
    from colab_wizard.ui.markup import error_html

    inline = error_html("a <b> & c\nnext line")
    assert inline == ("<span style='color:#d32f2f'>a &lt;b&gt; &amp; c<br>next line</span>")
    banner = error_html("What to try: it's <fine>", title="\u201cLock\u201d failed", banner=True)
    assert banner.startswith("<div style='border-left:4px solid #d32f2f")
    assert "<b>\u201cLock\u201d failed</b><br>What to try: it's &lt;fine&gt;</div>" in banner
    after = error_html("no page", after="<br><code>x</code>")
    assert after.endswith("no page<br><code>x</code></span>")
