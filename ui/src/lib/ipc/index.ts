// The only place the UI reaches Rust. Every command is typed from the generated bindings;
// errors arrive as IpcError { code, message } and are turned into sentences in one place
// (lib/errors.ts).
import { Channel, invoke } from "@tauri-apps/api/core";
import type { InspectResult } from "./bindings/InspectResult";
import type { IpcError } from "./bindings/IpcError";
import type { JobEvent } from "./bindings/JobEvent";
import type { StackRecord } from "./bindings/StackRecord";
import type { BackupOverview } from "./bindings/BackupOverview";
import type { BackupChoices } from "./bindings/BackupChoices";
import type { BackupDone } from "./bindings/BackupDone";
import type { StackSettings } from "./bindings/StackSettings";

export type { InspectResult, IpcError, JobEvent, StackRecord, BackupOverview, BackupChoices, BackupDone, StackSettings };
export type { BackupRecord } from "./bindings/BackupRecord";
export type { SnapshotSpace } from "./bindings/SnapshotSpace";
export type { ServiceChoice } from "./bindings/ServiceChoice";
export type { Mode } from "./bindings/Mode";
export type { Keep } from "./bindings/Keep";
import type { SecretsScreen } from "./bindings/SecretsScreen";
export type { SecretsScreen };
export type { Finding } from "./bindings/Finding";
export type { Variable } from "./bindings/Variable";
export type { Inspection } from "./bindings/Inspection";
export type { ServiceReport } from "./bindings/ServiceReport";
export type { MountReport } from "./bindings/MountReport";
export type { Warning } from "./bindings/Warning";
export type { ErrorCode } from "./bindings/ErrorCode";
export type { SizePoint } from "./bindings/SizePoint";
import type { RestorePoints } from "./bindings/RestorePoints";
import type { RestoreRequest } from "./bindings/RestoreRequest";
import type { RestorePlan } from "./bindings/RestorePlan";
import type { RestoreReport } from "./bindings/RestoreReport";
import type { UndoReport } from "./bindings/UndoReport";
export type { RestorePoints, RestoreRequest, RestorePlan, RestoreReport, UndoReport };
export type { ComponentPlan } from "./bindings/ComponentPlan";
export type { SnapshotSummary } from "./bindings/SnapshotSummary";
import type { DriveInfo } from "./bindings/DriveInfo";
import type { DriveRestoreDone } from "./bindings/DriveRestoreDone";
export type { DriveInfo, DriveRestoreDone };
import type { DrillOverview } from "./bindings/DrillOverview";
import type { DrillReport } from "./bindings/DrillReport";
export type { DrillOverview, DrillReport };
export type { DrillRun } from "./bindings/DrillRun";
export type { DrillOutcome } from "./bindings/DrillOutcome";
export type { DatabaseCheck } from "./bindings/DatabaseCheck";

import type { ScheduleView } from "./bindings/ScheduleView";
import type { Schedule } from "./bindings/Schedule";
import type { Levels } from "./bindings/Levels";
import type { Pause } from "./bindings/Pause";
import type { TrayModel } from "./bindings/TrayModel";
export type { ScheduleView, Schedule, Levels, Pause, TrayModel };
export type { Alert } from "./bindings/Alert";
export type { TrayItem } from "./bindings/TrayItem";

export const scheduleView = (stackId: number): Promise<ScheduleView> => invoke("schedule_view", { stackId });

/** Sets (or with `null` removes) the stack's schedule; an invalid one is refused with a sentence. */
export const setSchedule = (stackId: number, schedule: Schedule | null): Promise<ScheduleView> =>
  invoke("set_schedule", { stackId, schedule });

export const setNotificationLevels = (levels: Levels): Promise<Levels> => invoke("set_notification_levels", { levels });

/** Pauses every schedule, or resumes them with `null`; returns until when (Unix seconds). */
export const pauseSchedules = (pause: Pause | null): Promise<number | null> => invoke("pause_schedules", { pause });

export const trayMenu = (): Promise<TrayModel> => invoke("tray_menu");

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

export const backupOverview = (stackId: number): Promise<BackupOverview> => invoke("backup_overview", { stackId });

/** Opens the system's folder dialog for the destination; `null` when the user closes it. */
export const chooseDestination = (stackId: number): Promise<BackupOverview | null> =>
  invoke("choose_destination", { stackId });

export const saveBackupSettings = (stackId: number, choices: BackupChoices): Promise<StackSettings> =>
  invoke("save_backup_settings", { stackId, choices });

/** Creates the key if needed and writes the recovery file; the passphrase is never sent back. */
export const setupKey = (stackId: number, passphrase: string): Promise<BackupOverview> =>
  invoke("setup_key", { stackId, passphrase });

export function startBackup(stackId: number, onEvent: (e: JobEvent) => void): Promise<BackupDone> {
  const channel = new Channel<JobEvent>();
  channel.onmessage = onEvent;
  return invoke("start_backup", { stackId, onEvent: channel });
}

export const secretsScreen = (stackId: number): Promise<SecretsScreen> => invoke("secrets_screen", { stackId });

/** The one call that returns a secret value: only when the user clicks Reveal. */
export const revealSecret = (stackId: number, file: string, key: string): Promise<string> =>
  invoke("reveal_secret", { stackId, file, key });

export const setSecret = (stackId: number, file: string, key: string, value: string): Promise<SecretsScreen> =>
  invoke("set_secret", { stackId, file, key, value });

export const generateSecret = (stackId: number, file: string, key: string): Promise<SecretsScreen> =>
  invoke("generate_secret", { stackId, file, key });

export const rotationNote = (stackId: number, file: string, key: string): Promise<string> =>
  invoke("rotation_note", { stackId, file, key });

export const restoreSecretCopy = (stackId: number, name: string): Promise<SecretsScreen> =>
  invoke("restore_secret_copy", { stackId, name });

export const fixFinding = (stackId: number, code: string, file: string, variable: string | null): Promise<SecretsScreen> =>
  invoke("fix_finding", { stackId, code, file, variable });

/** Checks the recovery passphrase against the destination's recovery file; nothing is shown. */
export const testPassphrase = (stackId: number, passphrase: string): Promise<BackupOverview> =>
  invoke("test_passphrase", { stackId, passphrase });

export const changePassphrase = (stackId: number, passphrase: string): Promise<BackupOverview> =>
  invoke("change_passphrase", { stackId, passphrase });

/** Writes the printable recovery kit into the destination; returns where. */
export const saveRecoveryKit = (stackId: number): Promise<string> => invoke("save_recovery_kit", { stackId });

export const restorePoints = (stackId: number): Promise<RestorePoints> => invoke("restore_points", { stackId });

/** Opens the system's folder dialog for "another folder"; `null` when the user closes it. */
export const chooseRestoreFolder = (stackId: number): Promise<string | null> => invoke("choose_restore_folder", { stackId });

export const planRestore = (stackId: number, request: RestoreRequest): Promise<RestorePlan> =>
  invoke("plan_restore", { stackId, request });

export function startRestore(stackId: number, request: RestoreRequest, onEvent: (e: JobEvent) => void): Promise<RestoreReport> {
  const channel = new Channel<JobEvent>();
  channel.onmessage = onEvent;
  return invoke("start_restore", { stackId, request, onEvent: channel });
}

export const undoRestore = (stackId: number): Promise<UndoReport> => invoke("undo_restore", { stackId });

/** Opens the last restore's folder in the system's file manager. */
export const openRestoredFolder = (stackId: number): Promise<void> => invoke("open_restored_folder", { stackId });

/** The backup drive of "Restore from a backup drive" (the default destination until one is chosen). */
export const backupDrive = (): Promise<DriveInfo> => invoke("backup_drive");

/** Opens the system's folder dialog for the drive. */
export const chooseBackupDrive = (): Promise<DriveInfo> => invoke("choose_backup_drive");

/** Opens the drive's recovery file; the passphrase is not sent back or kept. */
export const unlockBackupDrive = (passphrase: string): Promise<DriveInfo> => invoke("unlock_backup_drive", { passphrase });

/** Opens the system's folder dialog for where the restored stack's folder goes. */
export const chooseDriveTarget = (): Promise<DriveInfo> => invoke("choose_drive_target");

export function restoreFromDrive(stack: string, snapshot: string, onEvent: (e: JobEvent) => void): Promise<DriveRestoreDone> {
  const channel = new Channel<JobEvent>();
  channel.onmessage = onEvent;
  return invoke("restore_from_drive", { stack, snapshot, onEvent: channel });
}

import type { SettingsView } from "./bindings/SettingsView";
import type { Theme } from "./bindings/Theme";
export type { SettingsView, Theme };
export type { AppSettings } from "./bindings/AppSettings";
export type { DockerProblem } from "./bindings/DockerProblem";
export type { DockerStatus } from "./bindings/DockerStatus";

export const settingsView = (): Promise<SettingsView> => invoke("settings_view");

/** Picks the default destination with the system's folder dialog, or forgets it (`clear`). */
export const chooseDefaultDestination = (clear: boolean): Promise<SettingsView> => invoke("choose_default_destination", { clear });

export const setTheme = (theme: Theme): Promise<SettingsView> => invoke("set_theme", { theme });

export const openLogs = (): Promise<void> => invoke("open_logs");

export type { ChannelRow } from "./bindings/ChannelRow";
export type { ChannelLevel } from "./bindings/ChannelLevel";

/** Sends a test message through a notification channel; rejects with what failed. */
export const testChannel = (name: string): Promise<void> => invoke("test_channel", { name });

/** Whether Lifeboat starts at login, after setting it when `enabled` is given. */
export const startAtLogin = (enabled: boolean | null): Promise<boolean> => invoke("start_at_login", { enabled });

export const drillOverview = (stackId: number): Promise<DrillOverview> => invoke("drill_overview", { stackId });

/** Days between scheduled drills; 0 turns them off. */
export const setDrillInterval = (stackId: number, days: number): Promise<DrillOverview> => invoke("set_drill_interval", { stackId, days });

/** Restores the latest snapshot into a sandbox and checks it; never touches the stack. */
export function runDrill(stackId: number, onEvent: (e: JobEvent) => void): Promise<DrillReport> {
  const channel = new Channel<JobEvent>();
  channel.onmessage = onEvent;
  return invoke("run_drill", { stackId, onEvent: channel });
}
