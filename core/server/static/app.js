// The memory browser: sign-in, then the tenant's scopes, a scope's memories (search, filters, as_of),
// a memory's history and the scope's knowledge graph. Routes live in the URL's fragment
// (#/scope/user/alice, #/scope/user/alice/memory/ID, #/scope/user/alice/graph); the key never does.

import { Api, ApiError, storeKey, storedKey } from "./api.js";
import { announce, clear, clearError, focus, h, showError } from "./dom.js";
import { ScopeNav, renderOverview } from "./scopes.js";
import { ScopeView } from "./scope.js";

const KINDS = ["user", "agent", "run"];
const root = document.getElementById("root");
const whoEl = document.getElementById("who");
const signOutButton = document.getElementById("sign-out");

const ctx = {
  api: null,
  who: null,
  presets: {},
  canWrite: false,
  navigate(hash) {
    if (window.location.hash === hash) route();
    else window.location.hash = hash;
  },
  async scopesChanged() { if (nav) await nav.load(); },
  failed(err) { handleError(err); },
};

let nav = null;
let view = null;
let content = null;

/** The route in the URL fragment: {scope: {kind, id} | null, tab: "memories" | "graph", memoryId}. */
export function parseRoute(hash) {
  const parts = hash.replace(/^#\/?/, "").split("/").map((p) => {
    try { return decodeURIComponent(p); } catch { return p; }
  });
  if (parts[0] !== "scope" || !KINDS.includes(parts[1]) || !parts[2]) return { scope: null };
  const scope = { kind: parts[1], id: parts[2] };
  if (parts[3] === "graph") return { scope, tab: "graph" };
  if (parts[3] === "memory" && parts[4]) return { scope, tab: "memories", memoryId: parts[4] };
  return { scope, tab: "memories" };
}

export function scopeHash(scope, ...rest) {
  return ["#", "scope", scope.kind, ...[scope.id, ...rest].map(encodeURIComponent)].join("/");
}
ctx.scopeHash = scopeHash;

function handleError(err) {
  if (err instanceof ApiError && err.status === 401) {
    signOut("The server did not accept the key (unknown, revoked or expired). Sign in again.");
    return;
  }
  showError(err);
}

async function enter(api, who) {
  ctx.api = api;
  ctx.who = who;
  ctx.canWrite = who.scopes.includes("write") || who.scopes.includes("admin");
  try {
    ctx.presets = (await api.presets()).presets;
  } catch (err) {
    ctx.presets = {};
    handleError(err);
  }
  const tenant = who.tenant === null ? "local store" : `tenant ${who.tenant}`;
  whoEl.textContent = who.open ? `${tenant} · open server (no keys)` : `${tenant} · ${who.scopes.join(", ")}`;
  signOutButton.hidden = who.open;
  content = h("div", { id: "content", class: "content" });
  nav = new ScopeNav(ctx);
  clear(root, h("div", { class: "layout" }, nav.el, content));
  view = null;
  await nav.load();
  route();
}

function signOut(message) {
  storeKey(null);
  ctx.api = null;
  ctx.who = null;
  nav = null;
  view = null;
  whoEl.textContent = "";
  signOutButton.hidden = true;
  renderSignIn(message);
}

function renderSignIn(message) {
  const input = h("input", { id: "api-key", name: "api-key", type: "password", autocomplete: "off",
    spellcheck: "false", required: true, "aria-describedby": "api-key-help" });
  const error = h("p", { id: "sign-in-error", class: "error", role: "alert" }, message || "");
  const form = h("form", { class: "sign-in", "aria-labelledby": "sign-in-title" },
    h("h2", { id: "sign-in-title" }, "Sign in"),
    h("p", { class: "field" }, h("label", { for: "api-key" }, "API key"), input),
    h("p", { id: "api-key-help", class: "help" },
      "A key made with ", h("code", {}, "memlayer keys create --tenant NAME"), ". It stays in this browser tab ",
      "(session storage) and is sent only to this server, as a bearer token."),
    h("p", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Sign in")),
    error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) return;
    const api = new Api(key);
    try {
      const who = await api.whoami();
      storeKey(key);
      clearError();
      announce(`Signed in to ${who.tenant === null ? "the local store" : `tenant ${who.tenant}`}.`);
      await enter(api, who);
      focus(document.querySelector("#content h2"));
    } catch (err) {
      error.textContent = err instanceof ApiError && err.status === 401
        ? "This key is not valid here (unknown, malformed or revoked)." : err.message;
      input.select();
    }
  });
  clear(root, h("main", { id: "main", class: "narrow" }, form));
  focus(input);
}

function route() {
  if (!ctx.api) return;
  clearError();
  const target = parseRoute(window.location.hash);
  nav.select(target.scope);
  if (!target.scope) {
    view = null;
    renderOverview(ctx, content, nav.latest);
    return;
  }
  if (!view || view.key !== `${target.scope.kind}/${target.scope.id}`) {
    view = new ScopeView(ctx, target.scope);
    clear(content, view.el);
  }
  view.show(target.tab, target.memoryId);
}

async function boot() {
  signOutButton.addEventListener("click", () => {
    signOut("");
    announce("Signed out: the key is gone from this tab.");
  });
  window.addEventListener("hashchange", route);
  const key = storedKey();
  const api = new Api(key);
  try {
    const who = await api.whoami();  // with the tab's key, or none: an open server answers without one
    await enter(api, who);
  } catch (err) {
    const refused = err instanceof ApiError && err.status === 401;
    if (refused) storeKey(null);
    renderSignIn(!refused ? err.message : key ? "The stored key is no longer accepted. Sign in again." : "");
  }
}

boot();
