import { describe, expect, it, afterEach } from "vitest";
import { openRestoreWizard, type RestoreCalls } from "./restore";
import type { JobEvent, RestorePlan, RestorePoints, RestoreRequest } from "./lib/ipc";

const points: RestorePoints = {
  destination: "/media/backup",
  present: true,
  snapshots: [
    { snapshot: "20261123T020000.000Z-aa", stack: "chatbot", started: 1_795_400_000, duration_ms: 900, components: ["secrets", "service-db", "service-n8n"], bytes_in: 5_000_000, bytes_new: 20_000, bytes_stored: 20_000, bytes_frees: 0, warnings: 0, partial: false, damaged: null },
    { snapshot: "20261122T020000.000Z-bb", stack: "chatbot", started: 1_795_313_600, duration_ms: 900, components: ["secrets", "service-db", "service-n8n"], bytes_in: 4_900_000, bytes_new: 4_900_000, bytes_stored: 4_900_000, bytes_frees: 0, warnings: 1, partial: false, damaged: null },
  ],
  last_restore: null,
  other_folder: null,
};

function plan(req: RestoreRequest): RestorePlan {
  const all = [
    { name: "secrets", kind: "secrets" as const, service: null, action: "replace-files" as const, targets: ["/srv/chatbot/.env"], added: 0, changed: 1, removed: 0, unchanged: 1, bytes: 900, files: 2, paths: [] },
    { name: "service-db", kind: "database" as const, service: "db", action: "load-dump" as const, targets: [], added: 0, changed: 0, removed: 0, unchanged: 0, bytes: 4_000_000, files: 1, paths: [] },
    { name: "service-n8n", kind: "service" as const, service: "n8n", action: "replace-files" as const, targets: ["/srv/chatbot/data/n8n"], added: 2, changed: 1, removed: 1, unchanged: 3, bytes: 1_000_000, files: 6,
      paths: req.list_paths ? [{ path: "data/n8n/a", change: "added" }, { path: "data/n8n/old", change: "removed" }] : [] },
  ];
  const components = req.components.length ? all.filter((c) => req.components.includes(c.name)) : all;
  return {
    snapshot: req.snapshot, stack: "chatbot", snapshot_started: 1_795_400_000, target: "/srv/chatbot", original: !req.other_folder,
    components, services_to_stop: components.some((c) => c.name === "service-n8n") ? ["n8n"] : [],
    free_bytes_needed: 5_000_000, free_bytes_available: 10 ** 10, problems: [], notes: [],
  };
}

async function settle() {
  for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 0));
}

function click(label: string) {
  const b = [...document.querySelectorAll<HTMLButtonElement>("#restore-dialog button")].find((x) => x.textContent === label);
  if (!b) throw new Error(`no button ${label}: ${document.getElementById("restore-dialog")?.textContent}`);
  b.click();
}

describe("restore wizard", () => {
  afterEach(() => document.getElementById("restore-dialog")?.remove());

  it("walks from a point in time to a selective restore, shows the plan first, then undoes", async () => {
    const planned: RestoreRequest[] = [];
    const started: RestoreRequest[] = [];
    let closed: boolean | null = null;
    let undone = 0;
    const calls: RestoreCalls = {
      points: async () => points,
      chooseFolder: async () => null,
      plan: async (req) => {
        planned.push(req);
        return plan(req);
      },
      start: async (req, onEvent: (e: JobEvent) => void) => {
        started.push(req);
        onEvent({ event: "started", data: { job_id: 3 } });
        onEvent({ event: "estimate", data: { bytes: 1_000_000 } });
        onEvent({ event: "progress", data: { files: 6, bytes: 1_000_000 } });
        return { restore: "r1", snapshot: req.snapshot, stack: "chatbot", target: "/srv/chatbot", components: req.components, files: 6, bytes: 1_000_000,
          services: [{ service: "n8n", state: "running", health: null }], next_steps: [], duration_ms: 800, undo_folder: "/srv/chatbot/.lifeboat/restore/r1" };
      },
      cancel: async () => true,
      openFolder: async () => {},
      undo: async () => {
        undone++;
        return { restore: "r1", target: "/srv/chatbot", components: ["service-n8n"], services: [] };
      },
      closed: (changed) => (closed = changed),
    };
    openRestoreWizard("chatbot", calls);
    await settle();
    const dialog = document.getElementById("restore-dialog")!;
    expect(dialog.querySelectorAll("[data-testid=snapshot]").length).toBe(2);
    // The older point in time.
    const radios = dialog.querySelectorAll<HTMLInputElement>("input[name=snapshot]");
    expect(radios[0].checked).toBe(true);
    radios[1].click();
    radios[1].dispatchEvent(new Event("change"));
    click("Next");
    await settle();
    expect(planned[0]).toEqual({ snapshot: "20261122T020000.000Z-bb", components: [], other_folder: false, list_paths: false });
    // Only n8n's data.
    expect(dialog.textContent).toContain("db database");
    const everything = dialog.querySelector<HTMLInputElement>("#restore-everything")!;
    everything.click();
    everything.dispatchEvent(new Event("change"));
    const n8n = dialog.querySelector<HTMLInputElement>("input[value=service-n8n]")!;
    n8n.click();
    n8n.dispatchEvent(new Event("change"));
    click("Next");
    expect(dialog.textContent).toContain("Its own folder");
    click("Preview");
    await settle();
    expect(planned[1]).toEqual({ snapshot: "20261122T020000.000Z-bb", components: ["service-n8n"], other_folder: false, list_paths: true });
    expect(dialog.querySelectorAll("[data-testid=plan-component]").length).toBe(1);
    expect(dialog.textContent).toContain("2 added, 1 changed, 1 removed");
    expect(dialog.querySelector("[data-testid=plan-services]")!.textContent).toContain("n8n");
    expect(dialog.textContent).toContain("− data/n8n/old");
    expect(started.length).toBe(0);
    click("Restore");
    await settle();
    expect(started).toEqual([{ snapshot: "20261122T020000.000Z-bb", components: ["service-n8n"], other_folder: false, list_paths: false }]);
    expect(dialog.querySelector("[data-testid=restore-done]")!.textContent).toContain("6 files");
    click("Undo this restore");
    await settle();
    expect(undone).toBe(1);
    expect(dialog.querySelector("[data-testid=restore-undone]")!.textContent).toContain("back as before");
    click("Close");
    expect(closed).toBe(true);
    expect(document.getElementById("restore-dialog")).toBeNull();
  });

  it("says so when the backup drive is missing and a failed restore shows its sentence", async () => {
    openRestoreWizard("chatbot", {
      points: async () => ({ ...points, present: false }),
      chooseFolder: async () => null,
      plan: async (r) => plan(r),
      start: async () => Promise.reject({ code: "restore_failed", message: "service-n8n: the archive is damaged" }),
      cancel: async () => true,
      openFolder: async () => {},
      undo: async () => Promise.reject(new Error("no")),
      closed: () => {},
    });
    await settle();
    expect(document.getElementById("restore-dialog")!.textContent).toContain("Plug in the backup drive");
    document.getElementById("restore-dialog")!.remove();

    openRestoreWizard("chatbot", {
      points: async () => points,
      chooseFolder: async () => null,
      plan: async (r) => plan(r),
      start: async () => Promise.reject({ code: "restore_failed", message: "service-n8n: the archive is damaged (…); nothing was changed" }),
      cancel: async () => true,
      openFolder: async () => {},
      undo: async () => Promise.reject(new Error("no")),
      closed: () => {},
    });
    await settle();
    click("Next");
    await settle();
    click("Next");
    click("Preview");
    await settle();
    click("Restore");
    await settle();
    const dialog = document.getElementById("restore-dialog")!;
    expect(dialog.querySelector("[data-testid=restore-error]")!.textContent).toContain("nothing was changed");
    // Back on the preview, where the user can try again or go back.
    expect(dialog.querySelector("[data-testid=restore-confirm]")).not.toBeNull();
  });

  it("previews again by itself when things changed since the preview, and says why", async () => {
    const planned: RestoreRequest[] = [];
    let starts = 0;
    let servicesNow = ["n8n"];
    openRestoreWizard("chatbot", {
      points: async () => points,
      chooseFolder: async () => null,
      plan: async (r) => {
        planned.push(r);
        return { ...plan(r), services_to_stop: servicesNow };
      },
      start: async () => {
        starts++;
        servicesNow = ["n8n", "web"];
        return Promise.reject({ code: "outdated", message: "web started since the restore was previewed; nothing was changed: preview it again" });
      },
      cancel: async () => true,
      openFolder: async () => {},
      undo: async () => Promise.reject(new Error("no")),
      closed: () => {},
    });
    await settle();
    click("Next");
    await settle();
    click("Next");
    click("Preview");
    await settle();
    expect(planned.length).toBe(2);
    click("Restore");
    await settle();
    const dialog = document.getElementById("restore-dialog")!;
    expect(starts).toBe(1);
    // A third plan, asked for by the wizard itself, with the same choices as the preview.
    expect(planned.length).toBe(3);
    expect(planned[2]).toEqual(planned[1]);
    const error = dialog.querySelector("[data-testid=restore-error]")!.textContent!;
    expect(error).toContain("web started since the restore was previewed");
    expect(error).toContain("The preview below is new");
    expect(dialog.querySelector("[data-testid=plan-services]")!.textContent).toContain("web");
    expect(dialog.querySelector("[data-testid=restore-confirm]")).not.toBeNull();
  });
});
