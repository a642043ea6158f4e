// The Backups part of a stack page: where backups go, the key, how each service is
// captured, retention, and the history of runs. Also the dialog that creates the backup key
// with its recovery passphrase. Pure view code: app.ts owns the state and the calls.
import type { BackupOverview, BackupRecord, Keep, Mode, ServiceChoice, SnapshotSpace } from "./lib/ipc";
import { bytes, duration, when } from "./lib/format";
import { h } from "./lib/dom";

export interface BackupActions {
  chooseDestination(): void;
  saveSettings(mode: Mode, stop: string[], keep: Keep): void;
  testPassphrase(): void;
  changePassphrase(): void;
  saveKit(): void;
}

/** Déjà Dup asks every two months; so does Lifeboat. */
const TEST_EVERY_DAYS = 60;

export const MIN_PASSPHRASE = 10;

/** The settings stay open across re-renders once the user opened them. */
let settingsOpen = false;

export function backupsPanel(ov: BackupOverview | undefined, busy: boolean, actions: BackupActions): HTMLElement {
  if (!ov) return h("section", { class: "panel" }, h("h2", {}, "Backups"), h("p", { class: "muted" }, "Loading…"));
  const d = ov.destination;
  const dest = d
    ? h(
        "div",
        { class: "kv" },
        h("span", { class: "label" }, "Destination"),
        h("span", { class: "path", "data-testid": "destination" }, d.path),
        h(
          "span",
          { class: d.present ? "muted small" : "bad small" },
          d.present ? (d.free_bytes !== null ? `${bytes(d.free_bytes)} free` : "") : "not found: plug in the drive",
        ),
      )
    : h("div", { class: "kv" }, h("span", { class: "label" }, "Destination"), h("span", { class: "muted" }, "not chosen yet"));
  const key =
    ov.key.state === "ready"
      ? h(
          "div",
          { class: "kv" },
          h("span", { class: "label" }, "Backup key"),
          h("span", {}, "in the system keyring"),
          h("code", { class: "small", title: "The public half of the key; safe to share." }, short(ov.key.recipient ?? "")),
          d && !d.has_recovery ? h("span", { class: "bad small" }, "this destination has no recovery file yet") : null,
        )
      : h(
          "div",
          { class: "kv" },
          h("span", { class: "label" }, "Backup key"),
          h("span", { class: ov.key.state === "unavailable" ? "bad" : "muted" }, ov.key.state === "unavailable" ? (ov.key.message ?? "unavailable") : "created with your first backup"),
        );
  const canUseRecovery = ov.key.state === "ready" && !!d?.present && d.has_recovery;
  const tested = ov.key.passphrase_tested_at;
  const days = tested === null ? null : Math.floor((Date.now() / 1000 - tested) / 86400);
  const reminder =
    canUseRecovery && (days === null || days >= TEST_EVERY_DAYS)
      ? h(
          "div",
          { class: "banner warn", role: "status", "data-testid": "passphrase-reminder" },
          h("strong", {}, "Do you still know your recovery passphrase? "),
          days === null ? "You have not tested it yet. " : `You last tested it ${days} days ago. `,
          "Without it, a lost computer means lost backups.",
        )
      : null;
  const keyActions = canUseRecovery
    ? h(
        "div",
        { class: "key-actions" },
        h("button", { disabled: busy, onclick: () => actions.testPassphrase() }, "Test passphrase…"),
        h("button", { disabled: busy, onclick: () => actions.changePassphrase() }, "Change passphrase…"),
        h("button", { disabled: busy, onclick: () => actions.saveKit() }, "Save recovery kit"),
        tested !== null ? h("span", { class: "muted small" }, `passphrase last tested ${days === 0 ? "today" : `${days} day${days === 1 ? "" : "s"} ago`}`) : null,
      )
    : null;
  return h(
    "section",
    { class: "panel", "aria-labelledby": "backups-title" },
    h(
      "div",
      { class: "panel-head" },
      h("h2", { id: "backups-title" }, "Backups"),
      h("button", { onclick: () => actions.chooseDestination(), disabled: busy }, d ? "Change destination…" : "Choose destination…"),
    ),
    dest,
    key,
    reminder,
    keyActions,
    historyView(ov.history, ov.space),
    settingsView(ov, busy, actions),
  );
}

function short(recipient: string): string {
  return recipient.length > 20 ? `${recipient.slice(0, 12)}…${recipient.slice(-6)}` : recipient;
}

function historyView(runs: BackupRecord[], space: SnapshotSpace[]): HTMLElement {
  if (runs.length === 0) return h("p", { class: "muted" }, "No backups yet.");
  // What each snapshot takes in the destination now (pruned ones, or an unplugged drive: "–").
  const at = new Map(space.map((s) => [s.snapshot, s]));
  const stored = (r: BackupRecord) => (r.snapshot ? at.get(r.snapshot) : undefined);
  return h(
    "table",
    { class: "history", "aria-label": "Backup history" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", {}, "When"),
        h("th", {}, "Result"),
        h("th", { class: "num", title: "The stack's data when it was backed up" }, "Data"),
        h("th", { class: "num", title: "What this snapshot takes in the destination, shared pieces included" }, "Size"),
        h("th", { class: "num", title: "What this backup added to the destination" }, "New"),
        h("th", { class: "num", title: "What deleting this snapshot would free" }, "Frees"),
        h("th", { class: "num" }, "Took"),
        h("th", {}, "Notes"),
      ),
    ),
    h(
      "tbody",
      {},
      runs.map((r) =>
        h(
          "tr",
          { "data-testid": "history-row", "data-result": r.result },
          h("td", {}, when(r.started)),
          h("td", {}, h("span", { class: `result r-${r.result}` }, r.result === "ok" ? "Backed up" : r.result === "cancelled" ? "Cancelled" : "Failed")),
          h("td", { class: "num" }, r.result === "ok" ? bytes(r.bytes_in) : "–"),
          h("td", { class: "num", "data-testid": "size" }, stored(r) ? bytes(stored(r)!.bytes_stored) : "–"),
          h("td", { class: "num" }, r.result === "ok" ? bytes(r.bytes_new) : "–"),
          h("td", { class: "num", "data-testid": "frees" }, stored(r) ? bytes(stored(r)!.bytes_frees) : "–"),
          h("td", { class: "num" }, duration(r.duration_ms)),
          h(
            "td",
            { class: "small" },
            r.message ?? [
              r.downtime_ms > 0 ? `services stopped ${duration(r.downtime_ms)}` : "no downtime",
              r.warnings > 0 ? ` · ${r.warnings} warning${r.warnings === 1 ? "" : "s"}` : "",
            ].join(""),
          ),
        ),
      ),
    ),
  );
}

function howCaptured(s: ServiceChoice, mode: Mode, stop: Set<string>): string {
  if (!s.has_data) return "no data to back up";
  if (mode === "cold") return "stopped during the backup";
  if (s.dump) return `${s.dump} while it runs (no downtime)`;
  if (mode === "hot") return s.always_stopped ? "copied while running (may be inconsistent)" : "copied while running";
  if (s.always_stopped) return "stopped during the backup (a database)";
  return stop.has(s.name) ? "stopped during the backup" : "copied while running";
}

function settingsView(ov: BackupOverview, busy: boolean, actions: BackupActions): HTMLElement {
  const st = ov.settings;
  const stop = new Set(st.stop_services);
  const form = h("form", { class: "settings", "aria-label": "Backup settings" });
  const modeName = "capture-mode";
  const modes: [Mode, string, string][] = [
    ["auto", "Automatic", "Dump databases while they run; stop only what you choose below."],
    ["hot", "Never stop anything", "No downtime; files that change during the backup are reported."],
    ["cold", "Stop everything", "Stop every service with data, back up, start them again."],
  ];
  const modeBox = h(
    "fieldset",
    {},
    h("legend", {}, "How services are backed up"),
    modes.map(([value, label, hint]) =>
      h(
        "label",
        { class: "radio" },
        h("input", { type: "radio", name: modeName, value, checked: st.mode === value }),
        h("span", {}, h("strong", {}, label), h("span", { class: "muted small block" }, hint)),
      ),
    ),
  );
  const services = ov.services.filter((s) => s.has_data);
  const serviceBox = h(
    "fieldset",
    {},
    h("legend", {}, "Services"),
    services.length === 0
      ? h("p", { class: "muted" }, "No service keeps data.")
      : h(
          "ul",
          { class: "choices" },
          services.map((s) => {
            const choosable = !s.dump && !s.always_stopped;
            return h(
              "li",
              { "data-service": s.name },
              h("strong", {}, s.name),
              h("span", { class: "muted small" }, ` ${s.kind} · ${howCaptured(s, st.mode, stop)}`),
              choosable
                ? h(
                    "label",
                    { class: "check" },
                    h("input", { type: "checkbox", name: "stop", value: s.name, checked: stop.has(s.name) }),
                    "Stop during backup",
                  )
                : null,
            );
          }),
        ),
  );
  const keepFields: [keyof Keep, string][] = [
    ["last", "Latest"],
    ["daily", "Daily"],
    ["weekly", "Weekly"],
    ["monthly", "Monthly"],
  ];
  const keepBox = h(
    "fieldset",
    {},
    h("legend", {}, "Old snapshots to keep after each backup (0 turns a rule off; all off keeps everything)"),
    h(
      "div",
      { class: "keep" },
      keepFields.map(([k, label]) =>
        h("label", {}, label, h("input", { type: "number", min: 0, max: 9999, name: `keep-${k}`, value: st.keep[k] })),
      ),
    ),
  );
  form.append(modeBox, serviceBox, keepBox, h("button", { type: "submit", disabled: busy }, "Save settings"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    const mode = (data.get(modeName) as Mode | null) ?? "auto";
    const chosen = data.getAll("stop").map(String);
    const num = (k: keyof Keep) => Math.max(0, Math.min(9999, Number(data.get(`keep-${k}`) ?? 0) || 0));
    actions.saveSettings(mode, chosen, { ...st.keep, last: num("last"), daily: num("daily"), weekly: num("weekly"), monthly: num("monthly") });
  });
  const box = h("details", { class: "settings-box", open: settingsOpen }, h("summary", {}, "Backup settings"), form);
  box.addEventListener("toggle", () => (settingsOpen = box.open));
  return box;
}

export interface KeyDialogOptions {
  needKey: boolean;
  destination: string;
  onSubmit(passphrase: string): Promise<string | null>;
  onClose(): void;
}

/** The modal that creates the key and the recovery file. */
export function openKeyDialog(o: KeyDialogOptions): HTMLDialogElement {
  return openPassphraseDialog({
    title: o.needKey ? "Create your backup key" : "Protect this drive's recovery file",
    paragraphs: [
      o.needKey ? "Lifeboat encrypts every backup with a key that it keeps in your system keyring, so only you can read your backups." : null,
      h(
        "span",
        {},
        "Choose a recovery passphrase: with it and the backup drive you can restore on a new computer if this one is lost. Lifeboat stores the key, encrypted with this passphrase, in ",
        h("span", { class: "path" }, o.destination),
        ". Nobody can recover a forgotten passphrase, so write it down.",
      ),
    ],
    confirm: true,
    submitLabel: o.needKey ? "Create key and back up" : "Save recovery file and back up",
    onSubmit: o.onSubmit,
    onClose: o.onClose,
  });
}

export interface PassphraseDialogOptions {
  title: string;
  paragraphs: (Node | string | null)[];
  /** Ask twice and require the minimum length (a new passphrase). */
  confirm: boolean;
  submitLabel: string;
  /** Returns an error sentence to show, or null when done. */
  onSubmit(passphrase: string): Promise<string | null>;
  onClose(): void;
}

/** A modal asking for a passphrase. The passphrase lives only in the input fields and the
 * one call; the fields are cleared when the dialog closes. */
export function openPassphraseDialog(o: PassphraseDialogOptions): HTMLDialogElement {
  document.getElementById("key-dialog")?.remove();
  const error = h("p", { class: "bad", role: "alert", id: "key-error" });
  const p1 = h("input", { type: "password", id: "pass1", autocomplete: o.confirm ? "new-password" : "current-password", required: true });
  const p2 = o.confirm ? h("input", { type: "password", id: "pass2", autocomplete: "new-password", required: true }) : null;
  const submit = h("button", { type: "submit", class: "primary" }, o.submitLabel);
  const form = h(
    "form",
    { method: "dialog" },
    h("h2", { id: "key-title" }, o.title),
    o.paragraphs.filter((p) => p !== null).map((p) => h("p", {}, p)),
    h("label", { for: "pass1" }, o.confirm ? `Recovery passphrase (at least ${MIN_PASSPHRASE} characters)` : "Recovery passphrase"),
    p1,
    p2 ? h("label", { for: "pass2" }, "The same passphrase again") : null,
    p2,
    error,
    h("div", { class: "dialog-actions" }, h("button", { type: "button", onclick: () => close() }, "Cancel"), submit),
  );
  const dialog = h("dialog", { id: "key-dialog", "aria-labelledby": "key-title" }, form);
  const close = () => {
    p1.value = "";
    if (p2) p2.value = "";
    dialog.remove();
    o.onClose();
  };
  dialog.addEventListener("cancel", (ev) => {
    ev.preventDefault();
    close();
  });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (o.confirm && p1.value.length < MIN_PASSPHRASE) {
      error.textContent = `The passphrase needs at least ${MIN_PASSPHRASE} characters.`;
      p1.focus();
      return;
    }
    if (p2 && p1.value !== p2.value) {
      error.textContent = "The two passphrases differ. Type the same one twice.";
      p2.focus();
      return;
    }
    submit.disabled = true;
    error.textContent = "";
    void o.onSubmit(p1.value).then((problem) => {
      if (problem === null) {
        p1.value = "";
        if (p2) p2.value = "";
        dialog.remove();
        return;
      }
      submit.disabled = false;
      error.textContent = problem;
    });
  });
  document.body.append(dialog);
  if (typeof dialog.showModal === "function") dialog.showModal();
  else dialog.setAttribute("open", "");
  p1.focus();
  return dialog;
}
