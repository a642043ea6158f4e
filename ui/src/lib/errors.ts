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
      return { title: "Cancelled", detail: e.message };
    case "catalog":
      return { title: "Lifeboat's catalog failed", detail: e.message };
    case "no_destination":
      return { title: "Choose where backups go", detail: e.message };
    case "destination_missing":
      return { title: "The backup drive is not there", detail: e.message };
    case "no_key":
      return { title: "No backup key yet", detail: e.message };
    case "keyring":
      return { title: "The system keyring cannot be used", detail: e.message };
    case "weak_passphrase":
      return { title: "Passphrase too short", detail: e.message };
    case "wrong_passphrase":
      return { title: "Wrong passphrase", detail: e.message };
    case "busy":
      return { title: "Another job is running on this stack", detail: e.message };
    case "backup_failed":
      return { title: "The backup failed", detail: e.message };
    case "restore_failed":
      return { title: "The restore did not happen", detail: e.message };
    case "outdated":
      return { title: "Things changed since the preview", detail: e.message };
    case "not_sent":
      return { title: "The notification was not sent", detail: e.message };
    case "bad_schedule":
      return { title: "That schedule cannot be used", detail: e.message };
    case "internal":
      return { title: "Something went wrong", detail: e.message };
  }
}
