import { describe, expect, it } from "vitest";
import { stepTree } from "./steps";

describe("stepTree", () => {
  it("orders waves, gates before groups, groups by start, each followed by its steps", () => {
    const rows = stepTree([
      { key: "w2.web", status: "RUNNING", startedAt: "2026-01-01T10:05:00Z" },
      { key: "w1.db.step1", status: "SUCCEEDED" },
      { key: "w2.app", status: "SUCCEEDED", startedAt: "2026-01-01T10:04:00Z" },
      { key: "w1.db", status: "SUCCEEDED", startedAt: "2026-01-01T10:00:00Z" },
      { key: "w2.before1", status: "APPROVED" },
      { key: "w2.app.step2", status: "SUCCEEDED" },
      { key: "w2.app.step1", status: "SUCCEEDED" },
      { key: "w10.last", status: "PENDING" },
    ]);
    expect(rows.map((r) => `${"  ".repeat(r.depth)}${r.key}`)).toEqual([
      "w1.db",
      "  w1.db.step1",
      "w2.before1",
      "w2.app",
      "  w2.app.step1",
      "  w2.app.step2",
      "w2.web",
      "w10.last",
    ]);
  });
});
