// The memlayer REST API as the browser calls it: the user's key as a bearer token, JSON in and out,
// errors as ApiError (the server's {"error": {code, message, status}} shape). The key lives in this
// tab's sessionStorage only: never in the URL, never in localStorage, gone when the tab closes.

const KEY_ITEM = "memlayer.key";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function storedKey() {
  return sessionStorage.getItem(KEY_ITEM);
}

export function storeKey(key) {
  if (key) sessionStorage.setItem(KEY_ITEM, key);
  else sessionStorage.removeItem(KEY_ITEM);
}

const SCOPE_FIELDS = { user: "user_id", agent: "agent_id", run: "run_id" };

/** The API's scope arguments for a {kind, id} scope (plus narrower fields, e.g. {agent_id}). */
export function scopeArgs(scope, narrow = {}) {
  const args = { [SCOPE_FIELDS[scope.kind]]: scope.id };
  for (const [field, value] of Object.entries(narrow)) {
    if (value && field !== SCOPE_FIELDS[scope.kind]) args[field] = value;
  }
  return args;
}

export class Api {
  constructor(key) {
    this.key = key || null;
  }

  async call(method, path, { params, body } = {}) {
    const url = new URL(path, window.location.origin);
    for (const [name, value] of Object.entries(params || {})) {
      if (value !== null && value !== undefined && value !== "") url.searchParams.set(name, String(value));
    }
    const headers = { Accept: "application/json" };
    if (this.key) headers.Authorization = `Bearer ${this.key}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(url, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer",
      });
    } catch (err) {
      throw new ApiError(0, "unreachable", `The memlayer server cannot be reached (${err.message}).`);
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) {
      const detail = data && data.error ? data.error : null;
      throw new ApiError(response.status, detail ? detail.code : "http_error",
        detail ? detail.message : `The server answered ${response.status} ${response.statusText}.`);
    }
    return data;
  }

  get(path, params) { return this.call("GET", path, { params }); }
  post(path, body) { return this.call("POST", path, { body }); }
  del(path, params) { return this.call("DELETE", path, { params }); }

  whoami() { return this.get("/v1/whoami"); }
  presets() { return this.get("/v1/search/presets"); }
  scopes(prefix, limit = 500) { return this.get("/v1/scopes", { prefix, limit }); }

  memories(scope, { narrow, filters, asOf, includeClosed, limit = 200 } = {}) {
    return this.get("/v1/memories", {
      ...scopeArgs(scope, narrow), filters: filters ? JSON.stringify(filters) : null,
      as_of: includeClosed ? null : asOf, include_expired: includeClosed ? "true" : null, limit,
    });
  }

  search(scope, query, { narrow, filters, asOf, includeClosed, preset, limit = 20 } = {}) {
    return this.post("/v1/search", {
      query, ...scopeArgs(scope, narrow), filters: filters || null, limit,
      as_of: includeClosed ? null : asOf || null, include_expired: Boolean(includeClosed), config: preset || null,
    });
  }

  memory(id, scope) { return this.get(`/v1/memories/${encodeURIComponent(id)}`, scopeArgs(scope)); }
  history(id, scope) { return this.get(`/v1/memories/${encodeURIComponent(id)}/history`, scopeArgs(scope)); }
  forgetMemory(id, scope) { return this.del(`/v1/memories/${encodeURIComponent(id)}`, scopeArgs(scope)); }
  forgetScope(scope) { return this.del("/v1/memories", scopeArgs(scope)); }

  relations(scope, { limit = 2000 } = {}) {
    return this.get("/v1/graph/relations", { ...scopeArgs(scope), include_expired: "true", limit });
  }
}
