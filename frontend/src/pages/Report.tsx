import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Header from "@cloudscape-design/components/header";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Spinner from "@cloudscape-design/components/spinner";
import { useQueries, useQuery } from "@tanstack/react-query";
import { useParams } from "react-router-dom";
import { get } from "../api";
import { usePlanOfRun } from "../components/usePlanOfRun";
import { ErrorAlert, time } from "../components/common";
import { type StepLine, buildReport, formatSeconds } from "../lib/report";
import type { Approval, Execution } from "../lib/types";

const cell = { padding: "2px 8px 2px 0", verticalAlign: "top" } as const;

function StepRow({ step, depth }: { step: StepLine; depth: number }) {
  return (
    <tr>
      <td style={{ ...cell, paddingLeft: 24 * depth }}>
        {step.label} <Box variant="small" display="inline">({step.kind})</Box>
        {step.error && <div style={{ color: "#d91515" }}>{step.error}</div>}
      </td>
      <td style={cell}>{step.status}</td>
      <td style={{ ...cell, textAlign: "right" }}>{formatSeconds(step.seconds)}</td>
    </tr>
  );
}

/** A printable report for auditors: who ran which plan version, measured durations per wave,
 * group and step against the RTO, errors, and every approval with its decision. */
export function ReportPage() {
  const { id = "" } = useParams();
  const run = useQuery({ queryKey: ["execution", id], queryFn: () => get<Execution>(`/executions/${id}`) });
  const plan = usePlanOfRun(run.data);
  // The resolved server list lives apart from the run's record (the dashboard never reads it).
  const servers = useQuery({
    queryKey: ["execution-servers", id],
    queryFn: () => get<{ servers: string[] }>(`/executions/${id}/servers`),
    enabled: Boolean(run.data?.stateMachineVersionArn),
  });
  const report = run.data && plan.data ? buildReport(plan.data.plan, run.data) : null;
  const gates = report ? report.waves.flatMap((w) => [...w.before, ...w.groups.flatMap((g) => g.steps), ...w.after]).filter((s) => s.approvalId) : [];
  const approvals = useQueries({ queries: gates.map((g) => ({ queryKey: ["approval", g.approvalId], queryFn: () => get<Approval>(`/approvals/${g.approvalId}`) })) });
  if (run.isPending || plan.isPending) return <Spinner size="large" />;
  if (!run.data || !plan.data || !report) return <ErrorAlert error={run.error ?? plan.error} />;
  const e = run.data;
  const verdict = report.withinRto === null ? "not measurable" : report.withinRto ? "within the RTO" : "over the RTO";
  return (
    <SpaceBetween size="m">
      <Header variant="h1" actions={<Button onClick={() => window.print()}>Print</Button>}>
        {e.mode === "DRILL" ? "Drill" : "Recovery"} report: {e.planName}
      </Header>
      <article data-testid="report">
        <p>
          Execution {e.id} of plan {e.planId} version {plan.data.version}
          {e.planVersion ? "" : " (the current version: this execution did not record which it ran)"}, started by {e.startedBy ?? "—"}
          {e.stoppedBy ? `, stopped by ${e.stoppedBy}` : ""}; {time(e.startedAt)} to {time(e.endedAt)}: <strong>{e.status}</strong>
          {e.status === "SUCCEEDED" && (e.warnings ?? 0) > 0 ? <strong data-testid="warnings"> with warnings: {e.warnings} optional group(s) failed or were skipped</strong> : null}.
          Measured recovery time <strong data-testid="measured">{formatSeconds(report.totalSeconds)}</strong> against an RTO of {formatSeconds(report.rtoSeconds)}: {verdict}.
        </p>
        {e.stateMachineVersionArn && (
          <p data-testid="ran">
            It ran state machine version <code>{e.stateMachineVersionArn}</code>, compiled at its start for {e.serverCount ?? 0} servers:{" "}
            {(servers.data?.servers ?? []).join(", ")}.
          </p>
        )}
        {(e.rerunOf || e.rerunBy) && (
          <p data-testid="rerun">
            {e.rerunOf ? `It re-ran ${e.rerunOf}, adopting the groups that run had brought to their final stage (marked adopted below). ` : ""}
            {e.rerunBy ? `It was re-run as ${e.rerunBy}.` : ""}
          </p>
        )}
        {e.mode === "DRILL" && e.cleanup && <p>Drill clean-up: {e.cleanup === "CLEAN" ? "clean (DRS lists none of its instances)" : e.cleanup.toLowerCase()}.</p>}
        {e.errorCause && <p style={{ color: "#d91515" }}>{e.errorName}: {e.errorCause}</p>}
        <table style={{ borderCollapse: "collapse", width: "100%" }}>
          <caption style={{ textAlign: "left", paddingBottom: 8, fontWeight: 700 }}>Waves, groups and steps</caption>
          <thead>
            <tr><th scope="col" style={{ textAlign: "left" }}>Wave / group / step</th><th scope="col" style={{ textAlign: "left" }}>Status</th><th scope="col" style={{ textAlign: "right" }}>Duration</th></tr>
          </thead>
          <tbody>
            {report.waves.map((w) => [
              <tr key={w.wave} style={{ borderTop: "1px solid #9ca3af" }}>
                <th scope="row" style={{ textAlign: "left" }}>{w.wave}</th><td /><td style={{ ...cell, textAlign: "right" }}>{formatSeconds(w.seconds)}</td>
              </tr>,
              ...w.before.map((s) => <StepRow key={s.key} step={s} depth={1} />),
              ...w.groups.flatMap((g) => [
                <tr key={g.key}>
                  <td style={{ ...cell, paddingLeft: 24 }}>
                    {g.group}
                    {g.error && <div style={{ color: "#d91515" }}>{g.error}</div>}
                  </td>
                  <td style={cell}>{g.status}</td><td style={{ ...cell, textAlign: "right" }}>{formatSeconds(g.seconds)}</td>
                </tr>,
                ...g.steps.map((s) => <StepRow key={s.key} step={s} depth={2} />),
              ]),
              ...w.after.map((s) => <StepRow key={s.key} step={s} depth={1} />),
            ])}
          </tbody>
        </table>
        {gates.length > 0 && (
          <table style={{ borderCollapse: "collapse", width: "100%", marginTop: 16 }} data-testid="report-approvals">
            <caption style={{ textAlign: "left", paddingBottom: 8, fontWeight: 700 }}>Approvals</caption>
            <thead>
              <tr>
                {["Approval", "Decision", "By", "At", "Comment"].map((h) => <th key={h} scope="col" style={{ textAlign: "left" }}>{h}</th>)}
              </tr>
            </thead>
            <tbody>
              {gates.map((g, i) => {
                const a = approvals[i]?.data;
                const votes = (a?.votes ?? []).map((v) => `${v.by}${v.comment ? `: ${v.comment}` : ""}`).join("; ");
                return (
                  <tr key={g.key} style={{ borderTop: "1px solid #d1d5db" }}>
                    <td style={cell}>{g.label}</td>
                    <td style={cell}>{a?.status ?? g.status}</td>
                    <td style={cell}>{a?.decidedBy ?? "—"}</td>
                    <td style={cell}>{time(a?.decidedAt)}</td>
                    <td style={cell}>{[a?.decisionComment, votes && `votes: ${votes}`].filter(Boolean).join(" · ") || "—"}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </article>
      <Box variant="small">Durations come from the progress records the plan's state machine wrote; approvals from their records.</Box>
    </SpaceBetween>
  );
}
