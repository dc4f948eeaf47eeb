import { Background, type Connection, Controls, type Edge, MarkerType, type Node, Position, ReactFlow } from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { useMemo } from "react";
import { buildGraph, type NodeStatus } from "../lib/graph";
import type { PlanDocument, StepRecord } from "../lib/types";

// Colours with at least 4.5:1 contrast for their text (axe).
const FILL: Record<NodeStatus, string> = {
  pending: "#ffffff",
  running: "#dbeafe",
  waiting: "#fef3c7",
  succeeded: "#dcfce7",
  failed: "#fee2e2",
  skipped: "#f3f4f6",
};
const BORDER: Record<NodeStatus, string> = {
  pending: "#6b7280",
  running: "#1d4ed8",
  waiting: "#b45309",
  succeeded: "#15803d",
  failed: "#b91c1c",
  skipped: "#6b7280",
};

interface Props {
  plan: PlanDocument;
  steps?: StepRecord[];
  height?: number;
  /** Editing: drawing an edge from one group to another adds a dependency. */
  onConnect?: (source: string, target: string) => void;
  /** Editing: deleting a dependency edge (select it, press Delete). */
  onDeleteDependency?: (edgeId: string) => void;
}

export function PlanGraph({ plan, steps, height = 420, onConnect, onDeleteDependency }: Props) {
  const editable = !!onConnect;
  const { nodes, edges, focus } = useMemo(() => {
    const g = buildGraph(plan, steps);
    const nodes: Node[] = g.nodes.map((n) => ({
      id: n.id,
      position: { x: n.x, y: n.y },
      parentId: n.parent,
      extent: n.parent ? ("parent" as const) : undefined,
      draggable: false,
      // Waves run left to right; groups inside a wave top to bottom.
      sourcePosition: n.kind === "wave" ? Position.Right : Position.Bottom,
      targetPosition: n.kind === "wave" ? Position.Left : Position.Top,
      selectable: false,
      connectable: editable && n.kind === "group",
      data: { label: n.kind === "wave" ? n.label : `${n.label} · ${n.status}` },
      ariaLabel: `${n.label}: ${n.status}`,
      style: {
        width: n.width,
        height: n.height,
        background: n.kind === "wave" ? "rgba(241,245,249,0.6)" : FILL[n.status],
        border: `2px ${n.kind === "gate" ? "dashed" : "solid"} ${BORDER[n.status]}`,
        color: "#111827",
        fontSize: 12,
        fontWeight: n.kind === "wave" ? 700 : 400,
        display: "flex",
        alignItems: n.kind === "wave" ? "flex-start" : "center",
        justifyContent: "center",
        paddingTop: n.kind === "wave" ? 6 : 0,
      },
      className: `node-${n.kind} status-${n.status}`,
    }));
    const edges: Edge[] = g.edges.map((e) => ({
      id: e.id,
      source: e.source,
      target: e.target,
      label: e.label,
      animated: false,
      deletable: editable && e.kind === "dependency",
      selectable: editable && e.kind === "dependency",
      markerEnd: { type: MarkerType.ArrowClosed },
      style: e.kind === "order" ? { strokeWidth: 3, stroke: "#475569" } : { stroke: "#1d4ed8" },
    }));
    // A live view opens on the waves at work; otherwise on the whole plan.
    const busy = g.nodes.filter((n) => n.kind !== "wave" && (n.status === "running" || n.status === "waiting"));
    const focus = [...new Set(busy.map((n) => n.parent ?? n.id))].map((id) => ({ id }));
    return { nodes, edges, focus };
  }, [plan, steps, editable]);
  return (
    <div style={{ height, border: "1px solid #d1d5db", borderRadius: 8 }} data-testid="plan-graph" className={editable ? "plan-graph editable" : "plan-graph"}>
      <ReactFlow
        nodes={nodes}
        edges={edges}
        fitView
        fitViewOptions={focus.length > 0 ? { nodes: focus, padding: 0.3 } : { padding: 0.1 }}
        minZoom={0.05}
        nodesConnectable={editable}
        onConnect={(c: Connection) => c.source && c.target && onConnect?.(c.source, c.target)}
        onEdgesDelete={(deleted) => deleted.forEach((e) => onDeleteDependency?.(e.id))}
        proOptions={{ hideAttribution: true }}
      >
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}
