// The schedule part of a stack's Backups tab: when backups run (presets or a cron
// expression), the next five runs, failures, pause, and which notifications the user wants.
// Also the banners that put the same alerts as the notifications on the stack page. Pure
// view code: app.ts owns the state and the calls.
import type { Alert, Levels, Pause, Schedule, ScheduleView } from "./lib/ipc";
import { h } from "./lib/dom";
import { when } from "./lib/format";

export interface ScheduleActions {
  save(schedule: Schedule | null): void;
  pause(pause: Pause | null): void;
}

type Kind = "off" | Schedule["kind"];

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/** Banners for what needs attention, worst first. */
export function alertBanners(alerts: Alert[]): HTMLElement | null {
  if (alerts.length === 0) return null;
  const rank = (a: Alert) => (a.severity === "error" ? 0 : a.severity === "warning" ? 1 : 2);
  return h(
    "div",
    { class: "alerts", "data-testid": "alerts" },
    [...alerts]
      .sort((a, b) => rank(a) - rank(b))
      .map((a) =>
        h(
          "div",
          { class: `banner ${a.severity === "error" ? "bad" : a.severity === "warning" ? "warn" : "info"}`, role: a.severity === "error" ? "alert" : "status", "data-code": a.code },
          h("strong", {}, `${a.summary}. `),
          a.body,
        ),
      ),
  );
}

export function schedulePanel(v: ScheduleView | undefined, busy: boolean, actions: ScheduleActions): HTMLElement {
  if (!v) return h("section", { class: "panel" }, h("h2", {}, "Schedule"), h("p", { class: "muted" }, "Loading…"));
  const s = v.schedule;
  const form = h("form", { class: "schedule", "aria-label": "Backup schedule", "data-testid": "schedule-form" });
  const kind = h(
    "select",
    { name: "kind", "aria-label": "How often" },
    (
      [
        ["off", "Only when I click Back up now"],
        ["hourly", "Every few hours"],
        ["daily", "Every day"],
        ["weekly", "Every week"],
        ["cron", "Cron expression (experts)"],
      ] as [Kind, string][]
    ).map(([value, label]) => h("option", { value, selected: (s?.kind ?? "off") === value }, label)),
  );
  const every = h(
    "select",
    { name: "every", "aria-label": "Hours between backups" },
    [1, 2, 3, 4, 6, 8, 12].map((n) => h("option", { value: n, selected: s?.kind === "hourly" && s.every === n }, n === 1 ? "every hour" : `every ${n} hours`)),
  );
  const at = h("input", { type: "time", name: "at", "aria-label": "Time of day", value: s && (s.kind === "daily" || s.kind === "weekly") ? s.at : "02:00", required: true });
  const day = h(
    "select",
    { name: "day", "aria-label": "Day of the week" },
    DAYS.map((d, i) => h("option", { value: i, selected: s?.kind === "weekly" && s.day === i }, d)),
  );
  const cron = h("input", {
    type: "text",
    name: "cron",
    "aria-label": "Cron expression",
    placeholder: "minute hour day month weekday, e.g. 30 3 * * 1-5",
    value: s?.kind === "cron" ? s.expr : "",
    spellcheck: "false",
  });
  const fields = h("span", { class: "schedule-fields" });
  const showFields = () => {
    const k = kind.value as Kind;
    fields.replaceChildren(
      ...(k === "hourly" ? [every] : k === "daily" ? [h("label", {}, "at ", at)] : k === "weekly" ? [h("label", {}, "on ", day), h("label", {}, " at ", at)] : k === "cron" ? [cron] : []),
    );
  };
  kind.addEventListener("change", showFields);
  showFields();
  form.append(kind, fields, h("button", { type: "submit", disabled: busy }, "Save schedule"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const k = kind.value as Kind;
    const next: Schedule | null =
      k === "off"
        ? null
        : k === "hourly"
          ? { kind: "hourly", every: Number(every.value) }
          : k === "daily"
            ? { kind: "daily", at: at.value }
            : k === "weekly"
              ? { kind: "weekly", day: Number(day.value), at: at.value }
              : { kind: "cron", expr: cron.value };
    actions.save(next);
  });
  const nextRuns = v.next_runs.length
    ? h(
        "div",
        { class: "next-runs" },
        h("span", { class: "label" }, "Next backups"),
        h("ol", { "data-testid": "next-runs" }, v.next_runs.map((t) => h("li", {}, when(t)))),
      )
    : h("p", { class: "muted small" }, "No schedule: backups run only when you click Back up now.");
  const paused =
    v.paused_until !== null
      ? h(
          "div",
          { class: "banner warn", role: "status" },
          h("strong", {}, "Schedules are paused "),
          v.paused_until >= 9.2e18 ? "until you resume them. " : `until ${when(v.paused_until)}. `,
          h("button", { onclick: () => actions.pause(null), disabled: busy }, "Resume"),
        )
      : s
        ? h(
            "div",
            { class: "pause" },
            h("span", { class: "muted small" }, "Pause all schedules: "),
            h("button", { class: "quiet", onclick: () => actions.pause("hour"), disabled: busy }, "1 hour"),
            h("button", { class: "quiet", onclick: () => actions.pause("tomorrow"), disabled: busy }, "until tomorrow"),
            h("button", { class: "quiet", onclick: () => actions.pause("indefinitely"), disabled: busy }, "until resumed"),
          )
        : null;
  return h(
    "section",
    { class: "panel", "aria-labelledby": "schedule-title" },
    h("div", { class: "panel-head" }, h("h2", { id: "schedule-title" }, "Schedule"), v.running ? h("span", { class: "muted", "data-testid": "schedule-running" }, "A backup is running…") : null),
    v.description ? h("p", { "data-testid": "schedule-description" }, v.description) : null,
    form,
    nextRuns,
    v.failure_note ? h("p", { class: "bad small" }, v.failure_note) : null,
    paused,
    h("p", { class: "muted small" }, "Which notifications you get is chosen in Settings."),
  );
}

/** The notification choices (all stacks); failures are always notified. */
export function levelsBox(lv: Levels, change: (l: Levels) => void): HTMLElement {
  return h(
    "fieldset",
    { class: "levels" },
    h("legend", {}, "Notify me when… (all stacks; failures are always notified)"),
    (
      [
        ["stale", "No successful backup for more than twice the schedule's interval"],
        ["disk", "The backup drive is nearly full"],
        ["growth", "A service's data grew more than 50%"],
        ["success", "A scheduled backup succeeded"],
      ] as [keyof Levels, string][]
    ).map(([k, label]) =>
      h(
        "label",
        { class: "check block" },
        h("input", {
          type: "checkbox",
          name: `level-${k}`,
          checked: lv[k],
          onchange: (ev: Event) => change({ ...lv, [k]: (ev.target as HTMLInputElement).checked }),
        }),
        label,
      ),
    ),
  );
}
