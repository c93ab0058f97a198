// The SVG picture of a graph: nodes laid out once by forceLayout, then moved by dragging (pointer) or
// by the arrow keys (keyboard); relations are arrows (curved apart when several join two entities),
// solid when current and dashed when closed. Every node and arrow is focusable and named.

import { newId, s } from "./dom.js";
import { clamp, forceLayout } from "./layout.js";

const RADIUS = 11;
const MARGIN = 60;

function entityKey(name) {
  return String(name).trim().toLowerCase();
}

export class GraphPicture {
  constructor({ label, onHover, onEdge, onNode }) {
    this.onHover = onHover;
    this.onEdge = onEdge;
    this.onNode = onNode;
    this.nodes = new Map();
    this.shown = [];
    const arrowId = newId("arrow");
    this.arrows = { current: `${arrowId}-current`, closed: `${arrowId}-closed` };
    const marker = (id, cls) => s("marker", { id, class: `arrow ${cls}`, viewBox: "0 0 10 10", refX: "10", refY: "5",
      markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" }, s("path", { d: "M0,0 L10,5 L0,10 z" }));
    this.edgeLayer = s("g", { class: "edges" });
    this.nodeLayer = s("g", { class: "nodes" });
    const titleId = newId("graph-title");
    this.width = 960;
    this.height = 600;
    this.el = s("svg", { class: "graph", viewBox: `0 0 ${this.width} ${this.height}`, role: "group",
      "aria-labelledby": titleId },
      s("title", { id: titleId }, label),
      s("defs", {}, marker(this.arrows.current, "current"), marker(this.arrows.closed, "closed")),
      this.edgeLayer, this.nodeLayer);
  }

  /** Build the nodes of every relation (current or closed) and lay them out once. */
  setRelations(relations) {
    const nodes = new Map();
    const edges = [];
    const node = (name) => {
      const key = entityKey(name);
      if (!nodes.has(key)) nodes.set(key, { key, name, x: 0, y: 0, degree: 0, el: null });
      return nodes.get(key);
    };
    for (const rel of relations) {
      const a = node(rel.source);
      const b = node(rel.destination);
      a.degree += 1;
      b.degree += 1;
      edges.push([a.key, b.key]);
    }
    const list = [...nodes.values()].sort((x, y) => (y.degree - x.degree) || x.key.localeCompare(y.key));
    const index = new Map(list.map((n, i) => [n.key, i]));
    const box = this.el.getBoundingClientRect();  // draw at the picture's own size: text stays at its size
    if (box.width > 100 && box.height > 100) {
      this.width = Math.round(box.width);
      this.height = Math.round(box.height);
      this.el.setAttribute("viewBox", `0 0 ${this.width} ${this.height}`);
    }
    forceLayout(list, edges.map(([a, b]) => ({ a: index.get(a), b: index.get(b) })), this.width, this.height,
      { margin: MARGIN });
    fit(list, this.width, this.height, MARGIN);
    this.nodes = nodes;
  }

  /** Draw the relations given ([{rel, state}]) and the entities they join. */
  draw(shown) {
    this.shown = shown.map(({ rel, state }) => ({
      rel, state, a: this.nodes.get(entityKey(rel.source)), b: this.nodes.get(entityKey(rel.destination)), el: null,
    }));
    const pairs = new Map();
    for (const edge of this.shown) {
      const key = [edge.a.key, edge.b.key].sort().join("\u0000");
      if (!pairs.has(key)) pairs.set(key, []);
      pairs.get(key).push(edge);
    }
    for (const group of pairs.values()) {
      group.forEach((edge, i) => {
        const sign = edge.a.key <= edge.b.key ? 1 : -1;  // the same side whichever way an arrow points
        edge.bend = (i - (group.length - 1) / 2) * 46 * sign;
      });
    }
    this.edgeLayer.replaceChildren(...this.shown.map((edge) => this.edgeElement(edge)));
    const used = new Set(this.shown.flatMap((e) => [e.a.key, e.b.key]));
    this.nodeLayer.replaceChildren(...[...this.nodes.values()].filter((n) => used.has(n.key))
      .map((n) => this.nodeElement(n, this.shown.filter((e) => e.a === n || e.b === n).length)));
    this.place();
  }

  edgeElement(edge) {
    const { rel, state } = edge;
    const text = `${rel.source} ${rel.relationship} ${rel.destination}, ${state}`;
    const hit = s("path", { class: "hit" });
    const line = s("path", { class: "line", "marker-end": `url(#${this.arrows[state]})` });
    const label = s("text", { class: "edge-label", "text-anchor": "middle" }, rel.relationship);
    const g = s("g", { class: `edge ${state}`, tabindex: "0", role: "button", "aria-label": text,
      "data-relationship": rel.relationship }, s("title", {}, text), hit, line, label);
    edge.el = { g, hit, line, label };
    const say = () => this.onHover(`${text} · ${rel.memory_ids.length} `
      + `memor${rel.memory_ids.length === 1 ? "y" : "ies"} behind it: choose it to see them.`);
    g.addEventListener("pointerenter", say);
    g.addEventListener("focus", say);
    g.addEventListener("click", () => this.onEdge(rel, state));
    g.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        this.onEdge(rel, state);
      }
    });
    return g;
  }

  nodeElement(node, degree) {
    const name = `${node.name}: ${degree} relation${degree === 1 ? "" : "s"}. Arrow keys move it; Enter lists them.`;
    const g = s("g", { class: "node", tabindex: "0", role: "button", "aria-label": name, "data-name": node.name },
      s("title", {}, node.name), s("circle", { r: String(RADIUS) }),
      s("text", { class: "node-label", y: String(RADIUS + 15), "text-anchor": "middle" }, node.name));
    node.el = g;
    g.addEventListener("pointerenter", () => this.onHover(`${node.name}: ${degree} relation${degree === 1 ? "" : "s"}.`));
    g.addEventListener("focus", () => this.onHover(`${node.name}: ${degree} relation${degree === 1 ? "" : "s"}.`));
    g.addEventListener("keydown", (event) => this.nodeKey(event, node));
    this.draggable(g, node);
    return g;
  }

  nodeKey(event, node) {
    const steps = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      this.onNode(node);
      return;
    }
    const step = steps[event.key];
    if (!step) return;
    event.preventDefault();
    const by = event.shiftKey ? 60 : 15;
    this.move(node, node.x + step[0] * by, node.y + step[1] * by);
  }

  draggable(g, node) {
    let start = null;
    g.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      g.setPointerCapture(event.pointerId);
      start = { x: event.clientX, y: event.clientY, moved: false };
      g.classList.add("dragging");
    });
    g.addEventListener("pointermove", (event) => {
      if (!start) return;
      if (Math.hypot(event.clientX - start.x, event.clientY - start.y) > 3) start.moved = true;
      const point = this.toSvg(event.clientX, event.clientY);
      this.move(node, point.x, point.y);
    });
    const end = (event) => {
      if (!start) return;
      const clicked = !start.moved;
      start = null;
      g.classList.remove("dragging");
      if (g.hasPointerCapture(event.pointerId)) g.releasePointerCapture(event.pointerId);
      if (clicked && event.type === "pointerup") this.onNode(node);
    };
    g.addEventListener("pointerup", end);
    g.addEventListener("pointercancel", end);
  }

  toSvg(clientX, clientY) {
    const matrix = this.el.getScreenCTM();
    if (!matrix) return { x: clientX, y: clientY };
    const point = new DOMPoint(clientX, clientY).matrixTransform(matrix.inverse());
    return { x: point.x, y: point.y };
  }

  move(node, x, y) {
    node.x = clamp(x, RADIUS + 2, this.width - RADIUS - 2);
    node.y = clamp(y, RADIUS + 2, this.height - RADIUS - 20);
    this.place();
  }

  /** Put every node and arrow where the positions say. */
  place() {
    for (const node of this.nodes.values()) {
      if (node.el) node.el.setAttribute("transform", `translate(${node.x.toFixed(1)} ${node.y.toFixed(1)})`);
    }
    for (const edge of this.shown) {
      const { d, lx, ly } = geometry(edge);
      edge.el.hit.setAttribute("d", d);
      edge.el.line.setAttribute("d", d);
      edge.el.label.setAttribute("x", lx.toFixed(1));
      edge.el.label.setAttribute("y", (ly - 4).toFixed(1));
    }
  }
}

/** Scale and centre the laid-out nodes to use the picture (at most 2.5 times spread out). */
function fit(nodes, width, height, margin) {
  if (nodes.length < 2) return;
  const xs = nodes.map((n) => n.x);
  const ys = nodes.map((n) => n.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const scale = Math.min((width - 2 * margin) / Math.max(x1 - x0, 1), (height - 2 * margin) / Math.max(y1 - y0, 1), 2.5);
  for (const n of nodes) {
    n.x = width / 2 + (n.x - (x0 + x1) / 2) * scale;
    n.y = height / 2 + (n.y - (y0 + y1) / 2) * scale;
  }
}

/** The path of an arrow from a to b, bent sideways by edge.bend, ending at the nodes' rims. */
function geometry(edge) {
  const { a, b } = edge;
  if (a === b) {  // a relation of an entity to itself: a loop above it
    const d = `M${a.x - 6},${a.y - RADIUS} C${a.x - 40},${a.y - 70} ${a.x + 40},${a.y - 70} ${a.x + 6},${a.y - RADIUS}`;
    return { d, lx: a.x, ly: a.y - 58 };
  }
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const length = Math.max(Math.hypot(dx, dy), 0.01);
  const nx = -dy / length;
  const ny = dx / length;
  const cx = (a.x + b.x) / 2 + nx * edge.bend * 2;
  const cy = (a.y + b.y) / 2 + ny * edge.bend * 2;
  const start = toward(a, { x: cx, y: cy }, RADIUS + 1);
  const end = toward(b, { x: cx, y: cy }, RADIUS + 3);
  return {
    d: `M${start.x.toFixed(1)},${start.y.toFixed(1)} Q${cx.toFixed(1)},${cy.toFixed(1)} ${end.x.toFixed(1)},${end.y.toFixed(1)}`,
    lx: 0.25 * a.x + 0.5 * cx + 0.25 * b.x,
    ly: 0.25 * a.y + 0.5 * cy + 0.25 * b.y,
  };
}

function toward(from, to, distance) {
  const dx = to.x - from.x;
  const dy = to.y - from.y;
  const length = Math.max(Math.hypot(dx, dy), 0.01);
  return { x: from.x + (dx / length) * distance, y: from.y + (dy / length) * distance };
}
