// The restore-drill line and panel, in a browser DOM.
import { describe, expect, it } from "vitest";
import type { DrillOverview, DrillReport, DrillRun } from "./lib/ipc";
import { daysAgo, drillsPanel, proofLine } from "./drills";
import { axeViolations } from "./test-support";

const now = Date.now() / 1000;

const report: DrillReport = {
  snapshot: "20261201-020000-ab12",
  stack: "shop",
  from: "/media/backup",
  snapshot_started: now - 4 * 86400,
  ok: true,
  duration_ms: 52_000,
  restore_ms: 40_200,
  files_checked: 2413,
  bytes_checked: 734_003_200,
  databases: [
    { service: "postgres", kind: "postgres", name: "postgres.sql.gz", loaded: true, tables: 12, rows_match: true, note: null },
    { service: null, kind: "sqlite", name: "data/app.sqlite", loaded: true, tables: 3, rows_match: true, note: null },
  ],
  problems: [],
  notes: [],
};

const passed: DrillRun = { started: now - 3 * 86400 - 60, finished: now - 3 * 86400, outcome: "passed", snapshot: report.snapshot, report, error: null };
const failed: DrillRun = {
  started: now - 100,
  finished: now - 50,
  outcome: "failed",
  snapshot: "20261202-020000-cd34",
  report: { ...report, ok: false, snapshot: "20261202-020000-cd34", problems: ["Postgres database shop, table public.items: 300 rows after the restore, 301 recorded at backup time."] },
  error: null,
};

function overview(history: DrillRun[], last_proven: DrillRun | null = null): DrillOverview {
  return { history, last_proven, every_days: 7, scheduled: true };
}

describe("restore drills", () => {
  it("says never proven in the warning colour, and nothing before the first backup", () => {
    expect(proofLine(overview([]), false)).toBeNull();
    const line = proofLine(overview([]), true)!;
    expect(line.textContent).toContain("Never proven restorable");
    expect(line.className).toContain("warn-text");
  });

  it("says when the stack was proven restorable, with files, databases and the restore time", () => {
    const line = proofLine(overview([passed], passed), true)!;
    expect(line.dataset.state).toBe("proven");
    expect(line.textContent).toBe("Proven restorable 3 days ago — 2,413 files, 2 databases loaded, 41 s");
  });

  it("puts a failed last drill first, with the last proof beside it", () => {
    const line = proofLine(overview([failed, passed], passed), true)!;
    expect(line.dataset.state).toBe("failed");
    expect(line.textContent).toBe("The last restore drill failed today · last proven restorable 3 days ago");
  });

  it("lists the history with what each drill found, runs a drill and changes the interval", async () => {
    const calls: string[] = [];
    const panel = drillsPanel(overview([failed, passed, { ...passed, outcome: "cancelled", report: null, error: "The drill was cancelled; nothing was changed" }], passed), false, true, {
      run: () => calls.push("run"),
      setInterval: (d) => calls.push(`every ${d}`),
    });
    document.body.append(panel);
    const rows = [...panel.querySelectorAll<HTMLElement>("[data-testid=drill-row]")];
    expect(rows.map((r) => r.dataset.outcome)).toEqual(["failed", "passed", "cancelled"]);
    expect(rows[0].querySelector("[data-testid=drill-found]")!.textContent).toContain("table public.items: 300 rows after the restore, 301 recorded");
    expect(rows[1].textContent).toContain("2,413 files (700 MiB), 2 of 2 databases loaded");
    expect(rows[1].title).toBe("Snapshot 20261201-020000-ab12");
    expect(rows[2].textContent).toContain("cancelled");
    panel.querySelector<HTMLButtonElement>("[data-testid=drill-run]")!.click();
    const sel = panel.querySelector<HTMLSelectElement>("[data-testid=drill-interval]")!;
    expect(sel.value).toBe("7");
    sel.value = "0";
    sel.dispatchEvent(new Event("change"));
    expect(calls).toEqual(["run", "every 0"]);
    expect(await axeViolations(panel)).toEqual([]);
    panel.remove();
  });

  it("cannot run without a backup or while busy", () => {
    const panel = drillsPanel(overview([]), false, false, { run: () => undefined, setInterval: () => undefined });
    expect(panel.querySelector<HTMLButtonElement>("[data-testid=drill-run]")!.disabled).toBe(true);
    expect(panel.textContent).toContain("No drill yet.");
  });

  it("counts days by the calendar", () => {
    const noon = new Date();
    noon.setHours(12, 0, 0, 0);
    const t = noon.getTime() / 1000;
    expect(daysAgo(t - 3600, t)).toBe("today");
    expect(daysAgo(t - 86400, t)).toBe("yesterday");
    expect(daysAgo(t - 3 * 86400, t)).toBe("3 days ago");
  });
});
