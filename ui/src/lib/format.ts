// Numbers and times the way people read them.

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

export function bytes(n: number): string {
  if (!Number.isFinite(n)) return "–";
  let v = Math.abs(n);
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  const s = u === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${UNITS[u]}`;
  return n < 0 ? `-${s}` : s;
}

export function growth(delta: number | null): string {
  if (delta === null) return "first inspection";
  if (delta === 0) return "no change";
  return delta > 0 ? `+${bytes(delta)}` : `−${bytes(-delta)}`;
}

export function count(n: number): string {
  return n.toLocaleString("en-US");
}

/** "just now", "5 min ago", "3 h ago", "2 days ago". */
export function ago(unixSeconds: number, now: number = Date.now() / 1000): string {
  const s = Math.max(0, Math.round(now - unixSeconds));
  if (s < 45) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  const d = Math.round(s / 86400);
  return d === 1 ? "yesterday" : `${d} days ago`;
}

/** Rate and time left, for progress lines. */
export function rate(bytesDone: number, seconds: number): string {
  if (seconds <= 0) return "";
  return `${bytes(bytesDone / seconds)}/s`;
}

/** "about 12 s left", "about 3 min left"; empty when unknown. */
export function eta(done: number, total: number | null, seconds: number): string {
  if (total === null || done <= 0 || seconds < 1 || done >= total) return "";
  const left = ((total - done) / done) * seconds;
  if (left < 60) return `about ${Math.max(1, Math.round(left))} s left`;
  if (left < 3600) return `about ${Math.round(left / 60)} min left`;
  return `about ${(left / 3600).toFixed(1)} h left`;
}

/** A duration in milliseconds: "850 ms", "4.2 s", "3 min 5 s". */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** Local date and time of a Unix time: "23 Nov 2026, 14:05". */
export function when(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toLocaleString("en-GB", {
    day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
  });
}
