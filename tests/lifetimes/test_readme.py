"""The README's "Memory lifetimes" example runs as written and prints what its comments say."""

from __future__ import annotations

import contextlib
import io
import re

from tests.conftest import ROOT


def lifetimes_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Memory lifetimes", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


def test_the_readme_lifetimes_example_runs() -> None:
    code = lifetimes_example()
    out = io.StringIO()
    namespace: dict = {}
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md (Memory lifetimes)", "exec"), namespace)
    namespace["m"].close()
    printed = out.getvalue().splitlines()
    promised = [line.split("# ", 1)[1] for line in code.splitlines() if line.startswith("print(")]
    assert len(printed) == len(promised) == 5
    for got, comment in zip(printed, promised, strict=True):
        assert got.startswith(comment.split(": ")[0].removesuffix("...").rstrip()), (got, comment)
