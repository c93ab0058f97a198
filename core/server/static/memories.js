// A scope's memories: listed (most recently changed first) or searched (the API's presets), narrowed
// by agent/run and a metadata filter, at the timeline's moment or with every closed version; the
// history of the chosen memory beside the list.

import { clear, h, newId, plural, when } from "./dom.js";
import { HistoryPanel } from "./history.js";

const FIELDS = { user: "user_id", agent: "agent_id", run: "run_id" };
const LIST_LIMIT = 200;

function field(label, control, help) {
  const id = control.id || newId("field");
  control.id = id;
  return h("p", { class: "field" }, h("label", { for: id }, label), control,
    help ? h("span", { class: "help", id: `${id}-help` }, help) : null);
}

export class MemoryList {
  constructor(ctx, scope, timeline, onChanged) {
    this.ctx = ctx;
    this.scope = scope;
    this.timeline = timeline;
    this.selected = null;
    this.request = 0;
    this.query = h("input", { type: "search", name: "query", autocomplete: "off", placeholder: "e.g. where does she live?" });
    this.preset = h("select", { name: "preset" }, h("option", { value: "" }, "server default"),
      Object.keys(ctx.presets).map((name) => h("option", { value: name }, name)));
    this.limit = h("input", { type: "number", name: "limit", min: "1", max: "200", value: "20", class: "short" });
    this.narrow = {};
    for (const kind of ["agent", "run"]) {
      if (kind !== scope.kind) this.narrow[FIELDS[kind]] = h("input", { type: "text", autocomplete: "off", name: kind });
    }
    this.filter = h("input", { type: "text", name: "filter", autocomplete: "off", spellcheck: "false",
      placeholder: '{"topic": "food"}', class: "wide" });
    this.filterError = h("span", { class: "error", role: "alert" });
    this.includeClosed = h("input", { type: "checkbox", name: "include-closed" });
    this.includeClosed.addEventListener("change", () => {
      this.timeline.disable(this.includeClosed.checked);
      this.load();
    });
    const form = h("form", { class: "search", role: "search", "aria-label": "Search and filter memories" },
      h("div", { class: "row" },
        field("Search memories", this.query),
        field("Search preset", this.preset),
        field("How many", this.limit),
        h("p", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Search"),
          h("button", { type: "button", onclick: () => { this.query.value = ""; this.load(); } }, "Clear"))),
      h("details", { class: "filters" }, h("summary", {}, "Filters"),
        h("div", { class: "row" },
          this.narrow.agent_id ? field("Only agent", this.narrow.agent_id) : null,
          this.narrow.run_id ? field("Only run", this.narrow.run_id) : null,
          field("Metadata filter (JSON)", this.filter, "As the API's filters; click a tag below to add it."),
          this.filterError),
        h("p", { class: "check" }, this.includeClosed,
          h("label", { for: this.includeClosed.id = newId("include-closed") },
            "Include closed memories (every version, whatever the time)"))));
    this.filter.setAttribute("aria-describedby", `${this.filter.id}-help`);
    form.addEventListener("submit", (event) => { event.preventDefault(); this.load(); });
    this.heading = h("h3", { id: newId("results-title"), "aria-live": "polite" }, "Memories");
    this.list = h("ol", { class: "memories", "aria-labelledby": this.heading.id });
    this.history = new HistoryPanel(ctx, scope, async () => {
      await this.load();
      if (onChanged) await onChanged();
    });
    this.el = h("div", { class: "memories-tab" },
      h("div", { class: "list-column" }, form, this.heading, this.list),
      this.history.el);
  }

  /** The filter field as an object (null when empty); marks the field when it is not JSON. */
  filters() {
    const text = this.filter.value.trim();
    this.filter.removeAttribute("aria-invalid");
    this.filterError.textContent = "";
    if (!text) return null;
    try {
      const parsed = JSON.parse(text);
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed;
    } catch {
      // reported below
    }
    this.filter.setAttribute("aria-invalid", "true");
    this.filterError.textContent = 'The filter must be a JSON object, e.g. {"topic": "food"}.';
    return undefined;
  }

  async load() {
    const filters = this.filters();
    if (filters === undefined) return;
    const narrow = Object.fromEntries(Object.entries(this.narrow).map(([k, el]) => [k, el.value.trim()]));
    const options = { narrow, filters, asOf: this.timeline.asOf, includeClosed: this.includeClosed.checked };
    const query = this.query.value.trim();
    const ticket = ++this.request;
    this.list.setAttribute("aria-busy", "true");
    try {
      const answer = query
        ? await this.ctx.api.search(this.scope, query, { ...options, preset: this.preset.value,
          limit: Math.max(1, Math.min(200, Number(this.limit.value) || 20)) })
        : await this.ctx.api.memories(this.scope, { ...options, limit: LIST_LIMIT });
      if (ticket !== this.request) return;
      this.render(answer.results, query, options);
    } catch (err) {
      if (ticket !== this.request) return;
      if (err.code === "invalid_filter") {
        this.filter.setAttribute("aria-invalid", "true");
        this.filterError.textContent = err.message;
      } else {
        this.ctx.failed(err);
      }
    } finally {
      if (ticket === this.request) this.list.removeAttribute("aria-busy");
    }
  }

  render(results, query, options) {
    const moment = options.includeClosed ? "every version" : options.asOf ? `as of ${when(options.asOf)}` : "now";
    this.heading.textContent = query
      ? `${plural(results.length, "result")} for “${query}” (${moment})`
      : `${plural(results.length, "memory", "memories")} (${moment})`;
    clear(this.list, results.length ? results.map((m) => this.card(m, query, options.includeClosed ? null : options.asOf)) : h("li", { class: "empty" },
      query ? "Nothing found: try other words or another preset." : "No memories at this moment."));
    if (!query && results.length >= LIST_LIMIT) {
      this.list.append(h("li", { class: "help" }, `The ${LIST_LIMIT} most recently changed are shown: search or `
        + "filter to find others."));
    }
    this.mark();
  }

  card(m, searched, asOf) {
    const closed = Boolean(m.valid_to) && !(asOf && new Date(m.valid_to) > new Date(asOf));  // at the moment shown
    const tags = [];
    for (const [name, fieldName] of [["user", "user_id"], ["agent", "agent_id"], ["run", "run_id"]]) {
      if (m[fieldName] && name !== this.scope.kind) tags.push(h("span", { class: "tag" }, `${name}: ${m[fieldName]}`));
    }
    for (const [key, value] of Object.entries(m.metadata || {})) {
      const text = `${key} = ${typeof value === "string" ? value : JSON.stringify(value)}`;
      const simple = value === null || ["string", "number", "boolean"].includes(typeof value);
      tags.push(simple
        ? h("button", { type: "button", class: "tag", title: "Filter by this",
          "aria-label": `Filter by ${text}`, onclick: () => this.addFilter(key, value) }, text)
        : h("span", { class: "tag" }, text));
    }
    const link = h("a", { href: this.ctx.scopeHash(this.scope, "memory", m.id), class: "history-link" },
      "History", h("span", { class: "visually-hidden" }, ` of “${m.memory}”`));
    return h("li", { class: `memory ${closed ? "closed" : "current"}`, dataset: { id: m.id } },
      h("p", { class: "text" }, m.memory),
      h("p", { class: "when" },
        h("span", { class: `badge ${closed ? "closed" : "current"}` }, closed ? "closed" : "current"),
        ` since ${when(m.valid_from)}`,
        m.valid_to ? (closed ? ` until ${when(m.valid_to)}` : ` (closed later, ${when(m.valid_to)})`) : "",
        searched && typeof m.score === "number" ? h("span", { class: "score" }, `score ${m.score.toFixed(3)}`) : null),
      tags.length ? h("p", { class: "tags" }, tags) : null,
      link);
  }

  addFilter(key, value) {
    const current = this.filters() || {};
    current[key] = value;
    this.filter.value = JSON.stringify(current);
    this.el.querySelector("details.filters").open = true;
    this.load();
  }

  showHistory(memoryId) {
    this.selected = memoryId;
    this.mark();
    this.history.show(memoryId);
  }

  mark() {
    for (const li of this.list.querySelectorAll("li.memory")) {
      const on = li.dataset.id === this.selected;
      li.classList.toggle("selected", on);
      const link = li.querySelector("a.history-link");
      if (on) link.setAttribute("aria-current", "true");
      else link.removeAttribute("aria-current");
    }
  }
}
