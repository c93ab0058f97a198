"""The test files of the frameworks the adapters conform to, taken from their released sdists.

``sdist_root("langgraph-checkpoint")`` downloads the sdist of the *installed* version with pip (PyPI is
the only network CI has) into a cache (``$MEMLAYER_UPSTREAM_CACHE``, default ``.upstream/`` in the
repository, git-ignored) and returns its extracted directory. ``load_tests`` imports one of its test
modules as its own ``tests`` package (swapped in for ours while it imports), and ``adopt`` copies its
tests into a module of ours, with skips given by name and reason. Nothing from these sdists is
committed. When a sdist cannot be had, the tests skip with the reason; under ``CI=true`` they fail.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import types
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("MEMLAYER_UPSTREAM_CACHE") or ROOT / ".upstream")


class Unavailable(Exception):
    """The upstream tests cannot be had here (pip could not download the sdist)."""


class NotShipped(Unavailable):
    """The release's sdist was downloaded and ships no tests: a fact of that release, not of this machine."""


def unavailable(reason: str, *, ci_fails: bool = True) -> None:
    """Skip the calling test module; under CI (CI=true), where the tests must run, fail instead unless
    ``ci_fails`` is False (the release ships no tests at all, which no CI run can change)."""
    if ci_fails and os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"upstream conformance tests could not run under CI: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def installed_version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError as exc:
        raise Unavailable(f"{distribution} is not installed (it comes with the dev extra)") from exc


def sdist_root(distribution: str, version: str | None = None) -> Path:
    """The extracted sdist of ``distribution`` (the installed version unless ``version``)."""
    version = version or installed_version(distribution)
    folder = distribution.replace("-", "_")
    target = CACHE / f"{folder}-{version}"
    if (target / "PKG-INFO").exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               "--disable-pip-version-check", "-q", "-d", tmp, f"{distribution}=={version}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        archives = list(Path(tmp).glob("*.tar.gz"))
        if proc.returncode != 0 or not archives:
            raise Unavailable(f"pip could not download the {distribution} {version} sdist: {proc.stderr.strip()[-300:]}")
        with tarfile.open(archives[0]) as tar:
            tar.extractall(tmp, filter="data")
        extracted = next(p for p in Path(tmp).iterdir() if p.is_dir())
        try:
            extracted.rename(target)
        except OSError:  # another run extracted it meanwhile
            shutil.rmtree(extracted, ignore_errors=True)
    return target


def _alias(root: Path) -> str:
    return f"_upstream_{root.name.replace('-', '_').replace('.', '_')}"


def loaded(root: Path, module: str) -> types.ModuleType:
    """A module of the sdist's ``tests`` package that ``load_tests`` imported along (e.g. its conftest)."""
    return sys.modules[f"{_alias(root)}.tests.{module}"]


def load_tests(root: Path, module: str) -> types.ModuleType:
    """Import ``tests.<module>`` of the sdist at ``root`` (its ``tests`` package replaces ours meanwhile)."""
    tests_dir = root / "tests"
    if not (tests_dir / f"{module.replace('.', '/')}.py").exists():
        raise NotShipped(f"{root.name} ships no tests/{module.replace('.', '/')}.py")
    ours = {name: mod for name, mod in sys.modules.items() if name == "tests" or name.startswith("tests.")}
    for name in ours:
        del sys.modules[name]
    alias = _alias(root)
    try:
        package = types.ModuleType("tests")
        package.__path__ = [str(tests_dir)]
        sys.modules["tests"] = package
        loaded = importlib.import_module(f"tests.{module}")
    finally:
        theirs = {name: mod for name, mod in sys.modules.items() if name == "tests" or name.startswith("tests.")}
        for name, mod in theirs.items():
            del sys.modules[name]
            sys.modules[f"{alias}.{name}"] = mod
        sys.modules.update(ours)
    return loaded


def adopt(
    namespace: dict[str, Any], module: types.ModuleType, skips: Mapping[str, str], *,
    slow: Iterable[str] = (), suffix: str = "", strict: bool = True,
) -> list[str]:
    """Copy ``module``'s tests (functions and Test classes) and fixtures into ``namespace``.

    Fixtures already in ``namespace`` (our construction fixtures) are kept; ``skips`` maps a test name (or
    ``Class.method``) to the reason it is skipped; ``slow`` names tests marked ``slow``; a test whose name
    is taken gets ``suffix`` (a sync and an async module side by side); ``strict`` checks every skip names
    a test of the module. Returns the adopted names."""
    adopted = []
    slow = set(slow)
    for name, obj in vars(module).items():
        if name.startswith("test_") and callable(obj):
            if name in skips:
                obj = pytest.mark.skip(reason=skips[name])(obj)
            if name in slow:
                obj = pytest.mark.slow(obj)
            namespace[name + suffix if name in namespace else name] = obj
            adopted.append(name)
        elif name in namespace:
            continue
        elif name.startswith("Test") and isinstance(obj, type):
            for method, reason in skips.items():
                cls, _, attr = method.partition(".")
                if cls == name and attr:
                    setattr(obj, attr, pytest.mark.skip(reason=reason)(getattr(obj, attr)))
            namespace[name] = obj
            adopted.append(name)
        elif hasattr(obj, "_fixture_function_marker") or type(obj).__name__ == "FixtureFunctionDefinition":
            namespace[name] = obj
    unknown = [s for s in skips if s.partition(".")[0] not in adopted]
    assert not (strict and unknown), f"skips name tests that {module.__name__} does not have: {unknown}"
    return adopted
