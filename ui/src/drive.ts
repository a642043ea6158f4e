// "Restore from a backup drive": the way back on a new computer. The drive → its recovery
// passphrase (when this computer's key does not open it) → a stack and a point in time →
// where its folder goes → progress → result, and the stack opens in Lifeboat.
import type { DriveInfo, DriveRestoreDone, JobEvent } from "./lib/ipc";
import { describeError } from "./lib/errors";
import { bytes, count, duration, when } from "./lib/format";
import { h } from "./lib/dom";
import { applyJobEvent, newProgress, progressView, type JobProgress } from "./lib/job";

export interface DriveCalls {
  drive(): Promise<DriveInfo>;
  chooseDrive(): Promise<DriveInfo>;
  unlock(passphrase: string): Promise<DriveInfo>;
  chooseTarget(): Promise<DriveInfo>;
  restore(stack: string, snapshot: string, onEvent: (e: JobEvent) => void): Promise<DriveRestoreDone>;
  cancel(jobId: number): Promise<boolean>;
  /** The wizard closed; the id of the stack it restored, if one. */
  closed(stackId: number | null): void;
}

export function openDriveWizard(calls: DriveCalls): HTMLDialogElement {
  document.getElementById("drive-dialog")?.remove();
  let info: DriveInfo | null = null;
  let stack: string | null = null;
  let snapshot: string | null = null;
  let error: string | null = null;
  let busy = true;
  let running = false;
  let done: DriveRestoreDone | null = null;
  let job: JobProgress = newProgress();
  const body = h("div", { class: "wizard-body" });
  const dialog = h("dialog", { id: "drive-dialog", class: "wizard", "aria-labelledby": "drive-title" }, body);
  const close = () => {
    if (running) return;
    dialog.remove();
    calls.closed(done ? done.stack.id : null);
  };
  dialog.addEventListener("cancel", (ev) => {
    ev.preventDefault();
    close();
  });
  const call = (p: Promise<DriveInfo>) => {
    busy = true;
    error = null;
    render();
    p.then((i) => {
      info = i;
      const first = i.stacks[0];
      if (!stack || !i.stacks.some((s) => s.name === stack)) stack = first?.name ?? null;
      const st = i.stacks.find((s) => s.name === stack);
      if (!snapshot || !st?.snapshots.some((s) => s.snapshot === snapshot)) snapshot = st?.snapshots[0]?.snapshot ?? null;
      busy = false;
      render();
    }).catch((e) => {
      error = describeError(e).detail;
      busy = false;
      render();
    });
  };

  function render(): void {
    const parts: (Node | null)[] = [h("h2", { id: "drive-title", tabindex: -1 }, "Restore from a backup drive")];
    if (error) parts.push(h("p", { class: "banner error", role: "alert", "data-testid": "drive-error" }, error));
    if (done) parts.push(...result(done));
    else if (running) parts.push(...progress());
    else parts.push(...choose());
    body.replaceChildren(...parts.filter((p): p is Node => p !== null));
  }

  function choose(): (Node | null)[] {
    const i = info;
    const out: (Node | null)[] = [
      h("p", {}, "With the backup drive and your recovery passphrase, Lifeboat brings a stack back on this computer: its compose files, secrets and data, in a new folder."),
      h(
        "div",
        { class: "kv" },
        h("span", { class: "label" }, "Backup drive"),
        h("span", { class: "path", "data-testid": "drive-path" }, i?.path ?? "not chosen"),
        h("button", { disabled: busy, onclick: () => call(calls.chooseDrive()) }, i?.path ? "Choose another…" : "Choose the backup folder…"),
      ),
    ];
    if (!i || i.state === "none") return [...out, h("div", { class: "dialog-actions" }, h("button", { onclick: close }, "Cancel"))];
    if (i.state === "empty") {
      out.push(h("p", { class: "bad" }, "This folder holds no Lifeboat backups. Choose the folder you backed up to (it has a folder per stack and a lifeboat-recovery.age file)."));
      return [...out, h("div", { class: "dialog-actions" }, h("button", { onclick: close }, "Cancel"))];
    }
    if (i.state === "locked") {
      if (!i.has_recovery) {
        out.push(h("p", { class: "bad" }, "The key on this computer does not open these backups, and the drive has no recovery file. Use the computer that made them, or its key file (lifeboat key import-recovery on the command line)."));
        return [...out, h("div", { class: "dialog-actions" }, h("button", { onclick: close }, "Cancel"))];
      }
      const pass = h("input", { type: "password", id: "drive-pass", autocomplete: "current-password", required: true });
      const form = h(
        "form",
        {},
        h("p", {}, "The backups are encrypted. Type the recovery passphrase you chose when you made them: it opens the key stored on the drive, which Lifeboat then keeps in this computer's keyring."),
        h("label", { for: "drive-pass" }, "Recovery passphrase"),
        pass,
        h("div", { class: "dialog-actions" }, h("button", { type: "button", onclick: close }, "Cancel"), h("button", { type: "submit", class: "primary", disabled: busy }, "Unlock")),
      );
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        const value = pass.value;
        pass.value = "";
        call(calls.unlock(value));
      });
      queueMicrotask(() => pass.focus());
      return [...out, form];
    }
    // Open: choose the stack, the point in time, and the place.
    const current = i.stacks.find((s) => s.name === stack) ?? i.stacks[0];
    out.push(
      h(
        "fieldset",
        {},
        h("legend", {}, "Stack"),
        i.stacks.map((s) =>
          h(
            "label",
            { class: "radio" },
            h("input", {
              type: "radio",
              name: "drive-stack",
              value: s.name,
              checked: s.name === current?.name,
              onchange: () => {
                stack = s.name;
                snapshot = s.snapshots[0]?.snapshot ?? null;
                render();
              },
            }),
            h("span", {}, h("strong", {}, s.name), h("span", { class: "muted small block" }, s.snapshots.length ? `${s.snapshots.length === 1 ? "1 backup" : `${count(s.snapshots.length)} backups`}, the newest ${when(s.snapshots[0].started)}` : "no backups")),
          ),
        ),
      ),
      current
        ? h(
            "fieldset",
            { class: "timeline" },
            h("legend", {}, "Point in time (newest first)"),
            current.snapshots.map((s) =>
              h(
                "label",
                { class: "radio snapshot", "data-testid": "drive-snapshot" },
                h("input", { type: "radio", name: "drive-snapshot", value: s.snapshot, checked: s.snapshot === snapshot, disabled: s.damaged !== null, onchange: () => (snapshot = s.snapshot) }),
                s.damaged !== null
                  ? h("span", {}, h("strong", {}, s.snapshot), h("span", { class: "muted small block" }, `Damaged, cannot be restored: ${s.damaged}`))
                  : h("span", {}, h("strong", {}, when(s.started)), h("span", { class: "muted small block" }, `${bytes(s.bytes_in)} · ${count(s.components.length)} parts${s.partial ? " · partial" : ""}`)),
              ),
            ),
          )
        : null,
      h(
        "div",
        { class: "kv" },
        h("span", { class: "label" }, "New folder"),
        h("span", { class: "path", "data-testid": "drive-target" }, `${i.parent ?? "?"}/${current?.name ?? ""}`),
        h("button", { disabled: busy, onclick: () => call(calls.chooseTarget()) }, "Choose another place…"),
      ),
      h("p", { class: "muted small" }, "The folder must not exist yet or be empty. Databases that were dumped are written as dump files there, with the command that loads them once the stack runs."),
      h(
        "div",
        { class: "dialog-actions" },
        h("button", { onclick: close }, "Cancel"),
        h("button", { class: "primary", "data-testid": "drive-restore", disabled: busy || !current || !snapshot, onclick: () => void run() }, "Restore"),
      ),
    );
    return out;
  }

  function progress(): (Node | null)[] {
    return [progressView(job, { verb: "Restoring", purpose: "the restore", testid: "drive-progress", onCancel: (id) => void calls.cancel(id) })];
  }

  function result(d: DriveRestoreDone): (Node | null)[] {
    const r = d.report;
    return [
      h("p", { role: "status", "data-testid": "drive-done" }, h("strong", {}, `${d.stack.name} is back. `), `${count(r.files)} files, ${bytes(r.bytes)} in ${duration(r.duration_ms)}, in `, h("span", { class: "path" }, r.target), "."),
      r.next_steps.length ? h("ul", { class: "notes" }, r.next_steps.map((n) => h("li", {}, n))) : null,
      h("div", { class: "dialog-actions" }, h("button", { class: "primary", onclick: close }, "Open the stack")),
    ];
  }

  async function run(): Promise<void> {
    if (!stack || !snapshot) return;
    running = true;
    job = newProgress();
    error = null;
    render();
    try {
      done = await calls.restore(stack, snapshot, (e) => {
        if (applyJobEvent(job, e)) render();
      });
    } catch (e) {
      error = describeError(e).detail;
    }
    running = false;
    render();
  }

  render();
  document.body.append(dialog);
  if (typeof dialog.showModal === "function") dialog.showModal();
  else dialog.setAttribute("open", "");
  call(calls.drive());
  return dialog;
}
