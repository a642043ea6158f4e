// The stack's overview: what it keeps on disk, per service and mount, and what is at risk.
// Pure view code: app.ts owns the state and the calls.

import type { InspectResult, MountReport, ServiceReport, Warning } from "./lib/ipc";
import type * as ipc from "./lib/ipc";
import { ago, bytes, count, growth } from "./lib/format";
import { h, sparkline } from "./lib/dom";
import { remedyText } from "./lib/remedy";

export function inspectionView(r: InspectResult): Node[] {
  const i = r.inspection;
  const maxBytes = Math.max(1, ...i.services.map((s) => s.bytes));
  return [
    h(
      "section",
      { class: "cards" },
      card("Data", bytes(i.total_bytes), `${count(i.total_files)} files`),
      card(
        "Growth",
        growth(i.previous_inspected_at === null ? null : i.services.reduce((a, s) => a + (s.growth_bytes ?? 0), 0)),
        i.previous_inspected_at === null ? "measured from now on" : `since ${ago(i.previous_inspected_at)}`,
      ),
      card("Free on its disk", i.free_bytes === null ? "unknown" : bytes(i.free_bytes), ""),
      card("Docker", i.docker.reachable ? "connected" : dockerState(i.docker.problem), i.docker.reachable ? "" : "container states unknown; see the warning"),
    ),
    warningsView(i.warnings),
    h(
      "section",
      { class: "panel" },
      h("h2", {}, "Services"),
      h(
        "table",
        { class: "services", "aria-label": "Services" },
        h(
          "thead",
          {},
          h("tr", {}, h("th", {}, "Service"), h("th", {}, "Kind"), h("th", {}, "State"), h("th", { class: "size-col" }, "Size"), h("th", {}, "Trend")),
        ),
        h("tbody", {}, i.services.flatMap((s) => serviceRows(s, maxBytes, r.history[s.name] ?? []))),
      ),
    ),
    h(
      "section",
      { class: "panel" },
      h("h2", {}, "Largest files"),
      i.largest_files.length === 0
        ? h("p", { class: "muted" }, "No files found in the stack's data.")
        : h(
            "ol",
            { class: "largest" },
            i.largest_files.map((f) =>
              h(
                "li",
                {},
                h("span", { class: "num" }, bytes(f.bytes)),
                h("span", { class: "path" }, relative(f.path, i.stack.dir)),
                f.service ? h("span", { class: "tag" }, f.service) : null,
              ),
            ),
          ),
    ),
    h("p", { class: "muted foot" }, `Inspected ${ago(i.inspected_at)} in ${i.duration_ms} ms · ${i.stack.compose_files.map((f) => relative(f, i.stack.dir)).join(", ")}`),
  ];
}

function dockerState(p: ipc.DockerProblem | null): string {
  switch (p) {
    case "not-installed":
      return "not installed";
    case "not-running":
      return "not running";
    case "no-permission":
      return "no permission";
    default:
      return "not reachable";
  }
}

function card(label: string, value: string, note: string): HTMLElement {
  return h("div", { class: "card" }, h("span", { class: "label" }, label), h("span", { class: "value" }, value), h("span", { class: "note" }, note));
}

function warningsView(ws: Warning[]): HTMLElement {
  if (ws.length === 0) {
    return h("section", { class: "panel ok" }, h("h2", {}, "Nothing at risk found"), h("p", {}, "No warnings for this stack."));
  }
  return h(
    "section",
    { class: "panel" },
    h("h2", {}, `${ws.length} thing${ws.length === 1 ? "" : "s"} to look at`),
    h(
      "ul",
      { class: "warnings" },
      ws.map((w) =>
        h(
          "li",
          { class: `warning w-${w.code}`, "data-code": w.code },
          w.service ? h("span", { class: "tag" }, w.service) : null,
          w.message,
          w.remedy ? h("span", { class: "remedy" }, ` ${remedyText(w.remedy)}`) : null,
        ),
      ),
    ),
  );
}

function serviceRows(s: ServiceReport, maxBytes: number, history: { bytes: number }[]): HTMLElement[] {
  const bar = h("div", { class: "size-bar" });
  bar.style.width = `${Math.max(s.bytes > 0 ? 2 : 0, (s.bytes / maxBytes) * 100)}%`;
  const state = s.health ? `${s.state} (${s.health})` : s.state;
  const row = h(
    "tr",
    { class: "service", "data-testid": "service-row", "data-service": s.name },
    h(
      "td",
      {},
      h("strong", {}, s.name),
      s.profiles.length ? h("span", { class: "tag" }, `profile ${s.profiles.join(", ")}`) : null,
      h("div", { class: "muted small" }, s.image ?? "built locally"),
    ),
    h("td", {}, h("span", { class: `kind k-${s.kind}`, title: s.kind_reason }, s.kind)),
    h("td", {}, h("span", { class: `state s-${s.state.replace(/[^a-z]/g, "-")}` }, state)),
    h(
      "td",
      { class: "size-col" },
      h("div", { class: "size-track" }, bar),
      h("span", { class: "num" }, bytes(s.bytes)),
      h("span", { class: "muted small" }, ` · ${count(s.files)} file${s.files === 1 ? "" : "s"} · ${growth(s.growth_bytes)}`),
    ),
    h("td", {}, sparkline(history.map((p) => p.bytes))),
  );
  const mounts = h(
    "tr",
    { class: "mounts" },
    h("td", { colspan: 5 }, s.mounts.length === 0 ? h("span", { class: "muted small" }, "No mounts: nothing of this service persists.") : h("ul", {}, s.mounts.map(mountItem))),
  );
  return [row, mounts];
}

function mountItem(m: MountReport): HTMLElement {
  const source = m.host_path ?? m.volume_name ?? m.source ?? "anonymous volume";
  const size =
    m.system ? "system path, not backed up" : m.measured_by === "none" ? (m.exists ? "not measured" : m.type === "tmpfs" ? "memory only" : "not found") : bytes(m.bytes);
  return h(
    "li",
    {},
    h("span", { class: `mtype t-${m.type}` }, m.type),
    h("code", {}, m.target),
    " ← ",
    h("span", { class: "path" }, source),
    m.read_only ? h("span", { class: "tag" }, "read-only") : null,
    h("span", { class: "muted small" }, ` ${size}`),
  );
}

function relative(path: string, dir: string): string {
  return path.startsWith(dir + "/") ? path.slice(dir.length + 1) : path;
}
