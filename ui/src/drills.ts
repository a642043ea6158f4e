// Restore drills on a stack page: the one line under the stack's name that says whether it
// was proven restorable (and when), and the Drills panel of the Backups tab: what a drill
// does, "Run a drill now", how often scheduled drills run, and the drill history. Pure view
// code: app.ts owns the state and the calls.
import type { DrillOverview, DrillRun } from "./lib/ipc";
import { bytes, count, duration, when } from "./lib/format";
import { h } from "./lib/dom";

export interface DrillActions {
  run(): void;
  setInterval(days: number): void;
}

/** "today", "yesterday", "3 days ago". */
export function daysAgo(unixSeconds: number, now: number = Date.now() / 1000): string {
  const startOfToday = new Date(now * 1000);
  startOfToday.setHours(0, 0, 0, 0);
  const days = Math.ceil((startOfToday.getTime() / 1000 - unixSeconds) / 86400);
  if (days <= 0) return "today";
  return days === 1 ? "yesterday" : `${days} days ago`;
}

/** "2,413 files, 2 databases loaded, 41 s" for a passed drill. */
export function proofText(run: DrillRun): string {
  const r = run.report;
  if (!r) return "";
  const loaded = r.databases.filter((d) => d.loaded).length;
  return `${count(r.files_checked)} files, ${loaded} database${loaded === 1 ? "" : "s"} loaded, ${Math.max(1, Math.ceil(r.restore_ms / 1000))} s`;
}

/** The status line under the stack's name; nothing before the first backup. */
export function proofLine(ov: DrillOverview | undefined, backedUp: boolean): HTMLElement | null {
  if (!ov || !backedUp) return null;
  const last = ov.history.find((d) => d.outcome === "passed" || d.outcome === "failed");
  if (last?.outcome === "failed") {
    return h(
      "p",
      { class: "proof bad", "data-testid": "proof", "data-state": "failed" },
      h("strong", {}, `The last restore drill failed ${daysAgo(last.finished)}`),
      ov.last_proven ? ` · last proven restorable ${daysAgo(ov.last_proven.finished)}` : "",
    );
  }
  const p = ov.last_proven;
  if (!p) {
    return h("p", { class: "proof warn-text", "data-testid": "proof", "data-state": "never" }, h("strong", {}, "Never proven restorable"), " · run a drill to find out whether this backup comes back");
  }
  return h(
    "p",
    { class: "proof good", "data-testid": "proof", "data-state": "proven", title: `A full restore of this stack from its destination takes about ${duration(p.report?.restore_ms ?? 0)}.` },
    h("strong", {}, `Proven restorable ${daysAgo(p.finished)}`),
    ` — ${proofText(p)}`,
  );
}

const INTERVALS: [number, string][] = [
  [1, "Every day"],
  [7, "Every week"],
  [14, "Every two weeks"],
  [30, "Every month"],
  [0, "Off"],
];

export function drillsPanel(ov: DrillOverview | undefined, busy: boolean, canRun: boolean, actions: DrillActions): HTMLElement {
  if (!ov) return h("section", { class: "panel" }, h("h2", {}, "Restore drills"), h("p", { class: "muted" }, "Loading…"));
  const interval = h(
    "select",
    {
      "aria-label": "How often scheduled drills run",
      "data-testid": "drill-interval",
      disabled: busy,
      onchange: (ev: Event) => actions.setInterval(Number((ev.target as HTMLSelectElement).value)),
    },
    (INTERVALS.some(([d]) => d === ov.every_days) ? INTERVALS : [...INTERVALS, [ov.every_days, `Every ${ov.every_days} days`] as [number, string]]).map(([d, label]) =>
      h("option", { value: String(d), selected: d === ov.every_days ? "selected" : undefined }, label),
    ),
  );
  const when_ =
    ov.every_days === 0
      ? "Scheduled drills are off."
      : ov.scheduled
        ? "Scheduled drills run at a quiet time (01:00–06:00), never beside this stack's backup."
        : "Scheduled drills run once the stack has a backup schedule.";
  return h(
    "section",
    { class: "panel", "aria-labelledby": "drills-title" },
    h(
      "div",
      { class: "panel-head" },
      h("h2", { id: "drills-title" }, "Restore drills"),
      h(
        "button",
        { onclick: () => actions.run(), disabled: busy || !canRun, "data-testid": "drill-run", title: canRun ? "" : "Back up first, with the backup drive plugged in." },
        "Run a drill now",
      ),
    ),
    h(
      "p",
      { class: "muted small" },
      "A drill restores the latest snapshot into a private scratch folder, loads its databases into throwaway containers and checks every file against what was backed up. The stack and its services are not touched.",
    ),
    h("div", { class: "kv" }, h("span", { class: "label" }, "Scheduled drills"), interval, h("span", { class: "muted small" }, when_)),
    historyView(ov.history),
  );
}

const OUTCOME: Record<DrillRun["outcome"], [string, string]> = {
  passed: ["Proven", "r-ok"],
  failed: ["Failed", "r-failed"],
  cancelled: ["Cancelled", "r-cancelled"],
  interrupted: ["Interrupted", "r-cancelled"],
};

function historyView(runs: DrillRun[]): HTMLElement {
  if (runs.length === 0) return h("p", { class: "muted", "data-testid": "drill-history-empty" }, "No drill yet.");
  return h(
    "table",
    { class: "history", "aria-label": "Drill history" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", {}, "When"),
        h("th", {}, "Result"),
        h("th", {}, "Checked"),
        h("th", { class: "num", title: "How long restoring everything took: the honest recovery time" }, "Restore"),
        h("th", {}, "Found"),
      ),
    ),
    h(
      "tbody",
      {},
      runs.map((d) => {
        const r = d.report;
        const [label, cls] = OUTCOME[d.outcome];
        const loaded = r ? r.databases.filter((x) => x.loaded).length : 0;
        const found = r ? [...r.problems, ...r.notes] : d.error ? [d.error] : d.outcome === "interrupted" ? ["Lifeboat stopped during the drill; its sandbox was removed."] : [];
        return h(
          "tr",
          { "data-testid": "drill-row", "data-outcome": d.outcome, title: d.snapshot ? `Snapshot ${d.snapshot}` : undefined },
          h("td", {}, when(d.started)),
          h("td", {}, h("span", { class: `result ${cls}` }, label)),
          h(
            "td",
            { class: "small" },
            r ? `${count(r.files_checked)} files (${bytes(r.bytes_checked)})${r.databases.length ? `, ${loaded} of ${r.databases.length} databases loaded` : ""}` : "–",
          ),
          h("td", { class: "num" }, r ? duration(r.restore_ms) : "–"),
          h("td", { class: "small", "data-testid": "drill-found" }, found.length ? found.join(" ") : "Every file, database and secret as recorded."),
        );
      }),
    ),
  );
}
