// A running job as the window shows it: what the job events said so far, and the progress
// box (bar, files, bytes of about the total, speed, time left, phase, stopped services,
// Cancel). Used by the stack page, the restore wizard and the backup-drive wizard.
import type { JobEvent } from "./ipc";
import { bytes, count, duration, eta, rate } from "./format";
import { h } from "./dom";

export interface JobProgress {
  jobId: number | null;
  started: number;
  files: number;
  bytes: number;
  estimate: number | null;
  phase: string;
  stopped: { services: string[]; since: number } | null;
}

export function newProgress(): JobProgress {
  return { jobId: null, started: performance.now(), files: 0, bytes: 0, estimate: null, phase: "Starting…", stopped: null };
}

/** Applies one event; false when it changes nothing shown (finished, failed). */
export function applyJobEvent(job: JobProgress, e: JobEvent): boolean {
  switch (e.event) {
    case "started":
      job.jobId = e.data.job_id;
      return true;
    case "phase":
      job.phase = e.data.label;
      return true;
    case "progress":
      job.files = e.data.files;
      job.bytes = e.data.bytes;
      return true;
    case "estimate":
      job.estimate = e.data.bytes;
      return true;
    case "servicesStopped":
      job.stopped = { services: e.data.services, since: performance.now() };
      return true;
    case "servicesStarted":
      job.stopped = null;
      return true;
    default:
      return false;
  }
}

export interface ProgressOptions {
  /** "Backing up", "Restoring", "Scanning". */
  verb: string;
  /** "the backup", "the restore": why services are stopped. */
  purpose: string;
  testid: string;
  onCancel(jobId: number): void;
}

export function progressView(job: JobProgress, o: ProgressOptions): HTMLElement {
  const secs = (performance.now() - job.started) / 1000;
  const total = job.estimate ? Math.max(job.estimate, job.bytes) : null;
  const bar = h("div", { class: total ? "bar" : "bar indeterminate" }, h("div", {}));
  if (total) (bar.firstChild as HTMLElement).style.width = `${Math.min(100, (job.bytes / total) * 100).toFixed(1)}%`;
  const amount = total ? `${bytes(job.bytes)} of about ${bytes(total)}` : bytes(job.bytes);
  return h(
    "div",
    { class: "progress", role: "status", "aria-live": "polite", "data-testid": o.testid },
    bar,
    h(
      "p",
      {},
      h("strong", {}, `${o.verb} `),
      `${count(job.files)} files · ${amount}`,
      secs > 0.5 ? ` · ${rate(job.bytes, secs)}` : "",
      total ? ` · ${eta(job.bytes, total, secs)}` : "",
    ),
    h("p", { class: "muted path" }, job.phase),
    job.stopped
      ? h(
          "p",
          { class: "stopped" },
          `Stopped for ${o.purpose}: ${job.stopped.services.join(", ")} (${duration(performance.now() - job.stopped.since)}); they start again right after.`,
        )
      : null,
    h("button", { onclick: () => job.jobId !== null && o.onCancel(job.jobId), disabled: job.jobId === null }, "Cancel"),
  );
}
