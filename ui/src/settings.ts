// The Settings screen: default destination, notifications, start at login, theme, logs and
// the about box with the licences of the bundled third-party code. Every change is saved at
// once and takes effect without a restart. Pure view code: app.ts owns the calls.
import type { ChannelRow, Levels, SettingsView, Theme } from "./lib/ipc";
import { h } from "./lib/dom";
import { levelsBox } from "./schedule";
import licences from "./generated/licences.json";

export interface SettingsActions {
  chooseDefaultDestination(clear: boolean): void;
  levels(levels: Levels): void;
  startAtLogin(enabled: boolean): void;
  theme(theme: Theme): void;
  openLogs(): void;
  testChannel(name: string): void;
}

/** How a channel's last test went: on its way, sent, or the sentence saying what failed. */
export type ChannelTest = { state: "sending" } | { state: "sent"; at: Date } | { state: "failed"; error: string };

const KINDS: Record<string, string> = {
  ntfy: "ntfy",
  gotify: "Gotify",
  webhook: "Webhook",
  email: "Email",
  ping: "Health check",
};

function gets(c: ChannelRow): string {
  if (c.kind === "ping") return "a ping when each backup starts and ends";
  const what = c.level === "failures" ? "failures" : c.level === "warnings" ? "failures and warnings" : "everything, successes too";
  return c.stacks.length ? `${what} of ${c.stacks.join(", ")}` : what;
}

/** The channels beside desktop notifications, each with a Test button and its last result. */
export function channelsBox(channels: ChannelRow[], tests: Map<string, ChannelTest>, test: (name: string) => void): HTMLElement {
  const hint = h(
    "p",
    { class: "muted small" },
    "Add a channel with ",
    h("code", {}, "lifeboat notify add NAME --ntfy https://ntfy.sh/TOPIC"),
    " (or --gotify, --webhook, --smtp, --ping); its token or password goes to the keyring, never into Lifeboat's catalog.",
  );
  if (channels.length === 0) {
    return h(
      "div",
      { class: "channels", "data-testid": "channels" },
      h("h3", {}, "Phone, mail and monitoring"),
      h("p", { "data-testid": "channels-empty" }, "No channels yet: alerts show on this desktop only."),
      hint,
    );
  }
  return h(
    "div",
    { class: "channels", "data-testid": "channels" },
    h("h3", {}, "Phone, mail and monitoring"),
    h(
      "table",
      { class: "channel-list", "aria-label": "Notification channels" },
      h("thead", {}, h("tr", {}, h("th", {}, "Channel"), h("th", {}, "Goes to"), h("th", {}, "Gets"), h("th", {}, "Test"))),
      h(
        "tbody",
        {},
        channels.map((c) => {
          const t = tests.get(c.name);
          const result =
            t?.state === "sending"
              ? h("span", { class: "muted" }, "Sending…")
              : t?.state === "sent"
                ? h("span", { class: "ok-text" }, `Sent at ${t.at.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" })}`)
                : t?.state === "failed"
                  ? h("span", { class: "error-text", role: "alert" }, t.error)
                  : null;
          return h(
            "tr",
            { "data-testid": "channel-row", "data-channel": c.name },
            h("td", {}, h("strong", {}, c.name), h("br"), h("span", { class: "muted small" }, KINDS[c.kind] ?? c.kind)),
            h("td", {}, h("span", { class: "path" }, c.host), c.has_secret ? h("span", { class: "muted small" }, " · token stored") : null),
            h("td", {}, gets(c)),
            h(
              "td",
              { class: "channel-test" },
              h("button", { onclick: () => test(c.name), disabled: t?.state === "sending", "aria-label": `Send a test message to ${c.name}` }, "Test"),
              result ? h("div", { "data-testid": "channel-result" }, result) : null,
            ),
          );
        }),
      ),
    ),
    hint,
  );
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

export function settingsPage(v: SettingsView | undefined, actions: SettingsActions, tests: Map<string, ChannelTest> = new Map()): HTMLElement {
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
      channelsBox(v.channels, tests, (name) => actions.testChannel(name)),
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
