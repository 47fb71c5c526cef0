"""After an install, before the kernel is registered: ``pip check`` in the new venv.

The restore compares every distribution with the lock itself (freshvm.py); this catches
what that cannot: a dependency that some installed distribution needs and that nothing
installed (a wheel a saved folder lacks, say), named in the sentence.
"""

from __future__ import annotations

from pathlib import Path

from .runner import StageContext


async def pip_check(ctx: StageContext, venv_python: Path, hint: str) -> None:
    """Fail the stage unless ``pip check`` finds every requirement of the venv installed."""
    ctx.tail.clear()
    code = await ctx.run([str(venv_python), "-m", "pip", "--isolated", "check",
                          "--disable-pip-version-check"], check=False)
    if code != 0:
        problems = [t.strip() for t in ctx.tail if "requires" in t or "has requirement" in t]
        raise ctx.fail("the environment is incomplete: " + ("; ".join(problems) or
                       f"pip check exited with code {code}"), hint)
