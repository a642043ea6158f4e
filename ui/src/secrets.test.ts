import { describe, expect, it } from "vitest";
import { secretsPanel } from "./secrets";
import type { SecretsScreen } from "./lib/ipc";

describe("secrets findings", () => {
  it("shows the masked diff of a hard-coded secret's move and applies it only when confirmed", () => {
    const screen: SecretsScreen = {
      view: { files: [], undefined: [] },
      copies: [],
      findings: [
        {
          code: "hardcoded-secret", severity: "medium", file: "compose.yaml", line: null, variable: "API_TOKEN", service: "app",
          message: "app has API_TOKEN written into the compose file; move it to .env and write ${API_TOKEN} there instead.",
          fix: "move API_TOKEN into .env and write ${API_TOKEN} in compose.yaml",
          preview: "--- compose.yaml\n+++ compose.yaml\n-      API_TOKEN: ••••••••\n+      API_TOKEN: ${API_TOKEN}\n--- .env\n+++ .env\n+API_TOKEN=••••••••",
          remedy: null,
        },
      ],
    };
    const fixed: [string, string, string | null][] = [];
    const panel = secretsPanel(screen, false, {
      reveal: async () => null,
      save: () => {},
      generate: () => {},
      rotationNote: async () => null,
      fix: (code, file, variable) => fixed.push([code, file, variable]),
      restoreCopy: () => {},
    });
    document.body.append(panel);
    panel.querySelector<HTMLButtonElement>("button.fix")!.click();
    const diff = document.querySelector("[data-testid=fix-diff]")!;
    expect(diff.textContent).toContain("+      API_TOKEN: ${API_TOKEN}");
    expect(fixed).toEqual([]);
    const confirm = [...document.querySelectorAll<HTMLButtonElement>("#fix-dialog button")].find((b) => b.textContent === "Make the change")!;
    confirm.click();
    expect(fixed).toEqual([["hardcoded-secret", "compose.yaml", "API_TOKEN"]]);
    expect(document.getElementById("fix-dialog")).toBeNull();
  });

  it("says what to do about a broken quote in the desktop's words, never a command line", () => {
    const screen: SecretsScreen = {
      view: { files: [], undefined: [] },
      copies: [],
      findings: [
        {
          code: "env-quote-runs-on", severity: "high", file: ".env", line: 1, variable: "ADMIN_PASSWORD", service: null,
          message: "The quoted value of ADMIN_PASSWORD on line 1 of .env runs on to line 2, so compose never sees NEXT: its closing quote is missing or escaped by a backslash. Set the value again through Lifeboat.",
          fix: null,
          preview: null,
          remedy: { kind: "set-secret", file: ".env", key: "ADMIN_PASSWORD" },
        },
      ],
    };
    const none = async () => null;
    const panel = secretsPanel(screen, false, { reveal: none, save: () => {}, generate: () => {}, rotationNote: none, fix: () => {}, restoreCopy: () => {} });
    const item = panel.querySelector("[data-code=env-quote-runs-on]")!;
    expect(item.querySelector(".remedy")!.textContent).toContain("Set ADMIN_PASSWORD again with its Edit button");
    expect(item.textContent).not.toContain("lifeboat secrets");
  });
});
