// A step's logs (its DRS job log, what its SSM commands printed on each instance, its
// error) and the execution's recovery instances: read on demand from their own
// endpoints, so the dashboard's 2-second poll stays small however large the plan.

import Box from "@cloudscape-design/components/box";
import Container from "@cloudscape-design/components/container";
import ExpandableSection from "@cloudscape-design/components/expandable-section";
import Header from "@cloudscape-design/components/header";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Spinner from "@cloudscape-design/components/spinner";
import StatusIndicator, { type StatusIndicatorProps } from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { get } from "../api";
import type { CommandLog, RecoveryInstance, StepLog, StepRecord } from "../lib/types";
import { ErrorAlert, Status, time } from "./common";

const SSM_KINDS: Record<string, StatusIndicatorProps.Type> = {
  Success: "success",
  Failed: "error",
  TimedOut: "error",
  Cancelled: "stopped",
  Cancelling: "stopped",
  InProgress: "in-progress",
  Pending: "pending",
  Delayed: "pending",
};

function SsmStatus({ value }: { value: string }) {
  return <StatusIndicator type={SSM_KINDS[value] ?? "info"}>{value || "unknown"}</StatusIndicator>;
}

function Output({ label, text }: { label: string; text: string }) {
  if (!text) return <Box color="text-body-secondary">{label}: (empty)</Box>;
  return (
    <Box>
      <Box variant="awsui-key-label">{label}</Box>
      <pre className="command-output" tabIndex={0} aria-label={label}>{text}</pre>
    </Box>
  );
}

function Command({ command }: { command: CommandLog }) {
  const more = (command.instanceCount ?? 0) - command.invocations.length;
  return (
    <SpaceBetween size="xs">
      <Box variant="h4">
        {command.document ?? "SSM command"} {command.status && <SsmStatus value={command.status} />} <Box variant="small">command {command.commandId}</Box>
      </Box>
      {command.error && <Box color="text-status-error">{command.error}</Box>}
      {command.invocations.map((i) => (
        <ExpandableSection key={i.instanceId} headerText={`${i.instanceId}: ${i.status}, exit code ${i.responseCode}`} defaultExpanded={i.status !== "Success"}>
          <Box variant="small">
            {time(i.startedAt ?? undefined)} – {time(i.endedAt ?? undefined)}
          </Box>
          <Output label="Standard output" text={i.output} />
          <Output label="Standard error" text={i.errorOutput} />
        </ExpandableSection>
      ))}
      {more > 0 && <Box variant="small">and {more} more instances (see the command in the SSM console)</Box>}
    </SpaceBetween>
  );
}

export function StepLogs({ execution, step, live }: { execution: string; step: StepRecord; live: boolean }) {
  const log = useQuery({
    queryKey: ["step-log", execution, step.key],
    queryFn: () => get<StepLog>(`/executions/${encodeURIComponent(execution)}/steps/${encodeURIComponent(step.key)}/logs`),
    refetchInterval: live ? 5000 : false,
  });
  const data = log.data;
  return (
    <Container header={<Header variant="h2" description="Choose a step's name above to see its log.">Step log: {step.label ?? step.key}</Header>}>
      <div data-testid="step-log">
        <SpaceBetween size="s">
          <ErrorAlert error={log.error} />
          {log.isPending && <Spinner />}
          {data && (
            <>
              <Box>
                <Status value={data.status} /> {data.kind ?? ""} · started {time(data.startedAt)} · ended {time(data.endedAt)}
              </Box>
              {data.errorName && (
                <Box color="text-status-error">
                  {data.errorName}: {data.errorCause}
                </Box>
              )}
              {data.jobs.map((j) => (
                <Table
                  key={j.jobId}
                  variant="embedded"
                  header={<Header variant="h3" description={j.error}>DRS job {j.jobId}</Header>}
                  items={j.log}
                  columnDefinitions={[
                    { id: "at", header: "Time", cell: (l) => time(l.at) },
                    { id: "event", header: "Event", cell: (l) => l.event },
                    { id: "server", header: "Source server", cell: (l) => l.sourceServerId ?? "—" },
                    { id: "instance", header: "Instance", cell: (l) => l.targetInstanceId ?? "—" },
                  ]}
                  empty="No log entries yet"
                />
              ))}
              {data.moreJobs > 0 && <Box variant="small">and {data.moreJobs} more DRS jobs</Box>}
              {data.outputHidden && data.commands.length > 0 && (
                <Box variant="small">What the commands printed is shown to operators, plan authors, approvers and admins; you see their status and exit codes.</Box>
              )}
              {data.commands.map((c) => (
                <Command key={c.commandId} command={c} />
              ))}
              {data.moreCommands > 0 && <Box variant="small">and {data.moreCommands} more commands</Box>}
              {data.jobs.length === 0 && data.commands.length === 0 && !data.errorName && <Box color="text-body-secondary">This step has no DRS job or SSM command log.</Box>}
            </>
          )}
        </SpaceBetween>
      </div>
    </Container>
  );
}

export function RecoveryInstances({ execution }: { execution: string }) {
  const [open, setOpen] = useState(false);
  const instances = useQuery({
    queryKey: ["recovery-instances", execution],
    queryFn: () => get<{ items: RecoveryInstance[] }>(`/executions/${encodeURIComponent(execution)}/instances`),
    enabled: open,
  });
  const items = instances.data?.items;
  return (
    <ExpandableSection
      headerText={items ? `Recovery instances (${items.length})` : "Recovery instances"}
      variant="container"
      expanded={open}
      onChange={(e) => setOpen(e.detail.expanded)}
    >
      <ErrorAlert error={instances.error} />
      {instances.isFetching && !items && <Spinner />}
      {items && (
        <ul>
          {items.map((r) => (
            <li key={r.recoveryInstanceId}>
              {r.recoveryInstanceId} from {r.sourceServerId} {r.isDrill ? "(drill)" : ""} {r.ec2InstanceState ?? ""}
            </li>
          ))}
        </ul>
      )}
    </ExpandableSection>
  );
}
