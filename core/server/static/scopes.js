// The tenant's scopes: the side navigation (users, agents, runs with counts, filtered by id prefix)
// and the overview table shown when no scope is chosen.

import { clear, focus, h, newId, when } from "./dom.js";

const KINDS = [["users", "user", "Users"], ["agents", "agent", "Agents"], ["runs", "run", "Runs"]];
const LIMIT = 500;

function counts(item) {
  const more = [item.closed ? `${item.closed} closed` : "", item.expired ? `${item.expired} expired` : ""];
  return [String(item.memories), ...more.filter(Boolean)].join(" · ");
}

function countsLabel(item) {
  const current = `${item.memories} current ${item.memories === 1 ? "memory" : "memories"}`;
  const more = [item.closed ? `${item.closed} closed` : "", item.expired ? `${item.expired} expired` : ""];
  return [current, ...more.filter(Boolean)].join(", ");
}

export class ScopeNav {
  constructor(ctx) {
    this.ctx = ctx;
    this.latest = { users: [], agents: [], runs: [] };
    this.current = null;
    this.timer = null;
    const filterId = newId("scope-filter");
    this.filter = h("input", { id: filterId, type: "search", autocomplete: "off", spellcheck: "false",
      placeholder: "id starts with…" });
    this.filter.addEventListener("input", () => {
      window.clearTimeout(this.timer);
      this.timer = window.setTimeout(() => this.load(), 250);
    });
    this.lists = h("div", { class: "scope-lists" });
    this.el = h("nav", { class: "scopes", "aria-labelledby": "scopes-title" },
      h("h2", { id: "scopes-title" }, h("a", { href: "#/" }, "Scopes")),
      h("p", { class: "field" }, h("label", { for: filterId }, "Filter scopes"), this.filter),
      this.lists);
  }

  async load() {
    try {
      this.latest = await this.ctx.api.scopes(this.filter.value || null, LIMIT);
    } catch (err) {
      this.ctx.failed(err);
      return;
    }
    const sections = KINDS.map(([key, kind, title]) => {
      const items = this.latest[key];
      const headingId = newId(`scopes-${key}`);
      const list = items.length
        ? h("ul", { "aria-labelledby": headingId }, items.map((item) => h("li", {},
          h("a", { href: this.ctx.scopeHash({ kind, id: item.id }), dataset: { kind, id: item.id },
            "aria-label": `${kind} ${item.id}: ${countsLabel(item)}` },
          h("span", { class: "name" }, item.id), h("span", { class: "count", "aria-hidden": "true" }, counts(item))))))
        : h("p", { class: "empty" }, this.filter.value ? "none with this prefix" : "none");
      const more = items.length >= LIMIT ? h("p", { class: "help" }, `First ${LIMIT}: type to narrow.`) : null;
      return h("section", {}, h("h3", { id: headingId }, `${title} (${items.length}${items.length >= LIMIT ? "+" : ""})`),
        list, more);
    });
    clear(this.lists, sections);
    this.select(this.current);
  }

  select(scope) {
    this.current = scope;
    for (const link of this.lists.querySelectorAll("a[data-kind]")) {
      const on = scope && link.dataset.kind === scope.kind && link.dataset.id === scope.id;
      if (on) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }
}

export function renderOverview(ctx, content, latest) {
  const rows = KINDS.flatMap(([key, kind]) => latest[key].map((item) => h("tr", {},
    h("td", {}, kind),
    h("th", { scope: "row" }, h("a", { href: ctx.scopeHash({ kind, id: item.id }) }, item.id)),
    h("td", { class: "num" }, item.memories), h("td", { class: "num" }, item.closed),
    h("td", { class: "num" }, item.expired || 0),
    h("td", {}, when(item.first_at)), h("td", {}, when(item.last_at)))));
  const heading = h("h2", { tabindex: "-1" }, "Scopes of this tenant");
  const table = rows.length
    ? h("table", { class: "overview" },
      h("caption", {}, "Every user, agent and run with memories, and how many are current, closed or expired."),
      h("thead", {}, h("tr", {}, ["Kind", "Id", "Current", "Closed", "Expired", "First fact", "Last change"]
        .map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows))
    : h("p", { class: "empty" }, "No memories in this tenant yet. Add some with the API (POST /v1/memories) ",
      "or the Python Client, then reload.");
  clear(content, h("section", { class: "overview-page", "aria-labelledby": "overview-title" },
    heading, h("p", { class: "help" }, "Choose a scope to read its memories, their history and its knowledge graph. ",
      "Times are UTC."), table));
  heading.id = "overview-title";
  focus(heading);
}
