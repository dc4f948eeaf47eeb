import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import KeyValuePairs from "@cloudscape-design/components/key-value-pairs";
import Link from "@cloudscape-design/components/link";
import Modal from "@cloudscape-design/components/modal";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Spinner from "@cloudscape-design/components/spinner";
import Table from "@cloudscape-design/components/table";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { useNavigate, useParams } from "react-router-dom";
import { useApp } from "../App";
import { get, post } from "../api";
import { usePlanOfRun } from "../components/usePlanOfRun";
import { DialogFooter, ErrorAlert, RunStatus, Status, time } from "../components/common";
import { PlanGraph } from "../components/PlanGraph";
import { formatSeconds, seconds } from "../lib/report";
import { stepTree } from "../lib/steps";
import type { Approval, Execution } from "../lib/types";
import { RecoveryInstances, StepLogs } from "../components/StepLogs";

type Detail = Execution & { engineStatus?: string };

/** Run statuses a re-run may start from (the API says the same). */
const RERUNNABLE = ["FAILED", "CANCELLED", "CLEANUP_FAILED", "TIMED_OUT"];

export function ExecutionPage() {
  const { id = "" } = useParams();
  const { can } = useApp();
  const navigate = useNavigate();
  const client = useQueryClient();
  const started = useRef(performance.now());
  const [chosen, setChosen] = useState<string>();
  const [confirm, setConfirm] = useState<"cancel" | "cleanup" | null>(null);
  const [rerunOpen, setRerunOpen] = useState(false);
  const [typed, setTyped] = useState("");
  const run = useQuery({
    queryKey: ["execution", id],
    queryFn: () => get<Detail>(`/executions/${id}`),
    // Live while it runs: a poll every 2 s (target ≤ 5 s).
    refetchInterval: (q) => {
      const d = q.state.data;
      return d && (d.status === "RUNNING" || d.status === "PAUSED" || d.cleanup === "RUNNING") ? 2000 : false;
    },
  });
  const plan = usePlanOfRun(run.data);
  const approvals = useQuery({
    queryKey: ["approvals", "pending"],
    queryFn: () => get<{ items: Approval[] }>("/approvals?status=pending"),
    enabled: can.approve && run.data?.status === "RUNNING",
    refetchInterval: 2000,
  });
  const act = useMutation({
    mutationFn: (what: { path: string; body?: unknown }) => post(what.path, what.body),
    onSuccess: () => void client.invalidateQueries({ queryKey: ["execution", id] }),
  });
  const rerun = useMutation({
    mutationFn: (body: { confirm?: string }) => post<{ id: string }>(`/executions/${id}/rerun`, body),
    onSuccess: (r) => navigate(`/executions/${r.id}`),
  });
  useEffect(() => {
    if (plan.data && run.data) {
      // The first full view's time, for the 3,000-server figure (printed by the e2e run).
      (window as unknown as { __firstView?: number }).__firstView ??= performance.now() - started.current;
    }
  }, [plan.data, run.data]);
  if (run.isPending) return <Spinner size="large" />;
  if (!run.data) return <ErrorAlert error={run.error} />;
  const e = run.data;
  const steps = stepTree(e.steps ?? []);
  const current = steps.find((s) => ["RUNNING", "AWAITING_APPROVAL", "WAITING", "PENDING"].includes(s.status));
  // The log shown: the step chosen, else the current one, else the last to start.
  const shown = steps.find((s) => s.key === chosen) ?? current ?? steps.at(-1);
  const mine = (approvals.data?.items ?? []).filter((a) => a.executionName === e.id);
  return (
    <SpaceBetween size="m">
      <Header variant="h1" description={`${e.mode === "DRILL" ? "Drill" : "Recovery"} of ${e.planName}`}
        actions={
          <SpaceBetween direction="horizontal" size="xs">
            <Button onClick={() => navigate(`/executions/${e.id}/report`)}>Report</Button>
            {can.operate && e.status === "RUNNING" && !e.pauseRequested && <Button data-testid="pause" onClick={() => act.mutate({ path: `/executions/${e.id}/pause` })}>Pause</Button>}
            {can.operate && (e.status === "PAUSED" || (e.status === "RUNNING" && e.pauseRequested)) && <Button data-testid="resume" variant="primary" onClick={() => act.mutate({ path: `/executions/${e.id}/resume` })}>Resume</Button>}
            {can.operate && (e.status === "RUNNING" || e.status === "PAUSED") && <Button onClick={() => setConfirm("cancel")}>Cancel execution</Button>}
            {can.operate && e.mode === "DRILL" && e.status !== "RUNNING" && e.status !== "PAUSED" && <Button onClick={() => setConfirm("cleanup")}>Clean up</Button>}
            {can.operate && RERUNNABLE.includes(e.status) && e.engineStatus !== "RUNNING" && <Button data-testid="rerun" onClick={() => setRerunOpen(true)}>Re-run</Button>}
          </SpaceBetween>
        }>
        {e.id}
      </Header>
      <ErrorAlert error={act.error} />
      <Modal visible={confirm !== null} onDismiss={() => setConfirm(null)}
        header={confirm === "cancel" ? `Cancel this ${e.mode === "DRILL" ? "drill" : "recovery"}?` : "Terminate the drill's recovery instances?"}
        footer={
          <DialogFooter busy={act.isPending} dismiss={confirm === "cancel" ? "Keep running" : "Keep them"}
            action={confirm === "cancel" ? "Cancel execution" : "Terminate instances"}
            onCancel={() => setConfirm(null)}
            onAction={() => act.mutate({ path: `/executions/${e.id}/${confirm}` }, { onSettled: () => setConfirm(null) })} />
        }>
        {confirm === "cancel"
          ? (e.mode === "DRILL"
            ? "The state machine stops at once and the plan's servers are released. Then a clean-up waits for this drill's DRS jobs still in flight and terminates every instance they launched; the run shows Clean only when DRS lists none of them. Other runs' instances are never touched."
            : "The state machine stops at once: nothing more is launched. Instances this recovery already launched keep running, as they are your recovered workload.")
          : "Every drill instance this run's DRS jobs launched is terminated, and nothing else; the run shows Clean once DRS lists none of them. Replication is not affected."}
      </Modal>
      <Modal visible={rerunOpen} onDismiss={() => setRerunOpen(false)} header={`Re-run this ${e.mode === "DRILL" ? "drill" : "recovery"}?`}
        footer={
          <DialogFooter busy={rerun.isPending} dismiss="Not now" action="Re-run"
            disabled={e.mode === "RECOVERY" && typed !== e.planName}
            onCancel={() => setRerunOpen(false)}
            onAction={() => rerun.mutate(e.mode === "RECOVERY" ? { confirm: typed } : {})} />
        }>
        <SpaceBetween size="s">
          <Box>A new run of the same plan version (the same machine version) takes the servers' locks again, adopts every group this run brought to its final stage whose instances DRS still lists, and launches the rest. The two runs are linked in history and the report.</Box>
          {e.mode === "RECOVERY" && (
            <FormField label={`Type the plan name, ${e.planName}, to confirm a real recovery`}>
              <Input value={typed} onChange={(ev) => setTyped(ev.detail.value)} />
            </FormField>
          )}
          <ErrorAlert error={rerun.error} />
        </SpaceBetween>
      </Modal>
      <Container>
        <KeyValuePairs columns={e.mode === "DRILL" && e.cleanup ? 6 : 5} items={[
          { label: "Status", value: <span data-testid="execution-status"><RunStatus run={e} /></span> },
          { label: "Started", value: time(e.startedAt) },
          { label: "Started by", value: e.startedBy ?? "—" },
          { label: "Ended", value: time(e.endedAt) },
          ...(e.mode === "DRILL" && e.cleanup ? [{ label: "Clean-up", value: <span data-testid="execution-cleanup">{({ RUNNING: "Terminating…", CLEAN: "Clean", FAILED: "Failed: instances may be left" } as Record<string, string>)[e.cleanup] ?? e.cleanup}</span> }] : []),
          { label: "Elapsed", value: formatSeconds(seconds(e.startedAt, e.endedAt ?? new Date().toISOString())) },
        ]} />
        {e.errorCause && <Box color="text-status-error">{e.errorName}: {e.errorCause}</Box>}
        {(e.rerunOf || e.rerunBy) && (
          <Box>
            {e.rerunOf && <>Re-run of <Link href={`/executions/${e.rerunOf}`} onFollow={(ev) => { ev.preventDefault(); navigate(`/executions/${e.rerunOf}`); }}>{e.rerunOf}</Link>. </>}
            {e.rerunBy && <>Re-run as <Link href={`/executions/${e.rerunBy}`} onFollow={(ev) => { ev.preventDefault(); navigate(`/executions/${e.rerunBy}`); }}>{e.rerunBy}</Link>.</>}
          </Box>
        )}
        {e.status === "PAUSED" && <Box data-testid="paused-note">Paused before wave {e.pausedBefore}: nothing more launches until someone resumes it. Cancel still works.</Box>}
        {e.status === "RUNNING" && e.pauseRequested && <Box>Pausing: the steps in flight finish, then the run waits before its next wave.</Box>}
      </Container>
      {mine.map((a) => (
        <Container key={a.approvalId} header={<Header variant="h2">Waiting for approval: {a.title ?? "approval"}</Header>}>
          <SpaceBetween size="s">
            <Box>{a.message}</Box>
            <SpaceBetween direction="horizontal" size="xs">
              <Button variant="primary" onClick={() => act.mutate({ path: `/approvals/${a.approvalId}`, body: { decision: "APPROVE" } })}>Approve</Button>
              <Button onClick={() => act.mutate({ path: `/approvals/${a.approvalId}`, body: { decision: "REJECT" } })}>Reject</Button>
            </SpaceBetween>
          </SpaceBetween>
        </Container>
      ))}
      {plan.data && <PlanGraph plan={plan.data.plan} steps={e.steps} height={360} />}
      <Table
        header={<Header variant="h2" counter={`(${steps.length})`}>Steps</Header>}
        items={steps}
        trackBy="key"
        variant="container"
        isItemDisabled={() => false}
        selectedItems={current ? [current] : []}
        ariaLabels={{ selectionGroupLabel: "Current step", itemSelectionLabel: (_, s) => s.label ?? s.key, allItemsSelectionLabel: () => "Steps" }}
        columnDefinitions={[
          {
            id: "step",
            header: "Step",
            cell: (s) => (
              <span style={{ paddingLeft: 16 * Math.max(0, s.depth), fontWeight: s.key === current?.key ? 700 : undefined }}>
                {s.depth > 0 ? "└ " : ""}
                <Link variant="secondary" ariaLabel={`Show the log of ${s.label ?? s.key}`} onFollow={() => setChosen(s.key)}>
                  {s.label ?? s.key}
                </Link>
              </span>
            ),
          },
          { id: "kind", header: "Kind", cell: (s) => s.kind ?? "—" },
          { id: "status", header: "Status", cell: (s) => <Status value={s.status} /> },
          { id: "start", header: "Start", cell: (s) => time(s.startedAt) },
          { id: "end", header: "End", cell: (s) => time(s.endedAt) },
          { id: "elapsed", header: "Elapsed", cell: (s) => formatSeconds(seconds(s.startedAt, s.endedAt)) },
          { id: "detail", header: "Detail", cell: (s) => (s.errorCause ? `${s.errorName}: ${s.errorCause}` : s.stage ?? "") },
        ]}
        empty="No step has started yet"
      />
      {shown && <StepLogs execution={e.id} step={shown} live={e.status === "RUNNING"} />}
      <RecoveryInstances execution={e.id} />
    </SpaceBetween>
  );
}
