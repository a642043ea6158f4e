// The only place the UI reaches Rust. Every command is typed from the generated bindings;
// errors arrive as IpcError { code, message } and are turned into sentences in one place
// (lib/errors.ts).
import { Channel, invoke } from "@tauri-apps/api/core";
import type { InspectResult } from "./bindings/InspectResult";
import type { IpcError } from "./bindings/IpcError";
import type { JobEvent } from "./bindings/JobEvent";
import type { StackRecord } from "./bindings/StackRecord";

export type { InspectResult, IpcError, JobEvent, StackRecord };
export type { Inspection } from "./bindings/Inspection";
export type { ServiceReport } from "./bindings/ServiceReport";
export type { MountReport } from "./bindings/MountReport";
export type { Warning } from "./bindings/Warning";
export type { ErrorCode } from "./bindings/ErrorCode";
export type { SizePoint } from "./bindings/SizePoint";

export function isIpcError(e: unknown): e is IpcError {
  return typeof e === "object" && e !== null && "code" in e && "message" in e;
}

export const listStacks = (): Promise<StackRecord[]> => invoke("list_stacks");

/** Opens the system's folder dialog; `null` when the user closes it. */
export const addStack = (): Promise<StackRecord | null> => invoke("add_stack");

export const removeStack = (stackId: number): Promise<void> => invoke("remove_stack", { stackId });

export const getStartup = (): Promise<number | null> => invoke("get_startup");

export const cancelJob = (jobId: number): Promise<boolean> => invoke("cancel_job", { jobId });

export function inspectStack(stackId: number, onEvent: (e: JobEvent) => void): Promise<InspectResult> {
  const channel = new Channel<JobEvent>();
  channel.onmessage = onEvent;
  return invoke("inspect_stack", { stackId, onEvent: channel });
}
