import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildGraph, statusOf } from "./graph";
import type { PlanDocument } from "./types";

const plan: PlanDocument = {
  id: "shop-dr",
  name: "Shop DR",
  rto: "1h",
  waves: [
    { name: "Databases", groups: [{ group: "shop-db" }] },
    {
      name: "Application",
      groups: [
        { group: "shop-app", dependsOn: [{ group: "shop-db", condition: "healthy" }] },
        { group: "shop-reporting", criticality: "optional", dependsOn: [{ group: "shop-db", condition: "running" }] },
      ],
    },
    {
      name: "Web",
      before: [{ type: "approval", name: "Open the web tier" }],
      groups: [{ group: "shop-web", dependsOn: [{ group: "shop-app", condition: "running" }] }],
    },
  ],
};

describe("buildGraph", () => {
  it("has a box per wave, a node per group and gate, order and dependency edges", () => {
    const g = buildGraph(plan);
    expect(g.nodes.filter((n) => n.kind === "wave").map((n) => n.label)).toEqual([
      "Wave 1 · Databases",
      "Wave 2 · Application",
      "Wave 3 · Web",
    ]);
    expect(g.nodes.filter((n) => n.kind === "group").map((n) => n.id)).toEqual([
      "w1.shop-db",
      "w2.shop-app",
      "w2.shop-reporting",
      "w3.shop-web",
    ]);
    expect(g.nodes.find((n) => n.id === "w3.before1")).toMatchObject({ kind: "gate", parent: "w3", label: "Open the web tier" });
    expect(g.edges.filter((e) => e.kind === "order").map((e) => [e.source, e.target])).toEqual([
      ["w1", "w2"],
      ["w2", "w3"],
    ]);
    expect(g.edges.filter((e) => e.kind === "dependency").map((e) => `${e.source}->${e.target}:${e.label}`)).toEqual([
      "w1.shop-db->w2.shop-app:healthy",
      "w1.shop-db->w2.shop-reporting:running",
      "w2.shop-app->w3.shop-web:running",
    ]);
  });

  it("lays out waves left to right without overlap and children inside their wave", () => {
    const g = buildGraph(plan);
    const waves = g.nodes.filter((n) => n.kind === "wave");
    for (let i = 1; i < waves.length; i++) {
      const prev = waves[i - 1]!;
      expect(waves[i]!.x).toBeGreaterThanOrEqual(prev.x + prev.width);
    }
    for (const child of g.nodes.filter((n) => n.parent)) {
      const wave = waves.find((w) => w.id === child.parent)!;
      expect(child.x).toBeGreaterThanOrEqual(0);
      expect(child.x + child.width).toBeLessThanOrEqual(wave.width);
      expect(child.y + child.height).toBeLessThanOrEqual(wave.height);
    }
    // The gate sits above the group it guards.
    const gate = g.nodes.find((n) => n.id === "w3.before1")!;
    const web = g.nodes.find((n) => n.id === "w3.shop-web")!;
    expect(gate.y + gate.height).toBeLessThanOrEqual(web.y);
  });

  it("colours nodes and waves from the execution's progress records", () => {
    const g = buildGraph(plan, [
      { key: "w1.shop-db", status: "SUCCEEDED" },
      { key: "w2.shop-app", status: "RUNNING" },
      { key: "w2.shop-reporting", status: "FAILED" },
      { key: "w3.before1", status: "WAITING" },
    ]);
    const status = (id: string) => g.nodes.find((n) => n.id === id)!.status;
    expect(status("w1")).toBe("succeeded");
    expect(status("w1.shop-db")).toBe("succeeded");
    expect(status("w2.shop-app")).toBe("running");
    expect(status("w2")).toBe("failed");
    expect(status("w3.before1")).toBe("waiting");
    expect(status("w3.shop-web")).toBe("pending");
  });

  it("maps every record status", () => {
    expect(statusOf(undefined)).toBe("pending");
    expect(statusOf({ key: "k", status: "APPROVED" })).toBe("succeeded");
    expect(statusOf({ key: "k", status: "TIMED_OUT" })).toBe("failed");
    expect(statusOf({ key: "k", status: "REJECTED" })).toBe("failed");
    expect(statusOf({ key: "k", status: "AWAITING_APPROVAL" })).toBe("waiting");
  });

  it("shows red only for the failures among the statuses the compiled machines record", () => {
    // Every `:status` the checked-in machines write (aslgen's output), read from the files.
    const dir = join(__dirname, "../../../statemachines");
    const recorded = new Set<string>();
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".asl.json"))) {
      for (const m of readFileSync(join(dir, file), "utf8").matchAll(/":status":\s*\{\s*"S":\s*"([A-Z_]+)"/g)) recorded.add(m[1]!);
    }
    expect(recorded.size).toBeGreaterThanOrEqual(6);
    const shownFailed = [...recorded].filter((s) => statusOf({ key: "k", status: s }) === "failed").sort();
    expect(shownFailed).toEqual(["FAILED", "REJECTED", "TIMED_OUT"]);
  });

  it("lays out a 3,000-server plan's graph quickly enough to draw", () => {
    const waves = Array.from({ length: 30 }, (_, w) => ({
      name: `Wave ${w + 1}`,
      groups: Array.from({ length: 10 }, (_, g) => ({
        group: `g${w}-${g}`,
        dependsOn: w > 0 ? [{ group: `g${w - 1}-${g}`, condition: "running" as const }] : [],
      })),
    }));
    const started = performance.now();
    const g = buildGraph({ id: "big", name: "Big", waves });
    const ms = performance.now() - started;
    expect(g.nodes.length).toBe(330);
    console.log(`graph of 300 groups in 30 waves laid out in ${ms.toFixed(0)} ms`);
  });
});
