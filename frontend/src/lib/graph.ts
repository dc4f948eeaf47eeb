// The plan as a graph: one node per wave (a box) and per group in it, edges for the
// wave order and for dependencies, laid out left to right by dagre, and coloured by the
// progress records of an execution (step keys `w<n>.<group>`, `w<n>.before<i>`).

import dagre from "@dagrejs/dagre";
import type { PlanDocument, StepRecord } from "./types";

export type NodeStatus = "pending" | "running" | "succeeded" | "failed" | "waiting" | "skipped";

export interface GraphNode {
  id: string;
  label: string;
  kind: "wave" | "group" | "gate";
  parent?: string;
  status: NodeStatus;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface GraphEdge {
  id: string;
  source: string;
  target: string;
  label?: string;
  kind: "order" | "dependency";
}

export interface PlanGraph {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

const GROUP_W = 200;
const GROUP_H = 56;
const GATE_H = 40;
const PAD = 24;
const HEADER = 32;

export function statusOf(record: StepRecord | undefined): NodeStatus {
  switch (record?.status) {
    case undefined:
      return "pending";
    case "RUNNING":
      return "running";
    case "PENDING":
    case "WAITING":
    case "AWAITING_APPROVAL":
      return "waiting";
    case "SUCCEEDED":
    case "APPROVED":
      return "succeeded";
    case "SKIPPED":
      return "skipped";
    default:
      return "failed";
  }
}

/** The key the compiled machine records a group under. */
export function groupKey(wave: number, group: string): string {
  return `w${wave + 1}.${group}`;
}

/** A wave's status: failed if any child failed, running if any runs, done when all are. */
function waveStatus(children: NodeStatus[]): NodeStatus {
  if (children.some((s) => s === "failed")) return "failed";
  if (children.length > 0 && children.every((s) => s === "succeeded" || s === "skipped")) return "succeeded";
  if (children.some((s) => s === "running" || s === "succeeded" || s === "waiting")) return "running";
  return "pending";
}

export function buildGraph(plan: PlanDocument, steps: StepRecord[] = []): PlanGraph {
  const byKey = new Map(steps.map((s) => [s.key, s]));
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  const groupWave = new Map<string, number>();
  plan.waves.forEach((wave, w) => wave.groups.forEach((g) => groupWave.set(g.group, w)));

  // Lay out groups inside each wave with dagre, then stack the waves' boxes left to right.
  let x = 0;
  plan.waves.forEach((wave, w) => {
    const waveId = `w${w + 1}`;
    const g = new dagre.graphlib.Graph();
    g.setGraph({ rankdir: "TB", nodesep: 24, ranksep: 36, marginx: PAD, marginy: PAD });
    g.setDefaultEdgeLabel(() => ({}));
    const children: { id: string; label: string; kind: "group" | "gate"; h: number }[] = [];
    (wave.before ?? []).forEach((step, i) => {
      children.push({ id: `${waveId}.before${i + 1}`, label: step.name ?? step.type, kind: "gate", h: GATE_H });
    });
    wave.groups.forEach((group) => {
      children.push({ id: groupKey(w, group.group), label: group.group, kind: "group", h: GROUP_H });
    });
    children.forEach((c) => g.setNode(c.id, { width: GROUP_W, height: c.h }));
    const gates = children.filter((c) => c.kind === "gate");
    // Gates before a wave come before every group in it.
    gates.forEach((gate, i) => {
      const next = gates[i + 1];
      if (next) g.setEdge(gate.id, next.id);
    });
    const lastGate = gates[gates.length - 1];
    wave.groups.forEach((group) => {
      const id = groupKey(w, group.group);
      if (lastGate) g.setEdge(lastGate.id, id);
      for (const dep of group.dependsOn ?? []) {
        if (dep.group && groupWave.get(dep.group) === w) g.setEdge(groupKey(w, dep.group), id);
      }
    });
    dagre.layout(g);
    const info = g.graph();
    const width = Math.max(info.width ?? GROUP_W + 2 * PAD, GROUP_W + 2 * PAD);
    const height = (info.height ?? GROUP_H + 2 * PAD) + HEADER;
    const statuses: NodeStatus[] = [];
    const childNodes: GraphNode[] = children.map((c) => {
      const pos = g.node(c.id);
      const status = statusOf(byKey.get(c.id));
      statuses.push(status);
      return {
        id: c.id,
        label: c.label,
        kind: c.kind,
        parent: waveId,
        status,
        x: pos.x - GROUP_W / 2,
        y: pos.y - c.h / 2 + HEADER,
        width: GROUP_W,
        height: c.h,
      };
    });
    nodes.push({ id: waveId, label: `Wave ${w + 1} · ${wave.name}`, kind: "wave", status: waveStatus(statuses), x, y: 0, width, height });
    nodes.push(...childNodes);
    if (w > 0) edges.push({ id: `order-${w}`, source: `w${w}`, target: waveId, kind: "order" });
    x += width + 80;
  });

  plan.waves.forEach((wave, w) =>
    wave.groups.forEach((group) =>
      (group.dependsOn ?? []).forEach((dep, i) => {
        if (!dep.group) return;
        const from = groupWave.get(dep.group);
        if (from === undefined) return;
        edges.push({
          id: `dep|${w}|${group.group}|${i}`,
          source: groupKey(from, dep.group),
          target: groupKey(w, group.group),
          label: dep.condition ?? "running",
          kind: "dependency",
        });
      }),
    ),
  );
  return { nodes, edges };
}
