// The "Protect a stack" path in the page, with the IPC mocked: each step says what will
// happen, the passphrase is checked before it is sent and never stays in the page, and the
// Docker box gives the fix for the case Lifeboat found.
import { describe, expect, it, beforeEach, afterEach } from "vitest";
import { mockIPC, clearMocks } from "@tauri-apps/api/mocks";
import { start } from "./app";
import { dockerBox } from "./onboarding";
import type { BackupOverview, InspectResult } from "./lib/ipc";
import { axeViolations, mountRoot, settle, unmountRoot } from "./test-support";

const stack = { id: 3, name: "notes", dir: "/srv/notes", last_inspected: null, last_total_bytes: null, last_warnings: 0 };

const found: InspectResult = {
  stack: { ...stack, last_inspected: 1000, last_total_bytes: 5 * 1024 ** 2 },
  history: {},
  inspection: {
    stack: { name: "notes", dir: "/srv/notes", compose_files: ["/srv/notes/compose.yaml"], secret_files: [], config_files: [], build_contexts: [] },
    inspected_at: 1000,
    duration_ms: 9,
    docker: { reachable: false, host: "unix:///var/run/docker.sock", message: "Docker is installed but not running", problem: "not-running" },
    services: [
      {
        name: "bot", image: "node:20", kind: "generic", kind_reason: "", profiles: [], state: "unknown", health: null, containers: [],
        depends_on: [], bytes: 5 * 1024 ** 2, files: 4, previous_bytes: null, growth_bytes: null, sqlite_files: ["/srv/notes/data/bot.sqlite"], mounts: [],
      },
    ],
    total_bytes: 5 * 1024 ** 2,
    total_files: 4,
    previous_inspected_at: null,
    largest_files: [],
    free_bytes: null,
    warnings: [],
  },
};

const overview: BackupOverview = {
  settings: { destination: null, mode: "auto", stop_services: [], keep: { last: 0, hourly: 0, daily: 7, weekly: 4, monthly: 0, yearly: 0 }, schedule: null, drill_every_days: null },
  services: [{ name: "bot", kind: "generic", has_data: true, dump: null, always_stopped: false }],
  history: [],
  space: [],
  key: { state: "missing", recipient: null, message: null, passphrase_tested_at: null },
  destination: null,
};


function button(root: HTMLElement, testid: string): HTMLButtonElement {
  const b = root.querySelector<HTMLButtonElement>(`[data-testid=${testid}]`);
  if (!b) throw new Error(`no ${testid} in: ${root.textContent}`);
  return b;
}

describe("Protect a stack", () => {
  let root: HTMLElement;
  beforeEach(() => (root = mountRoot()));
  afterEach(() => unmountRoot(root));

  it("goes from an empty catalog to a first backup, one announced step at a time", async () => {
    const calls: { cmd: string; args: unknown }[] = [];
    let ov: BackupOverview = structuredClone(overview);
    let stacks: typeof stack[] = [];
    mockIPC((cmd, args) => {
      calls.push({ cmd, args });
      switch (cmd) {
        case "list_stacks":
          return stacks;
        case "get_startup":
          return null;
        case "settings_view":
          throw new Error("not asked in this test");
        case "add_stack":
          stacks = [stack];
          return stack;
        case "inspect_stack":
          return found;
        case "backup_overview":
          return ov;
        case "schedule_view":
          return null;
        case "choose_destination":
          ov = { ...ov, destination: { path: "/media/usb", present: true, has_recovery: false, free_bytes: 64 * 1024 ** 3 } };
          return ov;
        case "setup_key":
          ov = { ...ov, key: { state: "ready", recipient: "age1xyz", message: null, passphrase_tested_at: 1 }, destination: { ...ov.destination!, has_recovery: true } };
          return ov;
        case "set_schedule":
          return null;
        case "start_backup":
          return {
            report: {
              snapshot: "s1", stack: "notes", started: 1000, duration_ms: 1500, downtime_ms: 0, manifest: "m",
              components: [{ name: "service-bot", kind: "service", recipe: "files", archive: "a", bytes_in: 5 * 1024 ** 2, bytes_stored: 1024 ** 2, sha256: "x", reused: false, files: 4 }],
              warnings: [], partial: false, missing: [],
            },
            pruned: [],
          };
        default:
          throw new Error(`unexpected ${cmd}`);
      }
    });
    await start(root);
    await settle();
    button(root, "welcome-protect").click();
    await settle();
    expect(root.querySelector("[data-testid=step]")!.textContent).toBe("Step 1 of 5");
    expect(root.textContent).toContain("nothing in the folder is changed");
    expect(await axeViolations(root)).toEqual([]);

    button(root, "choose-stack").click();
    await settle();
    expect(root.querySelector("[data-testid=step]")!.textContent).toBe("Step 2 of 5");
    expect(root.querySelector("[data-testid=found-summary]")!.textContent).toBe("1 service, 5.0 MiB of data in 4 files.");
    expect(root.querySelector("[data-testid=found-service]")!.textContent).toContain("SQLite databases among them");
    const docker = root.querySelector("[data-testid=docker-status]")!;
    expect(docker.getAttribute("data-problem")).toBe("not-running");
    expect(docker.textContent).toContain("sudo systemctl start docker");
    expect(docker.textContent).toContain("You can carry on");
    // The new stack is in the sidebar already.
    expect(root.querySelectorAll("[data-testid=stack-item]").length).toBe(1);
    expect(await axeViolations(root)).toEqual([]);

    button(root, "next").click();
    await settle();
    expect(root.textContent).toContain("It writes nothing there yet");
    expect(button(root, "next").disabled).toBe(true);
    button(root, "choose-destination").click();
    await settle();
    expect(root.querySelector("[data-testid=onboarding-destination]")!.textContent).toContain("64 GiB free; this stack has 5.0 MiB");
    button(root, "next").click();
    await settle();

    expect(root.querySelector("[data-testid=why-key]")!.textContent).toContain("nobody who finds the drive can read it");
    expect(root.querySelector("[data-testid=why-passphrase]")!.textContent).toContain("restore on a new computer");
    expect(await axeViolations(root)).toEqual([]);
    const p1 = root.querySelector<HTMLInputElement>("#ob-pass1")!;
    const p2 = root.querySelector<HTMLInputElement>("#ob-pass2")!;
    p1.value = "too short";
    p2.value = "too short";
    button(root, "create-key").click();
    await settle();
    expect(root.querySelector("#onboarding-key-error")!.textContent).toContain("at least 10 characters");
    p1.value = "correct horse battery";
    p2.value = "correct horse batterz";
    button(root, "create-key").click();
    await settle();
    expect(root.querySelector("#onboarding-key-error")!.textContent).toContain("differ");
    expect(calls.map((c) => c.cmd)).not.toContain("setup_key");
    p2.value = "correct horse battery";
    button(root, "create-key").click();
    await settle();
    expect(calls.find((c) => c.cmd === "setup_key")?.args).toMatchObject({ stackId: 3, passphrase: "correct horse battery" });
    // The passphrase is gone from the page once sent.
    expect([...root.querySelectorAll("input")].some((i) => i.value.includes("correct horse"))).toBe(false);

    expect(root.querySelector("[data-testid=step]")!.textContent).toBe("Step 5 of 5");
    expect(root.textContent).toContain("Docker is not running, so neither is any service");
    expect(calls.map((c) => c.cmd)).not.toContain("start_backup");
    expect(await axeViolations(root)).toEqual([]);
    button(root, "backup-now").click();
    await settle();
    expect(calls.find((c) => c.cmd === "set_schedule")?.args).toMatchObject({ stackId: 3, schedule: { kind: "daily", at: "02:00" } });
    expect(root.querySelector("[data-testid=done-summary]")!.textContent).toContain("5.0 MiB in 1 part became 1.0 MiB on the drive");
    expect(root.textContent).toContain("every day at 02:00");
    button(root, "open-stack-page").click();
    await settle();
    expect(root.querySelector("[data-testid=onboarding]")).toBeNull();
    expect(root.querySelector(".page-head h1")!.textContent).toBe("notes");
  });
});

describe("Protect a stack, bad input", () => {
  afterEach(() => clearMocks());

  it("says what is wrong with a malformed compose file and stays on the first step", async () => {
    const root = document.createElement("div");
    document.body.append(root);
    mockIPC((cmd) => {
      if (cmd === "list_stacks") return [];
      if (cmd === "add_stack") throw { code: "invalid_stack", message: "compose.yaml line 3: mapping values are not allowed here" };
      if (cmd === "settings_view") throw new Error("not asked");
      return null;
    });
    await start(root);
    await settle();
    button(root, "welcome-protect").click();
    await settle();
    button(root, "choose-stack").click();
    await settle();
    const alert = root.querySelector("[data-testid=onboarding] [role=alert]")!;
    expect(alert.textContent).toContain("line 3: mapping values are not allowed here");
    expect(root.querySelector("[data-testid=step]")!.textContent).toBe("Step 1 of 5");
    expect(button(root, "choose-stack").disabled).toBe(false);
    root.remove();
  });
});

describe("Docker explanations", () => {
  const base = { reachable: false, host: "unix:///var/run/docker.sock", message: "m" };
  it("gives each case its own fix", () => {
    expect(dockerBox({ ...base, problem: "no-permission" }).textContent).toMatch(/add yourself to the docker group.*log out and in/i);
    expect(dockerBox({ ...base, problem: "not-installed" }).textContent).toContain("Install Docker Engine");
    expect(dockerBox({ ...base, problem: "not-running" }).textContent).toContain("systemctl start docker");
    expect(dockerBox({ reachable: true, host: "h", message: null, problem: null }).textContent).toContain("Docker is running");
  });
});
