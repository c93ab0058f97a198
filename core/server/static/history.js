// The history of one memory: what it says, whether it is current, what closed it and why (the event
// that closed it, its source messages and the memory that replaced it), every event with its source
// messages, and "Forget this memory" (with a confirmation).

import { confirmDialog } from "./dialog.js";
import { announce, clear, focus, h, newId, when } from "./dom.js";

const EVENT_NAMES = { ADD: "added", UPDATE: "rewritten", NONE: "restated" };

function sourceMessages(messages) {
  if (!messages || !messages.length) return h("p", { class: "help" }, "No source messages (written directly).");
  return h("ol", { class: "sources", "aria-label": "Source messages" }, messages.map((m) => h("li", {},
    h("p", { class: "who" }, m.name ? `${m.name} (${m.role})` : m.role, h("span", { class: "at" }, when(m.created_at))),
    h("blockquote", {}, m.content))));
}

function details(memory) {
  const rows = [["Id", memory.id], ["Attribute", memory.attribute || "—"],
    ["Scope", ["user_id", "agent_id", "run_id"].filter((f) => memory[f]).map((f) => `${f.split("_")[0]} ${memory[f]}`)
      .join(", ")],
    ["Valid from", when(memory.valid_from)], ["Valid to", memory.valid_to ? when(memory.valid_to) : "still current"],
    ["Created", when(memory.created_at)], ["Updated", when(memory.updated_at)]];
  if (memory.expires_at) rows.push(["Expires", when(memory.expires_at)]);
  if (memory.metadata && Object.keys(memory.metadata).length) rows.push(["Metadata", JSON.stringify(memory.metadata)]);
  return h("dl", { class: "fields" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

export class HistoryPanel {
  constructor(ctx, scope, onForgotten) {
    this.ctx = ctx;
    this.scope = scope;
    this.onForgotten = onForgotten;
    this.memoryId = null;
    this.ticket = 0;
    this.title = h("h3", { id: newId("history-title"), tabindex: "-1" }, "History");
    this.body = h("div", { class: "history-body" });
    this.el = h("aside", { class: "history", "aria-labelledby": this.title.id }, this.title, this.body);
    this.placeholder();
  }

  placeholder() {
    this.title.textContent = "History";
    clear(this.body, h("p", { class: "help" }, "Choose “History” on a memory to see every event, the messages it ",
      "came from, and what closed it."));
  }

  async show(memoryId) {
    if (memoryId === this.memoryId) return;
    this.memoryId = memoryId;
    if (!memoryId) {
      this.placeholder();
      return;
    }
    const ticket = ++this.ticket;
    this.body.setAttribute("aria-busy", "true");
    try {
      const [memory, events] = await Promise.all([
        this.ctx.api.memory(memoryId, this.scope).catch((err) => { if (err.status === 404) return null; throw err; }),
        this.ctx.api.history(memoryId, this.scope)]);
      let successor = null;
      if (memory && memory.superseded_by) {
        successor = await this.ctx.api.memory(memory.superseded_by, this.scope).catch(() => null);
      }
      if (ticket !== this.ticket) return;
      this.render(memoryId, memory, events, successor);
      focus(this.title);
    } catch (err) {
      if (ticket === this.ticket) this.ctx.failed(err);
    } finally {
      if (ticket === this.ticket) this.body.removeAttribute("aria-busy");
    }
  }

  render(memoryId, memory, events, successor) {
    this.title.textContent = "History of a memory";
    if (!memory && !events.length) {
      clear(this.body, h("p", { class: "empty" }, "No such memory in this scope (it may have been forgotten)."));
      return;
    }
    const text = memory ? memory.memory : events[events.length - 1].old_memory || events[0].new_memory;
    const parts = [h("blockquote", { class: "memory-text" }, text)];
    parts.push(this.status(memory, events, successor));
    if (memory) parts.push(details(memory));
    parts.push(h("h4", {}, `Events (${events.length})`),
      h("ol", { class: "events" }, events.map((e) => h("li", { class: `event ${e.event.toLowerCase()}` },
        h("p", { class: "event-head" }, h("span", { class: `badge ${e.event.toLowerCase()}` }, e.event),
          ` ${e.event === "DELETE" ? (memory ? "closed" : "deleted") : EVENT_NAMES[e.event] || ""} ${when(e.created_at)}`,
          e.actor ? h("span", { class: "actor" }, ` by ${e.actor}`) : null),
        e.reason ? h("p", { class: "reason" }, `Why: ${e.reason}`) : null,
        e.event === "UPDATE" && e.old_memory ? h("p", { class: "change" }, h("del", {}, e.old_memory), " → ",
          h("ins", {}, e.new_memory || "")) : null,
        sourceMessages(e.source_messages)))));
    if (memory && this.ctx.canWrite) {
      parts.push(h("p", { class: "actions" }, h("button", { type: "button", class: "danger",
        onclick: () => this.forget(memory) }, "Forget this memory…")));
    }
    clear(this.body, parts);
  }

  status(memory, events, successor) {
    const closing = [...events].reverse().find((e) => e.event === "DELETE");
    if (memory && !memory.valid_to) {
      return h("p", { class: "status current" }, h("span", { class: "badge current" }, "current"),
        ` since ${when(memory.valid_from)}`);
    }
    if (memory) {
      const why = [h("span", { class: "badge closed" }, "closed"), ` on ${when(memory.valid_to)}`];
      if (successor) {
        why.push(". Replaced by ", h("a", { href: this.ctx.scopeHash(this.scope, "memory", successor.id) },
          `“${successor.memory}”`), ".");
      } else if (memory.superseded_by) {
        why.push(`. Replaced by memory ${memory.superseded_by} (since forgotten).`);
      }
      if (closing && closing.reason) why.push(` Reason: ${closing.reason}.`);
      if (closing && closing.source_messages.length) why.push(" The closing event below shows the messages that did it.");
      return h("p", { class: "status closed" }, why);
    }
    return h("p", { class: "status forgotten" }, h("span", { class: "badge deleted" }, "deleted"),
      closing ? ` on ${when(closing.created_at)}` : "", ". Only its history remains.");
  }

  async forget(memory) {
    const yes = await confirmDialog({
      title: "Forget this memory?",
      body: [h("blockquote", {}, memory.memory),
        h("p", {}, "It is removed from search, the list and the knowledge graph now; its history records the deletion. ",
          "This cannot be undone.")],
      confirm: "Forget",
    });
    if (!yes) return;
    try {
      await this.ctx.api.forgetMemory(memory.id, this.scope);
      announce(`Forgot the memory “${memory.memory}”.`);
      this.memoryId = null;
      await this.show(memory.id);  // its history, now ending in the deletion
      if (this.onForgotten) await this.onForgotten(memory);
    } catch (err) {
      this.ctx.failed(err);
    }
  }
}
