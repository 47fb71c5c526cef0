"""Benchmarks, measured side by side in one run: ``python benchmarks/run.py``.

1. overhead: the same kernel built by ``benchmarks/bare.sh`` (the bare Poetry/ipykernel
   commands) and by ``colab_wizard.create``, alternating, warm caches; medians and b/a.
2. streaming: a chatty child bare to /dev/null vs through the runner into a view.
3. unchanged re-run: ``create`` again with the same spec; wall time, stages skipped.
4. restore from cache, a fresh VM both ways: cold ``create`` (a new wizard home, so Poetry's
   tool env is installed, and an empty Poetry package cache) vs ``cache.restore_async`` from
   a saved cache folder into the same project folder, with every index setting on a dead
   loopback port; alternating.

Everything goes to temporary folders except Poetry's tool environment and package cache,
kept in ``--cache`` (default ``~/.cache/colab_wizard-bench``) so caches are warm.
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
from typing import Any, Iterator, Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import streaming  # noqa: E402

import colab_wizard  # noqa: E402
from colab_wizard import api, cache, interpreters, kernels, pyproject  # noqa: E402
from colab_wizard.events import Event, StageDone  # noqa: E402
from colab_wizard.plan import Workspace  # noqa: E402
from colab_wizard.procenv import clean_env  # noqa: E402
from colab_wizard.spec import PythonVersion  # noqa: E402

DEPS = ["tabulate>=0.9", "six", "attrs", "packaging"]


def pick_python() -> str:
    host = sys.version_info[:2]
    for minor in ("3.12", "3.13", "3.11", "3.10"):
        want = PythonVersion(int(minor.split(".")[1]))
        found = interpreters.find(want)
        if found is not None and found.version[:2] != host:
            return minor
    raise SystemExit("No CPython of another minor version is installed here.")


def isolate(work: Path, cache: Path) -> None:
    """Temporary wizard, Jupyter and Poetry config dirs; persistent tools and package cache."""
    home = work / "home"
    home.mkdir(parents=True)
    (cache / "tools").mkdir(parents=True, exist_ok=True)
    (home / "tools").symlink_to(cache / "tools")
    os.environ.update({
        "COLAB_WIZARD_HOME": str(home),
        "JUPYTER_DATA_DIR": str(work / "jupyter"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "POETRY_CACHE_DIR": str(cache / "poetry-cache"),
        "POETRY_CONFIG_DIR": str(work / "poetry-config"),
    })
    os.environ.pop("COLAB_WIZARD_HOST", None)


STEPS = ["project", "lock", "install", "kernel", "verify"]


def bare_build(spec: api.EnvSpec, python: Path, work: Path) -> dict[str, float]:
    """Run bare.sh; seconds per step (named like the engine's stages)."""
    ws = Workspace(spec)
    spec.project_dir.mkdir(parents=True)
    ws.pyproject.write_text(pyproject.render(spec), encoding="utf-8")
    (spec.project_dir / "poetry.toml").write_text(pyproject.POETRY_TOML, encoding="utf-8")
    times = work / f"{spec.name}.times"
    subprocess.run(
        ["bash", str(HERE / "bare.sh"), str(ws.poetry), str(python), str(spec.project_dir),
         spec.name, spec.display_name, sys.executable, str(times)],
        env=clean_env(), check=True,
    )
    marks = [line.split() for line in times.read_text().splitlines()]
    return {step: float(end) - float(begin)
            for (_, begin), (step, end) in zip(marks, marks[1:])}


def stage_seconds(events: list[Event]) -> dict[str, float]:
    return {e.stage: e.seconds for e in events if isinstance(e, StageDone)}


def overhead(python: str, work: Path, rounds: int) -> dict[str, Any]:
    found = interpreters.find(PythonVersion(int(python.split(".")[1])))
    assert found is not None
    print("  warm-up build (installs Poetry once, fills the package cache) ...", flush=True)
    api.create(python, DEPS, name="bench-warm", project_dir=work / "warm")
    bare: list[float] = []
    ours: list[float] = []
    bare_steps: list[dict[str, float]] = []
    our_steps: list[dict[str, float]] = []
    for i in range(rounds):
        spec_a = api.make_spec(python, DEPS, name=f"bench-a{i}", project_dir=work / f"a{i}")

        def run_a(spec_a: api.EnvSpec = spec_a) -> None:
            start = time.perf_counter()
            bare_steps.append(bare_build(spec_a, found.path, work))
            bare.append(time.perf_counter() - start)

        def run_b(i: int = i) -> None:
            events: list[Event] = []
            start = time.perf_counter()
            api.create(python, DEPS, name=f"bench-b{i}", project_dir=work / f"b{i}",
                       listeners=[events.append])
            ours.append(time.perf_counter() - start)
            our_steps.append(stage_seconds(events))

        # a b, b a, a b, ...: neither side always goes first.
        for run in (run_a, run_b) if i % 2 == 0 else (run_b, run_a):
            run()
        print(f"  round {i + 1}: bare {bare[-1]:.2f} s, colab_wizard {ours[-1]:.2f} s",
              flush=True)
    a, b = statistics.median(bare), statistics.median(ours)
    keys = list(our_steps[0])

    def med(runs: list[dict[str, float]], key: str) -> Optional[float]:
        values = [r[key] for r in runs if key in r]
        return statistics.median(values) if values else None

    steps = [(key, med(bare_steps, key), med(our_steps, key)) for key in keys]
    return {"bare": a, "ours": b, "ratio": b / a, "rounds": rounds,
            "bare_all": bare, "ours_all": ours, "steps": steps}


def rerun(python: str, work: Path) -> dict[str, Any]:
    events: list[Event] = []
    start = time.perf_counter()
    api.create(python, DEPS, name="bench-b0", project_dir=work / "b0", listeners=[events.append])
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


def restore(python: str, work: Path, rounds: int) -> dict[str, Any]:
    """A fresh VM both ways, alternating: cold ``create`` (no Poetry tool env, an empty
    package cache, the index reachable) vs restore from the saved cache (no Poetry, the
    index unreachable) into the same project folder, as on a new Colab VM."""
    colds: list[float] = []
    restores: list[float] = []
    cold_steps: list[dict[str, float]] = []
    restore_steps: list[dict[str, float]] = []
    folder = work / "saved"
    project = work / "vm-project"

    def fresh_vm(tag: str) -> dict[str, str]:
        """A new wizard home (so no Poetry tool env) and an empty Poetry package cache."""
        vm = work / tag
        (vm / "home").mkdir(parents=True)
        return {"COLAB_WIZARD_HOME": str(vm / "home"), "POETRY_CACHE_DIR": str(vm / "cache")}

    def wipe() -> None:
        shutil.rmtree(project, ignore_errors=True)
        with contextlib.suppress(kernels.KernelError):
            kernels.remove("bench-vm")

    def run_cold(i: int) -> None:
        wipe()
        with environ(**fresh_vm(f"cold-vm{i}")):
            events: list[Event] = []
            start = time.perf_counter()
            api.create(python, DEPS, name="bench-vm", project_dir=project,
                       listeners=[events.append])
            colds.append(time.perf_counter() - start)
        cold_steps.append(stage_seconds(events))

    def run_restore(i: int) -> None:
        wipe()
        dead = dead_loopback_url()
        env = fresh_vm(f"restore-vm{i}")
        with environ(**env, COLAB_WIZARD_INDEX_URL=dead, PIP_INDEX_URL=dead):
            events: list[Event] = []
            start = time.perf_counter()
            asyncio.run(cache.restore_async(folder, "bench-vm", project_dir=project,
                                            listeners=[events.append]))
            restores.append(time.perf_counter() - start)
        restore_steps.append(stage_seconds(events))
        assert not (Path(env["COLAB_WIZARD_HOME"]) / "tools" / "poetry").exists()

    run_cold(0)  # the first cold build is the one saved
    saved = cache.save(folder, "bench-vm")
    run_restore(0)
    print(f"  round 1: cold create {colds[-1]:.2f} s, restore {restores[-1]:.2f} s", flush=True)
    for i in range(1, rounds):
        for run in (run_restore, run_cold) if i % 2 else (run_cold, run_restore):
            run(i)
        print(f"  round {i + 1}: cold create {colds[-1]:.2f} s, restore {restores[-1]:.2f} s",
              flush=True)
    cold, warm = statistics.median(colds), statistics.median(restores)

    def steps(runs: list[dict[str, float]]) -> str:
        return ", ".join(f"{key} {statistics.median(r.get(key, 0.0) for r in runs):.2f}"
                         for key in runs[0])

    return {"cold": cold, "restore": warm, "ratio": warm / cold, "rounds": rounds,
            "saved": f"{saved.wheels} wheels, {saved.size / 1e6:.1f} MB",
            "cold_steps": steps(cold_steps), "restore_steps": steps(restore_steps)}


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


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["overhead", "streaming", "rerun", "restore"],
                        action="append")
    parser.add_argument("--cache", type=Path,
                        default=Path.home() / ".cache" / "colab_wizard-bench")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    only = set(args.only or ["overhead", "streaming", "rerun", "restore"])
    work = Path(tempfile.mkdtemp(prefix="cw-bench-"))
    isolate(work, args.cache)
    python = pick_python()
    load = os.getloadavg()[0]
    import ipywidgets

    print(f"colab_wizard {colab_wizard.__version__} benchmarks: host Python "
          f"{platform.python_version()} (ipywidgets {ipywidgets.__version__}), target Python "
          f"{python}, {os.cpu_count()} CPUs, "
          f"load {load:.1f}, {platform.platform()}")
    try:
        if "overhead" in only or "rerun" in only:
            print("1. overhead vs bare tools (dependencies: " + ", ".join(DEPS) + ")")
            over = overhead(python, work, args.rounds)
            table("1. Build a kernel: bare Poetry/ipykernel script (a) vs colab_wizard.create (b)",
                  ["", "bare (a)", "colab_wizard (b)", "b/a", "target"],
                  [[f"median of {over['rounds']}", f"{over['bare']:.2f} s",
                    f"{over['ours']:.2f} s", f"{over['ratio']:.3f}", "<= 1.03"]])

            def secs(value: Optional[float]) -> str:
                return "-" if value is None else f"{value:.2f} s"

            table("1b. Per step, medians (bare.sh's steps named like the engine's stages)",
                  ["step", "bare (a)", "colab_wizard (b)"],
                  [[key, secs(a), secs(b)] for key, a, b in over["steps"]])
        if "streaming" in only:
            rows = []
            for kind, sizes in (("lines", (50_000, 200_000)), ("redraws", (50_000, 200_000)),
                                ("paced", (200_000,))):
                views: list[tuple[int, Any]] = [(n, None) for n in sizes]
                for lines, view in views + [(sizes[-1], streaming.CountingView)]:
                    r = streaming.measure(kind, lines, rounds=args.rounds, view_factory=view)
                    messages = "- (runner only)" if r["messages"] is None else \
                        f"{r['messages']:.0f}; {r['stream_messages']:.0f} " \
                        f"({r['stream_messages_per_s']:.1f}/s); {r['renders']:.0f}"
                    into = "panel" if view is None else "runner only"
                    rows.append([f"{kind} {lines:,} {into}", f"{r['bare_wall']:.3f} s",
                                 f"{r['pipe_wall']:.3f} s", f"{r['runner_wall']:.3f} s",
                                 f"{r['wall_ratio']:.2f}", f"{r['pipe_ratio']:.2f}",
                                 f"{r['runner_cpu_self']:.2f} s", f"{r['cpu_ratio']:.2f}",
                                 f"{r['us_per_line']:.2f}", f"{r['rss_growth_mb']:.1f} MB",
                                 f"{r['traced_peak_mb']:.1f} MB", messages])
            table("2. Streaming: child bare to /dev/null (a), to a bare pipe (p), through the "
                  "runner into the headless panel (or a counting listener) (b); medians",
                  ["child", "a wall", "p wall", "b wall", "b/a", "b/p", "b CPU (ours)",
                   "CPU b/a", "us/line", "peak RSS +", "traced peak",
                   "widget msgs: all; while streaming; redraws"], rows)
            print("  widget msgs: every state update and comm open ipywidgets sent during the "
                  "run (install step shown, rows made, done);\n  while streaming: those sent "
                  "from the first line after the stage rows were drawn to the stage's end, "
                  "and their rate.")
        if "rerun" in only:
            again = rerun(python, work)
            table("3. Unchanged re-run of create (same spec, same folder)",
                  ["wall", "target", "skipped", "ran"],
                  [[f"{again['seconds']:.2f} s", "<= 2 s", ",".join(again["skipped"]) or "-",
                    ",".join(again["ran"]) or "-"]])
        if "restore" in only:
            print("4. restore from cache")
            back = restore(python, work, args.rounds)
            table("4. A fresh VM: cold create (installs Poetry, downloads packages) vs restore "
                  f"from a saved cache ({back['saved']}), index unreachable",
                  [f"median of {back['rounds']}", "cold create", "restore", "ratio", "target"],
                  [["", f"{back['cold']:.2f} s", f"{back['restore']:.2f} s",
                    f"{back['ratio']:.3f}", "<= 0.15"]])
            print(f"  cold create per stage (s, medians): {back['cold_steps']}")
            print(f"  restore per stage (s, medians):     {back['restore_steps']}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
