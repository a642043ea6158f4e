// The Secrets part of a stack page: env files with masked values, reveal (hidden again after
// a few seconds and when the window loses focus), edit, generate, rotate with its impact
// note, and hygiene findings with Fix buttons. Values live only in the DOM for as long as
// they are shown or typed; nothing here keeps them.
import type { Finding, SecretsScreen, Variable } from "./lib/ipc";
import { h } from "./lib/dom";
import { remedyText } from "./lib/remedy";

export interface SecretActions {
  reveal(file: string, key: string): Promise<string | null>;
  save(file: string, key: string, value: string): void;
  generate(file: string, key: string): void;
  rotationNote(file: string, key: string): Promise<string | null>;
  fix(code: string, file: string, variable: string | null): void;
  restoreCopy(name: string): void;
}

const REVEAL_MS = 8000;

export function secretsPanel(s: SecretsScreen | undefined, busy: boolean, a: SecretActions): HTMLElement {
  if (!s) return h("section", { class: "panel" }, h("h2", {}, "Secrets"), h("p", { class: "muted" }, "Loading…"));
  return h(
    "div",
    { class: "secrets" },
    findingsView(s.findings, busy, a),
    s.view.files.map((f) =>
      h(
        "section",
        { class: "panel", "data-testid": "env-file", "data-file": f.name },
        h(
          "div",
          { class: "panel-head" },
          h("h2", {}, f.name),
          f.exists
            ? h("span", { class: f.mode !== null && (f.mode & 0o077) !== 0 ? "bad small" : "muted small" }, f.mode !== null ? `mode ${f.mode.toString(8).padStart(3, "0")}` : "")
            : h("span", { class: "muted small" }, "does not exist yet"),
        ),
        f.error ? h("p", { class: "bad" }, f.error) : null,
        f.variables.length === 0
          ? h("p", { class: "muted" }, "No variables.")
          : h(
              "table",
              { class: "vars", "aria-label": `Variables in ${f.name}` },
              h("thead", {}, h("tr", {}, h("th", {}, "Variable"), h("th", {}, "Value"), h("th", {}, "Read by"), h("th", {}, h("span", { class: "sr-only" }, "Actions")))),
              h("tbody", {}, f.variables.map((v) => variableRow(f.name, v, busy, a))),
            ),
      ),
    ),
    copiesView(s, busy, a),
    s.view.undefined.length
      ? h(
          "section",
          { class: "panel" },
          h("h2", {}, "Used but defined nowhere"),
          h("p", { class: "muted" }, "The compose file uses these without a default; compose will use an empty value."),
          h("ul", {}, s.view.undefined.map((k) => h("li", {}, h("code", {}, k)))),
        )
      : null,
  );
}

function copiesView(s: SecretsScreen, busy: boolean, a: SecretActions): HTMLElement | null {
  if (s.copies.length === 0) return null;
  return h(
    "section",
    { class: "panel", "aria-labelledby": "copies-title" },
    h("h2", { id: "copies-title" }, "Earlier versions"),
    h("p", { class: "muted small" }, "Lifeboat keeps a copy of a file each time it changes it, inside the stack folder. Putting one back keeps the current file as a copy too."),
    h(
      "ul",
      { class: "copies" },
      s.copies.map((c) =>
        h(
          "li",
          { "data-testid": "copy" },
          h("code", {}, c.file),
          h("span", { class: "muted small" }, ` as it was before ${c.taken}`),
          h("button", { class: "quiet", disabled: busy, onclick: () => a.restoreCopy(c.name), "aria-label": `Put back ${c.file} from ${c.taken}` }, "Put back"),
        ),
      ),
    ),
  );
}

function findingsView(fs: Finding[], busy: boolean, a: SecretActions): HTMLElement {
  if (fs.length === 0) return h("section", { class: "panel ok" }, h("h2", {}, "No secrets problems found"), h("p", {}, "Files are private, ignored by git, and nothing is hard-coded."));
  return h(
    "section",
    { class: "panel" },
    h("h2", {}, `${fs.length} secrets problem${fs.length === 1 ? "" : "s"}`),
    h(
      "ul",
      { class: "warnings" },
      fs.map((f) =>
        h(
          "li",
          { class: `warning ${f.severity === "high" ? "w-high" : ""}`, "data-code": f.code },
          f.message,
          f.remedy ? h("span", { class: "remedy" }, ` ${remedyText(f.remedy)}`) : null,
          f.fix && f.file
            ? h(
                "button",
                {
                  class: "fix",
                  disabled: busy,
                  title: f.fix,
                  onclick: () => (f.preview ? confirmFix(f.fix ?? "", f.preview, () => a.fix(f.code, f.file!, f.variable)) : a.fix(f.code, f.file!, f.variable)),
                },
                "Fix",
              )
            : null,
        ),
      ),
    ),
  );
}

function variableRow(file: string, v: Variable, busy: boolean, a: SecretActions): HTMLElement {
  const value = h("span", { class: "masked", "data-testid": "value" }, `•••••••• (${v.length})`);
  const area = h("div", { class: "row-extra" });
  let timer: number | undefined;
  const hide = () => {
    window.clearTimeout(timer);
    value.textContent = `•••••••• (${v.length})`;
    value.className = "masked";
    revealBtn.textContent = "Reveal";
    window.removeEventListener("blur", hide);
  };
  const revealBtn = h(
    "button",
    {
      class: "quiet",
      "aria-label": `Reveal ${v.key}`,
      onclick: async () => {
        if (value.className === "shown") return hide();
        const got = await a.reveal(file, v.key);
        if (got === null) return;
        value.textContent = got;
        value.className = "shown";
        revealBtn.textContent = "Hide";
        timer = window.setTimeout(hide, REVEAL_MS);
        window.addEventListener("blur", hide);
      },
    },
    "Reveal",
  );
  const edit = () => {
    const input = h("input", { type: "password", "aria-label": `New value for ${v.key}`, autocomplete: "off" });
    const form = h(
      "form",
      { class: "inline" },
      input,
      h("button", { type: "submit", class: "primary" }, "Save"),
      h("button", { type: "button", onclick: () => area.replaceChildren() }, "Cancel"),
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const val = input.value;
      input.value = "";
      a.save(file, v.key, val);
    });
    area.replaceChildren(form);
    input.focus();
  };
  const rotate = async () => {
    const note = await a.rotationNote(file, v.key);
    if (note === null) return;
    area.replaceChildren(
      h(
        "div",
        { class: "confirm", role: "group", "aria-label": `Rotate ${v.key}` },
        h("p", {}, h("strong", {}, `Replace ${v.key} with a new random value? `), note, " The old file is kept as a dated copy."),
        h("button", { class: "primary", onclick: () => a.generate(file, v.key) }, "Rotate"),
        h("button", { onclick: () => area.replaceChildren() }, "Cancel"),
      ),
    );
  };
  return h(
    "tr",
    { "data-testid": "variable", "data-key": v.key },
    h("td", {}, h("code", {}, v.key), v.secret ? h("span", { class: "tag" }, "secret") : null, h("div", { class: "muted small" }, `line ${v.line}`)),
    h("td", { class: "value-col" }, value, area),
    h("td", { class: "small" }, v.used_by.length ? v.used_by.join(", ") : h("span", { class: "muted" }, "no service")),
    h(
      "td",
      { class: "row-actions" },
      revealBtn,
      h("button", { class: "quiet", disabled: busy, "aria-label": `Edit ${v.key}`, onclick: edit }, "Edit"),
      h("button", { class: "quiet", disabled: busy, "aria-label": `Rotate ${v.key}`, onclick: () => void rotate() }, "Rotate"),
    ),
  );
}

/** Shows the change a fix makes (values masked) and applies it only on confirmation. */
function confirmFix(what: string, diff: string, apply: () => void): void {
  document.getElementById("fix-dialog")?.remove();
  const dialog = h(
    "dialog",
    { id: "fix-dialog", "aria-labelledby": "fix-title" },
    h("h2", { id: "fix-title" }, "Review the change"),
    h("p", {}, `Lifeboat will ${what}. A dated copy of both files is kept, so you can put them back from the history.`),
    h("pre", { class: "diff", "data-testid": "fix-diff" }, diff),
    h(
      "div",
      { class: "dialog-actions" },
      h("button", { onclick: () => dialog.remove() }, "Cancel"),
      h(
        "button",
        {
          class: "primary",
          onclick: () => {
            dialog.remove();
            apply();
          },
        },
        "Make the change",
      ),
    ),
  );
  dialog.addEventListener("cancel", (ev) => {
    ev.preventDefault();
    dialog.remove();
  });
  document.body.append(dialog);
  if (typeof dialog.showModal === "function") dialog.showModal();
  else dialog.setAttribute("open", "");
}
