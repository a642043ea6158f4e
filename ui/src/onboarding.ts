// "Protect a stack": the first-run path from an empty window to a first backup. Five steps,
// each saying what will happen before it happens: choose the stack folder (read only), see
// what Lifeboat found, choose where backups go, create the key and its recovery passphrase,
// then back up now and/or on a schedule. Nothing is written to the stack folder before the
// user starts the backup. app.ts supplies the calls; this file owns only the wizard's state.
import type { BackupDone, BackupOverview, DockerStatus, InspectResult, JobEvent, Schedule, StackRecord } from "./lib/ipc";
import { describeError } from "./lib/errors";
import { bytes, count, duration } from "./lib/format";
import { h } from "./lib/dom";
import { remedyText } from "./lib/remedy";
import { applyJobEvent, newProgress, progressView, type JobProgress } from "./lib/job";
import { MIN_PASSPHRASE } from "./backups";

export interface OnboardingActions {
  addStack(): Promise<StackRecord | null>;
  inspect(stackId: number, onEvent: (e: JobEvent) => void): Promise<InspectResult>;
  overview(stackId: number): Promise<BackupOverview>;
  chooseDestination(stackId: number): Promise<BackupOverview | null>;
  setupKey(stackId: number, passphrase: string): Promise<BackupOverview>;
  backup(stackId: number, onEvent: (e: JobEvent) => void): Promise<BackupDone>;
  setSchedule(stackId: number, schedule: Schedule): Promise<unknown>;
  cancel(jobId: number): void;
  /** The user left the wizard: open the stack page (when a stack was chosen) or the welcome. */
  leave(stackId: number | null): void;
}

type Step = "folder" | "found" | "destination" | "key" | "backup" | "done";
const STEPS: [Step, string][] = [
  ["folder", "Stack folder"],
  ["found", "What Lifeboat found"],
  ["destination", "Where backups go"],
  ["key", "Backup key"],
  ["backup", "First backup"],
];

interface Wizard {
  step: Step;
  stack: StackRecord | null;
  found: InspectResult | null;
  overview: BackupOverview | null;
  job: JobProgress | null;
  busy: boolean;
  error: { title: string; detail: string } | null;
  done: { report: BackupDone; scheduled: string | null } | null;
  scheduleAt: string;
  alsoSchedule: boolean;
}

let w: Wizard;
let el: HTMLElement;
let actions: OnboardingActions;

/** Starts the wizard and returns its element, which keeps itself up to date. */
export function openOnboarding(a: OnboardingActions): HTMLElement {
  actions = a;
  w = { step: "folder", stack: null, found: null, overview: null, job: null, busy: false, error: null, done: null, scheduleAt: "02:00", alsoSchedule: true };
  el = h("section", { class: "onboarding", "aria-labelledby": "onboarding-title", "data-testid": "onboarding" });
  render();
  return el;
}

function render(focusHeading = false): void {
  const idx = STEPS.findIndex(([s]) => s === w.step);
  el.replaceChildren(
    h("p", { class: "muted small step-count", "data-testid": "step" }, w.step === "done" ? "Done" : `Step ${idx + 1} of ${STEPS.length}`),
    h(
      "ol",
      { class: "steps", "aria-label": "Steps" },
      STEPS.map(([, label], i) =>
        h("li", { class: i < idx || w.step === "done" ? "done" : i === idx ? "current" : "", "aria-current": i === idx ? "step" : undefined }, label),
      ),
    ),
    w.error ? h("div", { class: "banner error", role: "alert" }, h("strong", {}, w.error.title), h("p", {}, w.error.detail)) : "",
    body(),
  );
  if (focusHeading) el.querySelector<HTMLElement>("h1")?.focus();
}

function go(step: Step): void {
  w.step = step;
  w.error = null;
  render(true);
}

function heading(text: string): HTMLElement {
  return h("h1", { id: "onboarding-title", tabindex: -1 }, text);
}

function nav(back: Step | null, next: HTMLElement | null): HTMLElement {
  return h(
    "div",
    { class: "wizard-nav" },
    h("button", { class: "quiet", onclick: () => actions.leave(w.stack?.id ?? null), disabled: w.busy }, w.stack ? "Finish later" : "Cancel"),
    h("span", { class: "spacer" }),
    back ? h("button", { onclick: () => go(back), disabled: w.busy }, "Back") : null,
    next,
  );
}

async function attempt(work: () => Promise<void>): Promise<void> {
  w.busy = true;
  w.error = null;
  render();
  try {
    await work();
  } catch (e) {
    w.error = describeError(e);
  } finally {
    w.busy = false;
    render();
  }
}

function body(): HTMLElement {
  switch (w.step) {
    case "folder":
      return folderStep();
    case "found":
      return foundStep();
    case "destination":
      return destinationStep();
    case "key":
      return keyStep();
    case "backup":
      return backupStep();
    case "done":
      return doneStep();
  }
}

function folderStep(): HTMLElement {
  const choose = async () => {
    await attempt(async () => {
      const stack = await actions.addStack();
      if (!stack) return;
      w.stack = stack;
      w.found = null;
      w.overview = null;
      w.step = "found";
      void inspect();
    });
    if (w.step === "found") render(true);
  };
  return h(
    "div",
    { class: "step-body" },
    heading("Protect a stack"),
    h("p", {}, "Choose the folder that holds your stack's compose file (docker-compose.yml or compose.yaml)."),
    h(
      "p",
      { class: "muted" },
      "Lifeboat reads the compose file the way Docker Compose does and measures the data your services keep. It only reads: nothing in the folder is changed.",
    ),
    w.stack ? h("p", {}, "Chosen: ", h("span", { class: "path" }, w.stack.dir)) : null,
    nav(null, h("button", { class: "primary", onclick: () => void choose(), disabled: w.busy, "data-testid": "choose-stack" }, "Choose folder…")),
  );
}

async function inspect(): Promise<void> {
  const stack = w.stack;
  if (!stack) return;
  w.job = newProgress();
  w.busy = true;
  render();
  try {
    const [found, overview] = await Promise.all([
      actions.inspect(stack.id, (e) => {
        if (w.job && applyJobEvent(w.job, e) && w.step === "found") render();
      }),
      actions.overview(stack.id),
    ]);
    w.found = found;
    w.overview = overview;
  } catch (e) {
    w.error = describeError(e);
  } finally {
    w.job = null;
    w.busy = false;
    render();
  }
}

function progress(verb: string): HTMLElement | null {
  return w.job ? progressView(w.job, { verb, purpose: "the backup", testid: "onboarding-progress", onCancel: (id) => actions.cancel(id) }) : null;
}

/** What to do about Docker, in the words of the case Lifeboat found. */
export function dockerBox(d: DockerStatus): HTMLElement {
  if (d.reachable) {
    return h("div", { class: "banner ok", "data-testid": "docker-status" }, h("strong", {}, "Docker is running. "), "Lifeboat can see your containers and dump databases while they run.");
  }
  const title: Record<string, string> = {
    "not-installed": "Docker is not installed",
    "not-running": "Docker is not running",
    "no-permission": "You may not use Docker yet",
    "no-answer": "Docker does not answer",
  };
  const fix: Record<string, (Node | string)[]> = {
    "not-installed": ["Install Docker Engine (or Docker Desktop), then click Inspect again on the stack's page."],
    "not-running": ["Start it with ", h("code", {}, "sudo systemctl start docker"), " (or open Docker Desktop)."],
    "no-permission": [
      "Add yourself to the docker group with ",
      h("code", {}, "sudo usermod -aG docker $USER"),
      ", then log out and in again so the new group applies.",
    ],
    "no-answer": [d.message ?? `Nothing answered at ${d.host}.`],
  };
  const p = d.problem ?? "no-answer";
  return h(
    "div",
    { class: "banner warn", role: "status", "data-testid": "docker-status", "data-problem": p },
    h("strong", {}, `${title[p]}. `),
    ...fix[p],
    h("p", {}, "You can carry on: Lifeboat backs up the files it can read. Until Docker answers it cannot dump databases from running containers or stop services for a consistent copy."),
  );
}

function foundStep(): HTMLElement {
  const f = w.found;
  const ov = w.overview;
  if (!f || !ov) {
    return h(
      "div",
      { class: "step-body" },
      heading("What Lifeboat found"),
      h("p", { class: "muted" }, "Reading the compose file and measuring the data…"),
      progress("Scanning"),
      w.error ? nav("folder", h("button", { class: "primary", onclick: () => void inspect() }, "Try again")) : null,
    );
  }
  const i = f.inspection;
  const withData = ov.services.filter((s) => s.has_data);
  return h(
    "div",
    { class: "step-body" },
    heading(`What Lifeboat found in ${f.stack.name}`),
    h(
      "p",
      { "data-testid": "found-summary" },
      `${i.services.length} service${i.services.length === 1 ? "" : "s"}, ${bytes(i.total_bytes)} of data in ${count(i.total_files)} files.`,
    ),
    h(
      "table",
      { class: "services compact", "aria-label": "How each service is backed up" },
      h("thead", {}, h("tr", {}, h("th", {}, "Service"), h("th", { class: "num" }, "Data"), h("th", {}, "How Lifeboat backs it up"))),
      h(
        "tbody",
        {},
        ov.services.map((s) => {
          const size = i.services.find((r) => r.name === s.name)?.bytes ?? 0;
          return h(
            "tr",
            { "data-testid": "found-service", "data-service": s.name },
            h("td", {}, h("strong", {}, s.name), h("span", { class: "muted small" }, ` ${s.kind}`)),
            h("td", { class: "num" }, s.has_data ? bytes(size) : "–"),
            h("td", {}, captureSentence(s)),
          );
        }),
      ),
    ),
    withData.length === 0 ? h("p", { class: "bad" }, "No service keeps data in a bind mount or volume: there is nothing to back up but the compose file and its secrets.") : null,
    dockerBox(i.docker),
    i.warnings.length
      ? h(
          "details",
          { class: "settings-box" },
          h("summary", {}, `${i.warnings.length} thing${i.warnings.length === 1 ? "" : "s"} to look at later`),
          h("ul", { class: "warnings" }, i.warnings.map((x) => h("li", {}, x.service ? h("span", { class: "tag" }, x.service) : null, x.message, x.remedy ? ` ${remedyText(x.remedy)}` : null))),
        )
      : null,
    nav("folder", h("button", { class: "primary", onclick: () => go("destination"), "data-testid": "next" }, "Next: where backups go")),
  );
}

function captureSentence(s: BackupOverview["services"][number]): string {
  if (!s.has_data) return "Nothing to back up: it keeps no data on disk.";
  if (s.dump) return `A ${s.dump} dump while it runs (needs Docker), and its files.`;
  if (s.always_stopped) return "Its files, with the service stopped for a moment so they are consistent.";
  return "Its files; SQLite databases among them through SQLite's online backup, so they are consistent.";
}

function destinationStep(): HTMLElement {
  const stack = w.stack;
  const ov = w.overview;
  if (!stack || !ov) return h("div", {});
  const d = ov.destination;
  const need = w.found?.inspection.total_bytes ?? 0;
  const choose = () =>
    attempt(async () => {
      const chosen = await actions.chooseDestination(stack.id);
      if (chosen) w.overview = chosen;
    });
  const status = d
    ? h(
        "div",
        { class: "kv", "data-testid": "onboarding-destination" },
        h("span", { class: "label" }, "Backups go to"),
        h("span", { class: "path" }, d.path),
        !d.present
          ? h("span", { class: "bad small" }, "This folder is not there: plug in the drive, or choose another folder.")
          : d.free_bytes !== null
            ? h("span", { class: d.free_bytes < need ? "bad small" : "muted small" }, `${bytes(d.free_bytes)} free; this stack has ${bytes(need)} before compression.`)
            : null,
      )
    : h("p", { class: "muted" }, "No folder chosen yet.");
  return h(
    "div",
    { class: "step-body" },
    heading("Where backups go"),
    h("p", {}, "Choose a folder on an external drive, a second disk or a NAS: a backup on the same disk as the stack is lost with that disk."),
    h(
      "p",
      { class: "muted" },
      `Lifeboat will write there, once you start the backup: a folder named ${stack.name} with encrypted snapshots, and a recovery file that lets you restore on a new computer. It writes nothing there yet.`,
    ),
    status,
    h("button", { onclick: () => void choose(), disabled: w.busy, "data-testid": "choose-destination" }, d ? "Choose another folder…" : "Choose folder…"),
    nav("found", h("button", { class: "primary", onclick: () => go("key"), disabled: !d?.present || w.busy, "data-testid": "next" }, "Next: the backup key")),
  );
}

function keyStep(): HTMLElement {
  const stack = w.stack;
  const ov = w.overview;
  if (!stack || !ov) return h("div", {});
  const d = ov.destination;
  const ready = ov.key.state === "ready" && !!d?.has_recovery;
  if (ov.key.state === "unavailable") {
    return h(
      "div",
      { class: "step-body" },
      heading("Your backup key"),
      h("div", { class: "banner error", role: "alert" }, h("strong", {}, "The system keyring cannot be used. "), ov.key.message ?? "Unlock your keyring and try again."),
      nav("destination", h("button", { class: "primary", onclick: () => void attempt(async () => void (w.overview = await actions.overview(stack.id))) }, "Try again")),
    );
  }
  if (ready) {
    return h(
      "div",
      { class: "step-body" },
      heading("Your backup key"),
      h("p", { "data-testid": "key-ready" }, "Your backup key is in the system keyring, and this drive already has its recovery file. Nothing to do here."),
      nav("destination", h("button", { class: "primary", onclick: () => go("backup"), "data-testid": "next" }, "Next: the first backup")),
    );
  }
  const error = h("p", { class: "bad", role: "alert", id: "onboarding-key-error" });
  const p1 = h("input", { type: "password", id: "ob-pass1", autocomplete: "new-password", required: true, "aria-describedby": "onboarding-key-error" });
  const p2 = h("input", { type: "password", id: "ob-pass2", autocomplete: "new-password", required: true });
  const form = h(
    "form",
    { class: "key-form", id: "ob-key-form" },
    h("label", { for: "ob-pass1" }, `Recovery passphrase (at least ${MIN_PASSPHRASE} characters)`),
    p1,
    h("label", { for: "ob-pass2" }, "The same passphrase again"),
    p2,
    error,
  );
  const submit = () => {
    if (p1.value.length < MIN_PASSPHRASE) {
      error.textContent = `The passphrase needs at least ${MIN_PASSPHRASE} characters.`;
      p1.focus();
      return;
    }
    if (p1.value !== p2.value) {
      error.textContent = "The two passphrases differ. Type the same one twice.";
      p2.focus();
      return;
    }
    const passphrase = p1.value;
    p1.value = "";
    p2.value = "";
    void attempt(async () => {
      w.overview = await actions.setupKey(stack.id, passphrase);
      w.step = "backup";
    }).then(() => {
      if (w.step === "backup") render(true);
    });
  };
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    submit();
  });
  return h(
    "div",
    { class: "step-body" },
    heading("Your backup key"),
    h(
      "p",
      { "data-testid": "why-key" },
      h("strong", {}, "Why a key: "),
      ov.key.state === "ready"
        ? "your backup key is already in this computer's keyring; every backup is encrypted with it, so nobody who finds the drive can read it."
        : "Lifeboat encrypts every backup with a key kept in this computer's keyring, so nobody who finds the drive can read it.",
    ),
    h(
      "p",
      { "data-testid": "why-passphrase" },
      h("strong", {}, "Why a passphrase: "),
      "it locks a copy of that key on the backup drive, so that with the drive and the passphrase you can restore on a new computer if this one is lost.",
    ),
    h("p", { class: "muted" }, "Nobody can recover a forgotten passphrase, Lifeboat included: write it down and keep it away from the drive."),
    form,
    h(
      "p",
      { class: "muted small" },
      ov.key.state === "ready" ? "Lifeboat will write the recovery file to " : "Lifeboat will create the key in your keyring and write the recovery file to ",
      h("span", { class: "path" }, d?.path ?? ""),
      ".",
    ),
    nav(
      "destination",
      // The form's submit button, though it sits in the step's navigation: Enter in either
      // field submits too.
      h(
        "button",
        { class: "primary", type: "submit", form: "ob-key-form", disabled: w.busy, "data-testid": "create-key" },
        ov.key.state === "ready" ? "Write recovery file" : "Create key",
      ),
    ),
  );
}

function backupStep(): HTMLElement {
  const stack = w.stack;
  const ov = w.overview;
  if (!stack || !ov) return h("div", {});
  const size = w.found?.inspection.total_bytes ?? 0;
  const stopped = ov.services.filter((s) => s.always_stopped && s.has_data).map((s) => s.name);
  const schedule = (): Schedule => ({ kind: "daily", at: w.scheduleAt });
  const run = (withBackup: boolean) =>
    attempt(async () => {
      let scheduled: string | null = null;
      if (w.alsoSchedule || !withBackup) {
        await actions.setSchedule(stack.id, schedule());
        scheduled = w.scheduleAt;
      }
      if (!withBackup) {
        w.done = null;
        actions.leave(stack.id);
        return;
      }
      w.job = newProgress();
      try {
        const report = await actions.backup(stack.id, (e) => {
          if (w.job && applyJobEvent(w.job, e)) render();
        });
        w.done = { report, scheduled };
        w.step = "done";
      } finally {
        w.job = null;
      }
    });
  const at = h("input", {
    type: "time",
    id: "ob-at",
    value: w.scheduleAt,
    onchange: (ev: Event) => (w.scheduleAt = (ev.target as HTMLInputElement).value || "02:00"),
  });
  return h(
    "div",
    { class: "step-body" },
    heading("The first backup"),
    h(
      "p",
      {},
      `Lifeboat will read ${bytes(size)} from ${stack.name}, compress and encrypt it, and write it to `,
      h("span", { class: "path" }, ov.destination?.path ?? ""),
      ".",
    ),
    !w.found?.inspection.docker.reachable
      ? h("p", {}, "Docker is not running, so neither is any service: their files are at rest and are copied as they are.")
      : stopped.length
        ? h("p", {}, `${stopped.join(", ")} will be stopped while ${stopped.length === 1 ? "its" : "their"} files are read, and started again right after.`)
        : h("p", {}, "No service needs to stop."),
    h("p", { class: "muted small" }, "The stack folder is only read, except for SQLite databases: a temporary copy of each is made beside it while it is read, and removed right after."),
    h(
      "div",
      { class: "schedule-choice" },
      h(
        "label",
        { class: "check" },
        h("input", {
          type: "checkbox",
          id: "ob-schedule",
          checked: w.alsoSchedule,
          onchange: (ev: Event) => {
            w.alsoSchedule = (ev.target as HTMLInputElement).checked;
          },
        }),
        "Then back up every day at",
      ),
      h("label", { for: "ob-at", class: "sr-only" }, "Time of the daily backup"),
      at,
    ),
    h("p", { class: "muted small" }, "Scheduled backups run while Lifeboat is in the tray; you can change the schedule on the stack's Backups tab."),
    progress("Backing up"),
    nav(
      "key",
      h(
        "span",
        { class: "actions" },
        h("button", { onclick: () => void run(false), disabled: w.busy, "data-testid": "schedule-only" }, "Only set the schedule"),
        h("button", { class: "primary", onclick: () => void run(true), disabled: w.busy, "data-testid": "backup-now" }, w.job ? "Backing up…" : "Back up now"),
      ),
    ),
  );
}

function doneStep(): HTMLElement {
  const stack = w.stack;
  const d = w.done;
  if (!stack || !d) return h("div", {});
  const r = d.report.report;
  const captured = r.components.reduce((a, c) => a + c.bytes_in, 0);
  const stored = r.components.filter((c) => !c.reused).reduce((a, c) => a + c.bytes_stored, 0);
  return h(
    "div",
    { class: "step-body" },
    heading(`${stack.name} is backed up`),
    h(
      "p",
      { "data-testid": "done-summary" },
      `${bytes(captured)} in ${r.components.length} part${r.components.length === 1 ? "" : "s"} became ${bytes(stored)} on the drive, in ${duration(r.duration_ms)}` +
        (r.downtime_ms > 0 ? `; services were stopped for ${duration(r.downtime_ms)}.` : "; no service was stopped."),
    ),
    r.warnings.length ? h("ul", { class: "warnings" }, r.warnings.map((x) => h("li", {}, x.message, x.remedy ? ` ${remedyText(x.remedy)}` : null))) : null,
    h("p", {}, d.scheduled ? `Next: every day at ${d.scheduled}, while Lifeboat runs in the tray.` : "No schedule: back up again from the stack's page or the tray."),
    h("p", { class: "muted" }, "Keep your recovery passphrase somewhere safe. Lifeboat will remind you to test it every two months."),
    h("div", { class: "wizard-nav" }, h("span", { class: "spacer" }), h("button", { class: "primary", onclick: () => actions.leave(stack.id), "data-testid": "open-stack-page" }, "Open the stack's page")),
  );
}
