// The Settings screen: default destination, notifications, start at login, theme, logs and
// the about box with the licences of the bundled third-party code. Every change is saved at
// once and takes effect without a restart. Pure view code: app.ts owns the calls.
import type { Levels, SettingsView, Theme } from "./lib/ipc";
import { h } from "./lib/dom";
import { levelsBox } from "./schedule";
import licences from "./generated/licences.json";

export interface SettingsActions {
  chooseDefaultDestination(clear: boolean): void;
  levels(levels: Levels): void;
  startAtLogin(enabled: boolean): void;
  theme(theme: Theme): void;
  openLogs(): void;
}

interface Licence {
  name: string;
  version: string;
  licence: string;
  url: string;
  from: string;
}

/** Applies a theme to the page: `system` follows the desktop, and keeps following it. */
export function applyTheme(theme: Theme): void {
  const media = typeof window.matchMedia === "function" ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  const set = () => {
    const dark = theme === "dark" || (theme === "system" && !!media?.matches);
    document.documentElement.dataset.theme = dark ? "dark" : "light";
  };
  set();
  if (media) media.onchange = theme === "system" ? set : null;
}

export function settingsPage(v: SettingsView | undefined, actions: SettingsActions): HTMLElement {
  if (!v) return h("section", { class: "panel" }, h("h1", {}, "Settings"), h("p", { class: "muted" }, "Loading…"));
  const dest = v.settings.default_destination;
  const themes: [Theme, string][] = [
    ["system", "Same as the desktop"],
    ["light", "Light"],
    ["dark", "Dark"],
  ];
  const list = licences as Licence[];
  const byLicence = new Map<string, number>();
  for (const l of list) byLicence.set(l.licence, (byLicence.get(l.licence) ?? 0) + 1);
  return h(
    "div",
    { class: "settings-page", "data-testid": "settings" },
    h("header", { class: "page-head" }, h("h1", {}, "Settings")),
    h(
      "section",
      { class: "panel", "aria-labelledby": "set-dest" },
      h("h2", { id: "set-dest" }, "Default destination"),
      h("p", { class: "muted" }, "New stacks back up to this folder unless you choose another one for them. Stacks you already have keep theirs."),
      h("p", { "data-testid": "default-destination" }, dest ? h("span", { class: "path" }, dest) : h("span", { class: "muted" }, "None: each stack asks.")),
      h(
        "div",
        { class: "actions" },
        h("button", { onclick: () => actions.chooseDefaultDestination(false) }, dest ? "Choose another folder…" : "Choose folder…"),
        dest ? h("button", { class: "quiet", onclick: () => actions.chooseDefaultDestination(true) }, "Forget it") : null,
      ),
    ),
    h(
      "section",
      { class: "panel", "aria-labelledby": "set-notify" },
      h("h2", { id: "set-notify" }, "Notifications"),
      levelsBox(v.levels, (l) => actions.levels(l)),
    ),
    h(
      "section",
      { class: "panel", "aria-labelledby": "set-start" },
      h("h2", { id: "set-start" }, "Start at login"),
      h(
        "label",
        { class: "check block" },
        h("input", {
          type: "checkbox",
          name: "start-at-login",
          checked: v.start_at_login,
          onchange: (ev: Event) => actions.startAtLogin((ev.target as HTMLInputElement).checked),
        }),
        "Start Lifeboat in the tray when I log in, so scheduled backups run",
      ),
    ),
    h(
      "section",
      { class: "panel", "aria-labelledby": "set-theme" },
      h("h2", { id: "set-theme" }, "Appearance"),
      h(
        "fieldset",
        { class: "levels" },
        h("legend", {}, "Theme"),
        themes.map(([t, label]) =>
          h(
            "label",
            { class: "check block" },
            h("input", { type: "radio", name: "theme", value: t, checked: v.settings.theme === t, onchange: () => actions.theme(t) }),
            label,
          ),
        ),
      ),
    ),
    h(
      "section",
      { class: "panel", "aria-labelledby": "set-logs" },
      h("h2", { id: "set-logs" }, "Logs"),
      h("p", { class: "muted" }, "What Lifeboat did and why something failed, for you or for a bug report. Logs never hold the values of your secrets."),
      h("p", { class: "path", "data-testid": "log-dir" }, v.log_dir),
      h("button", { onclick: () => actions.openLogs() }, "Open logs"),
    ),
    h(
      "section",
      { class: "panel", "aria-labelledby": "set-about" },
      h("h2", { id: "set-about" }, "About"),
      h("p", { "data-testid": "about-version" }, `Lifeboat ${v.version}. Free software under the MIT or Apache-2.0 licence.`),
      h(
        "p",
        { class: "muted" },
        `It is built with ${list.length} open-source packages: ` +
          [...byLicence.entries()]
            .sort((a, b) => b[1] - a[1])
            .slice(0, 4)
            .map(([l, n]) => `${n} under ${l}`)
            .join(", ") +
          ", and others.",
      ),
      h(
        "details",
        { class: "settings-box" },
        h("summary", {}, "Licences of the bundled packages"),
        h(
          "table",
          { class: "licences", "aria-label": "Bundled packages and their licences", "data-testid": "licences" },
          h("thead", {}, h("tr", {}, h("th", {}, "Package"), h("th", {}, "Version"), h("th", {}, "Licence"), h("th", {}, "From"))),
          h(
            "tbody",
            {},
            list.map((l) => h("tr", {}, h("td", {}, l.name), h("td", {}, l.version), h("td", {}, l.licence), h("td", {}, l.from))),
          ),
        ),
      ),
    ),
  );
}
