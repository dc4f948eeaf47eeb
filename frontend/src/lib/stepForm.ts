// The step forms' logic, kept apart from the components so it is unit-tested: new steps
// by type, health-check kinds, SSM parameters as one value per line, reordering.

import type { Step } from "./types";

export type StepType = Step["type"];
export type CheckKind = "tcp" | "http" | "ec2Status" | "ssm";

export const STEP_TYPES: { type: StepType; label: string }[] = [
  { type: "ssm", label: "SSM document (script or runbook)" },
  { type: "healthCheck", label: "Health check" },
  { type: "wait", label: "Wait" },
  { type: "approval", label: "Approval" },
];

export function newStep(type: StepType): Step {
  switch (type) {
    case "wait":
      return { type, name: "Settle", duration: "2m" };
    case "approval":
      return { type, name: "Check the group", approvers: ["Approver"], timeout: "4h" };
    case "ssm":
      return { type, name: "Run command", document: "AWS-RunShellScript", parameters: { commands: ["echo ready"] }, timeout: "5m" };
    case "healthCheck":
      return { type, name: "Port open", check: newCheck("tcp"), timeout: "10m" };
  }
}

/** The health check's kind: `check` is `ec2Status`, or an object with one key. */
export function checkKind(check: unknown): CheckKind {
  if (check === "ec2Status") return "ec2Status";
  if (check && typeof check === "object") {
    const key = Object.keys(check)[0];
    if (key === "http" || key === "ssm" || key === "tcp") return key;
  }
  return "tcp";
}

export function newCheck(kind: CheckKind): unknown {
  switch (kind) {
    case "tcp":
      return { tcp: { port: 443 } };
    case "http":
      return { http: { port: 80, path: "/health", expectStatus: 200 } };
    case "ec2Status":
      return "ec2Status";
    case "ssm":
      return { ssm: { document: "DRS-Orchestrator-LinuxHealthCheck", parameters: {} } };
  }
}

/** One value per line; blank lines dropped (SSM parameter values are string lists). */
export function linesToValues(text: string): string[] {
  return text.split("\n").map((l) => l.trimEnd()).filter((l) => l.trim() !== "");
}

export function valuesToLines(values: unknown): string {
  return Array.isArray(values) ? values.map(String).join("\n") : "";
}

/** A port typed in a field: a whole number from 1 to 65535, else the text itself so the
 * API names it (the form never silently changes what was typed). */
export function portValue(text: string): number | string {
  const n = Number(text);
  return Number.isInteger(n) && n >= 1 && n <= 65535 && text.trim() !== "" ? n : text;
}

/** A copy of `list` with item `index` moved by `delta` places (clamped to the ends). */
export function move<T>(list: readonly T[], index: number, delta: number): T[] {
  const to = Math.max(0, Math.min(list.length - 1, index + delta));
  const next = [...list];
  const [item] = next.splice(index, 1);
  if (item !== undefined) next.splice(to, 0, item);
  return next;
}

/** A parameter row as typed: its name and its values' text, kept verbatim while editing. */
export interface ParameterRow {
  name: string;
  text: string;
}

export function toRows(params: Record<string, string[]>): ParameterRow[] {
  return Object.entries(params).map(([name, values]) => ({ name, text: valuesToLines(values) }));
}

/** The rows as SSM parameters, and the names typed twice (only the first of them is kept,
 * so typing a name that passes through another's never drops that one's values). */
export function fromRows(rows: ParameterRow[]): { params: Record<string, string[]>; duplicates: string[] } {
  const params: Record<string, string[]> = {};
  const duplicates: string[] = [];
  for (const row of rows) {
    if (row.name in params) duplicates.push(row.name);
    else params[row.name] = linesToValues(row.text);
  }
  return { params, duplicates };
}

/** Comma-separated names as a list; the text itself is kept as typed by the caller. */
export function commaList(text: string): string[] {
  return text.split(",").map((a) => a.trim()).filter(Boolean);
}
