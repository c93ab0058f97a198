"""The memory browser in a real browser: Debian's chromium driven by Playwright, against a real
``memlayer serve`` (tests/server/harness.py) seeded with two tenants.

- ``site`` (package): the server, its keys (``acme`` admin, ``acme_read`` read-only, ``globex``) and what
  was seeded; scopes that tests forget are their own (``carol``, ``dave``), so the order of tests is free.
- ``browser`` (package): chromium, launched once. Locally a missing chromium or Playwright skips these
  tests with the reason; under ``CI=true`` it fails them (.ci/run installs chromium, the dev extra Playwright).
- ``page``: a new browser context per test (its own sessionStorage) at 1366x768, collecting page errors.
- ``shot(page, name)``: a screenshot of the page, kept in ``test-artifacts/browser/`` (or
  ``$MEMLAYER_TEST_ARTIFACTS/browser``) as the run's artifact.

Never ``playwright install``: it downloads a browser, and the machine and CI are offline.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.harness import ROOT, ServerProcess, create_key
from tests.server_fixtures import in_ci

CHROMIUM = os.environ.get("MEMLAYER_CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 1366, "height": 768}
ARTIFACTS = Path(os.environ.get("MEMLAYER_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "browser"

# acme's alice, told to a travel agent over three months: she moves and changes jobs (two facts closed).
ALICE = [
    ("2025-01-10T09:00:00Z", "I live in Oslo. I work at Initech as a designer."),
    ("2025-02-01T09:00:00Z", "My favourite food is sushi. My sister is Maria."),
    ("2025-03-15T12:00:00Z", "I moved to Bergen. I now work at Globex."),
    ("2025-04-01T08:00:00Z", "I live in Bergen and I like hiking."),
]
GLOBEX_SECRETS = ("Tokyo", "Kyoto", "zeta-secret-user", "Umbrella")
MARKUP = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script> is only text'


@dataclass
class Site:
    proc: ServerProcess
    keys: dict[str, str]
    seeded: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.proc.url

    @property
    def ui(self) -> str:
        return self.proc.url + "/ui/"

    def http(self, key: str = "acme") -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.keys[key]}"}, timeout=60)


def _add(http: httpx.Client, text: str, **body: Any) -> list[dict[str, Any]]:
    r = http.post("/v1/memories", json={"messages": [{"role": "user", "content": text, **body.pop("who", {})}], **body})
    assert r.status_code == 200, r.text
    return list(r.json()["results"])


def seed(site: Site) -> None:
    with site.http("acme") as acme:
        for at, text in ALICE:
            _add(acme, text, who={"name": "Alice"}, user_id="alice", agent_id="travel-bot", timestamp=at,
                 metadata={"channel": "chat"})
        _add(acme, "I like tea. I live in Paris.", user_id="bob", timestamp="2025-02-10T10:00:00Z",
             metadata={"channel": "email"})
        _add(acme, "Book a table for two on Friday.", user_id="bob", run_id="onboarding-2025", infer=False)
        _add(acme, MARKUP, user_id="eve", infer=False)  # text that would be markup if a page inserted it as HTML
        for user in ("carol", "dave"):  # forgotten by the tests
            _add(acme, "I live in Lisbon. I like jazz.", user_id=user, timestamp="2025-01-20T10:00:00Z")
        site.seeded["acme"] = acme.get("/v1/memories", params={"user_id": "alice", "include_expired": True,
                                                               "limit": 100}).json()["results"]
    with site.http("globex") as globex:  # the same user name in another tenant, and ids of its own
        _add(globex, "I live in Tokyo. I work at Umbrella.", user_id="alice", timestamp="2025-01-05T00:00:00Z")
        _add(globex, "I live in Kyoto.", user_id="zeta-secret-user", agent_id="zeta-secret-user")


@pytest.fixture(scope="package")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    path = tmp_path_factory.mktemp("browser") / "store"
    path.mkdir()
    keys = {"acme": create_key(path, "acme", "read,write,admin"), "acme_read": create_key(path, "acme", "read"),
            "globex": create_key(path, "globex", "read,write")}
    with ServerProcess(path) as proc:
        served = Site(proc, keys)
        seed(served)
        yield served


def _unavailable(reason: str) -> None:
    message = f"the browser tests need Playwright and chromium: {reason}"
    if in_ci():
        pytest.fail(f"{message}. CI=true does not allow skipping them (.ci/run installs chromium with apt-get; "
                    "the dev extra brings playwright)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        _unavailable("pip install -e '.[dev]' (Playwright)")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)) and shutil.which(CHROMIUM) is None:
        _unavailable(f"no chromium at {CHROMIUM} (apt-get install chromium, or set MEMLAYER_CHROMIUM)")
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        except Error as exc:
            _unavailable(f"chromium at {CHROMIUM} does not start: {exc}")
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=VIEWPORT, reduced_motion="reduce")
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.errors = errors
    yield tab
    context.close()
    assert not errors, f"the page raised: {errors}"


@pytest.fixture(scope="session")
def shot() -> Callable[[Any, str], Path]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(tab: Any, name: str) -> Path:
        target = ARTIFACTS / f"{name}.png"
        tab.screenshot(path=str(target))
        return target

    return take


def sign_in(tab: Any, site: Site, key: str = "acme") -> None:
    """Open the browser and sign in with one of the site's keys (by the form, as a user does)."""
    tab.goto(site.ui)
    tab.get_by_label("API key").fill(site.keys[key])
    tab.get_by_role("button", name="Sign in").click()
    tab.get_by_role("heading", name="Scopes of this tenant").wait_for()


def open_scope(tab: Any, site: Site, kind: str, name: str, view: str = "") -> None:
    tab.goto(f"{site.ui}#/scope/{kind}/{name}{view}")
