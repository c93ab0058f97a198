"""Without chromium the browser tests skip locally, and fail under CI=true (never a green run without them)."""

from __future__ import annotations

import pytest

INNER = """
from tests.browser.conftest import browser  # noqa: F401  (the fixture under test)

def test_needs_the_browser(browser):
    pass
"""


def test_a_missing_chromium_skips_locally_and_fails_in_ci(pytester: pytest.Pytester,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_inner=INNER)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setattr("tests.browser.conftest.CHROMIUM", "/nonexistent/chromium")
    monkeypatch.delenv("CI", raising=False)
    local = pytester.runpytest("-p", "no:cacheprovider", "-rs")
    local.assert_outcomes(skipped=1)
    local.stdout.fnmatch_lines(["*no chromium at /nonexistent/chromium*apt-get install chromium*"])

    monkeypatch.setenv("CI", "true")
    ci = pytester.runpytest("-p", "no:cacheprovider", "-rE")
    ci.assert_outcomes(errors=1)
    ci.stdout.fnmatch_lines(["*CI=true does not allow skipping them*"])
