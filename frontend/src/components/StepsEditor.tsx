// A group's steps as forms: SSM documents with their parameters, health checks (TCP,
// HTTP, EC2 status, SSM document), waits and approvals, in order, each movable and
// removable. The API's errors land on the field they name (`…steps.2.timeout`).

import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import ButtonDropdown from "@cloudscape-design/components/button-dropdown";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import Container from "@cloudscape-design/components/container";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import Select from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Textarea from "@cloudscape-design/components/textarea";
import Toggle from "@cloudscape-design/components/toggle";
import { useEffect, useState } from "react";
import { type CheckKind, type ParameterRow, STEP_TYPES, checkKind, commaList, fromRows, move, newCheck, newStep, portValue, toRows } from "../lib/stepForm";
import type { Step } from "../lib/types";

const opt = (value: string, label = value) => ({ value, label });
const TYPE_LABEL: Record<Step["type"], string> = { ssm: "SSM document", healthCheck: "Health check", wait: "Wait", approval: "Approval" };
const CHECKS: { value: CheckKind; label: string }[] = [
  { value: "tcp", label: "TCP port open" },
  { value: "http", label: "HTTP(S) answer" },
  { value: "ec2Status", label: "EC2 status checks" },
  { value: "ssm", label: "SSM document succeeds" },
];

/** Field paths (relative to the plan) the editor shows errors on, for mapErrors. */
export function stepFields(prefix: string, steps: Step[]): string[] {
  return steps.flatMap((_, i) => {
    const at = `${prefix}.${i}`;
    return [at, ...["name", "duration", "document", "kind", "parameters", "timeout", "onFailure", "check", "approvers", "message", "recoveryQuorum", "drillQuorum"].map((f) => `${at}.${f}`)];
  });
}

type Obj = Record<string, unknown>;

/** Parameter rows kept as typed (a trailing space or an empty new line survives); the
 * parameters go up as SSM takes them. A change from outside (another step moved into
 * this place) replaces the rows. */
function Parameters({ value, onChange, label, errorText }: { value: Record<string, string[]>; onChange: (v: Record<string, string[]>) => void; label: string; errorText?: string }) {
  const [rows, setRows] = useState<ParameterRow[]>(() => toRows(value));
  const mine = fromRows(rows);
  useEffect(() => {
    if (JSON.stringify(fromRows(rows).params) !== JSON.stringify(value)) setRows(toRows(value));
    // Only an outside change of `value` may reset what is being typed.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [value]);
  const edit = (next: ParameterRow[]) => {
    setRows(next);
    onChange(fromRows(next).params);
  };
  return (
    // Not a FormField: its label would name every control inside instead of each one's own.
    <SpaceBetween size="xs">
      <Box variant="awsui-key-label">Parameters</Box>
      <Box variant="small">One value per line (e.g. one shell command per line for commands)</Box>
      {errorText && <Box color="text-status-error">{errorText}</Box>}
      {mine.duplicates.length > 0 && <Box color="text-status-error">Named twice: {mine.duplicates.join(", ")} (only the first is used)</Box>}
      {rows.map((row, pi) => (
        <ColumnLayout key={pi} columns={3}>
          <Input value={row.name} ariaLabel={`${label} parameter ${pi + 1} name`} onChange={(e) => edit(rows.map((r, i) => (i === pi ? { ...r, name: e.detail.value } : r)))} />
          <Textarea rows={Math.min(6, Math.max(2, row.text.split("\n").length))} value={row.text} ariaLabel={`${label} parameter ${row.name || pi + 1} values`}
            onChange={(e) => edit(rows.map((r, i) => (i === pi ? { ...r, text: e.detail.value } : r)))} />
          <Button onClick={() => edit(rows.filter((_, i) => i !== pi))}>Remove parameter</Button>
        </ColumnLayout>
      ))}
      <Button onClick={() => edit([...rows, { name: "", text: "" }])}>Add parameter</Button>
    </SpaceBetween>
  );
}

/** Approvers as typed ("Approver, " keeps its comma); the list goes up. */
function Approvers({ value, onChange, label }: { value: string[]; onChange: (v: string[]) => void; label: string }) {
  const [text, setText] = useState(() => value.join(", "));
  useEffect(() => {
    if (JSON.stringify(commaList(text)) !== JSON.stringify(value)) setText(value.join(", "));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [value]);
  return <Input value={text} ariaLabel={`${label} approvers`} onChange={(e) => { setText(e.detail.value); onChange(commaList(e.detail.value)); }} />;
}

export function StepForm({ step, set, label, err }: { step: Step; set: (s: Step) => void; label: string; err: (field?: string) => string | undefined }) {
  const field = (name: string) => (step[name] as string | undefined) ?? "";
  const text = (name: string, title: string, description?: string) => (
    <FormField label={title} description={description} errorText={err(name)}>
      <Input value={field(name)} ariaLabel={`${label} ${title.toLowerCase()}`} onChange={(e) => set({ ...step, [name]: e.detail.value || undefined })} />
    </FormField>
  );
  const onFailure = (
    <FormField label="On failure" errorText={err("onFailure")}>
      <Select selectedOption={opt(field("onFailure") || "fail", field("onFailure") === "continue" ? "Warn and continue" : "Fail the group")}
        options={[opt("fail", "Fail the group"), opt("continue", "Warn and continue")]} ariaLabel={`${label} on failure`}
        onChange={(e) => set({ ...step, onFailure: e.detail.selectedOption.value === "continue" ? "continue" : undefined })} />
    </FormField>
  );
  switch (step.type) {
    case "wait":
      return <ColumnLayout columns={2}>{text("name", "Name")}{text("duration", "Duration", "e.g. 2m, 1h")}</ColumnLayout>;
    case "approval":
      return (
        <ColumnLayout columns={2}>
          {text("name", "Name")}
          {text("timeout", "Timeout", "e.g. 4h")}
          {text("message", "Message")}
          <FormField label="Approvers" description="Cognito groups or user names, comma separated" errorText={err("approvers")}>
            <Approvers value={(step.approvers as string[] | undefined) ?? []} label={label} onChange={(approvers) => set({ ...step, approvers })} />
          </FormField>
          <FormField label="Two-person rule" description="Distinct approvers, never the person who started the run" errorText={err("recoveryQuorum") ?? err("drillQuorum")}>
            <Select selectedOption={quorumOption(step)} options={QUORUM_OPTIONS} ariaLabel={`${label} two-person rule`}
              onChange={(e) => set(withQuorum(step, e.detail.selectedOption.value))} />
          </FormField>
        </ColumnLayout>
      );
    case "ssm":
      return (
        <SpaceBetween size="s">
          <ColumnLayout columns={2}>
            {text("name", "Name")}
            {text("document", "Document", "e.g. AWS-RunShellScript or DRS-Orchestrator-LinuxAppValidation")}
            <FormField label="Kind" errorText={err("kind")}>
              <Select selectedOption={field("kind") === "automation" ? opt("automation", "Automation runbook, per instance") : opt("command", "Command, on every instance")}
                options={[opt("command", "Command, on every instance"), opt("automation", "Automation runbook, per instance")]} ariaLabel={`${label} kind`}
                onChange={(e) => set({ ...step, kind: e.detail.selectedOption.value === "automation" ? "automation" : undefined })} />
            </FormField>
            {text("timeout", "Timeout", "e.g. 5m")}
            {onFailure}
          </ColumnLayout>
          <Parameters value={(step.parameters as Record<string, string[]> | undefined) ?? {}} label={label} errorText={err("parameters")}
            onChange={(parameters) => set({ ...step, parameters })} />
        </SpaceBetween>
      );
    case "healthCheck": {
      const kind = checkKind(step.check);
      const probe = (kind === "ec2Status" ? {} : ((step.check as Obj)[kind] as Obj)) ?? {};
      const setProbe = (patch: Obj) => set({ ...step, check: { [kind]: { ...probe, ...patch } } });
      return (
        <SpaceBetween size="s">
          <ColumnLayout columns={2}>
            {text("name", "Name")}
            <FormField label="Check" errorText={err("check")}>
              <Select selectedOption={CHECKS.find((c) => c.value === kind) ?? null} options={CHECKS} ariaLabel={`${label} check`}
                onChange={(e) => set({ ...step, check: newCheck(e.detail.selectedOption.value as CheckKind) })} />
            </FormField>
            {(kind === "tcp" || kind === "http") && (
              <FormField label="Port">
                <Input value={String(probe.port ?? "")} inputMode="numeric" ariaLabel={`${label} port`} onChange={(e) => setProbe({ port: portValue(e.detail.value) })} />
              </FormField>
            )}
            {kind === "http" && (
              <>
                <FormField label="Path">
                  <Input value={String(probe.path ?? "/")} ariaLabel={`${label} path`} onChange={(e) => setProbe({ path: e.detail.value })} />
                </FormField>
                <FormField label="Expected status">
                  <Input value={String(probe.expectStatus ?? 200)} inputMode="numeric" ariaLabel={`${label} expected status`} onChange={(e) => setProbe({ expectStatus: portValue(e.detail.value) })} />
                </FormField>
                <Toggle checked={probe.https === true} onChange={(e) => setProbe({ https: e.detail.checked || undefined })}>HTTPS</Toggle>
              </>
            )}
            {kind === "ssm" && (
              <FormField label="Document">
                <Input value={String(probe.document ?? "")} ariaLabel={`${label} document`} onChange={(e) => setProbe({ document: e.detail.value })} />
              </FormField>
            )}
            {text("timeout", "Timeout", "how long the check may keep failing, e.g. 10m")}
          </ColumnLayout>
          {kind === "ssm" && <Parameters value={(probe.parameters as Record<string, string[]> | undefined) ?? {}} label={label} onChange={(parameters) => setProbe({ parameters })} />}
        </SpaceBetween>
      );
    }
  }
}

export function StepsEditor({ title, description, steps, onChange, owner, err, types, empty }: {
  /** Shown above the list; not a FormField label, which would name every control inside. */
  title: string;
  description?: string;
  steps: Step[];
  onChange: (steps: Step[]) => void;
  /** Names the controls: "wave 1 group 2" gives "wave 1 group 2 step 1 timeout". */
  owner: string;
  err: (path: string) => string | undefined;
  /** The step types offered (a wave's before/after take approvals and waits only). */
  types?: Step["type"][];
  empty?: string;
}) {
  return (
    <SpaceBetween size="s">
      <div>
        <Box variant="awsui-key-label">{title}</Box>
        {description && <Box variant="small">{description}</Box>}
        {err("") && <Box color="text-status-error">{err("")}</Box>}
      </div>
      {steps.length === 0 && <Box color="text-body-secondary">{empty ?? "No steps: the group is done when its instances are running."}</Box>}
      {steps.map((step, si) => {
        const label = `${owner} step ${si + 1}`;
        return (
          <Container key={si} variant="stacked" header={
            <Header variant="h3"
              actions={
                <SpaceBetween direction="horizontal" size="xs">
                  <Button iconName="angle-up" ariaLabel={`Move ${label} up`} disabled={si === 0} onClick={() => onChange(move(steps, si, -1))} />
                  <Button iconName="angle-down" ariaLabel={`Move ${label} down`} disabled={si === steps.length - 1} onClick={() => onChange(move(steps, si, 1))} />
                  <Button ariaLabel={`Remove ${label}`} onClick={() => onChange(steps.filter((_, i) => i !== si))}>Remove</Button>
                </SpaceBetween>
              }>
              Step {si + 1} · {TYPE_LABEL[step.type] ?? step.type}
            </Header>
          }>
            {err(`${si}`) && <Box color="text-status-error">{err(`${si}`)}</Box>}
            <StepForm step={step} label={label} err={(f) => err(f ? `${si}.${f}` : `${si}`)}
              set={(s) => onChange(steps.map((x, i) => (i === si ? s : x)))} />
          </Container>
        );
      })}
      <ButtonDropdown ariaLabel={`Add step to ${owner}`} items={STEP_TYPES.filter((t) => !types || types.includes(t.type)).map((t) => ({ id: t.type, text: t.label }))}
        onItemClick={(e) => onChange([...steps, newStep(e.detail.id as Step["type"])])}>
        Add step
      </ButtonDropdown>
    </SpaceBetween>
  );
}

const QUORUM_OPTIONS = [
  { value: "one", label: "One approver" },
  { value: "recovery", label: "Two for a real recovery" },
  { value: "always", label: "Two for recoveries and drills" },
];

function quorumOption(step: Step) {
  const value = step.drillQuorum === 2 ? "always" : step.recoveryQuorum === 2 ? "recovery" : "one";
  return QUORUM_OPTIONS.find((o) => o.value === value) ?? null;
}

function withQuorum(step: Step, value: string | undefined): Step {
  const next: Step = { ...step };
  delete next.recoveryQuorum;
  delete next.drillQuorum;
  if (value === "recovery" || value === "always") next.recoveryQuorum = 2;
  if (value === "always") next.drillQuorum = 2;
  return next;
}
