// The Stacks screen: the stacks Lifeboat knows on the left, the chosen stack on the right
// (its overview, backups and secrets tabs, each drawn by its own module). This module owns
// the state and the calls.
import * as ipc from "./lib/ipc";
import type { BackupOverview, InspectResult, JobEvent, SecretsScreen, StackRecord } from "./lib/ipc";
import { describeError } from "./lib/errors";
import { bytes, duration } from "./lib/format";
import { h } from "./lib/dom";
import { remedyText } from "./lib/remedy";
import { applyJobEvent, newProgress, progressView, type JobProgress } from "./lib/job";
import { backupsPanel, openKeyDialog, openPassphraseDialog } from "./backups";
import { secretsPanel } from "./secrets";
import { openRestoreWizard } from "./restore";
import { openDriveWizard } from "./drive";
import { alertBanners, schedulePanel } from "./schedule";
import { drillsPanel, proofLine, proofText } from "./drills";
import type { DrillOverview } from "./lib/ipc";
import type { Pause, Schedule, ScheduleView, SettingsView } from "./lib/ipc";
import { openOnboarding } from "./onboarding";
import { inspectionView } from "./overview";
import { applyTheme, settingsPage, type ChannelTest } from "./settings";
import { listen } from "@tauri-apps/api/event";

type Tab = "overview" | "backups" | "secrets";
/** What the content area shows: a stack's page, the Settings screen, or "Protect a stack". */
type Page = "stack" | "settings" | "onboarding";

interface Job extends JobProgress {
  kind: "inspect" | "backup" | "drill";
  stackId: number;
}

interface State {
  stacks: StackRecord[];
  selected: number | null;
  results: Map<number, InspectResult>;
  overviews: Map<number, BackupOverview>;
  secrets: Map<number, SecretsScreen>;
  schedules: Map<number, ScheduleView>;
  drills: Map<number, DrillOverview>;
  tab: Tab;
  page: Page;
  settings: SettingsView | undefined;
  /** The running "Protect a stack" wizard's element (it re-renders itself). */
  onboarding: HTMLElement | null;
  job: Job | null;
  error: { title: string; detail: string } | null;
  notice: { title: string; detail: string } | null;
}

let state: State;
let root: HTMLElement;

export async function start(el: HTMLElement): Promise<void> {
  root = el;
  state = { stacks: [], selected: null, results: new Map(), overviews: new Map(), secrets: new Map(), schedules: new Map(), drills: new Map(), tab: "overview", page: "stack", settings: undefined, onboarding: null, job: null, error: null, notice: null };
  // A scheduled backup started or ended (in the tray's thread): refresh what the page shows.
  // A click on a notification or on the tray's "Open stack page" opens that stack.
  try {
    await listen<number | null>("backups-changed", () => {
      if (state.selected === null) return;
      void loadOverview(state.selected);
      void loadSchedule(state.selected);
      void loadDrills(state.selected);
    });
    await listen<number>("open-stack", (ev) => {
      void ipc.listStacks().then((stacks) => {
        state.stacks = stacks;
        void select(ev.payload);
      });
    });
  } catch {
    // Outside the app (unit tests) there are no events.
  }
  applyTheme("system");
  void ipc.settingsView().then(
    (v) => {
      state.settings = v;
      applyTheme(v.settings.theme);
    },
    () => applyTheme("system"),
  );
  try {
    state.stacks = await ipc.listStacks();
    const startup = await ipc.getStartup();
    const first = startup ?? state.stacks[0]?.id ?? null;
    render();
    if (first !== null) await select(first);
  } catch (e) {
    state.error = describeError(e);
    render();
  }
}

async function select(stackId: number): Promise<void> {
  if (state.selected !== stackId) state.tab = "overview";
  state.page = "stack";
  state.onboarding = null;
  state.selected = stackId;
  state.error = null;
  state.notice = null;
  render();
  if (!state.overviews.has(stackId)) void loadOverview(stackId);
  void loadSchedule(stackId);
  void loadDrills(stackId);
  if (!state.results.has(stackId)) await inspect(stackId);
}

async function loadSchedule(stackId: number): Promise<void> {
  try {
    state.schedules.set(stackId, await ipc.scheduleView(stackId));
    if (state.selected === stackId && !state.job) render();
  } catch (e) {
    state.error = describeError(e);
    render();
  }
}

async function scheduleCall(stackId: number, call: () => Promise<unknown>, notice: string): Promise<void> {
  state.error = null;
  try {
    await call();
    state.notice = { title: notice, detail: "" };
  } catch (e) {
    state.error = describeError(e);
    state.notice = null;
  }
  await loadSchedule(stackId);
  render();
}

async function loadDrills(stackId: number): Promise<void> {
  try {
    state.drills.set(stackId, await ipc.drillOverview(stackId));
    if (state.selected === stackId && !state.job) render();
  } catch (e) {
    state.error = describeError(e);
    render();
  }
}

async function setDrillInterval(stackId: number, days: number): Promise<void> {
  state.error = null;
  try {
    state.drills.set(stackId, await ipc.setDrillInterval(stackId, days));
    state.notice = { title: days === 0 ? "Scheduled drills are off" : "Drill schedule saved", detail: "" };
  } catch (e) {
    state.error = describeError(e);
    state.notice = null;
  }
  await loadSchedule(stackId);
  render();
}

async function runDrill(stackId: number): Promise<void> {
  state.tab = "backups";
  state.job = newJob("drill", stackId);
  state.error = null;
  state.notice = null;
  render();
  try {
    const r = await ipc.runDrill(stackId, onJobEvent);
    if (r.ok) {
      const run = { started: 0, finished: 0, outcome: "passed" as const, snapshot: r.snapshot, report: r, error: null };
      state.notice = {
        title: "Proven restorable",
        detail: `Snapshot ${r.snapshot}: ${proofText(run)}. A full restore of this stack takes about ${duration(r.restore_ms)} from this destination.${r.notes.length ? ` ${r.notes.join(" ")}` : ""}`,
      };
    } else {
      state.error = { title: `The drill found ${r.problems.length} problem${r.problems.length === 1 ? "" : "s"} in snapshot ${r.snapshot}`, detail: r.problems.join(" ") };
    }
  } catch (e) {
    state.error = describeError(e);
  } finally {
    state.job = null;
    await Promise.all([loadDrills(stackId), loadSchedule(stackId)]);
    render();
  }
}

async function loadOverview(stackId: number): Promise<BackupOverview | null> {
  try {
    const ov = await ipc.backupOverview(stackId);
    state.overviews.set(stackId, ov);
    if (state.selected === stackId && !state.job) render();
    return ov;
  } catch (e) {
    state.error = describeError(e);
    render();
    return null;
  }
}

function newJob(kind: Job["kind"], stackId: number): Job {
  return { ...newProgress(), kind, stackId };
}

function onJobEvent(e: JobEvent): void {
  if (state.job && applyJobEvent(state.job, e)) renderProgress();
}

async function inspect(stackId: number): Promise<void> {
  state.job = newJob("inspect", stackId);
  state.error = null;
  render();
  try {
    const result = await ipc.inspectStack(stackId, onJobEvent);
    state.results.set(stackId, result);
    state.stacks = await ipc.listStacks();
  } catch (e) {
    state.error = describeError(e);
  } finally {
    state.job = null;
    render();
  }
}

async function backUpNow(stackId: number): Promise<void> {
  state.error = null;
  state.notice = null;
  let ov = state.overviews.get(stackId) ?? (await loadOverview(stackId));
  if (!ov) return;
  try {
    if (!ov.destination) {
      const chosen = await ipc.chooseDestination(stackId);
      if (!chosen) return;
      ov = chosen;
      state.overviews.set(stackId, ov);
      render();
    }
  } catch (e) {
    state.error = describeError(e);
    render();
    return;
  }
  const dest = ov.destination;
  if (!dest) return;
  if (!dest.present) {
    state.error = { title: "The backup drive is not there", detail: `${dest.path} does not exist. Plug in the drive or choose another destination.` };
    render();
    return;
  }
  if (ov.key.state === "unavailable") {
    state.error = { title: "The system keyring cannot be used", detail: ov.key.message ?? "Unlock your keyring and try again." };
    render();
    return;
  }
  if (ov.key.state === "missing" || !dest.has_recovery) {
    openKeyDialog({
      needKey: ov.key.state === "missing",
      destination: dest.path,
      onClose: () => undefined,
      onSubmit: async (passphrase) => {
        try {
          state.overviews.set(stackId, await ipc.setupKey(stackId, passphrase));
        } catch (e) {
          return describeError(e).detail;
        }
        void runBackup(stackId);
        return null;
      },
    });
    return;
  }
  await runBackup(stackId);
}

async function runBackup(stackId: number): Promise<void> {
  state.tab = "backups";
  state.job = newJob("backup", stackId);
  state.error = null;
  render();
  try {
    const done = await ipc.startBackup(stackId, onJobEvent);
    const r = done.report;
    const stored = r.components.filter((c) => !c.reused).reduce((a, c) => a + c.bytes_stored, 0);
    const captured = r.components.reduce((a, c) => a + c.bytes_in, 0);
    state.notice = {
      title: `Backed up in ${duration(r.duration_ms)}`,
      detail:
        `${bytes(captured)} in ${r.components.length} part${r.components.length === 1 ? "" : "s"}, ${bytes(stored)} newly stored` +
        (r.downtime_ms > 0 ? `; services were stopped for ${duration(r.downtime_ms)}` : "; no downtime") +
        (done.pruned.length ? `; ${done.pruned.length} old snapshot${done.pruned.length === 1 ? "" : "s"} removed` : "") +
        (r.warnings.length ? `. ${r.warnings.map((w) => (w.remedy ? `${w.message} ${remedyText(w.remedy)}` : w.message)).join(" ")}` : "."),
    };
  } catch (e) {
    state.error = describeError(e);
  } finally {
    state.job = null;
    await loadOverview(stackId);
    render();
  }
}

async function chooseDestination(stackId: number): Promise<void> {
  try {
    const ov = await ipc.chooseDestination(stackId);
    if (ov) state.overviews.set(stackId, ov);
  } catch (e) {
    state.error = describeError(e);
  }
  render();
}

async function saveSettings(stackId: number, mode: ipc.Mode, stop: string[], keep: ipc.Keep): Promise<void> {
  try {
    const settings = await ipc.saveBackupSettings(stackId, { mode, stop_services: stop, keep });
    const ov = state.overviews.get(stackId);
    if (ov) ov.settings = settings;
    state.notice = { title: "Settings saved", detail: "The next backup uses them." };
  } catch (e) {
    state.error = describeError(e);
  }
  render();
}

async function openTab(tab: Tab): Promise<void> {
  state.tab = tab;
  render();
  const id = state.selected;
  if (id === null) return;
  if (tab === "secrets") await loadSecrets(id);
  if (tab === "backups" && !state.overviews.has(id)) await loadOverview(id);
}

async function loadSecrets(stackId: number): Promise<void> {
  await secretsCall(stackId, () => ipc.secretsScreen(stackId));
}

/** Runs a secrets command that returns the new screen, and shows it (or the error). */
async function secretsCall(stackId: number, call: () => Promise<SecretsScreen>, done?: string): Promise<void> {
  try {
    state.secrets.set(stackId, await call());
    state.error = null;
    state.notice = done ? { title: done, detail: "The previous file is kept as a dated copy in .lifeboat/secrets-history." } : null;
  } catch (e) {
    state.error = describeError(e);
  }
  render();
}

async function quietly<T>(call: () => Promise<T>): Promise<T | null> {
  try {
    return await call();
  } catch (e) {
    state.error = describeError(e);
    render();
    return null;
  }
}

function passphraseDialog(stackId: number, change: boolean): void {
  openPassphraseDialog({
    title: change ? "Change the recovery passphrase" : "Test your recovery passphrase",
    paragraphs: [
      change
        ? "Lifeboat writes the recovery file on the backup drive again, locked with the new passphrase. The old passphrase stops working."
        : "Type your recovery passphrase. Lifeboat checks that it opens the recovery file on the backup drive and shows nothing.",
    ],
    confirm: change,
    submitLabel: change ? "Change passphrase" : "Test",
    onClose: () => undefined,
    onSubmit: async (passphrase) => {
      try {
        state.overviews.set(stackId, await (change ? ipc.changePassphrase(stackId, passphrase) : ipc.testPassphrase(stackId, passphrase)));
      } catch (e) {
        return describeError(e).detail;
      }
      state.notice = change
        ? { title: "Recovery passphrase changed", detail: "Use the new one from now on; the drive's recovery file was written again." }
        : { title: "Your passphrase works", detail: "It opens the recovery file on the backup drive." };
      render();
      return null;
    },
  });
}

async function saveKit(stackId: number): Promise<void> {
  try {
    const path = await ipc.saveRecoveryKit(stackId);
    state.notice = { title: "Recovery kit saved", detail: `${path} — print it and keep it with the drive. It holds no secret.` };
  } catch (e) {
    state.error = describeError(e);
  }
  render();
}

async function removeStack(stackId: number): Promise<void> {
  try {
    await ipc.removeStack(stackId);
    state.results.delete(stackId);
    state.stacks = await ipc.listStacks();
    state.selected = state.stacks[0]?.id ?? null;
    render();
  } catch (e) {
    state.error = describeError(e);
    render();
  }
}

function restoreWizard(stackId: number, name: string): void {
  openRestoreWizard(name, {
    points: () => ipc.restorePoints(stackId),
    chooseFolder: () => ipc.chooseRestoreFolder(stackId),
    plan: (req) => ipc.planRestore(stackId, req),
    start: (req, onEvent) => ipc.startRestore(stackId, req, onEvent),
    cancel: (jobId) => ipc.cancelJob(jobId),
    undo: () => ipc.undoRestore(stackId),
    openFolder: () => ipc.openRestoredFolder(stackId),
    closed: (changed) => {
      if (!changed) return;
      // Files changed: what the stack page shows is stale.
      state.results.delete(stackId);
      state.secrets.delete(stackId);
      state.overviews.delete(stackId);
      void select(stackId).then(() => {
        if (state.tab === "secrets") void loadSecrets(stackId);
      });
    },
  });
}

/** "Protect a stack": the guided path from a folder to a first backup. */
function protectStack(): void {
  state.error = null;
  state.notice = null;
  state.page = "onboarding";
  state.onboarding = openOnboarding({
    addStack: async () => {
      const added = await ipc.addStack();
      if (added) {
        state.stacks = await ipc.listStacks();
        state.results.delete(added.id);
        state.overviews.delete(added.id);
        render();
      }
      return added;
    },
    inspect: async (stackId, onEvent) => {
      const r = await ipc.inspectStack(stackId, onEvent);
      state.results.set(stackId, r);
      state.stacks = await ipc.listStacks();
      render();
      return r;
    },
    overview: (stackId) => ipc.backupOverview(stackId),
    chooseDestination: (stackId) => ipc.chooseDestination(stackId),
    setupKey: (stackId, passphrase) => ipc.setupKey(stackId, passphrase),
    backup: (stackId, onEvent) => ipc.startBackup(stackId, onEvent),
    setSchedule: (stackId, schedule) => ipc.setSchedule(stackId, schedule),
    cancel: (jobId) => void ipc.cancelJob(jobId),
    leave: (stackId) => {
      state.onboarding = null;
      state.page = "stack";
      void ipc.listStacks().then((stacks) => {
        state.stacks = stacks;
        state.overviews.clear();
        if (stackId !== null) void select(stackId);
        else render();
      });
    },
  });
  render();
}

async function openSettings(): Promise<void> {
  state.page = "settings";
  state.onboarding = null;
  state.error = null;
  state.notice = null;
  render();
  await settingsCall(() => ipc.settingsView());
}

/** The last test of each notification channel, shown beside it. */
const channelTests = new Map<string, ChannelTest>();

async function testChannel(name: string): Promise<void> {
  channelTests.set(name, { state: "sending" });
  render();
  try {
    await ipc.testChannel(name);
    channelTests.set(name, { state: "sent", at: new Date() });
  } catch (e) {
    channelTests.set(name, { state: "failed", error: describeError(e).detail || describeError(e).title });
  }
  render();
}

/** Runs a settings command that returns the new screen, and shows it (or the error). */
async function settingsCall(call: () => Promise<SettingsView>, done?: string): Promise<void> {
  try {
    state.settings = await call();
    applyTheme(state.settings.settings.theme);
    state.error = null;
    state.notice = done ? { title: done, detail: "" } : null;
  } catch (e) {
    state.error = describeError(e);
  }
  render();
}

function render(): void {
  root.replaceChildren(
    h("div", { class: "layout" }, sidebar(), h("main", { class: "content", id: "content" }, content())),
  );
}

function sidebar(): HTMLElement {
  return h(
    "nav",
    { class: "sidebar", "aria-label": "Stacks" },
    h("div", { class: "brand" }, h("span", { class: "logo", "aria-hidden": "true" }), "Lifeboat"),
    h("h2", {}, "Stacks"),
    h(
      "ul",
      { class: "stack-list" },
      state.stacks.length === 0 ? h("li", { class: "empty" }, "None yet") : null,
      state.stacks.map((s) =>
        h(
          "li",
          {},
          h(
            "button",
            {
              class: `stack-item${s.id === state.selected && state.page === "stack" ? " selected" : ""}`,
              "data-testid": "stack-item",
              "aria-current": s.id === state.selected && state.page === "stack" ? "page" : undefined,
              onclick: () => void select(s.id),
            },
            h("span", { class: "stack-name" }, s.name),
            h(
              "span",
              { class: "stack-meta" },
              s.last_total_bytes !== null ? bytes(s.last_total_bytes) : "not inspected",
              s.last_warnings ? ` · ${s.last_warnings} warning${s.last_warnings === 1 ? "" : "s"}` : "",
            ),
          ),
        ),
      ),
    ),
    h(
      "div",
      { class: "sidebar-actions" },
      h("button", { class: "primary", onclick: () => protectStack(), disabled: state.page === "onboarding" }, "Protect a stack…"),
      h("button", { onclick: () => driveWizard() }, "Restore from a backup drive…"),
      h(
        "button",
        {
          class: `quiet settings-link${state.page === "settings" ? " selected" : ""}`,
          "aria-current": state.page === "settings" ? "page" : undefined,
          "data-testid": "open-settings",
          onclick: () => void openSettings(),
        },
        h("span", { class: "gear", "aria-hidden": "true" }, "⚙"),
        " Settings",
      ),
    ),
  );
}

function driveWizard(): void {
  openDriveWizard({
    drive: () => ipc.backupDrive(),
    chooseDrive: () => ipc.chooseBackupDrive(),
    unlock: (p) => ipc.unlockBackupDrive(p),
    chooseTarget: () => ipc.chooseDriveTarget(),
    restore: (stack, snapshot, onEvent) => ipc.restoreFromDrive(stack, snapshot, onEvent),
    cancel: (jobId) => ipc.cancelJob(jobId),
    closed: (stackId) => {
      if (stackId === null) return;
      void ipc.listStacks().then((stacks) => {
        state.stacks = stacks;
        void select(stackId);
      });
    },
  });
}

function content(): (Node | string)[] {
  const out: (Node | string)[] = [];
  if (state.error) {
    out.push(
      h("div", { class: "banner error", role: "alert" }, h("strong", {}, state.error.title), h("p", {}, state.error.detail)),
    );
  }
  if (state.notice) {
    out.push(
      h("div", { class: "banner ok", role: "status", "data-testid": "notice" }, h("strong", {}, state.notice.title), h("p", {}, state.notice.detail)),
    );
  }
  if (state.page === "onboarding" && state.onboarding) {
    out.push(state.onboarding);
    return out;
  }
  if (state.page === "settings") {
    out.push(
      settingsPage(state.settings, {
        chooseDefaultDestination: (clear) => void settingsCall(() => ipc.chooseDefaultDestination(clear), clear ? "Default destination forgotten" : undefined),
        levels: (l) => void settingsCall(() => ipc.setNotificationLevels(l).then(() => ipc.settingsView()), "Notification choices saved"),
        startAtLogin: (on) => void settingsCall(() => ipc.startAtLogin(on).then(() => ipc.settingsView()), on ? "Lifeboat starts at login" : "Lifeboat no longer starts at login"),
        theme: (t) => void settingsCall(() => ipc.setTheme(t)),
        openLogs: () => void ipc.openLogs().catch((e) => {
          state.error = describeError(e);
          render();
        }),
        testChannel: (name) => void testChannel(name),
      }, channelTests),
    );
    return out;
  }
  const stack = state.stacks.find((s) => s.id === state.selected);
  if (!stack) {
    out.push(welcome());
    return out;
  }
  const result = state.results.get(stack.id);
  out.push(
    h(
      "header",
      { class: "page-head" },
      h(
        "div",
        {},
        h("h1", {}, stack.name),
        h("p", { class: "muted path" }, stack.dir),
        proofLine(state.drills.get(stack.id), (state.overviews.get(stack.id)?.history ?? []).some((r) => r.result === "ok")),
      ),
      h(
        "div",
        { class: "actions" },
        h(
          "button",
          { class: "primary", onclick: () => void backUpNow(stack.id), disabled: state.job !== null },
          state.job?.kind === "backup" ? "Backing up…" : "Back up now",
        ),
        h("button", { onclick: () => restoreWizard(stack.id, stack.name), disabled: state.job !== null, "data-testid": "restore-open" }, "Restore…"),
        h(
          "button",
          { onclick: () => void inspect(stack.id), disabled: state.job !== null },
          state.job?.kind === "inspect" ? "Inspecting…" : "Inspect again",
        ),
        h("button", { class: "quiet", onclick: () => void removeStack(stack.id), disabled: state.job !== null }, "Remove from Lifeboat"),
      ),
    ),
  );
  out.push(h("div", { id: "progress" }, progressBox()));
  const banners = alertBanners(state.schedules.get(stack.id)?.alerts ?? []);
  if (banners) out.push(banners);
  const tabs: [Tab, string][] = [
    ["overview", "Overview"],
    ["backups", "Backups"],
    ["secrets", "Secrets"],
  ];
  out.push(
    h(
      "div",
      { class: "tabs", role: "tablist", "aria-label": "Stack sections" },
      tabs.map(([id, label]) =>
        h(
          "button",
          {
            role: "tab",
            class: "tab",
            id: `tab-${id}`,
            "aria-selected": state.tab === id ? "true" : "false",
            tabindex: state.tab === id ? 0 : -1,
            onclick: () => void openTab(id),
            onkeydown: (ev: Event) => {
              const k = (ev as KeyboardEvent).key;
              if (k !== "ArrowRight" && k !== "ArrowLeft") return;
              const i = tabs.findIndex(([t]) => t === state.tab);
              const next = tabs[(i + (k === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length][0];
              void openTab(next).then(() => document.getElementById(`tab-${next}`)?.focus());
            },
          },
          label,
        ),
      ),
    ),
  );
  const panel = h("div", { role: "tabpanel", "aria-labelledby": `tab-${state.tab}` });
  if (state.tab === "backups") {
    panel.append(
      schedulePanel(state.schedules.get(stack.id), state.job !== null, {
        save: (sch: Schedule | null) => void scheduleCall(stack.id, () => ipc.setSchedule(stack.id, sch), sch ? "Schedule saved" : "Schedule removed"),
        pause: (p: Pause | null) => void scheduleCall(stack.id, () => ipc.pauseSchedules(p), p ? "Schedules paused" : "Schedules resumed"),
      }),
      backupsPanel(state.overviews.get(stack.id), state.job !== null, {
        chooseDestination: () => void chooseDestination(stack.id),
        saveSettings: (mode, stop, keep) => void saveSettings(stack.id, mode, stop, keep),
        testPassphrase: () => passphraseDialog(stack.id, false),
        changePassphrase: () => passphraseDialog(stack.id, true),
        saveKit: () => void saveKit(stack.id),
      }),
      drillsPanel(state.drills.get(stack.id), state.job !== null, !!state.overviews.get(stack.id)?.destination?.present && (state.overviews.get(stack.id)?.history ?? []).some((r) => r.result === "ok"), {
        run: () => void runDrill(stack.id),
        setInterval: (days) => void setDrillInterval(stack.id, days),
      }),
    );
  } else if (state.tab === "secrets") {
    const id = stack.id;
    panel.append(
      secretsPanel(state.secrets.get(id), state.job !== null, {
        reveal: (file, key) => quietly(() => ipc.revealSecret(id, file, key)),
        save: (file, key, value) => void secretsCall(id, () => ipc.setSecret(id, file, key, value), `Saved ${key}`),
        generate: (file, key) => void secretsCall(id, () => ipc.generateSecret(id, file, key), `${key} has a new value`),
        rotationNote: (file, key) => quietly(() => ipc.rotationNote(id, file, key)),
        restoreCopy: (name) => void secretsCall(id, () => ipc.restoreSecretCopy(id, name), "Earlier version put back"),
        fix: (code, file, variable) => void secretsCall(id, () => ipc.fixFinding(id, code, file, variable), "Fixed"),
      }),
    );
  } else if (result) {
    panel.append(...inspectionView(result));
  }
  out.push(panel);
  return out;
}

function welcome(): HTMLElement {
  return h(
    "section",
    { class: "welcome" },
    h("h1", {}, "Welcome to Lifeboat"),
    h("p", {}, "Lifeboat keeps encrypted, consistent backups of your Docker Compose stacks, and brings them back when something goes wrong."),
    h(
      "div",
      { class: "welcome-paths" },
      h(
        "div",
        { class: "path-card" },
        h("h2", {}, "Protect a stack"),
        h("p", {}, "Choose the folder with your compose file, see what it keeps, pick a backup drive, and make the first backup. About five minutes."),
        h("button", { class: "primary", "data-testid": "welcome-protect", onclick: () => protectStack() }, "Protect a stack…"),
      ),
      h(
        "div",
        { class: "path-card" },
        h("h2", {}, "Restore from a backup drive"),
        h("p", {}, "New computer? Bring your stacks back with the backup drive and your recovery passphrase."),
        h("button", { "data-testid": "welcome-drive", onclick: () => driveWizard() }, "Restore from a backup drive…"),
      ),
    ),
  );
}

function progressBox(): HTMLElement | string {
  const job = state.job;
  if (!job || job.stackId !== state.selected) return "";
  return progressView(job, {
    verb: job.kind === "backup" ? "Backing up" : job.kind === "drill" ? "Drilling" : "Scanning",
    purpose: "the backup",
    testid: "progress",
    onCancel: (id) => void ipc.cancelJob(id),
  });
}

function renderProgress(): void {
  const el = document.getElementById("progress");
  if (el) el.replaceChildren(progressBox());
}
