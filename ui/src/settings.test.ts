// The Settings screen: every control calls its command and the result shows at once
// (the theme on <html>), and the about box lists the bundled packages' licences.
import { describe, expect, it, beforeEach, afterEach } from "vitest";
import { mockIPC } from "@tauri-apps/api/mocks";
import { start } from "./app";
import type { SettingsView } from "./lib/ipc";
import { axeViolations, mountRoot, settingsView, settle, unmountRoot } from "./test-support";



describe("Settings", () => {
  let root: HTMLElement;
  beforeEach(() => (root = mountRoot()));
  afterEach(() => unmountRoot(root));

  it("saves each choice and applies it without a restart", async () => {
    const calls: { cmd: string; args: unknown }[] = [];
    let v: SettingsView = structuredClone(settingsView);
    mockIPC((cmd, args) => {
      calls.push({ cmd, args });
      switch (cmd) {
        case "list_stacks":
          return [];
        case "get_startup":
          return null;
        case "settings_view":
          return v;
        case "set_theme":
          v = { ...v, settings: { ...v.settings, theme: (args as { theme: SettingsView["settings"]["theme"] }).theme } };
          return v;
        case "choose_default_destination":
          v = { ...v, settings: { ...v.settings, default_destination: (args as { clear: boolean }).clear ? null : "/media/usb" } };
          return v;
        case "set_notification_levels":
          v = { ...v, levels: (args as { levels: SettingsView["levels"] }).levels };
          return v.levels;
        case "start_at_login":
          v = { ...v, start_at_login: !!(args as { enabled: boolean }).enabled };
          return v.start_at_login;
        case "open_logs":
          return null;
        default:
          throw new Error(`unexpected ${cmd}`);
      }
    });
    await start(root);
    await settle();
    root.querySelector<HTMLButtonElement>("[data-testid=open-settings]")!.click();
    await settle();
    const page = () => root.querySelector("[data-testid=settings]")!;
    expect(page().querySelector("[data-testid=about-version]")!.textContent).toContain("Lifeboat 0.1.0");
    expect(page().querySelector("[data-testid=log-dir]")!.textContent).toBe(settingsView.log_dir);
    // The licence list comes from Cargo and npm metadata: hundreds of rows, each with a licence.
    const rows = [...page().querySelectorAll("[data-testid=licences] tbody tr")];
    expect(rows.length).toBeGreaterThan(100);
    expect(rows.some((r) => r.textContent!.startsWith("tauri") && r.textContent!.includes("MIT"))).toBe(true);
    expect(rows.some((r) => r.textContent!.includes("@tauri-apps/api") && r.textContent!.includes("npm"))).toBe(true);

    page().querySelector<HTMLInputElement>("input[name=theme][value=dark]")!.click();
    await settle();
    expect(calls.find((c) => c.cmd === "set_theme")?.args).toEqual({ theme: "dark" });
    expect(document.documentElement.dataset.theme).toBe("dark");
    page().querySelector<HTMLInputElement>("input[name=theme][value=light]")!.click();
    await settle();
    expect(document.documentElement.dataset.theme).toBe("light");

    [...page().querySelectorAll("button")].find((b) => b.textContent === "Choose folder…")!.click();
    await settle();
    expect(page().querySelector("[data-testid=default-destination]")!.textContent).toBe("/media/usb");
    [...page().querySelectorAll("button")].find((b) => b.textContent === "Forget it")!.click();
    await settle();
    expect(page().querySelector("[data-testid=default-destination]")!.textContent).toContain("None");

    page().querySelector<HTMLInputElement>("input[name=level-success]")!.click();
    await settle();
    expect(calls.find((c) => c.cmd === "set_notification_levels")?.args).toEqual({ levels: { success: true, stale: true, disk: true, growth: true } });
    expect(page().querySelector<HTMLInputElement>("input[name=level-success]")!.checked).toBe(true);

    page().querySelector<HTMLInputElement>("input[name=start-at-login]")!.click();
    await settle();
    expect(calls.find((c) => c.cmd === "start_at_login")?.args).toEqual({ enabled: true });
    expect(root.querySelector("[data-testid=notice]")!.textContent).toContain("starts at login");

    [...page().querySelectorAll("button")].find((b) => b.textContent === "Open logs")!.click();
    await settle();
    expect(calls.map((c) => c.cmd)).toContain("open_logs");

    expect(await axeViolations(root)).toEqual([]);
    // axe over the 480-row licence table takes seconds on a busy machine.
  }, 30_000);
  it("lists the notification channels by host only and tests each, saying what failed", async () => {
    const v: SettingsView = {
      ...structuredClone(settingsView),
      channels: [
        { name: "phone", kind: "ntfy", host: "ntfy.example.org", level: "warnings", stacks: [], has_secret: true },
        { name: "hc", kind: "ping", host: "hc-ping.com", level: "warnings", stacks: ["chatbot"], has_secret: false },
      ],
    };
    const tested: string[] = [];
    mockIPC((cmd, args) => {
      switch (cmd) {
        case "list_stacks":
          return [];
        case "get_startup":
          return null;
        case "settings_view":
          return v;
        case "test_channel": {
          const name = (args as { name: string }).name;
          tested.push(name);
          if (name === "hc") throw { code: "not_sent", message: "hc-ping.com refused the connection: is the server running, and is the port right?" };
          return null;
        }
        default:
          throw new Error(`unexpected ${cmd}`);
      }
    });
    await start(root);
    await settle();
    root.querySelector<HTMLButtonElement>("[data-testid=open-settings]")!.click();
    await settle();
    const rows = () => [...root.querySelectorAll<HTMLElement>("[data-testid=channel-row]")];
    expect(rows().map((r) => r.dataset.channel)).toEqual(["phone", "hc"]);
    expect(rows()[0].textContent).toContain("ntfy.example.org · token stored");
    expect(rows()[0].textContent).toContain("failures and warnings");
    expect(rows()[1].textContent).toContain("a ping when each backup starts and ends");
    rows()[0].querySelector("button")!.click();
    await settle();
    rows()[1].querySelector("button")!.click();
    await settle();
    expect(tested).toEqual(["phone", "hc"]);
    expect(rows()[0].querySelector("[data-testid=channel-result]")!.textContent).toMatch(/^Sent at \d\d:\d\d$/);
    expect(rows()[1].querySelector("[data-testid=channel-result]")!.textContent).toContain("hc-ping.com refused the connection");
    expect(await axeViolations(root)).toEqual([]);
  });

  it("says how to add a channel when there is none", async () => {
    mockIPC((cmd) => (cmd === "list_stacks" ? [] : cmd === "settings_view" ? settingsView : null));
    await start(root);
    await settle();
    root.querySelector<HTMLButtonElement>("[data-testid=open-settings]")!.click();
    await settle();
    expect(root.querySelector("[data-testid=channels-empty]")!.textContent).toBe("No channels yet: alerts show on this desktop only.");
    expect(root.querySelector("[data-testid=channels]")!.textContent).toContain("lifeboat notify add NAME --ntfy");
  });
});
