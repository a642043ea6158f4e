// What the UI tests share: letting queued promises and timers run, and the Settings screen
// as a fresh install shows it.
import type { SettingsView } from "./lib/ipc";

/** Lets the page's pending IPC answers and re-renders run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 0));
}

export const settingsView: SettingsView = {
  settings: { default_destination: null, theme: "system" },
  levels: { success: false, stale: true, disk: true, growth: true },
  start_at_login: false,
  log_dir: "/home/me/.local/share/lifeboat/logs",
  version: "0.1.0",
};
