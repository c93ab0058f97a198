// The as_of control: a slider that steps through the moments the scope's memories changed (each stop
// is a time a fact began or was closed; the last stop is "now"), a date-time field in UTC for any
// moment, and a "Now" button. onChange(isoOrNull) is called with the chosen time (null: now).

import { fromLocalInput, h, newId, toLocalInput, when } from "./dom.js";

export class Timeline {
  constructor(onChange) {
    this.onChange = onChange;
    this.times = [];  // sorted ISO times of changes
    this.asOf = null;
    const rangeId = newId("asof-range");
    const inputId = newId("asof-input");
    this.range = h("input", { id: rangeId, type: "range", min: "0", max: "0", step: "1", value: "0",
      "aria-describedby": `${rangeId}-help` });
    this.input = h("input", { id: inputId, type: "datetime-local", step: "1" });
    this.now = h("button", { type: "button" }, "Now");
    this.output = h("output", { for: `${rangeId} ${inputId}`, class: "asof-now" }, "now");
    this.el = h("fieldset", { class: "timeline" },
      h("legend", {}, "Time travel"),
      h("span", { class: "field" }, h("label", { for: rangeId }, "Step through changes"), this.range),
      h("span", { class: "field" }, h("label", { for: inputId }, "As of (UTC)"), this.input),
      this.now,
      h("span", { class: "asof-label" }, "Showing: ", this.output),
      h("span", { id: `${rangeId}-help`, class: "visually-hidden" },
        "Each step is a moment a memory began or was closed; the last step is now."));
    this.range.addEventListener("input", () => {
      const index = Number(this.range.value);
      this.set(index >= this.times.length ? null : this.times[index]);
    });
    this.input.addEventListener("change", () => this.set(fromLocalInput(this.input.value)));
    this.now.addEventListener("click", () => this.set(null));
  }

  /** The change times of a scope's memories (current and closed). */
  setTimes(memories) {
    const times = new Set();
    for (const m of memories) {
      for (const t of [m.valid_from, m.valid_to]) if (t) times.add(new Date(t).toISOString());
    }
    this.times = [...times].sort();
    this.range.max = String(this.times.length);
    this.sync();
  }

  set(iso) {
    const changed = iso !== this.asOf;
    this.asOf = iso;
    this.sync();
    if (changed) this.onChange(iso);
  }

  /** Put the slider, field and label in line with asOf. */
  sync() {
    const iso = this.asOf;
    this.input.value = toLocalInput(iso);
    this.output.textContent = iso ? `as of ${when(iso)}` : "now";
    let index = this.times.length;
    if (iso) {
      index = 0;
      while (index + 1 < this.times.length && this.times[index + 1] <= iso) index += 1;
    }
    this.range.value = String(index);
    this.range.setAttribute("aria-valuetext", iso ? when(iso) : "now");
    this.now.disabled = iso === null;
  }

  disable(disabled) {
    for (const el of [this.range, this.input]) el.disabled = disabled;
    this.now.disabled = disabled || this.asOf === null;
  }
}
