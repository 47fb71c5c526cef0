"""The panel's widget-free parts: the dependency text, the event reducer, the throttle."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from colab_wizard import events
from colab_wizard import requirements_text as rt
from colab_wizard.errors import StageError
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


def _stages() -> events.RunStarted:
    return events.RunStarted((events.StageInfo("a", "Step A", 1),
                              events.StageInfo("b", "Step B", 3)), Path("/tmp/x.log"))


def test_install_model_folds_events() -> None:
    m = model.InstallModel()
    m.apply(_stages())
    assert m.running and [r.status for r in m.rows.values()] == ["pending", "pending"]
    m.apply(events.StageStarted("a", 0))
    assert m.rows["a"].fraction is None and m.rows["a"].text == "working\u2026"
    m.apply(events.StageProgress("a", 2e6, 8e6, "bytes"))
    assert m.rows["a"].text == "2.0 MB of 8.0 MB" and m.rows["a"].fraction == 0.25
    m.apply(events.StageDone("a", False, 1.5, "fetched"))
    m.apply(events.StageStarted("b", 1))
    m.apply(events.StageProgress("b", 1, 4, "packages"))
    assert m.rows["b"].text == "1 of 4 packages"
    for i in range(100):
        m.apply(events.StageLine("b", f"line {i}" + "x" * (1000 if i == 99 else 0)))
    assert len(m.tail) == model.TAIL_LINES and m.tail[0] == f"line {100 - model.TAIL_LINES}"
    assert len(m.tail[-1]) <= model.MAX_LINE_CHARS + 1
    overall = m.overall.value
    assert overall == pytest.approx(0.25 + 0.75 * 0.25)
    error = StageError("b", "poetry exited with code 1", hint="Check the names.")
    m.apply(events.StageFailed("b", error))
    m.apply(events.RunFinished("failed", 3.0, Path("/tmp/x.log")))
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


def test_version_options_cover_every_supported_minor(monkeypatch: pytest.MonkeyPatch) -> None:
    # What is installed now, not what an earlier test's panel saw (the offers are cached).
    monkeypatch.setattr(model, "_offers_cache", {})
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
    m.apply(events.StageStarted("a", 0))
    m.interrupted()  # the interrupt button, before the runner saw it
    assert m.outcome == "cancelled" and m.rows["a"].status == "cancelled"
    assert m.rows["b"].status == "pending"
    m.interrupted()  # not running any more: nothing changes
    assert m.outcome == "cancelled"

    m.apply(events.StageFailed("a", StageError("a", "boom")))
    assert m.retry_from == "a"
    m.begin()
    assert m.running and m.error is None and m.retry_from is None
    m.apply(_stages())
    m.apply(events.StageStarted("b", 1))
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


# -- the form's rules (model.Form): no widget anywhere ---------------------------------------

OPTIONS = [("3.13 \u2014 installed here", "3.13"), ("3.12 \u2014 installed here", "3.12")]


def test_form_fills_defaults_and_names_follow_until_typed() -> None:
    form = model.Form(model.FormState(), OPTIONS)
    state = form.state
    assert state.python in ("3.12", "3.13")  # the newest installed one unlike this Python
    form.choose_python("3.12")
    assert state.display_name == "Python 3.12 (poetry)" and state.name == "python-3.12-poetry"
    form.choose_python("3.13")  # a display name still at the default follows the version
    assert state.display_name == "Python 3.13 (poetry)" and state.name == "python-3.13-poetry"
    form.type_display_name("Data Science")
    assert state.name == "data-science" and not state.name_edited
    form.choose_python("3.12")  # a display name the user typed stays
    assert state.display_name == "Data Science"
    form.type_kernel_name("mine")
    form.type_display_name("Something else")  # a name the user typed stays too
    assert state.name == "mine" and state.name_edited
    form.type_kernel_name("  ")  # cleared: it follows the display name again
    assert not state.name_edited
    form.type_display_name("Back Again")
    assert state.name == "back-again"
    # A form kept from an earlier show() keeps what was typed; an unknown version is replaced.
    kept = model.FormState(python="3.7", display_name="Mine", name="m", name_edited=True)
    model.Form(kept, OPTIONS)
    assert kept.python in ("3.12", "3.13") and (kept.display_name, kept.name) == ("Mine", "m")


def test_form_first_step_messages_name_the_field_and_hold_next() -> None:
    form = model.Form(model.FormState(), OPTIONS)
    assert form.check_python() and form.python_message == ""
    form.type_display_name("   ")
    assert not form.check_python() and form.python_message.startswith("Display name: ")
    assert not form.move(1) and form.state.step == 0  # not past the first step while invalid
    nav = form.nav(running=False, adopting=False, adopt_source="")
    assert nav.next and nav.next_disabled and not nav.back and not nav.install
    form.type_display_name("Fine")
    form.type_kernel_name("bad name!")
    assert not form.check_python() and form.python_message.startswith("Kernel name: ")
    form.type_kernel_name("fine")
    assert form.move(1) and form.state.step == 1 and form.python_message == ""
    assert form.move(9) and form.state.step == 3  # kept within the four steps
    assert form.move(-2) and form.state.step == 0


def test_form_nav_follows_the_step_the_run_and_the_choice() -> None:
    form = model.Form(model.FormState(), OPTIONS)
    form.move(1)
    assert form.check_deps()  # an empty list is valid: Install may start
    nav = form.nav(running=False, adopting=False, adopt_source="")
    assert nav.install and not nav.install_disabled and nav.back and not nav.next
    assert nav.deps_list and not nav.adopt_box and nav.deps_height == "12em"
    form.type_deps("bad line!")
    form.check_deps()
    assert form.nav(running=False, adopting=False, adopt_source="").install_disabled
    adopting = form.nav(running=False, adopting=True, adopt_source="")
    assert adopting.install_disabled and adopting.adopt_box and not adopting.deps_list
    assert not form.nav(running=False, adopting=True, adopt_source=" /p ").install_disabled
    form.move(2)
    running = form.nav(running=True, adopting=False, adopt_source="")
    assert not running.back and running.back_disabled and not running.install


def test_form_switches_views_without_losing_what_was_typed() -> None:
    form = model.Form(model.FormState(), OPTIONS)
    form.choose_python("3.12")
    form.type_deps("# tables\ntabulate>=0.9")
    assert form.check_deps() and form.edited_pyproject is None
    assert form.switch_view(True)
    toml = form.deps_text
    assert form.state.pyproject_mode and "tabulate>=0.9" in toml and "# tables" in toml
    assert 'requires-python = ">=3.12,<3.13"' in toml
    assert form.edited_pyproject == toml
    nav = form.nav(running=False, adopting=False, adopt_source="")
    assert nav.deps_help == model.PYPROJECT_HELP and nav.deps_height == "22em"
    assert form.switch_view(False) and form.deps_text == "# tables\ntabulate>=0.9"
    assert form.state.pyproject == toml  # kept for the next switch
    # What cannot be converted stays where it is, with the reason.
    form.switch_view(True)
    form.type_deps("[project\nbroken")
    assert not form.switch_view(False)
    assert form.state.pyproject_mode and form.deps_text == "[project\nbroken"
    assert form.deps_message.startswith("Fix this first, then switch: ")


def test_form_deps_notes_and_a_pasted_pyproject() -> None:
    form = model.Form(model.FormState(), OPTIONS)
    form.type_deps("[project]\nname = 'x'\ndependencies = ['rich']\n")
    assert form.check_deps() and form.parsed.requirements == ("rich",)
    assert form.deps_notes() == [
        "Understood as a pyproject.toml: its dependencies will be installed."]
    form.type_deps("numpy\nnumpy")
    assert not form.check_deps() and "Line 2" in form.deps_message


def test_form_refusals_go_to_the_step_of_the_field() -> None:
    form = model.Form(model.FormState(), OPTIONS)
    form.move(1)
    form.refused(SpecError("dependencies", "numpy is listed twice", line=3))
    assert form.state.step == 1 and form.deps_message == "Line 3: numpy is listed twice"
    form.refused(SpecError("name", "That name is Colab's own kernel."))
    assert form.state.step == 0
    assert form.python_message == "Kernel name: That name is Colab's own kernel."
    assert form.nav(running=False, adopting=False, adopt_source="").next_disabled
    # A confirmed replacement is for the name shown then; any other name asks again.
    form.confirm_replace()
    assert form.replace_confirmed == form.state.name and form.python_message == ""
    form.type_kernel_name("other")
    assert form.replace_confirmed is None and form.replace_offer is None
    form.type_display_name("not the name")  # the typed name stays: still no confirmation
    assert form.replace_confirmed is None


def test_form_adopt_choices_only_what_the_user_chose() -> None:
    form = model.Form(model.FormState(), OPTIONS)
    form.choose_python("3.12")
    assert form.adopt_choices() == ("3.12", None, None)
    form.type_display_name("My project")
    assert form.adopt_choices() == ("3.12", None, "My project")
    form.type_kernel_name("proj")
    assert form.adopt_choices() == ("3.12", "proj", "My project")


def test_the_model_and_the_markup_import_no_widgets() -> None:
    import subprocess
    import sys

    code = ("import sys, types, pathlib, colab_wizard\n"
            "ui = types.ModuleType('colab_wizard.ui')\n"  # the package without its __init__
            "ui.__path__ = [str(pathlib.Path(colab_wizard.__file__).parent / 'ui')]\n"
            "sys.modules['colab_wizard.ui'] = ui\n"
            "sys.modules['ipywidgets'] = None\n"  # any import of it now fails
            "import colab_wizard.ui.model, colab_wizard.ui.markup, colab_wizard.ui.job\n"
            "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr


def test_redraws_throttled_at_once_when_asked_and_a_clock_while_running() -> None:
    drawn: list[float] = []
    running = [True]

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        redraws: model.Redraws

        def draw() -> None:
            redraws.drawing()
            drawn.append(loop.time())
            redraws.keep_clock()

        redraws = model.Redraws(draw, lambda: running[0], model.Throttle(0.2))
        redraws.request()  # the first at once
        for _ in range(50):  # a burst: one redraw, when the interval has passed
            redraws.request()
        assert len(drawn) == 1
        await asyncio.sleep(0.3)
        assert len(drawn) == 2 and drawn[1] - drawn[0] >= 0.19
        redraws.request(now=True)  # a failure is shown at once, throttle or not
        assert len(drawn) == 3
        await asyncio.sleep(model.TICK_INTERVAL + 0.3)  # nothing happens: the clock moves
        assert len(drawn) == 4
        running[0] = False
        redraws.request(now=True)  # the run is over: the clock stops
        await asyncio.sleep(model.TICK_INTERVAL + 0.3)
        assert len(drawn) == 5

    asyncio.run(scenario())
    # Outside a running loop there are no timers: every request draws at once.
    later = model.Redraws(lambda: drawn.append(0.0), lambda: True, model.Throttle(10))
    later.request()
    later.throttle.mark()
    later.request()
    assert len(drawn) == 7


def test_the_click_guard_shows_our_errors_on_the_clicks_own_line(
        wizard_env: dict[str, Path]) -> None:
    from types import SimpleNamespace

    from colab_wizard.errors import WizardError
    from colab_wizard.ui.guard import ClickGuard

    notices: list[str] = []
    guard = ClickGuard(notices.append)
    line = SimpleNamespace(value="")

    def refuse() -> None:
        raise SpecError("folder", "Choose a folder you can write to.")

    def full_disk() -> None:
        raise OSError(28, "No space left on device", "/content/drive/MyDrive/x")

    def bug() -> None:
        raise KeyError("not ours")

    def ours() -> None:
        raise WizardError("a sentence")

    guard.wrap(refuse, line)()
    assert "Choose a folder you can write to." in line.value and "#d32f2f" in line.value
    guard.wrap(full_disk, line)()
    assert "No space left on device" in line.value and "/content/drive/MyDrive/x" in line.value
    guard.wrap(ours, line)()
    assert "a sentence" in line.value and notices == []
    # Without a line of its own, and for what is not ours, the panel's notice says it.
    guard.wrap(refuse)()
    guard.wrap(bug, line)()
    assert len(notices) == 2 and all(n.startswith("That did not work") for n in notices)
    assert "a sentence" in line.value  # the line keeps the last error of ours
    assert (wizard_env["home"] / "logs" / "panel-errors.log").is_file()
