// A scope's knowledge graph as a picture: entities are nodes (drag them, or focus one and move it
// with the arrow keys), relations are arrows, solid while current and dashed once closed, at the
// timeline's moment. Choosing a relation (click, Enter or Space) lists the memories behind it; the
// same relations are also a table, for reading without the picture.

import { clear, h, newId, plural, when } from "./dom.js";
import { GraphPicture } from "./picture.js";

/** A relation's state at `asOf` (null: now): "hidden" (not yet true), "current" or "closed". */
export function stateAt(rel, asOf) {
  const at = asOf ? new Date(asOf) : null;
  if (at && rel.valid_from && new Date(rel.valid_from) > at) return "hidden";
  if (!rel.valid_to) return "current";
  if (at && new Date(rel.valid_to) > at) return "current";
  return "closed";
}

export function describe(rel, state) {
  const span = state === "closed" ? `closed ${when(rel.valid_to)}` : `since ${when(rel.valid_from)}`;
  return `${rel.source} ${rel.relationship} ${rel.destination} (${state}, ${span})`;
}

export class GraphView {
  constructor(ctx, scope, timeline) {
    this.ctx = ctx;
    this.scope = scope;
    this.timeline = timeline;
    this.relations = [];
    this.showClosed = h("input", { type: "checkbox", id: newId("show-closed"), checked: true });
    this.showClosed.addEventListener("change", () => this.redraw());
    this.counts = h("p", { class: "graph-counts", "aria-live": "polite" });
    this.info = h("p", { class: "graph-info", "aria-live": "polite" }, "Hover or focus a relation or an entity.");
    this.picture = new GraphPicture({
      label: `Knowledge graph of ${scope.kind} ${scope.id}`,
      onHover: (text) => { this.info.textContent = text; },
      onEdge: (rel, state) => this.selectEdge(rel, state),
      onNode: (node) => this.selectNode(node),
    });
    this.detailTitle = h("h3", { id: newId("graph-detail"), tabindex: "-1" }, "Relation");
    this.detail = h("div", { class: "graph-detail-body" });
    this.table = h("tbody");
    this.el = h("div", { class: "graph-tab" },
      h("div", { class: "graph-column" },
        h("div", { class: "graph-toolbar" },
          h("p", { class: "check" }, this.showClosed, h("label", { for: this.showClosed.id }, "Show closed relations")),
          h("p", { class: "legend", "aria-label": "Legend" },
            h("span", { class: "key current" }, "current"), h("span", { class: "key closed" }, "closed")),
          this.counts),
        this.picture.el,
        this.info,
        h("details", { class: "relations-table" }, h("summary", {}, "Relations as a table"),
          h("table", {}, h("caption", {}, "Every relation at the chosen moment; choose one to see its memories."),
            h("thead", {}, h("tr", {}, ["Source", "Relationship", "Destination", "State", "Since", "Until", ""]
              .map((t) => h("th", { scope: "col" }, t)))), this.table))),
      h("aside", { class: "graph-detail", "aria-labelledby": this.detailTitle.id }, this.detailTitle, this.detail));
    this.placeholder();
  }

  placeholder() {
    this.detailTitle.textContent = "Relation";
    clear(this.detail, h("p", { class: "help" }, "Choose a relation (an arrow) to see the memories it comes from, ",
      "or an entity to list its relations."));
  }

  async load() {
    try {
      this.relations = (await this.ctx.api.relations(this.scope)).relations;
    } catch (err) {
      if (err.code === "graph_disabled") {
        clear(this.el, h("p", { class: "empty" }, "This server's store has no knowledge graph (graph=False)."));
        return;
      }
      this.ctx.failed(err);
      return;
    }
    this.picture.setRelations(this.relations);
    this.redraw();
  }

  redraw() {
    const asOf = this.timeline.asOf;
    const shown = [];
    for (const rel of this.relations) {
      const state = stateAt(rel, asOf);
      if (state === "hidden" || (state === "closed" && !this.showClosed.checked)) continue;
      shown.push({ rel, state });
    }
    this.picture.draw(shown);
    const closed = shown.filter((x) => x.state === "closed").length;
    this.counts.textContent = `${plural(shown.length, "relation")}: ${shown.length - closed} current, ${closed} closed`
      + ` (${asOf ? `as of ${when(asOf)}` : "now"})`;
    clear(this.table, shown.length ? shown.map(({ rel, state }) => h("tr", { class: state },
      h("td", {}, rel.source), h("td", {}, rel.relationship), h("td", {}, rel.destination), h("td", {}, state),
      h("td", {}, when(rel.valid_from)), h("td", {}, rel.valid_to ? when(rel.valid_to) : "—"),
      h("td", {}, h("button", { type: "button", class: "link", onclick: () => this.selectEdge(rel, state),
        "aria-label": `Memories behind ${rel.source} ${rel.relationship} ${rel.destination}` }, "Memories"))))
      : h("tr", {}, h("td", { colspan: "7" }, "No relations at this moment.")));
  }

  async selectEdge(rel, state) {
    this.detailTitle.textContent = `${rel.source} ${rel.relationship} ${rel.destination}`;
    const ids = rel.memory_ids || [];
    const list = h("ul", { class: "behind" });
    clear(this.detail,
      h("p", { class: `status ${state}` }, h("span", { class: `badge ${state}` }, state),
        ` since ${when(rel.valid_from)}`, rel.valid_to ? `, closed ${when(rel.valid_to)}` : ""),
      h("h4", {}, `${ids.length === 1 ? "The memory" : "Memories"} behind it (${ids.length})`), list);
    this.detailTitle.focus();
    const found = await Promise.all(ids.map((id) => this.ctx.api.memory(id, this.scope).catch((err) => {
      if (err.status === 404) return { id, missing: true };
      this.ctx.failed(err);
      return { id, missing: true };
    })));
    clear(list, found.map((m) => h("li", { class: "memory" },
      m.missing ? h("p", { class: "text" }, "A memory since forgotten") : h("p", { class: "text" }, m.memory),
      m.missing ? null : h("p", { class: "when" }, h("span", { class: `badge ${m.valid_to ? "closed" : "current"}` },
        m.valid_to ? "closed" : "current"), ` since ${when(m.valid_from)}`),
      h("a", { href: this.ctx.scopeHash(this.scope, "memory", m.id) }, "History",
        h("span", { class: "visually-hidden" }, m.missing ? "" : ` of “${m.memory}”`)))));
  }

  selectNode(node) {
    this.detailTitle.textContent = node.name;
    const asOf = this.timeline.asOf;
    const mine = this.relations.filter((r) => r.source === node.name || r.destination === node.name)
      .map((rel) => ({ rel, state: stateAt(rel, asOf) })).filter((x) => x.state !== "hidden");
    clear(this.detail, h("p", {}, `An entity with ${plural(mine.length, "relation")} at this moment.`),
      h("ul", { class: "node-relations" }, mine.map(({ rel, state }) => h("li", {},
        h("button", { type: "button", class: `link ${state}`, onclick: () => this.selectEdge(rel, state) },
          describe(rel, state))))));
    this.detailTitle.focus();
  }
}
