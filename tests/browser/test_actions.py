"""The memory browser in chromium: forgetting (with confirmation), tenants apart, the keyboard alone,
and a laptop screen."""

from __future__ import annotations

import re
from typing import Any

from .conftest import GLOBEX_SECRETS, VIEWPORT, Site, open_scope, sign_in


def tab_to(page: Any, selector: str, presses: int = 80) -> None:
    """Press Tab until the focused element matches ``selector`` (fails when it is not reachable)."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
    focused = page.evaluate("document.activeElement && document.activeElement.outerHTML.slice(0, 200)")
    raise AssertionError(f"{selector} is not reachable with Tab (focus ended on {focused})")


def focus_is_visible(page: Any) -> bool:
    return bool(page.evaluate("""() => {
        const el = document.activeElement, style = getComputedStyle(el);
        return el.matches(':focus-visible') && style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
    }"""))


def test_forget_a_memory_after_confirming(page: Any, site: Site, shot: Any) -> None:
    with site.http() as http:
        tea = next(m for m in http.get("/v1/memories", params={"user_id": "bob"}).json()["results"]
                   if m["memory"] == "User likes tea")
    sign_in(page, site)
    open_scope(page, site, "user", "bob", f"/memory/{tea['id']}")
    forget = page.get_by_role("button", name="Forget this memory…")
    forget.click()
    dialog = page.get_by_role("dialog", name="Forget this memory?")
    dialog.wait_for()
    assert dialog.get_by_role("button", name="Forget").evaluate("(b) => b === document.activeElement")
    shot(page, "08-forget-memory")
    page.keyboard.press("Escape")  # cancelled: nothing happens
    dialog.wait_for(state="detached")
    assert forget.evaluate("(b) => b === document.activeElement")
    with site.http() as http:
        assert http.get(f"/v1/memories/{tea['id']}").status_code == 200
    forget.click()
    page.keyboard.press("Enter")  # confirmed
    page.locator("p.status.forgotten").wait_for()
    with site.http() as http:
        assert http.get(f"/v1/memories/{tea['id']}").status_code == 404
    assert "User likes tea" not in page.locator("ol.memories").inner_text()
    assert texts_of_events(page)[-1] == "DELETE"
    nav = page.get_by_role("navigation", name="Scopes")
    nav.get_by_role("link", name=re.compile(r"^user bob: 2 current memories$")).wait_for()  # counts follow


def texts_of_events(page: Any) -> list[str]:
    return [t.strip() for t in page.locator("ol.events .event-head .badge").all_inner_texts()]


def test_forget_a_scope_after_typing_its_name(page: Any, site: Site, shot: Any) -> None:
    sign_in(page, site)
    open_scope(page, site, "user", "carol")
    page.locator("ol.memories li.memory").first.wait_for()
    page.get_by_role("button", name="Forget this scope…").click()
    dialog = page.get_by_role("dialog", name="Forget user carol?")
    confirm_field = dialog.get_by_label("Type carol to confirm")
    assert confirm_field.evaluate("(f) => f === document.activeElement")
    button = dialog.get_by_role("button", name="Forget everything")
    confirm_field.fill("caro")
    assert button.is_disabled()
    confirm_field.press("Enter")  # not the name yet: nothing happens
    assert dialog.is_visible()
    dialog.get_by_role("button", name="Cancel").click()
    dialog.wait_for(state="detached")
    with site.http() as http:
        assert http.get("/v1/memories", params={"user_id": "carol"}).json()["results"]

    page.get_by_role("button", name="Forget this scope…").click()
    confirm_field = page.get_by_role("dialog").get_by_label("Type carol to confirm")
    confirm_field.fill("carol")
    shot(page, "09-forget-scope")
    confirm_field.press("Enter")
    page.get_by_role("heading", name="Scopes of this tenant").wait_for()
    page.get_by_text("Forgot 2 memories of user carol.").wait_for()
    assert page.get_by_role("navigation", name="Scopes").get_by_role("link", name=re.compile("^user carol")).count() == 0
    with site.http() as http:
        assert http.get("/v1/memories", params={"user_id": "carol", "include_expired": True}).json()["results"] == []
        assert [s["id"] for s in http.get("/v1/scopes", params={"prefix": "carol"}).json()["users"]] == []


def test_a_read_only_key_cannot_forget(page: Any, site: Site) -> None:
    sign_in(page, site, "acme_read")
    open_scope(page, site, "user", "alice")
    page.locator("ol.memories li.memory a.history-link").first.click()
    page.get_by_role("complementary", name="History of a memory").locator("ol.events li.event").first.wait_for()
    assert page.get_by_role("button", name=re.compile("^Forget")).count() == 0


def test_another_tenants_data_never_appears(page: Any, site: Site) -> None:
    """With acme's key, no page shows globex's memories, graph or scope ids, even when the URL names them
    (a name in the URL is echoed as the heading, nothing else)."""
    sign_in(page, site, "acme")
    seen = {"#/": page.content()}
    for hash_ in ("#/scope/user/alice", "#/scope/user/alice/graph", "#/scope/user/zeta-secret-user",
                  "#/scope/agent/zeta-secret-user", "#/scope/user/globex:alice", "#/scope/user/zeta-secret-user/graph"):
        page.goto(site.ui + hash_)
        page.wait_for_load_state("networkidle")
        page.locator("ol.memories li, .graph-counts:not(:empty)").first.wait_for()
        seen[hash_] = page.content()
        if "zeta" in hash_ or "globex" in hash_:
            assert page.get_by_text(re.compile(r"^(0 memories \(now\)|0 relations: .*)$")).count() == 1, hash_
    page.goto(site.ui + "#/")
    page.get_by_role("heading", name="Scopes of this tenant").wait_for()
    page.get_by_role("navigation", name="Scopes").get_by_label("Filter scopes").fill("zeta")
    page.wait_for_timeout(400)  # the filter waits 250 ms for typing to stop
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("navigation", name="Scopes").get_by_role("link", name=re.compile("zeta")).count() == 0
    seen["filter"] = page.content()
    leaked = [(where, secret) for where, html in seen.items() for secret in GLOBEX_SECRETS
              if secret in html and secret not in where]
    assert not leaked, f"acme's browser showed globex's data: {leaked}"

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, site, "globex")  # and the other way round: globex sees its own alice only
    nav = page.get_by_role("navigation", name="Scopes")
    nav.get_by_role("link", name=re.compile(r"^user alice: 2 current memories$")).wait_for()
    open_scope(page, site, "user", "alice")
    page.locator("ol.memories li.memory").first.wait_for()
    assert sorted(page.locator("ol.memories li.memory p.text").all_inner_texts()) == [
        "User lives in Tokyo", "User works at Umbrella"]
    assert "Oslo" not in page.content() and "Bergen" not in page.content()
    assert "bob" not in nav.inner_text() and "travel-bot" not in nav.inner_text()


def test_keyboard_only_main_flow(page: Any, site: Site) -> None:
    page.goto(site.ui)
    page.get_by_label("API key").wait_for()
    page.evaluate("document.activeElement.blur()")
    tab_to(page, "#api-key")
    page.keyboard.type(site.keys["acme"])
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Scopes of this tenant").wait_for()
    tab_to(page, "nav.scopes a[data-id='alice']")
    assert focus_is_visible(page)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="user alice").wait_for()
    tab_to(page, "input[name='query']")
    page.keyboard.type("sushi")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name=re.compile("results for “sushi”")).wait_for()
    tab_to(page, "li.memory a.history-link")
    assert focus_is_visible(page)
    page.keyboard.press("Enter")
    title = page.get_by_role("heading", name="History of a memory")
    page.wait_for_function("() => document.activeElement && document.activeElement.textContent === 'History of a memory'")
    assert title.is_visible()
    tab_to(page, "aside.history button.danger")
    page.keyboard.press("Enter")
    page.get_by_role("dialog").wait_for()
    page.keyboard.press("Escape")
    page.get_by_role("dialog").wait_for(state="detached")
    tab_to(page, ".tabs a[href$='/graph']")
    page.keyboard.press("Enter")
    page.locator("svg.graph g.edge").first.wait_for()
    tab_to(page, "g.edge")
    label = page.evaluate("document.activeElement.getAttribute('aria-label')")
    page.keyboard.press("Enter")
    page.get_by_role("complementary", name=label.rsplit(",", 1)[0]).locator("ul.behind li").first.wait_for()
    tab_to(page, "input[type='range']")
    page.keyboard.press("Home")
    page.get_by_text(re.compile(r"relations?: .* \(as of 2025-01-10 09:00 UTC\)")).wait_for()


UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea, button, a[href], [tabindex="0"]')]
    .filter((el) => !(el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')
                      || (el.labels && el.labels.length) || el.textContent.trim()))
    .map((el) => el.outerHTML.slice(0, 120))"""


def test_every_page_fits_a_laptop_screen_and_names_every_control(page: Any, site: Site) -> None:
    page.goto(site.ui)
    page.get_by_label("API key").wait_for()
    assert page.evaluate(UNLABELLED) == []
    sign_in(page, site)
    for hash_ in ("#/", "#/scope/user/alice", "#/scope/user/alice/graph"):
        page.goto(site.ui + hash_)
        page.locator("h2").first.wait_for()
        page.wait_for_load_state("networkidle")
        for summary in page.locator("details:not([open]) > summary").all():
            summary.click()  # the filters and the relations table too
        assert page.evaluate(UNLABELLED) == [], hash_
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= VIEWPORT["width"], f"{hash_}: the page scrolls sideways ({width}px)"
        for selector in ("nav.scopes", "header.top", ".tabs", "fieldset.timeline"):
            if page.locator(selector).count():
                box = page.locator(selector).bounding_box()
                assert box["x"] >= 0 and box["x"] + box["width"] <= VIEWPORT["width"], (hash_, selector, box)
                assert box["y"] < VIEWPORT["height"], (hash_, selector, box)
    svg = page.locator("svg.graph").bounding_box()
    assert svg["y"] + svg["height"] <= VIEWPORT["height"] + 1, svg  # the whole picture is on screen
