// Identifiers: UUIDv7 everywhere (sortable by time, a single subject token).
import { v7 } from "uuid";

export const newTaskId = (): string => v7();
export const newRunId = (): string => v7();
export const nowIso = (): string => new Date().toISOString();
