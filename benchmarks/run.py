"""Benchmarks, measured side by side in one run: ``python benchmarks/run.py``.

For two cases, *small* (tabulate, six, attrs, packaging) and *data-science* (numpy, pandas,
matplotlib, scikit-learn; ipykernel goes with every kernel), on the same target Python:

1. build, warm caches: ``benchmarks/bare.sh`` (bare Poetry: env use, lock, sync, kernelspec,
   one kernel start) (a), ``benchmarks/bare_uv.sh`` (bare uv with a lock: uv lock, uv sync,
   kernelspec, one kernel start) (u), and ``colab_wizard.create`` (b), in rotating order;
   medians, b/a and b/u, per-stage medians.
2. build on a fresh VM: the same three with empty package caches and no tool environment:
   bare Poetry installs Poetry with pip, bare uv installs uv with pip, the wizard starts
   from an empty home (it fetches uv and installs Poetry itself).
3. streaming: a chatty child bare to /dev/null vs through the runner into a view.
4. unchanged re-run: ``create`` again with the same spec; wall time, stages skipped.
5. restore vs cold create, data-science, a fresh VM both ways: cold ``create`` vs
   ``freshvm.restore_async`` from a saved folder with every index setting on a dead port,
   and the floor: bare uv installing the same saved wheels (``benchmarks/bare_restore.sh``).

Warm tool environments and package caches live in ``--cache`` (default
``~/.cache/colab_wizard-bench``); everything else goes to a temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import streaming  # noqa: E402

import colab_wizard  # noqa: E402
from colab_wizard import (  # noqa: E402
    api,
    freshvm,
    interpreters,
    kernels,
    pyproject,
    uvtool,
    wheelhouse,
)
from colab_wizard.events import Event, StageDone  # noqa: E402
from colab_wizard.plan import POETRY_REQUIREMENT, Workspace  # noqa: E402
from colab_wizard.procenv import clean_env  # noqa: E402
from colab_wizard.spec import PythonVersion, SpecError  # noqa: E402

CASES = {
    "small": ["tabulate>=0.9", "six", "attrs", "packaging"],
    "data-science": ["numpy", "pandas", "matplotlib", "scikit-learn"],
}
# Targets from issue 11 (data-science case); the small case is shown for comparison.
TARGETS = {("warm", "a"): 0.45, ("fresh", "a"): 0.5, ("warm", "u"): 1.5}
STAGES = ["python", "poetry", "project", "lock", "install", "kernel", "verify", "register"]
SIDES = {"a": "bare Poetry", "u": "bare uv", "b": "colab_wizard"}


def pick_python() -> str:
    host = sys.version_info[:2]
    for minor in ("3.12", "3.13", "3.11", "3.10"):
        want = PythonVersion(int(minor.split(".")[1]))
        found = interpreters.find(want)
        if found is not None and found.version[:2] != host:
            return minor
    raise SystemExit("No CPython of another minor version is installed here.")


def isolate(work: Path, cache_root: Path) -> None:
    """Temporary wizard, Jupyter and Poetry config dirs; persistent tools and package cache."""
    home = work / "home"
    home.mkdir(parents=True)
    (cache_root / "tools").mkdir(parents=True, exist_ok=True)
    (home / "tools").symlink_to(cache_root / "tools")
    os.environ.update({
        "COLAB_WIZARD_HOME": str(home),
        "JUPYTER_DATA_DIR": str(work / "jupyter"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "POETRY_CACHE_DIR": str(cache_root / "poetry-cache"),
        "POETRY_CONFIG_DIR": str(work / "poetry-config"),
    })
    os.environ.pop("COLAB_WIZARD_HOST", None)


@contextlib.contextmanager
def environ(**changes: str) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def stage_seconds(events: list[Event]) -> dict[str, float]:
    return {e.stage: e.seconds for e in events if isinstance(e, StageDone)}


def wizard(python: str, deps: list[str], name: str, project: Path) -> dict[str, float]:
    """One ``create``; seconds per stage and "total"."""
    events: list[Event] = []
    start = time.perf_counter()
    api.create(python, deps, name=name, project_dir=project, listeners=[events.append])
    return {**stage_seconds(events), "total": time.perf_counter() - start}


def _marks(times: Path) -> dict[str, float]:
    marks = [line.split() for line in times.read_text().splitlines()]
    return {step: float(end) - float(begin)
            for (_, begin), (step, end) in zip(marks, marks[1:])}


def bare(script: str, tool: Path, spec: api.EnvSpec, python: Path, work: Path,
         env: dict[str, str], *extra: str) -> dict[str, float]:
    """Run a bare-tools script on the wizard's own pyproject; seconds per step and total."""
    spec.project_dir.mkdir(parents=True)
    (spec.project_dir / "pyproject.toml").write_text(pyproject.render(spec), encoding="utf-8")
    (spec.project_dir / "poetry.toml").write_text(pyproject.POETRY_TOML, encoding="utf-8")
    times = work / f"{spec.name}.times"
    start = time.perf_counter()
    subprocess.run(["bash", str(HERE / script), str(tool), str(python), str(spec.project_dir),
                    spec.name, spec.display_name, sys.executable, str(times), *extra],
                   env=clean_env(env), check=True)
    return {**_marks(times), "total": time.perf_counter() - start}


def pip_install_tool(venv: Path, requirement: str, index_url: str) -> float:
    """What a bare user does on a fresh VM: a virtualenv and ``pip install`` of the tool,
    with no pip cache; seconds."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "virtualenv", "-q", "--no-periodic-update",
                    str(venv)], env=clean_env(), check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                    "--no-cache-dir", requirement],
                   env=clean_env({"PIP_INDEX_URL": index_url, "PIP_CONFIG_FILE": os.devnull}),
                   check=True)
    return time.perf_counter() - start


class Build:
    """The three sides of one case, warm or fresh; runs appended per side."""

    def __init__(self, case: str, python: str, work: Path, fresh: bool) -> None:
        self.case = case
        self.deps = CASES[case]
        self.python = python
        self.work = work / ("fresh" if fresh else "warm") / case
        self.work.mkdir(parents=True)
        self.fresh = fresh
        found = interpreters.find(PythonVersion(int(python.split(".")[1])))
        assert found is not None
        self.interpreter = found.path
        self.runs: dict[str, list[dict[str, float]]] = {k: [] for k in SIDES}
        self.count = 0
        self.last_b: Optional[api.EnvSpec] = None

    def _spec(self, tag: str) -> api.EnvSpec:
        self.count += 1
        name = f"{tag}{self.count}-{self.case}"[:60]
        return api.make_spec(self.python, self.deps, name=name,
                             project_dir=self.work / name)

    def _vm(self, tag: str) -> Path:
        vm = self.work / f"vm-{tag}{self.count}"
        vm.mkdir()
        return vm

    def side_a(self) -> dict[str, float]:
        spec = self._spec("a")
        if not self.fresh:
            return bare("bare.sh", Workspace(spec).poetry, spec, self.interpreter, self.work, {})
        vm = self._vm("a")
        tools = pip_install_tool(vm / "poetry", POETRY_REQUIREMENT, spec.index_url)
        with environ(POETRY_CACHE_DIR=str(vm / "poetry-cache")):
            got = bare("bare.sh", vm / "poetry" / "bin" / "poetry", spec, self.interpreter,
                       self.work, {})
        return {**got, "poetry": tools, "total": got["total"] + tools}

    def side_u(self) -> dict[str, float]:
        spec = self._spec("u")
        if not self.fresh:
            return bare("bare_uv.sh", uvtool.binary(), spec, self.interpreter, self.work,
                        {"UV_CACHE_DIR": str(uvtool.cache_dir())}, spec.index_url)
        vm = self._vm("u")
        tools = pip_install_tool(vm / "uv", "uv", spec.index_url)
        got = bare("bare_uv.sh", vm / "uv" / "bin" / "uv", spec, self.interpreter, self.work,
                   {"UV_CACHE_DIR": str(vm / "uv-cache")}, spec.index_url)
        return {**got, "poetry": tools, "total": got["total"] + tools}

    def side_b(self) -> dict[str, float]:
        spec = self._spec("b")
        self.last_b = spec
        if not self.fresh:
            return wizard(self.python, self.deps, spec.name, spec.project_dir)
        vm = self._vm("b")
        (vm / "home").mkdir()
        with environ(COLAB_WIZARD_HOME=str(vm / "home"),
                     POETRY_CACHE_DIR=str(vm / "poetry-cache")):
            return wizard(self.python, self.deps, spec.name, spec.project_dir)

    def warm_up(self) -> None:
        """Fill the shared caches (tools, Poetry's and uv's) with each side once."""
        for side in (self.side_b, self.side_a, self.side_u):
            side()

    def rounds(self, count: int) -> None:
        sides: list[tuple[str, Callable[[], dict[str, float]]]] = [
            ("a", self.side_a), ("u", self.side_u), ("b", self.side_b)]
        for i in range(count):
            order = sides[i % 3:] + sides[:i % 3]  # a u b, u b a, b a u, ...
            for key, side in order:
                self.runs[key].append(side())
            print(f"  {self.case} {'fresh' if self.fresh else 'warm'} round {i + 1}: "
                  + ", ".join(f"{SIDES[k]} {self.runs[k][-1]['total']:.2f} s" for k in SIDES),
                  flush=True)

    def median(self, side: str, key: str = "total") -> Optional[float]:
        values = [r[key] for r in self.runs[side] if key in r]
        return statistics.median(values) if values else None


def secs(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.2f} s"


def ratio(top: Optional[float], bottom: Optional[float]) -> Optional[float]:
    return None if top is None or not bottom else top / bottom


def build_tables(kind: str, builds: list[Build], rounds: int) -> list[dict[str, Any]]:
    rows = []
    summary = []
    for b in builds:
        a, u, w = b.median("a"), b.median("u"), b.median("b")
        ba, bu = ratio(w, a), ratio(w, u)
        target_a = TARGETS.get((kind, "a")) if b.case == "data-science" else None
        target_u = TARGETS.get((kind, "u")) if b.case == "data-science" else None
        rows.append([b.case, secs(a), secs(u), secs(w), f"{ba:.2f}" if ba else "-",
                     f"<= {target_a}" if target_a else "", f"{bu:.2f}" if bu else "-",
                     f"<= {target_u}" if target_u else ""])
        summary.append({"case": b.case, "kind": kind, "a": a, "u": u, "b": w, "b/a": ba,
                        "b/u": bu, "target_a": target_a, "target_u": target_u})
    title = "warm caches" if kind == "warm" else \
        "a fresh VM (empty package caches, no tool environment)"
    table(f"{'1' if kind == 'warm' else '2'}. Build a kernel, {title}; medians of {rounds}",
          ["case", "bare Poetry (a)", "bare uv (u)", "colab_wizard (b)", "b/a", "target",
           "b/u", "target"], rows)
    for b in builds:
        table(f"   per stage, {b.case}, medians (bare scripts' steps named like the stages; "
              "'poetry' = installing the tool)",
              ["stage", "a", "u", "b"],
              [[key, secs(b.median("a", key)), secs(b.median("u", key)),
                secs(b.median("b", key))] for key in STAGES
               if any(b.median(s, key) is not None for s in SIDES)])
    return summary


def rerun(python: str, project: Path, name: str, deps: list[str]) -> dict[str, Any]:
    events: list[Event] = []
    start = time.perf_counter()
    api.create(python, deps, name=name, project_dir=project, listeners=[events.append])
    seconds = time.perf_counter() - start
    skipped = [e.stage for e in events if isinstance(e, StageDone) and e.skipped]
    ran = [e.stage for e in events if isinstance(e, StageDone) and not e.skipped]
    return {"seconds": seconds, "skipped": skipped, "ran": ran}


def dead_loopback_url() -> str:
    """A loopback URL nobody listens on (a port bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/simple/"


def restore(python: str, work: Path, rounds: int, deps: list[str]) -> dict[str, Any]:
    """A fresh VM every way, in rotating order: cold ``create`` (no tools, empty package
    caches, the index reachable), restore from the saved folder (no tools, the index
    unreachable) into the same project folder, as on a new Colab VM, and the floor: bare
    uv installing the same saved wheels (``bare_restore.sh``)."""
    runs: dict[str, list[dict[str, float]]] = {"cold": [], "restore": [], "floor": []}
    folder = work / "saved"
    project = work / "vm-project"
    found = interpreters.find(PythonVersion(int(python.split(".")[1])))
    assert found is not None

    def fresh_vm(tag: str) -> dict[str, str]:
        vm = work / tag
        (vm / "home").mkdir(parents=True, exist_ok=True)
        return {"COLAB_WIZARD_HOME": str(vm / "home"), "POETRY_CACHE_DIR": str(vm / "cache")}

    def wipe() -> None:
        shutil.rmtree(project, ignore_errors=True)
        with contextlib.suppress(SpecError):
            kernels.remove("bench-vm")

    def run_cold(i: int) -> None:
        wipe()
        with environ(**fresh_vm(f"cold-vm{i}")):
            runs["cold"].append(wizard(python, deps, "bench-vm", project))

    def run_restore(i: int) -> None:
        wipe()
        dead = dead_loopback_url()
        env = fresh_vm(f"restore-vm{i}")
        with environ(**env, COLAB_WIZARD_INDEX_URL=dead, PIP_INDEX_URL=dead):
            events: list[Event] = []
            start = time.perf_counter()
            asyncio.run(freshvm.restore_async(folder, "bench-vm", project_dir=project,
                                              listeners=[events.append]))
            runs["restore"].append({**stage_seconds(events),
                                    "total": time.perf_counter() - start})
        assert not (Path(env["COLAB_WIZARD_HOME"]) / "tools" / "poetry").exists()

    def run_floor(i: int) -> None:
        wipe()
        cache = freshvm.find_saved(folder, "bench-vm")
        manifest = freshvm.read_manifest(cache)
        requirements = work / "floor-requirements.txt"
        requirements.write_text(wheelhouse.requirements_text(manifest["wheels"]),
                                encoding="utf-8")
        times = work / f"floor{i}.times"
        start = time.perf_counter()
        subprocess.run(["bash", str(HERE / "bare_restore.sh"), str(cache), str(found.path),
                        str(work / f"floor-vm{i}"), "bench-floor", "bench-floor", sys.executable,
                        str(times), str(requirements)], env=clean_env(), check=True)
        runs["floor"].append({**_marks(times), "total": time.perf_counter() - start})

    run_cold(0)  # the first cold build is the one saved, on its own VM: with the uv it
    # fetched (a save from another home would carry no uv, and restore would fall back to pip)
    start = time.perf_counter()
    with environ(**fresh_vm("cold-vm0")):
        saved = freshvm.save(folder, "bench-vm")
    save_seconds = time.perf_counter() - start
    assert freshvm.read_manifest(saved.folder).get("uv"), "the saved folder carries no uv"
    sides = [("restore", run_restore), ("floor", run_floor), ("cold", run_cold)]
    for i in range(rounds):
        for key, run in sides[i % 3:] + sides[:i % 3]:
            if not (i == 0 and key == "cold"):  # round 1's cold create is the one saved
                run(i)
        print(f"  round {i + 1}: " + ", ".join(f"{key} {runs[key][-1]['total']:.2f} s"
                                               for key in ("cold", "restore", "floor")),
              flush=True)
    medians = {key: statistics.median(r["total"] for r in values)
               for key, values in runs.items()}

    def steps(values: list[dict[str, float]]) -> str:
        return ", ".join(f"{key} {statistics.median(r.get(key, 0.0) for r in values):.2f}"
                         for key in values[0] if key != "total")

    return {**medians, "ratio": medians["restore"] / medians["cold"],
            "floor_ratio": medians["floor"] / medians["cold"], "rounds": rounds,
            "saved": f"{saved.wheels} wheels, {saved.size / 1e6:.1f} MB, "
                     f"saved in {save_seconds:.1f} s",
            "cold_steps": steps(runs["cold"]), "restore_steps": steps(runs["restore"]),
            "floor_steps": steps(runs["floor"])}


def row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells,
                                                                                         widths)))


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    print(row(header, widths))
    print("  ".join("-" * w for w in widths))
    for cells in rows:
        print(row(cells, widths))


def versions(python: str) -> str:
    """Tool versions, for the header (the warm tools exist once a build has run)."""
    ws = Workspace(api.make_spec(python, [], name="versions"))
    found = []
    for label, argv in (("Poetry", [str(ws.poetry), "--version"]),
                        ("uv", [str(uvtool.binary()), "--version"])):
        try:
            out = subprocess.run(argv, capture_output=True, text=True, env=clean_env(),
                                 timeout=60).stdout.strip()
        except OSError:
            out = "not installed"
        found.append(f"{label}: {out.splitlines()[-1] if out else '?'}")
    target = interpreters.find(PythonVersion(int(python.split(".")[1])))
    found.append(f"target Python {target.label if target else '?'}")
    return "; ".join(found)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", action="append",
                        choices=["build", "fresh", "streaming", "rerun", "restore",
                                 "overhead"])
    parser.add_argument("--case", action="append", choices=list(CASES),
                        help="build cases (default: both)")
    parser.add_argument("--cache", type=Path,
                        default=Path.home() / ".cache" / "colab_wizard-bench")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    only = set(args.only or ["build", "fresh", "streaming", "rerun", "restore"])
    if "overhead" in only:  # the old name of "build"
        only.add("build")
    cases = args.case or list(CASES)
    work = Path(tempfile.mkdtemp(prefix="cw-bench-"))
    isolate(work, args.cache)
    python = pick_python()
    load = os.getloadavg()[0]
    import ipywidgets

    print(f"colab_wizard {colab_wizard.__version__} benchmarks, {time.strftime('%Y-%m-%d %H:%M')}"
          f" UTC: host Python {platform.python_version()} (ipywidgets {ipywidgets.__version__}),"
          f" target Python {python}, {os.cpu_count()} CPUs, load {load:.1f}, "
          f"{platform.platform()}", flush=True)
    summary: list[dict[str, Any]] = []
    try:
        builds: list[Build] = []
        if "build" in only or "rerun" in only:
            for case in cases:
                b = Build(case, python, work, fresh=False)
                print(f"1. {case}, warm: warm-up (tools, package caches) ...", flush=True)
                b.warm_up()
                b.rounds(args.rounds if "build" in only else 0)
                builds.append(b)
            print(versions(python))
            if "build" in only:
                summary += build_tables("warm", builds, args.rounds)
        if "fresh" in only:
            fresh = []
            for case in cases:
                b = Build(case, python, work, fresh=True)
                print(f"2. {case}, fresh VM ...", flush=True)
                b.rounds(args.rounds)
                fresh.append(b)
            summary += build_tables("fresh", fresh, args.rounds)
        if "streaming" in only:
            rows = []
            for kind, sizes in (("lines", (50_000, 200_000)), ("redraws", (50_000, 200_000)),
                                ("paced", (200_000,))):
                views: list[tuple[int, Any]] = [(n, None) for n in sizes]
                for lines, view in views + [(sizes[-1], streaming.CountingView)]:
                    r = streaming.measure(kind, lines, rounds=args.rounds, view_factory=view)
                    rate = r["stream_messages_per_s"]
                    messages = "- (runner only)" if r["messages"] is None else \
                        f"{r['messages']:.0f}; {r['stream_messages']:.0f} " \
                        f"({'-' if rate is None else f'{rate:.1f}'}/s); {r['renders']:.0f}"
                    into = "panel" if view is None else "runner only"
                    rows.append([f"{kind} {lines:,} {into}", f"{r['bare_wall']:.3f} s",
                                 f"{r['pipe_wall']:.3f} s", f"{r['runner_wall']:.3f} s",
                                 f"{r['wall_ratio']:.2f}", f"{r['pipe_ratio']:.2f}",
                                 f"{r['runner_cpu_self']:.2f} s", f"{r['cpu_ratio']:.2f}",
                                 f"{r['us_per_line']:.2f}", f"{r['rss_growth_mb']:.1f} MB",
                                 f"{r['traced_peak_mb']:.1f} MB", messages])
            table("3. Streaming: child bare to /dev/null (a), to a bare pipe (p), through the "
                  "runner into the headless panel (or a counting listener) (b); medians",
                  ["child", "a wall", "p wall", "b wall", "b/a", "b/p", "b CPU (ours)",
                   "CPU b/a", "us/line", "peak RSS +", "traced peak",
                   "widget msgs: all; while streaming; redraws"], rows)
            print("  widget msgs: every state update and comm open ipywidgets sent during the "
                  "run (install step shown, rows made, done);\n  while streaming: those sent "
                  "from the first line after the stage rows were drawn to the stage's end, "
                  "and their rate.")
        if "rerun" in only:
            last = builds[-1].last_b
            assert last is not None
            again = rerun(python, last.project_dir, last.name, list(last.dependencies))
            table(f"4. Unchanged re-run of create (same spec, same folder; {builds[-1].case})",
                  ["wall", "target", "skipped", "ran"],
                  [[f"{again['seconds']:.2f} s", "<= 1 s", ",".join(again["skipped"]) or "-",
                    ",".join(again["ran"]) or "-"]])
        if "restore" in only:
            print("5. restore from a saved folder (data-science)", flush=True)
            back = restore(python, work / "restore", args.rounds, CASES["data-science"])
            table("5. A fresh VM: cold create (fetches uv, installs Poetry, downloads "
                  f"packages) vs restore from a saved folder ({back['saved']}), index "
                  "unreachable; data-science",
                  [f"median of {back['rounds']}", "cold create", "restore", "ratio", "target",
                   "floor (bare uv)", "floor/cold"],
                  [["", f"{back['cold']:.2f} s", f"{back['restore']:.2f} s",
                    f"{back['ratio']:.3f}", "<= 0.15", f"{back['floor']:.2f} s",
                    f"{back['floor_ratio']:.3f}"]])
            print(f"  cold create per stage (s, medians): {back['cold_steps']}")
            print(f"  restore per stage (s, medians):     {back['restore_steps']}")
            print(f"  floor per step (s, medians):        {back['floor_steps']}")
            print("  floor: bare_restore.sh, the least any restore that installs the saved "
                  "wheels with uv does (unpack, uv venv + uv pip install --offline "
                  "--require-hashes into an empty cache, kernelspec, one kernel start)")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
