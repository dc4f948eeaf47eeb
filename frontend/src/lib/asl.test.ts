import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildAslGraph } from "./asl";

const shop = JSON.parse(readFileSync(new URL("../../../statemachines/shop-dr.asl.json", import.meta.url), "utf8"));

describe("buildAslGraph", () => {
  it("draws the top-level states of a compiled plan with every transition", () => {
    const g = buildAslGraph(shop);
    const ids = g.nodes.map((n) => n.id);
    expect(ids).toContain("Read input");
    expect(ids).toContain("Run plan");
    expect(ids).toContain("Clean up drill");
    expect(g.nodes.find((n) => n.id === "Run plan")).toMatchObject({ type: "Parallel", detail: "1 branch" });
    const has = (s: string, t: string, kind: string) => g.edges.some((e) => e.source === s && e.target === t && e.kind === kind);
    expect(has("Read input", "Check input", "next")).toBe(true);
    expect(has("Check input", "Drill mode", "choice")).toBe(true);
    expect(has("Check input", "Invalid input", "default")).toBe(true);
    expect(has("Run plan", "Mark plan failed", "catch")).toBe(true);
    // Every edge joins drawn states; the start state is above what follows it.
    for (const e of g.edges) {
      expect(ids).toContain(e.source);
      expect(ids).toContain(e.target);
    }
    const y = (id: string) => g.nodes.find((n) => n.id === id)!.y;
    expect(y("Read input")).toBeLessThan(y("Run plan"));
  });
});
