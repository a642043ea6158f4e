import { describe, expect, it, beforeEach, afterEach } from "vitest";
import { mockIPC, clearMocks } from "@tauri-apps/api/mocks";
import { start } from "./app";
import { bytes, growth, ago } from "./lib/format";
import type { InspectResult } from "./lib/ipc";

const result: InspectResult = {
  stack: { id: 7, name: "chatbot", dir: "/srv/chatbot", last_inspected: 1000, last_total_bytes: 3072, last_warnings: 1 },
  history: { db: [{ at: 900, bytes: 1024 }, { at: 1000, bytes: 2048 }] },
  inspection: {
    stack: { name: "chatbot", dir: "/srv/chatbot", compose_files: ["/srv/chatbot/compose.yaml"] },
    inspected_at: 1000,
    duration_ms: 12,
    docker: { reachable: false, host: "unix:///var/run/docker.sock", message: "no engine" },
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
    warnings: [{ code: "secrets-file-readable", message: ".env holds secrets but <b>others</b> can read it", service: null, path: "/srv/chatbot/.env" }],
  },
};

async function settle() {
  for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 0));
}

describe("Stacks screen", () => {
  let root: HTMLElement;
  beforeEach(() => {
    root = document.createElement("div");
    document.body.append(root);
  });
  afterEach(() => {
    clearMocks();
    root.remove();
  });

  it("opens the startup stack and shows services, sizes, growth and warnings as text", async () => {
    const calls: string[] = [];
    mockIPC((cmd) => {
      calls.push(cmd);
      if (cmd === "list_stacks") return [result.stack];
      if (cmd === "get_startup") return 7;
      if (cmd === "inspect_stack") return result;
      throw new Error(`unexpected ${cmd}`);
    });
    await start(root);
    await settle();
    expect(calls).toContain("inspect_stack");
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
      throw new Error(`unexpected ${cmd}`);
    });
    await start(root);
    await settle();
    const alert = root.querySelector("[role=alert]");
    expect(alert?.textContent).toContain("That folder has no compose file");
    expect(alert?.textContent).toContain("no compose file in /srv/chatbot");
  });

  it("shows the welcome when the catalog is empty", async () => {
    mockIPC((cmd) => (cmd === "list_stacks" ? [] : null));
    await start(root);
    await settle();
    expect(root.querySelector(".welcome h1")?.textContent).toBe("Welcome to Lifeboat");
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
