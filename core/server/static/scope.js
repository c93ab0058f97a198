// One scope (a user, agent or run): its header (counts, time travel, forget), and two tabs: the
// memories (list or search, filters, the history of the one chosen) and the knowledge graph.

import { confirmDialog } from "./dialog.js";
import { announce, clear, focus, h, newId, plural } from "./dom.js";
import { GraphView } from "./graph.js";
import { MemoryList } from "./memories.js";
import { Timeline } from "./timeline.js";

export class ScopeView {
  constructor(ctx, scope) {
    this.ctx = ctx;
    this.scope = scope;
    this.key = `${scope.kind}/${scope.id}`;
    this.tab = null;
    this.timeline = new Timeline((asOf) => this.timeChanged(asOf));
    this.memories = new MemoryList(ctx, scope, this.timeline,
      () => Promise.all([this.loadTimes(), ctx.scopesChanged()]));
    this.graph = new GraphView(ctx, scope, this.timeline);
    this.heading = h("h2", { tabindex: "-1", id: newId("scope-title") },
      h("span", { class: "kind" }, scope.kind), " ", scope.id);
    this.summary = h("p", { class: "summary" });
    this.tabLinks = {
      memories: h("a", { href: ctx.scopeHash(scope) }, "Memories"),
      graph: h("a", { href: ctx.scopeHash(scope, "graph") }, "Knowledge graph"),
    };
    const forget = ctx.canWrite
      ? h("button", { type: "button", class: "danger", onclick: () => this.forgetScope() }, "Forget this scope…")
      : null;
    this.panel = h("div", { class: "tab-panel" });
    this.el = h("section", { class: "scope", "aria-labelledby": this.heading.id },
      h("header", { class: "scope-head" },
        h("div", { class: "title" }, this.heading, this.summary),
        h("nav", { class: "tabs", "aria-label": "Views of this scope" },
          h("ul", {}, h("li", {}, this.tabLinks.memories), h("li", {}, this.tabLinks.graph))),
        forget),
      this.timeline.el,
      this.panel);
    this.loadTimes();
  }

  /** The scope's change times (for the slider) and its counts. */
  async loadTimes() {
    try {
      const all = await this.ctx.api.memories(this.scope, { includeClosed: true, limit: 5000 });
      const rows = all.results;
      this.timeline.setTimes(rows);
      const closed = rows.filter((m) => m.valid_to).length;
      this.summary.textContent = plural(rows.length - closed, "current memory", "current memories")
        + `, ${closed} closed${rows.length >= 5000 ? " (first 5000)" : ""}`;
    } catch (err) {
      this.ctx.failed(err);
    }
  }

  show(tab, memoryId) {
    const switched = tab !== this.tab;
    this.tab = tab;
    for (const [name, link] of Object.entries(this.tabLinks)) {
      if (name === tab) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    if (tab === "graph") {
      if (switched) {
        clear(this.panel, this.graph.el);
        this.graph.load();
        focus(this.heading);
      }
      return;
    }
    if (switched) {
      clear(this.panel, this.memories.el);
      this.memories.load();
      if (!memoryId) focus(this.heading);
    }
    this.memories.showHistory(memoryId || null);
  }

  timeChanged(asOf) {
    announce(asOf ? "Showing the scope as it was at the chosen time." : "Showing the scope as it is now.");
    if (this.tab === "graph") this.graph.redraw();
    else this.memories.load();
  }

  async forgetScope() {
    const what = `${this.scope.kind} ${this.scope.id}`;
    const yes = await confirmDialog({
      title: `Forget ${what}?`,
      body: [h("p", {}, `This erases every memory of ${what}, current and closed, with its history, its source `
        + "messages and its knowledge graph. It cannot be undone."),
      this.scope.kind === "user" ? h("p", {}, "Memories this user shares with agents and runs are erased too.") : null],
      confirm: "Forget everything",
      typeToConfirm: this.scope.id,
    });
    if (!yes) return;
    try {
      const out = await this.ctx.api.forgetScope(this.scope);
      announce(`Forgot ${plural(out.deleted, "memory", "memories")} of ${what}.`);
      await this.ctx.scopesChanged();
      this.ctx.navigate("#/");
    } catch (err) {
      this.ctx.failed(err);
    }
  }
}
