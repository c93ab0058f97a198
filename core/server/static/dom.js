// Small DOM helpers. Every piece of data reaches the page as text (textContent, attributes), never as
// HTML: a memory saying "<script>" shows those characters and runs nothing.

const SVG_NS = "http://www.w3.org/2000/svg";

function build(el, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "class") el.setAttribute("class", value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** An HTML element: h("a", {href: "#/"}, "text", otherNode, [more]). */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element, as h(). */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function clear(el, ...children) {
  el.replaceChildren();
  return build(el, {}, children);
}

let uid = 0;
/** A unique element id with a readable prefix. */
export function newId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

// -- time: every time is shown and entered in UTC, as the API stores it ---------------------------
/** "2025-03-15 12:00 UTC" (seconds when there are any). */
export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const text = date.toISOString();
  const seconds = text.slice(17, 19) !== "00" ? text.slice(16, 19) : "";
  return `${text.slice(0, 10)} ${text.slice(11, 16)}${seconds} UTC`;
}

/** A datetime-local input's value (read as UTC) as an ISO time, or null. */
export function fromLocalInput(value) {
  if (!value) return null;
  const date = new Date(value.length === 16 ? `${value}:00Z` : `${value}Z`);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** An ISO time as a datetime-local input's value (UTC). */
export function toLocalInput(iso) {
  if (!iso) return "";
  return new Date(iso).toISOString().slice(0, 19);
}

export function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}

// -- messages -------------------------------------------------------------------------------------
/** Say something to screen readers (and show it in the status line). */
export function announce(text) {
  const status = document.getElementById("status");
  status.textContent = "";
  window.setTimeout(() => { status.textContent = text; }, 30);
}

export function showError(err) {
  const alert = document.getElementById("alert");
  alert.replaceChildren(h("span", {}, err && err.message ? err.message : String(err)),
    h("button", { type: "button", class: "link", onclick: () => alert.replaceChildren() }, "Dismiss"));
}

export function clearError() {
  document.getElementById("alert").replaceChildren();
}

/** Focus an element (a heading with tabindex=-1, a control) once it is in the page. */
export function focus(el) {
  if (el) window.requestAnimationFrame(() => el.focus({ preventScroll: false }));
}
