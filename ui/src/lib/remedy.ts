// What the desktop tells a person to do about a warning or finding whose remedy the core
// names (the command line prints its own words for the same remedy).

import type { Remedy } from "./ipc/bindings/Remedy";

export function remedyText(r: Remedy): string {
  switch (r.kind) {
    case "export-recovery":
      return `Press "Back up now": Lifeboat asks for a recovery passphrase and saves the recovery file on ${r.destination}.`;
    case "include":
      return `The desktop app leaves the host's system folders out. To back ${r.path} up anyway, run \`lifeboat backup STACK_FOLDER --include ${r.path}\` once.`;
    case "set-secret":
      return r.key
        ? `Set ${r.key} again with its Edit button on this screen: Lifeboat quotes the value as compose reads it.`
        : `Fix the line in ${r.file}, then set any value with quotes or backslashes with its Edit button on this screen.`;
  }
}
