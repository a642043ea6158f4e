// The restore wizard: point in time → what → where → preview → progress → result. Each
// step says what happens before it happens; nothing changes until "Restore" on the preview.
// The wizard talks to Rust only through the calls it is handed (app.ts passes lib/ipc).
import type { ComponentPlan, JobEvent, RestorePlan, RestorePoints, RestoreReport, RestoreRequest, SnapshotSummary, UndoReport } from "./lib/ipc";
import { describeError } from "./lib/errors";
import { isIpcError } from "./lib/ipc";
import { bytes, count, duration, when } from "./lib/format";
import { h } from "./lib/dom";
import { applyJobEvent, newProgress, progressView, type JobProgress } from "./lib/job";

const plural = (n: number, one: string, many = `${one}s`) => `${count(n)} ${n === 1 ? one : many}`;

export interface RestoreCalls {
  points(): Promise<RestorePoints>;
  chooseFolder(): Promise<string | null>;
  plan(req: RestoreRequest): Promise<RestorePlan>;
  start(req: RestoreRequest, onEvent: (e: JobEvent) => void): Promise<RestoreReport>;
  cancel(jobId: number): Promise<boolean>;
  undo(): Promise<UndoReport>;
  openFolder(): Promise<void>;
  /** Called when the wizard closes; `changed` when files may have changed. */
  closed(changed: boolean): void;
}

type Step = "when" | "what" | "where" | "preview" | "running" | "result";

const STEPS: [Step, string][] = [
  ["when", "Point in time"],
  ["what", "What"],
  ["where", "Where"],
  ["preview", "Preview"],
  ["running", "Restore"],
  ["result", "Result"],
];

interface Wizard {
  step: Step;
  points: RestorePoints | null;
  snapshot: SnapshotSummary | null;
  /** The plan of everything in the chosen snapshot: kinds and sizes for step 2. */
  all: RestorePlan | null;
  chosen: Set<string>;
  otherFolder: boolean;
  folder: string | null;
  plan: RestorePlan | null;
  report: RestoreReport | null;
  undone: UndoReport | null;
  error: string | null;
  busy: boolean;
  changed: boolean;
  job: JobProgress;
}

/** A component's name as people say it. */
export function componentLabel(name: string, kind?: string): string {
  if (name === "secrets") return "Secrets and settings (.env, env files, compose files)";
  const svc = name.replace(/^service-/, "");
  return kind === "database" ? `${svc} database` : `${svc} data`;
}

function actionText(c: ComponentPlan): string {
  if (c.action === "load-dump") return `loaded into the running ${c.service ?? "database"} from its dump`;
  const parts = [`${count(c.added)} added`, `${count(c.changed)} changed`, `${count(c.removed)} removed`];
  if (c.files === 0 && c.removed === 0) return "nothing in the backup";
  return `${parts.join(", ")}${c.unchanged ? `, ${count(c.unchanged)} unchanged` : ""}${c.action === "extract-dump" ? "; dump written as a file" : ""}`;
}

export function openRestoreWizard(stackName: string, calls: RestoreCalls): HTMLDialogElement {
  document.getElementById("restore-dialog")?.remove();
  const w: Wizard = {
    step: "when",
    points: null,
    snapshot: null,
    all: null,
    chosen: new Set(),
    otherFolder: false,
    folder: null,
    plan: null,
    report: null,
    undone: null,
    error: null,
    busy: true,
    changed: false,
    job: newProgress(),
  };
  const body = h("div", { class: "wizard-body" });
  const dialog = h("dialog", { id: "restore-dialog", class: "wizard", "aria-labelledby": "restore-title" }, body);
  const close = () => {
    if (w.step === "running") return;
    dialog.remove();
    calls.closed(w.changed);
  };
  dialog.addEventListener("cancel", (ev) => {
    ev.preventDefault();
    close();
  });
  const request = (listPaths: boolean): RestoreRequest => ({
    snapshot: w.snapshot?.snapshot ?? "",
    components: w.all && w.chosen.size === w.all.components.length ? [] : [...w.chosen],
    other_folder: w.otherFolder,
    list_paths: listPaths,
  });
  const fail = (e: unknown) => {
    w.error = describeError(e).detail;
    w.busy = false;
    render();
  };
  const go = (step: Step) => {
    w.step = step;
    w.error = null;
    render();
    dialog.querySelector<HTMLElement>("h2")?.focus();
  };

  /** Asks for a plan, keeps it with `keep`, then goes to `next` (or shows the error). */
  function planThen(req: RestoreRequest, next: Step, keep: (plan: RestorePlan) => void): void {
    w.busy = true;
    render();
    calls
      .plan(req)
      .then((plan) => {
        keep(plan);
        w.busy = false;
        go(next);
      })
      .catch(fail);
  }

  function render(): void {
    const stepIndex = STEPS.findIndex(([s]) => s === w.step);
    const steps = h(
      "ol",
      { class: "wizard-steps", "aria-label": "Steps" },
      STEPS.map(([, label], i) =>
        h("li", { class: i < stepIndex ? "done" : i === stepIndex ? "current" : "", "aria-current": i === stepIndex ? "step" : undefined }, label),
      ),
    );
    const content = stepView();
    const parts: (Node | null)[] = [
      h("h2", { id: "restore-title", tabindex: -1 }, `Restore ${stackName}`),
      steps,
      w.error ? h("p", { class: "banner error", role: "alert", "data-testid": "restore-error" }, w.error) : null,
      ...content,
    ];
    body.replaceChildren(...parts.filter((p): p is Node => p !== null));
  }

  function actions(...buttons: (HTMLElement | null)[]): HTMLElement {
    return h("div", { class: "dialog-actions" }, ...buttons);
  }

  function stepView(): (Node | null)[] {
    switch (w.step) {
      case "when":
        return whenStep();
      case "what":
        return whatStep();
      case "where":
        return whereStep();
      case "preview":
        return previewStep();
      case "running":
        return runningStep();
      case "result":
        return resultStep();
    }
  }

  function whenStep(): (Node | null)[] {
    const p = w.points;
    if (!p) return [h("p", { class: "muted" }, "Reading the backups…")];
    if (!p.destination) return [h("p", {}, "This stack has no backup destination yet, so there is nothing to restore."), actions(h("button", { onclick: close }, "Close"))];
    if (!p.present)
      return [
        h("p", {}, "The backup destination ", h("span", { class: "path" }, p.destination), " is not there. Plug in the backup drive, then try again."),
        actions(h("button", { onclick: close }, "Close")),
      ];
    if (p.snapshots.length === 0) return [h("p", {}, "There are no backups of this stack in ", h("span", { class: "path" }, p.destination), " yet."), actions(h("button", { onclick: close }, "Close"))];
    const last = p.last_restore;
    const lastBox = last
      ? h(
          "div",
          { class: "banner", "data-testid": "last-restore" },
          `Last restore: ${when(last.started)}, ${last.components.map((c) => componentLabel(c)).join(", ")} (${last.state === "done" ? "can be undone" : last.state.replace("-", " ")}).`,
          last.can_undo ? h("button", { class: "inline", disabled: w.busy, onclick: () => void undo() }, "Undo it") : null,
        )
      : null;
    // A snapshot whose manifest cannot be read is shown, not offered.
    const firstUsable = p.snapshots.find((s) => s.damaged === null) ?? null;
    const list = h(
      "fieldset",
      { class: "timeline" },
      h("legend", {}, "Choose the backup to restore from (newest first)"),
      p.snapshots.map((s, i) =>
        h(
          "label",
          { class: "radio snapshot", "data-testid": "snapshot" },
          h("input", {
            type: "radio",
            name: "snapshot",
            value: s.snapshot,
            checked: w.snapshot ? w.snapshot.snapshot === s.snapshot : s === firstUsable,
            disabled: s.damaged !== null,
            onchange: () => (w.snapshot = s),
          }),
          s.damaged !== null
            ? h("span", {}, h("strong", {}, s.snapshot), h("span", { class: "muted small block" }, `Damaged, cannot be restored: ${s.damaged}`))
            : h(
                "span",
                {},
                h("strong", {}, when(s.started)),
                h(
                  "span",
                  { class: "muted small block" },
                  `${bytes(s.bytes_in)} · ${i === p.snapshots.length - 1 ? "the first backup here" : s.bytes_new > 0 ? `${bytes(s.bytes_new)} changed since the one before` : "nothing changed since the one before"} · ${plural(s.components.length, "part")}${s.warnings ? ` · ${plural(s.warnings, "warning")}` : ""}${s.partial ? " · partial" : ""}`,
                ),
              ),
        ),
      ),
    );
    if (!w.snapshot) w.snapshot = firstUsable;
    return [
      lastBox,
      list,
      actions(
        h("button", { onclick: close }, "Cancel"),
        h(
          "button",
          {
            class: "primary",
            disabled: w.busy,
            onclick: () =>
              planThen({ snapshot: w.snapshot?.snapshot ?? "", components: [], other_folder: false, list_paths: false }, "what", (plan) => {
                if (w.all?.snapshot !== plan.snapshot) w.chosen = new Set(plan.components.map((c) => c.name));
                w.all = plan;
              }),
          },
          "Next",
        ),
      ),
    ];
  }

  function whatStep(): (Node | null)[] {
    const all = w.all;
    if (!all) return [];
    const everything = h("input", {
      type: "checkbox",
      id: "restore-everything",
      checked: w.chosen.size === all.components.length,
      onchange: (ev: Event) => {
        const on = (ev.target as HTMLInputElement).checked;
        w.chosen = new Set(on ? all.components.map((c) => c.name) : []);
        render();
      },
    });
    return [
      h("p", {}, `From the backup of ${when(all.snapshot_started)}. Choose what to bring back; the rest stays as it is now.`),
      h("label", { class: "check strong" }, everything, "Everything"),
      h(
        "ul",
        { class: "choices" },
        all.components.map((c) =>
          h(
            "li",
            { "data-component": c.name },
            h(
              "label",
              { class: "check" },
              h("input", {
                type: "checkbox",
                name: "component",
                value: c.name,
                checked: w.chosen.has(c.name),
                onchange: (ev: Event) => {
                  if ((ev.target as HTMLInputElement).checked) w.chosen.add(c.name);
                  else w.chosen.delete(c.name);
                  render();
                },
              }),
              h("span", {}, componentLabel(c.name, c.kind), h("span", { class: "muted small" }, ` · ${bytes(c.bytes)}${c.action === "load-dump" ? " · loaded into the running database" : ""}`)),
            ),
          ),
        ),
      ),
      actions(h("button", { onclick: () => go("when") }, "Back"), h("button", { class: "primary", disabled: w.chosen.size === 0, onclick: () => go("where") }, "Next")),
    ];
  }

  function whereStep(): (Node | null)[] {
    const target = w.all?.target ?? "";
    const chooseBtn = h(
      "button",
      {
        disabled: w.busy,
        onclick: () => {
          void calls.chooseFolder().then((f) => {
            if (f) {
              w.folder = f;
              w.otherFolder = true;
            }
            render();
          });
        },
      },
      w.folder ? "Choose another folder…" : "Choose folder…",
    );
    return [
      h(
        "fieldset",
        {},
        h("legend", {}, "Where should it go?"),
        h(
          "label",
          { class: "radio" },
          h("input", { type: "radio", name: "where", value: "original", checked: !w.otherFolder, onchange: () => ((w.otherFolder = false), render()) }),
          h(
            "span",
            {},
            h("strong", {}, "Its own folder"),
            h("span", { class: "path block" }, target),
            h("span", { class: "muted small block" }, "Files that differ from the backup are replaced and files the backup does not have are moved away; everything replaced is kept, so you can undo the restore. Services that use the data are stopped during the restore and started again."),
          ),
        ),
        h(
          "label",
          { class: "radio" },
          h("input", { type: "radio", name: "where", value: "other", checked: w.otherFolder, disabled: !w.folder, onchange: () => ((w.otherFolder = true), render()) }),
          h(
            "span",
            {},
            h("strong", {}, "Another folder"),
            w.folder ? h("span", { class: "path block" }, w.folder) : null,
            h("span", { class: "muted small block" }, "Side by side, or on a new machine: the stack's own folder and its services are not touched."),
          ),
        ),
        h("div", { class: "indent" }, chooseBtn),
      ),
      actions(
        h("button", { onclick: () => go("what") }, "Back"),
        h(
          "button",
          {
            class: "primary",
            disabled: w.busy,
            onclick: () => planThen(request(true), "preview", (plan) => (w.plan = plan)),
          },
          "Preview",
        ),
      ),
    ];
  }

  function previewStep(): (Node | null)[] {
    const p = w.plan;
    if (!p) return [];
    const rows = p.components.map((c) =>
      h(
        "li",
        { "data-testid": "plan-component", "data-component": c.name },
        h("strong", {}, componentLabel(c.name, c.kind)),
        h("span", { class: "muted small block" }, `${bytes(c.bytes)} · ${actionText(c)}`),
        c.paths.length
          ? h(
              "details",
              {},
              h("summary", {}, c.paths.length === 1 ? "Show the file that changes" : `Show the ${count(c.paths.length)} files that change`),
              h(
                "ul",
                { class: "paths" },
                c.paths.slice(0, 500).map((x) => h("li", { class: `change-${x.change}` }, `${x.change === "added" ? "+" : x.change === "removed" ? "−" : "~"} ${x.path}`)),
                c.paths.length > 500 ? h("li", { class: "muted" }, `… and ${count(c.paths.length - 500)} more`) : null,
              ),
            )
          : null,
      ),
    );
    const enough = p.free_bytes_needed <= p.free_bytes_available;
    return [
      h("p", {}, `Restoring the backup of ${when(p.snapshot_started)} into `, h("span", { class: "path" }, p.target), p.original ? "" : " (another folder)", ":"),
      h("ul", { class: "plan" }, rows),
      h(
        "p",
        { "data-testid": "plan-services" },
        p.services_to_stop.length
          ? `Stopped during the restore, in this order, and started again after: ${p.services_to_stop.join(", ")}.`
          : "No service is stopped.",
      ),
      h("p", { class: enough ? "muted" : "bad" }, `Needs ${bytes(p.free_bytes_needed)} on the target's disk; ${bytes(p.free_bytes_available)} is free.`),
      p.notes.length ? h("ul", { class: "notes" }, p.notes.map((n) => h("li", {}, n))) : null,
      p.problems.length ? h("div", { class: "banner error", role: "alert" }, h("strong", {}, "The restore cannot start"), h("ul", {}, p.problems.map((x) => h("li", {}, x)))) : null,
      actions(
        h("button", { onclick: () => go("where") }, "Back"),
        h("button", { class: "primary danger", "data-testid": "restore-confirm", disabled: p.problems.length > 0, onclick: () => void run() }, "Restore"),
      ),
    ];
  }

  function runningStep(): (Node | null)[] {
    return [progressView(w.job, { verb: "Restoring", purpose: "the restore", testid: "restore-progress", onCancel: (id) => void calls.cancel(id) })];
  }

  function resultStep(): (Node | null)[] {
    if (w.undone) {
      return [
        h("p", { role: "status", "data-testid": "restore-undone" }, `The restore was undone: ${w.undone.components.map((c) => componentLabel(c)).join(", ")} ${w.undone.components.length === 1 ? "is" : "are"} back as before.`),
        servicesTable(w.undone.services),
        actions(h("button", { class: "primary", onclick: close }, "Close")),
      ];
    }
    const r = w.report;
    if (!r) return [];
    return [
      h(
        "p",
        { role: "status", "data-testid": "restore-done" },
        h("strong", {}, "Restored. "),
        `${r.components.map((c) => componentLabel(c)).join(", ")}: ${plural(r.files, "file")}, ${bytes(r.bytes)} in ${duration(r.duration_ms)}, into `,
        h("span", { class: "path" }, r.target),
        ".",
      ),
      servicesTable(r.services),
      r.next_steps.length ? h("ul", { class: "notes" }, r.next_steps.map((n) => h("li", {}, n))) : null,
      h("p", { class: "muted small" }, "The replaced files are kept in ", h("span", { class: "path" }, r.undo_folder), " until the next restore."),
      actions(
        h("button", { onclick: () => void calls.openFolder().catch(fail) }, "Open folder"),
        h("button", { "data-testid": "restore-undo", disabled: w.busy, onclick: () => void undo() }, "Undo this restore"),
        h("button", { class: "primary", onclick: close }, "Close"),
      ),
    ];
  }

  function servicesTable(services: { service: string; state: string; health: string | null }[]): HTMLElement | null {
    if (services.length === 0) return null;
    return h(
      "table",
      { class: "history", "aria-label": "Services after the restore" },
      h("thead", {}, h("tr", {}, h("th", {}, "Service"), h("th", {}, "State"))),
      h(
        "tbody",
        {},
        services.map((s) =>
          h("tr", {}, h("td", {}, s.service), h("td", { class: s.state === "running" && s.health !== "unhealthy" ? "" : "bad" }, s.health ? `${s.state} (${s.health})` : s.state)),
        ),
      ),
    );
  }

  function onEvent(e: JobEvent): void {
    if (applyJobEvent(w.job, e) && w.step === "running") render();
  }

  async function run(): Promise<void> {
    w.job = newProgress();
    go("running");
    try {
      w.report = await calls.start(request(false), onEvent);
      w.changed = true;
      w.busy = false;
      go("result");
    } catch (e) {
      w.busy = false;
      w.step = "preview";
      if (isIpcError(e) && e.code === "outdated") {
        // Nothing was changed; what the preview showed is no longer what would happen, so
        // show the plan as things are now, with the reason, for the person to check again.
        const why = describeError(e).detail;
        w.busy = true;
        render();
        calls
          .plan(request(true))
          .then((plan) => {
            w.plan = plan;
            w.busy = false;
            go("preview");
            w.error = `${why} The preview below is new: check it, then restore again.`;
            render();
          })
          .catch(fail);
        return;
      }
      fail(e);
    }
  }

  async function undo(): Promise<void> {
    w.busy = true;
    render();
    try {
      w.undone = await calls.undo();
      w.changed = true;
      w.busy = false;
      go("result");
    } catch (e) {
      fail(e);
    }
  }

  render();
  document.body.append(dialog);
  if (typeof dialog.showModal === "function") dialog.showModal();
  else dialog.setAttribute("open", "");
  calls
    .points()
    .then((p) => {
      w.points = p;
      w.folder = p.other_folder;
      w.busy = false;
      render();
    })
    .catch(fail);
  return dialog;
}
