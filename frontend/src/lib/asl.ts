// The compiled state machine as a graph, like the Step Functions console draws it: one
// node per state, edges for Next, Choice rules, Default and Catch. Parallel and Map
// states are drawn as one node (their branches are the plan's waves and groups, which
// the plan graph shows).

import dagre from "@dagrejs/dagre";

interface AslState {
  Type: string;
  Next?: string;
  End?: boolean;
  Default?: string;
  Choices?: { Next: string }[];
  Catch?: { Next: string; ErrorEquals: string[] }[];
  Branches?: unknown[];
}

export interface AslNode {
  id: string;
  type: string;
  detail?: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface AslEdge {
  id: string;
  source: string;
  target: string;
  kind: "next" | "choice" | "default" | "catch";
}

const W = 220;
const H = 44;

export function buildAslGraph(definition: { StartAt: string; States: Record<string, AslState> }): { nodes: AslNode[]; edges: AslEdge[] } {
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: "TB", nodesep: 30, ranksep: 40 });
  g.setDefaultEdgeLabel(() => ({}));
  const edges: AslEdge[] = [];
  const states = definition.States;
  for (const [name, state] of Object.entries(states)) {
    g.setNode(name, { width: W, height: H });
    const add = (target: string | undefined, kind: AslEdge["kind"], i = 0) => {
      if (!target || !(target in states)) return;
      const id = `${kind}:${name}->${target}:${i}`;
      edges.push({ id, source: name, target, kind });
      g.setEdge(name, target, {}, id);
    };
    add(state.Next, "next");
    state.Choices?.forEach((c, i) => add(c.Next, "choice", i));
    add(state.Default, "default");
    state.Catch?.forEach((c, i) => add(c.Next, "catch", i));
  }
  dagre.layout(g);
  const nodes = Object.entries(states).map(([name, state]) => {
    const pos = g.node(name);
    return {
      id: name,
      type: state.Type,
      detail: state.Branches ? `${state.Branches.length} branch${state.Branches.length === 1 ? "" : "es"}` : undefined,
      x: pos.x - W / 2,
      y: pos.y - H / 2,
      width: W,
      height: H,
    };
  });
  return { nodes, edges };
}
