// A modal confirmation (the native <dialog>: focus stays inside, Escape cancels). Enter confirms: the
// confirm button has the focus, or, when the user must type a name, Enter in that field submits once
// it matches. Focus returns to what had it before.

import { h, newId } from "./dom.js";

/**
 * Ask before something that cannot be undone. Resolves true (confirmed) or false (cancelled).
 * options: {title, body: [text or nodes], confirm: "Forget", typeToConfirm: "alice" (optional)}
 */
export function confirmDialog({ title, body, confirm, typeToConfirm }) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const titleId = newId("dialog-title");
    const descId = newId("dialog-desc");
    const accept = h("button", { type: "submit", class: "danger", value: "confirm" }, confirm);
    const cancel = h("button", { type: "button", value: "cancel" }, "Cancel");
    let field = null;
    const parts = [h("h2", { id: titleId }, title), h("div", { id: descId }, ...body)];
    if (typeToConfirm) {
      const fieldId = newId("confirm-name");
      field = h("input", { id: fieldId, type: "text", autocomplete: "off", spellcheck: "false",
        "aria-describedby": descId });
      parts.push(h("p", { class: "field" }, h("label", { for: fieldId }, `Type ${typeToConfirm} to confirm`), field));
      accept.disabled = true;
      field.addEventListener("input", () => { accept.disabled = field.value !== typeToConfirm; });
    }
    const form = h("form", { method: "dialog" }, ...parts, h("p", { class: "actions" }, cancel, accept));
    const dialog = h("dialog", { class: "confirm", "aria-labelledby": titleId, "aria-describedby": descId }, form);
    let answered = false;
    const finish = (value) => {
      if (answered) return;
      answered = true;
      dialog.close();
      dialog.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve(value);
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!accept.disabled) finish(true);
    });
    cancel.addEventListener("click", () => finish(false));
    dialog.addEventListener("cancel", (event) => { event.preventDefault(); finish(false); });
    document.body.append(dialog);
    dialog.showModal();
    (field || accept).focus();
  });
}
