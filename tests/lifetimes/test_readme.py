"""The README's "Memory lifetimes" example runs as written and prints what its comments say."""

from __future__ import annotations

import contextlib
import io

from tests import readme


def lifetimes_example() -> str:
    return readme.code("## Memory lifetimes", "python")[0]


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
