import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import KeyValuePairs from "@cloudscape-design/components/key-value-pairs";
import Modal from "@cloudscape-design/components/modal";
import RadioGroup from "@cloudscape-design/components/radio-group";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Spinner from "@cloudscape-design/components/spinner";
import Tabs from "@cloudscape-design/components/tabs";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useNavigate, useParams } from "react-router-dom";
import { useApp } from "../App";
import { get, post, text } from "../api";
import { AslGraph } from "../components/AslGraph";
import { PlanEditor } from "../components/PlanEditor";
import { PlanGraph } from "../components/PlanGraph";
import { DialogFooter, download, ErrorAlert, time } from "../components/common";
import type { StoredPlan } from "../lib/types";

interface Preflight {
  ready: boolean;
  servers: number;
  problems: { path?: string; server?: string; message: string }[];
  warnings: { path?: string; server?: string; message: string }[];
  drs: { activeJobs: number; serversInActiveJobs: number };
}

function RunPlan({ plan, onClose }: { plan: StoredPlan; onClose: () => void }) {
  const navigate = useNavigate();
  const [mode, setMode] = useState<"DRILL" | "RECOVERY">("DRILL");
  const [confirm, setConfirm] = useState("");
  const [poll, setPoll] = useState("30");
  const preflight = useQuery({ queryKey: ["preflight", plan.id], queryFn: () => get<Preflight>(`/plans/${plan.id}/preflight`) });
  const start = useMutation({
    mutationFn: () =>
      post<{ id: string }>(`/plans/${plan.id}/executions`, { mode, pollSeconds: Number(poll), ...(mode === "RECOVERY" ? { confirm } : {}) }),
    onSuccess: (run) => navigate(`/executions/${run.id}`),
  });
  const blocked = !preflight.data?.ready || (mode === "RECOVERY" && confirm !== plan.name);
  return (
    <Modal closeAriaLabel="Close dialog" visible onDismiss={onClose} header={`Run ${plan.name}`}
      footer={<DialogFooter action={mode === "DRILL" ? "Start drill" : "Start recovery"} busy={start.isPending} disabled={blocked} onAction={() => start.mutate()} onCancel={onClose} />}>
      <SpaceBetween size="m">
        <ErrorAlert error={start.error} header="The run did not start" />
        <RadioGroup value={mode} onChange={(e) => setMode(e.detail.value as "DRILL" | "RECOVERY")} ariaLabel="Mode"
          items={[
            { value: "DRILL", label: "Drill", description: "Drill instances in the recovery site; replication goes on; cleaned up afterwards." },
            { value: "RECOVERY", label: "Recovery", description: "A real recovery of production." },
          ]} />
        {mode === "RECOVERY" && (
          <FormField label={`Type the plan name, ${plan.name}, to confirm a real recovery`}>
            <Input value={confirm} onChange={(e) => setConfirm(e.detail.value)} ariaLabel="Confirm plan name" />
          </FormField>
        )}
        <FormField label="Poll interval (seconds)" description="How often the plan checks DRS, EC2 and SSM (30 in production)">
          <Input value={poll} onChange={(e) => setPoll(e.detail.value)} inputMode="numeric" ariaLabel="Poll interval" />
        </FormField>
        <Container header={<Header variant="h3">Pre-flight readiness</Header>}>
          {preflight.isPending ? <Spinner /> : preflight.data ? (
            <SpaceBetween size="xs">
              <Box data-testid="preflight">{preflight.data.ready ? "Ready" : "Not ready"}: {preflight.data.servers} servers; DRS has {preflight.data.drs.activeJobs} active jobs.</Box>
              {preflight.data.problems.map((p) => <Alert key={p.message} type="error">{p.message}</Alert>)}
              {preflight.data.warnings.map((w) => <Alert key={w.message} type="warning">{w.message}</Alert>)}
            </SpaceBetween>
          ) : <ErrorAlert error={preflight.error} />}
        </Container>
      </SpaceBetween>
    </Modal>
  );
}

function YamlView({ id }: { id: string }) {
  const yaml = useQuery({ queryKey: ["yaml", id], queryFn: () => text(`/plans/${id}/export`) });
  return (
    <pre tabIndex={0} aria-label="Plan as YAML" style={{ maxHeight: 520, overflow: "auto", background: "#f8fafc", padding: 12 }} data-testid="yaml">
      {yaml.data ?? "…"}
    </pre>
  );
}

export function PlanPage() {
  const { id = "" } = useParams();
  const { can } = useApp();
  const [running, setRunning] = useState(false);
  const isNew = id === "new";
  const plan = useQuery({ queryKey: ["plan", id], queryFn: () => get<StoredPlan>(`/plans/${id}`), enabled: !isNew });
  const asl = useQuery({ queryKey: ["asl", id], queryFn: () => get<unknown>(`/plans/${id}/asl`), enabled: !isNew });
  if (isNew) return <PlanEditor />;
  if (plan.isPending) return <Spinner size="large" />;
  if (!plan.data) return <ErrorAlert error={plan.error} />;
  const p = plan.data;
  const exportYaml = async () => download(`${p.id}.yaml`, await text(`/plans/${p.id}/export`), "application/yaml");
  return (
    <SpaceBetween size="m">
      <Header variant="h1" description={p.plan.description}
        actions={
          <SpaceBetween direction="horizontal" size="xs">
            <Button onClick={() => void exportYaml()}>Export YAML</Button>
            {can.operate && <Button variant="primary" onClick={() => setRunning(true)}>Run</Button>}
          </SpaceBetween>
        }>
        {p.name}
      </Header>
      <Tabs tabs={[
        {
          id: "overview",
          label: "Overview",
          content: (
            <SpaceBetween size="m">
              <Container>
                <KeyValuePairs columns={4} items={[
                  { label: "ID", value: p.id },
                  { label: "Servers", value: String(p.servers) },
                  { label: "RTO target", value: p.plan.rto ?? "—" },
                  { label: "Version", value: `${p.version}, ${time(p.updatedAt)} by ${p.updatedBy}` },
                ]} />
              </Container>
              <PlanGraph plan={p.plan} />
            </SpaceBetween>
          ),
        },
        ...(can.author ? [{ id: "edit", label: "Edit", content: <PlanEditor existing={p} /> }] : []),
        { id: "yaml", label: "YAML", content: <YamlView id={p.id} /> },
        {
          id: "machine",
          label: "State machine",
          content: (
            <SpaceBetween size="m">
              <Box variant="small">{p.stateMachineArn}</Box>
              {asl.data ? <AslGraph definition={asl.data} /> : null}
              <pre tabIndex={0} aria-label="State machine definition (ASL)" style={{ maxHeight: 480, overflow: "auto", background: "#f8fafc", padding: 12 }} data-testid="asl">{asl.data ? JSON.stringify(asl.data, null, 2) : "…"}</pre>
            </SpaceBetween>
          ),
        },
      ]} />
      {running && <RunPlan plan={p} onClose={() => setRunning(false)} />}
    </SpaceBetween>
  );
}
