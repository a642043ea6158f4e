// What the UI tests share: letting queued promises and timers run, and the Settings screen
// as a fresh install shows it.
import { clearMocks } from "@tauri-apps/api/mocks";
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
  channels: [],
};

/** A fresh element in the page for one test to start the app in. */
export function mountRoot(): HTMLElement {
  const root = document.createElement("div");
  document.body.append(root);
  return root;
}

/** Forgets the test's IPC mocks and takes its element out of the page. */
export function unmountRoot(root: HTMLElement): void {
  clearMocks();
  root.remove();
}

/** axe-core's violations under `root`, one line each. jsdom has no layout, so colour
 * contrast is left out here and measured in the real window (tests/onboarding.rs). */
export async function axeViolations(root: HTMLElement): Promise<string[]> {
  const axe = (await import("axe-core")).default;
  const r = await axe.run(root, { rules: { "color-contrast": { enabled: false } } });
  return r.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
}
