import { describe, expect, it, beforeEach, afterEach } from "vitest";
import { mockIPC, clearMocks } from "@tauri-apps/api/mocks";
import { start } from "./app";
import { bytes, growth, ago } from "./lib/format";
import type { BackupOverview, DrillOverview, InspectResult, ScheduleView } from "./lib/ipc";
import { axeViolations, mountRoot, settingsView, settle, unmountRoot } from "./test-support";

const result: InspectResult = {
  stack: { id: 7, name: "chatbot", dir: "/srv/chatbot", last_inspected: 1000, last_total_bytes: 3072, last_warnings: 1 },
  history: { db: [{ at: 900, bytes: 1024 }, { at: 1000, bytes: 2048 }] },
  inspection: {
    stack: { name: "chatbot", dir: "/srv/chatbot", compose_files: ["/srv/chatbot/compose.yaml"], secret_files: [], config_files: [], build_contexts: [] },
    inspected_at: 1000,
    duration_ms: 12,
    docker: { reachable: false, host: "unix:///var/run/docker.sock", message: "no engine", problem: "not-running" },
    services: [
      {
        name: "db", image: "postgres:16", kind: "postgres", kind_reason: "image postgres", profiles: [], state: "unknown",
        health: null, containers: [], depends_on: [], bytes: 2048, files: 3, previous_bytes: 1024, growth_bytes: 1024,
        sqlite_files: [],
        mounts: [{ type: "bind", source: "./pg", target: "/var/lib/postgresql/data", read_only: false, host_path: "/srv/chatbot/pg",
          volume_name: null, external: false, selinux: null, bytes: 2048, files: 3, readable: true, measured_by: "files", system: false, exists: true }],
      },
      {
        name: "web", image: "nginx", kind: "generic", kind_reason: "image nginx", profiles: ["web"], state: "unknown",
        health: null, containers: [], depends_on: ["db"], bytes: 0, files: 0, previous_bytes: null, growth_bytes: null,
        sqlite_files: [], mounts: [],
      },
    ],
    total_bytes: 2048,
    total_files: 3,
    previous_inspected_at: 900,
    largest_files: [{ path: "/srv/chatbot/pg/base/1", bytes: 2000, service: "db" }],
    free_bytes: 10 * 1024 ** 3,
    warnings: [{ code: "secrets-file-readable", message: ".env holds secrets but <b>others</b> can read it", service: null, path: "/srv/chatbot/.env", remedy: null }],
  },
};

const overview: BackupOverview = {
  settings: { destination: null, mode: "auto", stop_services: [], keep: { last: 0, hourly: 0, daily: 7, weekly: 4, monthly: 0, yearly: 0 }, schedule: null, drill_every_days: null },
  services: [
    { name: "db", kind: "postgres", has_data: true, dump: "pg_dumpall", always_stopped: false },
    { name: "web", kind: "generic", has_data: true, dump: null, always_stopped: false },
  ],
  history: [],
  space: [],
  key: { state: "missing", recipient: null, message: null, passphrase_tested_at: null },
  destination: null,
};

const noDrills: DrillOverview = { last_proven: null, history: [], every_days: 7, scheduled: false };

const noSchedule: ScheduleView = {
  schedule: null,
  description: null,
  next_runs: [],
  state: null,
  failure_note: null,
  paused_until: null,
  alerts: [],
  running: false,
};



describe("Stacks screen", () => {
  let root: HTMLElement;
  beforeEach(() => (root = mountRoot()));
  afterEach(() => unmountRoot(root));

  it("opens the startup stack and shows services, sizes, growth and warnings as text", async () => {
    const calls: string[] = [];
    mockIPC((cmd) => {
      calls.push(cmd);
      if (cmd === "list_stacks") return [result.stack];
      if (cmd === "get_startup") return 7;
      if (cmd === "inspect_stack") return result;
      if (cmd === "backup_overview") return overview;
      if (cmd === "schedule_view") return noSchedule;
      if (cmd === "drill_overview") return noDrills;
      throw new Error(`unexpected ${cmd}`);
    });
    await start(root);
    await settle();
    expect(calls).toContain("inspect_stack");
    expect(root.querySelector("[role=alert]")).toBeNull();
    const rows = root.querySelectorAll("[data-testid=service-row]");
    expect([...rows].map((r) => r.getAttribute("data-service"))).toEqual(["db", "web"]);
    expect(rows[0].textContent).toContain("2.0 KiB");
    expect(rows[0].textContent).toContain("+1.0 KiB");
    expect(root.querySelector(".warning")?.textContent).toContain("<b>others</b>");
    expect(root.querySelector(".warning b")).toBeNull();
    expect(root.querySelector(".largest")?.textContent).toContain("pg/base/1");
  });

  it("shows an IPC error as a sentence chosen by its code", async () => {
    mockIPC((cmd) => {
      if (cmd === "list_stacks") return [result.stack];
      if (cmd === "get_startup") return null;
      if (cmd === "inspect_stack") throw { code: "no_compose_file", message: "no compose file in /srv/chatbot" };
      if (cmd === "backup_overview") return overview;
      if (cmd === "schedule_view") return noSchedule;
      if (cmd === "drill_overview") return noDrills;
      throw new Error(`unexpected ${cmd}`);
    });
    await start(root);
    await settle();
    const alert = root.querySelector("[role=alert]");
    expect(alert?.textContent).toContain("That folder has no compose file");
    expect(alert?.textContent).toContain("no compose file in /srv/chatbot");
  });

  it("shows the welcome when the catalog is empty", async () => {
    mockIPC((cmd) => (cmd === "list_stacks" ? [] : cmd === "settings_view" ? settingsView : null));
    await start(root);
    await settle();
    expect(root.querySelector(".welcome h1")?.textContent).toBe("Welcome to Lifeboat");
  });
});

describe("Back up now", () => {
  let root: HTMLElement;
  beforeEach(() => (root = mountRoot()));
  afterEach(() => {
    unmountRoot(root);
    document.getElementById("key-dialog")?.remove();
  });

  it("asks for the destination, then a recovery passphrase, then backs up with progress and history", async () => {
    const calls: { cmd: string; args: unknown }[] = [];
    let ov: BackupOverview = structuredClone(overview);
    let channelId: number | null = null;
    let finish: (v: unknown) => void = () => undefined;
    mockIPC((cmd, args) => {
      calls.push({ cmd, args });
      switch (cmd) {
        case "list_stacks":
          return [result.stack];
        case "get_startup":
          return 7;
        case "inspect_stack":
          return result;
        case "drill_overview":
          return noDrills;
        case "schedule_view":
          return noSchedule;
        case "backup_overview":
          return ov;
        case "choose_destination":
          ov = { ...ov, destination: { path: "/media/usb/backups", present: true, has_recovery: false, free_bytes: 5 * 1024 ** 3 } };
          return ov;
        case "setup_key":
          ov = {
            ...ov,
            key: { state: "ready", recipient: "age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq", message: null, passphrase_tested_at: null },
            destination: { ...ov.destination!, has_recovery: true },
          };
          return ov;
        case "start_backup":
          channelId = (args as { onEvent: { id: number } }).onEvent.id;
          return new Promise((resolve) => (finish = resolve));
        default:
          throw new Error(`unexpected ${cmd}`);
      }
    });
    await start(root);
    await settle();
    const button = [...root.querySelectorAll("button")].find((b) => b.textContent === "Back up now")!;
    button.click();
    await settle();
    expect(calls.map((c) => c.cmd)).toContain("choose_destination");
    const dialog = document.getElementById("key-dialog")!;
    expect(dialog.textContent).toContain("Create your backup key");
    expect(dialog.textContent).toContain("/media/usb/backups");
    const [p1, p2] = [dialog.querySelector<HTMLInputElement>("#pass1")!, dialog.querySelector<HTMLInputElement>("#pass2")!];
    // Too short: said in the dialog, nothing sent.
    p1.value = "short";
    p2.value = "short";
    dialog.querySelector("form")!.dispatchEvent(new Event("submit", { cancelable: true }));
    await settle();
    expect(dialog.querySelector("#key-error")!.textContent).toContain("at least 10 characters");
    expect(calls.map((c) => c.cmd)).not.toContain("setup_key");
    // Different: said too.
    p1.value = "correct horse battery";
    p2.value = "correct horse batterz";
    dialog.querySelector("form")!.dispatchEvent(new Event("submit", { cancelable: true }));
    await settle();
    expect(dialog.querySelector("#key-error")!.textContent).toContain("differ");
    p2.value = "correct horse battery";
    dialog.querySelector("form")!.dispatchEvent(new Event("submit", { cancelable: true }));
    await settle();
    expect(calls.find((c) => c.cmd === "setup_key")?.args).toMatchObject({ stackId: 7, passphrase: "correct horse battery" });
    expect(document.getElementById("key-dialog")).toBeNull();
    expect(calls.map((c) => c.cmd)).toContain("start_backup");

    // Progress arrives on the channel.
    const send = (message: unknown, index: number) =>
      (window as unknown as { __TAURI_INTERNALS__: { runCallback(id: number, data: unknown): void } }).__TAURI_INTERNALS__.runCallback(channelId!, { message, index });
    send({ event: "started", data: { job_id: 3 } }, 0);
    send({ event: "estimate", data: { bytes: 4096 } }, 1);
    send({ event: "servicesStopped", data: { services: ["web"] } }, 2);
    send({ event: "progress", data: { files: 2, bytes: 1024 } }, 3);
    await settle();
    const progress = root.querySelector("[data-testid=progress]")!.textContent!;
    expect(progress).toContain("Backing up");
    expect(progress).toContain("1.0 KiB of about 4.0 KiB");
    expect(progress).toContain("Stopped for the backup: web");

    ov = {
      ...ov,
      history: [
        { started: 1000, duration_ms: 4200, downtime_ms: 800, snapshot: "s1", destination: "/media/usb/backups", bytes_in: 4096, bytes_new: 2048, result: "ok", message: null, warnings: 0 },
        { started: 900, duration_ms: 4000, downtime_ms: 0, snapshot: "s0", destination: "/media/usb/backups", bytes_in: 4000, bytes_new: 3000, result: "ok", message: null, warnings: 0 },
      ],
      // s0 was pruned since: the destination no longer holds it.
      space: [{ snapshot: "s1", bytes_stored: 5120, bytes_frees: 1024 }],
    };
    finish({
      report: {
        snapshot: "s1", stack: "chatbot", started: 1000, duration_ms: 4200, downtime_ms: 800, manifest: "m",
        components: [{ name: "secrets", kind: "secrets", recipe: "files", archive: "a", bytes_in: 4096, bytes_stored: 2048, sha256: "x", reused: false, files: 2 }],
        warnings: [], partial: false, missing: [],
      },
      pruned: [],
    });
    await settle();
    expect(root.querySelector("[data-testid=notice]")!.textContent).toContain("Backed up in 4.2 s");
    expect(root.querySelector("[data-testid=notice]")!.textContent).toContain("stopped for 800 ms");
    const rows = root.querySelectorAll("[data-testid=history-row]");
    expect(rows.length).toBe(2);
    expect(rows[0].textContent).toContain("Backed up");
    expect(rows[0].textContent).toContain("2.0 KiB");
    expect(rows[0].querySelector("[data-testid=size]")!.textContent).toBe("5.0 KiB");
    expect(rows[0].querySelector("[data-testid=frees]")!.textContent).toBe("1.0 KiB");
    expect(rows[1].querySelector("[data-testid=size]")!.textContent).toBe("–");
    expect(rows[1].querySelector("[data-testid=frees]")!.textContent).toBe("–");
    // A passphrase never tested is a reminder, with the actions beside it.
    expect(root.querySelector("[data-testid=passphrase-reminder]")?.textContent).toContain("not tested it yet");
    expect([...root.querySelectorAll(".key-actions button")].map((b) => b.textContent)).toEqual(["Test passphrase…", "Change passphrase…", "Save recovery kit"]);
  });
});

describe("Secrets tab", () => {
  let root: HTMLElement;
  beforeEach(() => (root = mountRoot()));
  afterEach(() => unmountRoot(root));

  it("shows values masked, reveals one on request and hides it on blur, fixes and edits", async () => {
    const calls: { cmd: string; args: unknown }[] = [];
    const screen = {
      view: {
        files: [
          { name: ".env", exists: true, mode: 0o644, error: null,
            variables: [{ key: "DB_PASSWORD", line: 2, length: 16, secret: true, used_by: ["db", "n8n"] }] },
        ],
        undefined: ["API_TOKEN"],
      },
      copies: [{ name: ".env.20261123T014501Z", file: ".env", taken: "2026-11-23 01:45:01 UTC", bytes: 40 }],
      findings: [{ code: "file-mode", severity: "high", file: ".env", line: null, variable: null, service: null, message: ".env can be read by other users", fix: "chmod 600 .env" }],
    };
    mockIPC((cmd, args) => {
      calls.push({ cmd, args });
      switch (cmd) {
        case "list_stacks": return [result.stack];
        case "get_startup": return 7;
        case "inspect_stack": return result;
        case "backup_overview": return overview;
        case "schedule_view": return noSchedule;
        case "drill_overview": return noDrills;
        case "secrets_screen": return screen;
        case "reveal_secret": return "s3cret-value-123";
        case "fix_finding": return { ...screen, findings: [] };
        case "set_secret": return screen;
        case "restore_secret_copy": return screen;
        default: throw new Error(`unexpected ${cmd}`);
      }
    });
    await start(root);
    await settle();
    [...root.querySelectorAll<HTMLButtonElement>("[role=tab]")].find((b) => b.textContent === "Secrets")!.click();
    await settle();
    const row = root.querySelector("[data-testid=variable]")!;
    expect(row.textContent).toContain("DB_PASSWORD");
    expect(row.textContent).toContain("(16)");
    expect(row.textContent).toContain("db, n8n");
    expect(root.textContent).not.toContain("s3cret");
    expect(root.textContent).toContain("API_TOKEN");
    row.querySelector<HTMLButtonElement>("[aria-label='Reveal DB_PASSWORD']")!.click();
    await settle();
    expect(row.querySelector("[data-testid=value]")!.textContent).toBe("s3cret-value-123");
    window.dispatchEvent(new Event("blur"));
    expect(row.querySelector("[data-testid=value]")!.textContent).toBe("•••••••• (16)");

    root.querySelector<HTMLButtonElement>(".warning .fix")!.click();
    await settle();
    expect(calls.find((c) => c.cmd === "fix_finding")?.args).toMatchObject({ stackId: 7, code: "file-mode", file: ".env" });
    expect(root.textContent).toContain("No secrets problems found");

    const row2 = root.querySelector("[data-testid=variable]")!;
    row2.querySelector<HTMLButtonElement>("[aria-label='Edit DB_PASSWORD']")!.click();
    const input = row2.querySelector<HTMLInputElement>("input[type=password]")!;
    input.value = "typed-new-value";
    row2.querySelector("form")!.dispatchEvent(new Event("submit", { cancelable: true }));
    await settle();
    expect(calls.find((c) => c.cmd === "set_secret")?.args).toMatchObject({ file: ".env", key: "DB_PASSWORD", value: "typed-new-value" });
    expect(root.textContent).not.toContain("typed-new-value");
    root.querySelector<HTMLButtonElement>("[data-testid=copy] button")!.click();
    await settle();
    expect(calls.find((c) => c.cmd === "restore_secret_copy")?.args).toMatchObject({ stackId: 7, name: ".env.20261123T014501Z" });
  });
});

describe("format", () => {
  it("prints bytes, growth and times", () => {
    expect(bytes(512)).toBe("512 B");
    expect(bytes(1536)).toBe("1.5 KiB");
    expect(bytes(5 * 1024 ** 3)).toBe("5.0 GiB");
    expect(growth(null)).toBe("first inspection");
    expect(growth(-2048)).toBe("−2.0 KiB");
    expect(ago(1000, 1010)).toBe("just now");
    expect(ago(0, 7200)).toBe("2 h ago");
  });
});

// An automated accessibility pass (axe-core) over each screen. jsdom has no layout, so axe
// cannot measure colour contrast here; the E2E screenshots are where contrast is looked at.
describe("accessibility", () => {
  let root: HTMLElement;
  beforeEach(() => (root = mountRoot()));
  afterEach(() => unmountRoot(root));

  it("has no violations on the welcome, a stack's overview, and its Backups tab", async () => {
    mockIPC((cmd) => (cmd === "list_stacks" ? [] : cmd === "settings_view" ? settingsView : null));
    await start(root);
    await settle();
    expect(await axeViolations(root)).toEqual([]);
    clearMocks();
    mockIPC((cmd) => {
      if (cmd === "list_stacks") return [result.stack];
      if (cmd === "get_startup") return 7;
      if (cmd === "inspect_stack") return result;
      if (cmd === "backup_overview") return overview;
      if (cmd === "schedule_view") return { ...noSchedule, schedule: { kind: "daily", at: "02:00" }, description: "Every day at 02:00", next_runs: [1795485600],
        alerts: [{ stack_id: 7, code: "stale", severity: "warning", summary: "chatbot has not been backed up for 3 days", body: "Check the drive." }] };
      if (cmd === "drill_overview") return noDrills;
      throw new Error(`unexpected ${cmd}`);
    });
    root.replaceChildren();
    await start(root);
    await settle();
    expect(root.querySelector("[data-testid=service-row]")).not.toBeNull();
    expect(await axeViolations(root)).toEqual([]);
    root.querySelector<HTMLButtonElement>("#tab-backups")!.click();
    await settle();
    expect(root.querySelector("[data-testid=schedule-form]")).not.toBeNull();
    expect(await axeViolations(root)).toEqual([]);
  });
});
