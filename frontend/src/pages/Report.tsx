import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Header from "@cloudscape-design/components/header";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Spinner from "@cloudscape-design/components/spinner";
import { useQuery } from "@tanstack/react-query";
import { useParams } from "react-router-dom";
import { get } from "../api";
import { ErrorAlert, time } from "../components/common";
import { buildReport, formatSeconds } from "../lib/report";
import type { Execution, StoredPlan } from "../lib/types";

/** A printable drill report: measured durations per wave and group, RTO against target. */
export function ReportPage() {
  const { id = "" } = useParams();
  const run = useQuery({ queryKey: ["execution", id], queryFn: () => get<Execution>(`/executions/${id}`) });
  const plan = useQuery({ queryKey: ["plan", run.data?.planId], queryFn: () => get<StoredPlan>(`/plans/${run.data?.planId}`), enabled: !!run.data?.planId });
  if (run.isPending || plan.isPending) return <Spinner size="large" />;
  if (!run.data || !plan.data) return <ErrorAlert error={run.error ?? plan.error} />;
  const report = buildReport(plan.data.plan, run.data);
  const verdict = report.withinRto === null ? "not measurable" : report.withinRto ? "within the RTO" : "over the RTO";
  return (
    <SpaceBetween size="m">
      <Header variant="h1" actions={<Button onClick={() => window.print()}>Print</Button>}>
        {run.data.mode === "DRILL" ? "Drill" : "Recovery"} report: {run.data.planName}
      </Header>
      <article data-testid="report">
        <table style={{ borderCollapse: "collapse", width: "100%" }}>
          <caption style={{ textAlign: "left", paddingBottom: 8 }}>
            Execution {run.data.id}, {time(run.data.startedAt)} to {time(run.data.endedAt)}: <strong>{run.data.status}</strong>.
            Measured recovery time <strong data-testid="measured">{formatSeconds(report.totalSeconds)}</strong> against an RTO of {formatSeconds(report.rtoSeconds)}: {verdict}.
          </caption>
          <thead>
            <tr><th scope="col" style={{ textAlign: "left" }}>Wave / group</th><th scope="col" style={{ textAlign: "left" }}>Status</th><th scope="col" style={{ textAlign: "right" }}>Duration</th></tr>
          </thead>
          <tbody>
            {report.waves.map((w) => [
              <tr key={w.wave} style={{ borderTop: "1px solid #9ca3af" }}>
                <th scope="row" style={{ textAlign: "left" }}>{w.wave}</th><td /><td style={{ textAlign: "right" }}>{formatSeconds(w.seconds)}</td>
              </tr>,
              ...w.groups.map((g) => (
                <tr key={g.key}>
                  <td style={{ paddingLeft: 24 }}>{g.group}</td><td>{g.status}</td><td style={{ textAlign: "right" }}>{formatSeconds(g.seconds)}</td>
                </tr>
              )),
            ])}
          </tbody>
        </table>
      </article>
      <Box variant="small">Durations come from the progress records the plan's state machine wrote.</Box>
    </SpaceBetween>
  );
}
