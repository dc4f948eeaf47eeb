// A drill report's figures: duration per wave, per group and per step (gates before and
// after a wave, a group's post-launch steps) from the execution's progress records, the
// errors recorded, and the plan's measured recovery time against its RTO target.

import type { Execution, PlanDocument, StepRecord } from "./types";

/** `1h30m`, `45m`, `90s`, `2h` -> seconds; null when it is not a duration. */
export function parseDuration(text: string | undefined): number | null {
  if (!text) return null;
  const re = /(\d+)\s*(h|m|s)/g;
  let total = 0;
  let matched = "";
  for (const m of text.matchAll(re)) {
    const n = Number(m[1]);
    total += m[2] === "h" ? n * 3600 : m[2] === "m" ? n * 60 : n;
    matched += m[0];
  }
  return matched.replace(/\s/g, "") === text.replace(/\s/g, "") && matched ? total : null;
}

export function seconds(from?: string, to?: string): number | null {
  if (!from || !to) return null;
  const s = (Date.parse(to) - Date.parse(from)) / 1000;
  return Number.isFinite(s) && s >= 0 ? s : null;
}

export function formatSeconds(s: number | null): string {
  if (s === null) return "—";
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = Math.round(s % 60);
  return h > 0 ? `${h}h ${m}m ${r}s` : m > 0 ? `${m}m ${r}s` : `${r}s`;
}

/** A step, a gate before/after a wave, or a group's post-launch step. */
export interface StepLine {
  key: string;
  label: string;
  kind: string;
  status: string;
  seconds: number | null;
  error: string | null;
  approvalId: string | null;
}

export interface GroupLine {
  key: string;
  group: string;
  status: string;
  seconds: number | null;
  error: string | null;
  steps: StepLine[];
}

export interface WaveLine {
  wave: string;
  seconds: number | null;
  before: StepLine[];
  groups: GroupLine[];
  after: StepLine[];
}

function error(r: StepRecord | undefined): string | null {
  return r?.errorName ? `${r.errorName}: ${r.errorCause ?? ""}`.trim() : null;
}

function stepLine(r: StepRecord): StepLine {
  return {
    key: r.key,
    label: r.label ?? r.key,
    kind: r.kind ?? "step",
    status: r.status,
    seconds: seconds(r.startedAt, r.endedAt),
    error: error(r),
    approvalId: (r as { approvalId?: string }).approvalId ?? null,
  };
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Records keyed `<prefix><n>` (`w1.before1`, `w1.db.step2`), in order. `units` also takes
 * the steps of a group's per-server units (`w1.db.s-0a1b….step1`), after the group's own. */
function numbered(records: StepRecord[], prefix: string, units = false): StepLine[] {
  const [head, word] = [prefix.slice(0, prefix.lastIndexOf(".")), prefix.slice(prefix.lastIndexOf(".") + 1)];
  const pattern = new RegExp(`^${escape(head)}${units ? "(\\.s-[0-9a-z]+)?" : ""}\\.${escape(word)}(\\d+)$`);
  return records
    .map((r) => ({ r, m: pattern.exec(r.key) }))
    .filter((x): x is { r: StepRecord; m: RegExpExecArray } => x.m !== null)
    .sort((a, b) => (a.m[1] ?? "").localeCompare(b.m[1] ?? "") || Number(a.m[2]) - Number(b.m[2]))
    .map(({ r }) => stepLine(r));
}

export interface Report {
  waves: WaveLine[];
  totalSeconds: number | null;
  rtoSeconds: number | null;
  /** True when measured within the RTO; null when either is unknown. */
  withinRto: boolean | null;
}

export function buildReport(plan: PlanDocument, execution: Execution): Report {
  const byKey = new Map<string, StepRecord>((execution.steps ?? []).map((s) => [s.key, s]));
  const waves = plan.waves.map((wave, w) => {
    const prefix = `w${w + 1}.`;
    const records = (execution.steps ?? []).filter((s) => s.key.startsWith(prefix));
    const starts = records.map((r) => r.startedAt).filter((t): t is string => !!t).sort();
    const ends = records.map((r) => r.endedAt).filter((t): t is string => !!t).sort();
    const groups = wave.groups.map((g) => {
      const key = `${prefix}${g.group}`;
      const r = byKey.get(key);
      return {
        key,
        group: g.group,
        status: r?.adopted ? `${r.status} (adopted)` : (r?.status ?? "NOT RUN"),
        seconds: seconds(r?.startedAt, r?.endedAt),
        error: error(r),
        steps: numbered(records, `${key}.step`, true),
      };
    });
    return {
      wave: `Wave ${w + 1} · ${wave.name}`,
      seconds: seconds(starts[0], ends[ends.length - 1]),
      before: numbered(records, `${prefix}before`),
      groups,
      after: numbered(records, `${prefix}after`),
    };
  });
  const totalSeconds = seconds(execution.startedAt, execution.endedAt);
  const rtoSeconds = parseDuration(plan.rto);
  const withinRto = totalSeconds === null || rtoSeconds === null ? null : totalSeconds <= rtoSeconds;
  return { waves, totalSeconds, rtoSeconds, withinRto };
}
