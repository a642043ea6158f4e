// The one place where failures become what the user reads. Branch on codes, never on text.
import { isIpcError } from "./ipc";

export function describeError(e: unknown): { title: string; detail: string } {
  if (!isIpcError(e)) {
    return { title: "Something went wrong", detail: String(e) };
  }
  switch (e.code) {
    case "no_compose_file":
      return { title: "That folder has no compose file", detail: e.message };
    case "invalid_stack":
      return { title: "The compose file cannot be read", detail: e.message };
    case "unreadable":
      return { title: "A file could not be read", detail: e.message };
    case "unknown_stack":
      return { title: "This stack is no longer in Lifeboat", detail: e.message };
    case "cancelled":
      return { title: "Inspection cancelled", detail: "Nothing was changed. Inspect again when you are ready." };
    case "catalog":
      return { title: "Lifeboat's catalog failed", detail: e.message };
    case "internal":
      return { title: "Something went wrong", detail: e.message };
  }
}
