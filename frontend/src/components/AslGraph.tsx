import { Background, Controls, type Edge, MarkerType, type Node, ReactFlow } from "@xyflow/react";
import { useMemo } from "react";
import { buildAslGraph } from "../lib/asl";

const COLOURS: Record<string, string> = { Task: "#dbeafe", Choice: "#fef3c7", Parallel: "#ede9fe", Map: "#ede9fe", Pass: "#f3f4f6", Wait: "#f3f4f6", Succeed: "#dcfce7", Fail: "#fee2e2" };

export function AslGraph({ definition }: { definition: unknown }) {
  const { nodes, edges } = useMemo(() => {
    const g = buildAslGraph(definition as Parameters<typeof buildAslGraph>[0]);
    const nodes: Node[] = g.nodes.map((n) => ({
      id: n.id,
      position: { x: n.x, y: n.y },
      draggable: false,
      selectable: false,
      connectable: false,
      data: { label: `${n.id}${n.detail ? ` (${n.detail})` : ""}` },
      style: { width: n.width, height: n.height, background: COLOURS[n.type] ?? "#ffffff", border: "1px solid #475569", color: "#111827", fontSize: 11 },
    }));
    const edges: Edge[] = g.edges.map((e) => ({
      id: e.id,
      source: e.source,
      target: e.target,
      markerEnd: { type: MarkerType.ArrowClosed },
      style: e.kind === "catch" ? { stroke: "#b91c1c", strokeDasharray: "4 3" } : { stroke: "#475569" },
    }));
    return { nodes, edges };
  }, [definition]);
  return (
    <div style={{ height: 520, border: "1px solid #d1d5db", borderRadius: 8 }} className="plan-graph" data-testid="asl-graph">
      <ReactFlow nodes={nodes} edges={edges} fitView nodesConnectable={false} proOptions={{ hideAttribution: true }}>
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}
