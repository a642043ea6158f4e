import { describe, expect, it } from "vitest";
import { openDriveWizard } from "./drive";
import type { DriveInfo } from "./lib/ipc";

async function settle() {
  for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 0));
}

const locked: DriveInfo = { path: "/media/backup", has_recovery: true, state: "locked", stacks: [], parent: "/home/me" };
const open: DriveInfo = {
  ...locked,
  state: "open",
  stacks: [
    { name: "chatbot", snapshots: [
      { snapshot: "s2", stack: "chatbot", started: 1_795_400_000, duration_ms: 1, components: ["secrets", "service-db"], bytes_in: 2048, bytes_new: 10, bytes_stored: 10, bytes_frees: 0, warnings: 0, partial: false, damaged: null },
      { snapshot: "s1", stack: "chatbot", started: 1_795_300_000, duration_ms: 1, components: ["secrets", "service-db"], bytes_in: 1024, bytes_new: 1024, bytes_stored: 1024, bytes_frees: 0, warnings: 0, partial: false, damaged: null },
    ] },
    { name: "bot", snapshots: [{ snapshot: "b1", stack: "bot", started: 1_795_000_000, duration_ms: 1, components: ["secrets"], bytes_in: 10, bytes_new: 10, bytes_stored: 10, bytes_frees: 0, warnings: 0, partial: false, damaged: null }] },
  ],
};

describe("restore from a backup drive", () => {
  it("unlocks with the passphrase, restores the chosen stack and point in time, then opens it", async () => {
    const unlocks: string[] = [];
    const restores: [string, string][] = [];
    let opened: number | null = -1;
    openDriveWizard({
      drive: async () => locked,
      chooseDrive: async () => locked,
      unlock: async (p) => {
        unlocks.push(p);
        if (p !== "right passphrase") throw { code: "wrong_passphrase", message: "wrong passphrase: the recovery file does not open with it" };
        return open;
      },
      chooseTarget: async () => open,
      restore: async (stack, snapshot) => {
        restores.push([stack, snapshot]);
        return {
          report: { restore: "r", snapshot, stack, target: `/home/me/${stack}`, components: ["secrets"], files: 3, bytes: 10, services: [], next_steps: ["Start the stack: `cd /home/me/bot && docker compose up -d`."], duration_ms: 5, undo_folder: "" },
          stack: { id: 42, name: stack, dir: `/home/me/${stack}`, last_inspected: null, last_total_bytes: null, last_warnings: null },
        };
      },
      cancel: async () => true,
      closed: (id) => (opened = id),
    });
    await settle();
    const dialog = document.getElementById("drive-dialog")!;
    const pass = () => dialog.querySelector<HTMLInputElement>("#drive-pass")!;
    pass().value = "wrong one";
    dialog.querySelector("form")!.dispatchEvent(new Event("submit"));
    await settle();
    expect(dialog.querySelector("[data-testid=drive-error]")!.textContent).toContain("wrong passphrase");
    expect(pass().value).toBe("");
    pass().value = "right passphrase";
    dialog.querySelector("form")!.dispatchEvent(new Event("submit"));
    await settle();
    expect(unlocks).toEqual(["wrong one", "right passphrase"]);
    // The second stack.
    const bot = dialog.querySelector<HTMLInputElement>("input[name=drive-stack][value=bot]")!;
    bot.checked = true;
    bot.dispatchEvent(new Event("change"));
    expect(dialog.querySelector("[data-testid=drive-target]")!.textContent).toBe("/home/me/bot");
    dialog.querySelector<HTMLButtonElement>("[data-testid=drive-restore]")!.click();
    await settle();
    expect(restores).toEqual([["bot", "b1"]]);
    expect(dialog.querySelector("[data-testid=drive-done]")!.textContent).toContain("bot is back");
    dialog.querySelector<HTMLButtonElement>(".dialog-actions button.primary")!.click();
    expect(opened).toBe(42);
  });
});
