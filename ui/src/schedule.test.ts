// The schedule panel and the alert banners, in a browser DOM with the IPC mocked.
import { describe, expect, it } from "vitest";
import type { ScheduleView } from "./lib/ipc";
import { alertBanners, levelsBox, schedulePanel } from "./schedule";
import { settingsView } from "./test-support";

const view: ScheduleView = {
  schedule: { kind: "daily", at: "02:00" },
  description: "Every day at 02:00",
  next_runs: [1795485600, 1795572000],
  state: null,
  failure_note: "3 backups in a row failed; no more retries until the next scheduled time. Fix the cause or run a backup now.",
  paused_until: null,
  alerts: [],
  running: false,
};

describe("schedule panel", () => {
  it("shows the schedule, its next runs and failures, and saves a weekly schedule", () => {
    const saved: unknown[] = [];
    const panel = schedulePanel(view, false, { save: (s) => saved.push(s), pause: () => undefined });
    document.body.append(panel);
    expect(panel.querySelector("[data-testid=schedule-description]")?.textContent).toBe("Every day at 02:00");
    expect(panel.querySelectorAll("[data-testid=next-runs] li").length).toBe(2);
    expect(panel.textContent).toContain("3 backups in a row failed");
    const kind = panel.querySelector<HTMLSelectElement>("select[name=kind]")!;
    kind.value = "weekly";
    kind.dispatchEvent(new Event("change"));
    panel.querySelector<HTMLSelectElement>("select[name=day]")!.value = "0";
    panel.querySelector<HTMLInputElement>("input[name=at]")!.value = "03:30";
    panel.querySelector<HTMLFormElement>("form")!.requestSubmit();
    expect(saved).toEqual([{ kind: "weekly", day: 0, at: "03:30" }]);
    kind.value = "off";
    kind.dispatchEvent(new Event("change"));
    panel.querySelector<HTMLFormElement>("form")!.requestSubmit();
    expect(saved[1]).toBeNull();
    panel.remove();
  });

  it("changes one notification level at a time and keeps the others", () => {
    const levels: unknown[] = [];
    const panel = levelsBox(settingsView.levels, (l) => levels.push(l));
    document.body.append(panel);
    const success = panel.querySelector<HTMLInputElement>("input[name=level-success]")!;
    expect(success.checked).toBe(false);
    success.click();
    expect(levels).toEqual([{ success: true, stale: true, disk: true, growth: true }]);
    panel.remove();
  });

  it("puts errors first in the banners, as alerts for screen readers", () => {
    const el = alertBanners([
      { stack_id: 1, code: "stale", severity: "warning", summary: "chatbot has not been backed up for 3 days", body: "Check the drive." },
      { stack_id: 1, code: "backup_failed", severity: "error", summary: "The last backup of chatbot failed", body: "The drive is full." },
    ])!;
    const banners = [...el.querySelectorAll(".banner")];
    expect(banners.map((b) => b.getAttribute("data-code"))).toEqual(["backup_failed", "stale"]);
    expect(banners[0].getAttribute("role")).toBe("alert");
    expect(alertBanners([])).toBeNull();
  });
});
