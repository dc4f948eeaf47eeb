import { describe, expect, it } from "vitest";
import { buildReport, formatSeconds, parseDuration } from "./report";
import { csv } from "./csv";
import type { Execution, PlanDocument } from "./types";

const plan: PlanDocument = {
  id: "p",
  name: "P",
  rto: "1h30m",
  waves: [
    { name: "Data", groups: [{ group: "db" }] },
    { name: "Apps", groups: [{ group: "app" }, { group: "batch" }] },
  ],
};

const execution: Execution = {
  id: "e",
  planId: "p",
  planName: "P",
  mode: "DRILL",
  status: "SUCCEEDED",
  startedAt: "2026-01-01T10:00:00Z",
  endedAt: "2026-01-01T11:00:30Z",
  steps: [
    { key: "w1.db", status: "SUCCEEDED", startedAt: "2026-01-01T10:00:05Z", endedAt: "2026-01-01T10:20:05Z" },
    { key: "w1.db.step1", status: "SUCCEEDED", startedAt: "2026-01-01T10:20:05Z", endedAt: "2026-01-01T10:25:05Z" },
    { key: "w2.app", status: "SUCCEEDED", startedAt: "2026-01-01T10:25:10Z", endedAt: "2026-01-01T10:55:10Z" },
  ],
};

describe("report", () => {
  it("parses RTO durations", () => {
    expect(parseDuration("1h30m")).toBe(5400);
    expect(parseDuration("45m")).toBe(2700);
    expect(parseDuration("90s")).toBe(90);
    expect(parseDuration("soon")).toBeNull();
    expect(parseDuration("1h soon")).toBeNull();
    expect(parseDuration(undefined)).toBeNull();
  });

  it("measures waves over all their records and groups over their own", () => {
    const r = buildReport(plan, execution);
    expect(r.waves[0]!.seconds).toBe(25 * 60);
    expect(r.waves[0]!.groups[0]).toMatchObject({ group: "db", seconds: 1200, status: "SUCCEEDED" });
    expect(r.waves[1]!.seconds).toBe(30 * 60);
    expect(r.waves[1]!.groups[1]).toMatchObject({ group: "batch", seconds: null, status: "NOT RUN" });
    expect(r.totalSeconds).toBe(3630);
    expect(r.rtoSeconds).toBe(5400);
    expect(r.withinRto).toBe(true);
    expect(buildReport({ ...plan, rto: "1h" }, execution).withinRto).toBe(false);
    expect(buildReport({ ...plan, rto: undefined }, execution).withinRto).toBeNull();
  });

  it("lists a wave's gates and each group's steps in order, with their errors", () => {
    const r = buildReport(plan, {
      ...execution,
      steps: [
        ...execution.steps!,
        { key: "w2.before1", kind: "approval", label: "Open apps", status: "APPROVED", startedAt: "2026-01-01T10:25:05Z", endedAt: "2026-01-01T10:25:09Z", approvalId: "a-1" } as never,
        { key: "w1.db.step2", kind: "healthCheck", label: "Port 5432", status: "FAILED", errorName: "Health.Failed", errorCause: "port closed" },
        { key: "w1.db.stepx", status: "SUCCEEDED" },
      ],
    });
    expect(r.waves[0]!.groups[0]!.steps.map((s) => [s.key, s.status, s.error])).toEqual([
      ["w1.db.step1", "SUCCEEDED", null],
      ["w1.db.step2", "FAILED", "Health.Failed: port closed"],
    ]);
    expect(r.waves[1]!.before).toEqual([
      { key: "w2.before1", label: "Open apps", kind: "approval", status: "APPROVED", seconds: 4, error: null, approvalId: "a-1" },
    ]);
    expect(r.waves[0]!.before).toEqual([]);
    expect(r.waves[1]!.after).toEqual([]);
  });

  it("takes the steps of a group's per-server units, and never a group named before", () => {
    const groups: PlanDocument = { id: "p", name: "P", waves: [{ name: "One", groups: [{ group: "before" }, { group: "db" }] }] };
    const r = buildReport(groups, {
      ...execution,
      steps: [
        { key: "w1.before", status: "SUCCEEDED" },
        { key: "w1.db", status: "SUCCEEDED" },
        { key: "w1.db.s-0a1b2c3d4e5f60002.step1", status: "FAILED", label: "Probe · db-02" },
        { key: "w1.db.step1", status: "SUCCEEDED", label: "Probe · db" },
      ],
    });
    expect(r.waves[0]!.before).toEqual([]);
    expect(r.waves[0]!.groups[0]).toMatchObject({ group: "before", status: "SUCCEEDED" });
    expect(r.waves[0]!.groups[1]!.steps.map((s) => s.label)).toEqual(["Probe · db", "Probe · db-02"]);
  });

  it("formats seconds for people", () => {
    expect(formatSeconds(3630)).toBe("1h 0m 30s");
    expect(formatSeconds(75)).toBe("1m 15s");
    expect(formatSeconds(null)).toBe("—");
  });

  it("quotes CSV cells that need it", () => {
    expect(csv([{ a: "x,y", b: 'say "hi"', c: null }], ["a", "b", "c"])).toBe('a,b,c\r\n"x,y","say ""hi""",\r\n');
  });
});
