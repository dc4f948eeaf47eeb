// The plan builder: waves, the groups in each, their dependencies, criticality and
// steps, an approval gate before a wave, drill cleanup; a live graph of what is being
// built; the API's validation errors shown at the field they name.

import Button from "@cloudscape-design/components/button";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import Container from "@cloudscape-design/components/container";
import Form from "@cloudscape-design/components/form";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import Select from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useNavigate } from "react-router-dom";
import { ApiError, get, post, put } from "../api";
import { mapErrors } from "../lib/errors";
import type { Condition, Group, PlanDocument, PlanGroup, Step, StoredPlan, Wave } from "../lib/types";
import { PlanGraph } from "./PlanGraph";
import { StepForm, StepsEditor, stepFields } from "./StepsEditor";

const CONDITIONS: Condition[] = ["launched", "running", "healthy"];

/** `w2.shop-app` -> [1, "shop-app"] (0-based wave). */
function parseKey(key: string): [number, string] | null {
  const m = /^w(\d+)\.(.+)$/.exec(key);
  return m ? [Number(m[1]) - 1, m[2]!] : null;
}
const opt = (v: string, label = v) => ({ value: v, label });

// `onApproval` is an approval step's fields without `type` (the plan model has none there).
type Cleanup = "immediate" | "keep" | { after: string } | { onApproval: Omit<Step, "type"> };

const CLEANUPS: Record<ReturnType<typeof cleanupKind>, string> = {
  immediate: "Terminate at once",
  after: "Terminate after a while",
  onApproval: "Terminate when an approver ends the drill",
  keep: "Keep; clean up by hand",
};

function cleanupKind(c: unknown): "immediate" | "keep" | "after" | "onApproval" {
  if (c === "keep") return "keep";
  if (c && typeof c === "object" && "after" in c) return "after";
  if (c && typeof c === "object" && "onApproval" in c) return "onApproval";
  return "immediate";
}

export function PlanEditor({ existing }: { existing?: StoredPlan }) {
  const client = useQueryClient();
  const navigate = useNavigate();
  const groups = useQuery({ queryKey: ["groups"], queryFn: () => get<{ items: Group[] }>("/protection-groups") });
  const [plan, setPlan] = useState<PlanDocument>(
    existing?.plan ?? { id: "", name: "", rto: "1h", drill: { cleanup: "immediate" }, waves: [{ name: "Wave 1", groups: [] }] },
  );
  const [localError, setLocalError] = useState<string | null>(null);
  const save = useMutation({
    mutationFn: (doc: PlanDocument) =>
      existing ? put<StoredPlan>(`/plans/${existing.id}`, { plan: doc, version: existing.version }) : post<StoredPlan>("/plans", { plan: doc }),
    onSuccess: (saved) => {
      void client.invalidateQueries({ queryKey: ["plans"] });
      // Every view of the plan shows the saved version: graph, YAML, ASL, pre-flight.
      for (const view of ["plan", "yaml", "asl", "preflight"]) void client.invalidateQueries({ queryKey: [view, saved.id] });
      navigate(`/plans/${saved.id}`);
    },
  });
  const fields: string[] = ["id", "name", "description", "rto", "defaults", "defaults.launchTimeout", "defaults.runningTimeout", "drill", "drill.cleanup", "drill.cleanup.after", "drill.cleanup.onApproval"];
  plan.waves.forEach((w, wi) => {
    fields.push(`waves.${wi}`, `waves.${wi}.name`, `waves.${wi}.before`, `waves.${wi}.after`);
    fields.push(...stepFields(`waves.${wi}.before`, w.before ?? []), ...stepFields(`waves.${wi}.after`, w.after ?? []));
    w.groups.forEach((g, gi) => {
      const at = `waves.${wi}.groups.${gi}`;
      fields.push(at, `${at}.group`, `${at}.dependsOn`, `${at}.launchTimeout`, `${at}.runningTimeout`, `${at}.steps`, ...stepFields(`${at}.steps`, g.steps ?? []));
    });
  });
  const errors = save.error instanceof ApiError ? mapErrors(save.error.details, fields) : { byField: {}, other: [] };
  const err = (f: string) => errors.byField[f];

  const update = (fn: (p: PlanDocument) => void) => {
    const next = structuredClone(plan);
    fn(next);
    setPlan(next);
  };
  const wave = (p: PlanDocument, wi: number): Wave => p.waves[wi]!;
  const group = (p: PlanDocument, wi: number, gi: number): PlanGroup => wave(p, wi).groups[gi]!;
  const allGroups = plan.waves.flatMap((w) => w.groups.map((g) => g.group));
  const groupOptions = (groups.data?.items ?? []).map((g) => opt(g.id, `${g.name} (${g.id})`));
  const cleanupValue = plan.drill && (plan.drill as { cleanup?: Cleanup }).cleanup;
  const cleanup = cleanupKind(cleanupValue);
  const unplaced = (groups.data?.items ?? []).filter((g) => !allGroups.includes(g.id));

  const connect = (source: string, target: string) => {
    const from = parseKey(source);
    const to = parseKey(target);
    if (!from || !to || from[1] === to[1]) return;
    if (from[0] > to[0]) {
      setLocalError(`${to[1]} cannot depend on ${from[1]}: a dependency must be in the same or an earlier wave`);
      return;
    }
    setLocalError(null);
    update((p) => {
      for (const g of wave(p, to[0]).groups.filter((x) => x.group === to[1])) {
        if (!(g.dependsOn ?? []).some((d) => d.group === from[1])) g.dependsOn = [...(g.dependsOn ?? []), { group: from[1], condition: "running" }];
      }
    });
  };
  const deleteDependency = (edgeId: string) => {
    const [, w, name, i] = edgeId.split("|");
    update((p) => {
      const g = p.waves[Number(w)]?.groups.find((x) => x.group === name);
      g?.dependsOn?.splice(Number(i), 1);
    });
  };
  const place = (groupId: string, wi: number) =>
    update((p) => {
      if (!p.waves.some((w) => w.groups.some((g) => g.group === groupId))) wave(p, wi).groups.push({ group: groupId });
    });

  return (
    <Form
      header={<Header variant="h2">{existing ? `Edit ${existing.name}` : "Create recovery plan"}</Header>}
      actions={
        <SpaceBetween direction="horizontal" size="xs">
          <Button variant="primary" loading={save.isPending} onClick={() => { setLocalError(null); save.mutate(plan); }}>Save plan</Button>
        </SpaceBetween>
      }
      errorText={errors.other.length > 0 ? errors.other.join("; ") : save.error && !(save.error instanceof ApiError && save.error.details.length > 0) ? String(save.error.message) : undefined}
    >
      <SpaceBetween size="l">
        {localError && <Alert type="error">{localError}</Alert>}
        <Container header={<Header variant="h3">Plan</Header>}>
          <SpaceBetween size="s">
            {!existing && (
              <FormField label="ID" errorText={err("id")}>
                <Input value={plan.id} onChange={(e) => update((p) => { p.id = e.detail.value; })} ariaLabel="Plan ID" />
              </FormField>
            )}
            <FormField label="Name" errorText={err("name")}>
              <Input value={plan.name} onChange={(e) => update((p) => { p.name = e.detail.value; })} ariaLabel="Plan name" />
            </FormField>
            <FormField label="RTO target" description="e.g. 1h, 45m" errorText={err("rto")}>
              <Input value={plan.rto ?? ""} onChange={(e) => update((p) => { p.rto = e.detail.value || undefined; })} ariaLabel="RTO target" />
            </FormField>
            <FormField label="Description" errorText={err("description")}>
              <Input value={plan.description ?? ""} onChange={(e) => update((p) => { p.description = e.detail.value || undefined; })} ariaLabel="Plan description" />
            </FormField>
            <ColumnLayout columns={2}>
              {(["launchTimeout", "runningTimeout"] as const).map((t) => (
                <FormField key={t} label={t === "launchTimeout" ? "Launch timeout" : "Running timeout"}
                  description={t === "launchTimeout" ? "StartRecovery until every server is launched; default 45m, a group may set its own" : "launched until running with status checks ok; default 20m"}
                  errorText={err(`defaults.${t}`) ?? (t === "launchTimeout" ? err("defaults") : undefined)}>
                  <Input value={plan.defaults?.[t] ?? ""} placeholder={t === "launchTimeout" ? "45m" : "20m"} ariaLabel={`Plan ${t === "launchTimeout" ? "launch" : "running"} timeout`}
                    onChange={(e) => update((p) => {
                      const next = { ...(p.defaults ?? {}), [t]: e.detail.value || undefined };
                      p.defaults = next.launchTimeout || next.runningTimeout ? next : undefined;
                    })} />
                </FormField>
              ))}
            </ColumnLayout>
            <FormField label="Drill cleanup" errorText={err("drill.cleanup") ?? err("drill")}>
              <Select selectedOption={opt(cleanup, CLEANUPS[cleanup])} ariaLabel="Drill cleanup"
                options={Object.entries(CLEANUPS).map(([v, label]) => opt(v, label))}
                onChange={(e) => update((p) => {
                  const v = e.detail.selectedOption.value;
                  const c: Cleanup = v === "after" ? { after: "1h" } : v === "onApproval" ? { onApproval: { name: "End drill", timeout: "24h" } } : v === "keep" ? "keep" : "immediate";
                  p.drill = { cleanup: c };
                })} />
            </FormField>
            {cleanup === "after" && (
              <FormField label="Keep the drill's instances for" description="then terminate them, e.g. 1h, 2d" errorText={err("drill.cleanup.after")}>
                <Input value={(cleanupValue as { after: string }).after} ariaLabel="Keep drill instances for"
                  onChange={(e) => update((p) => { p.drill = { cleanup: { after: e.detail.value } }; })} />
              </FormField>
            )}
            {cleanup === "onApproval" && (
              <Container variant="stacked" header={<Header variant="h3">Approval that ends the drill</Header>}>
                {err("drill.cleanup.onApproval") && <Box color="text-status-error">{err("drill.cleanup.onApproval")}</Box>}
                <StepForm step={{ ...(cleanupValue as { onApproval: Omit<Step, "type"> }).onApproval, type: "approval" }} label="drill end approval"
                  err={(f) => err(f ? `drill.cleanup.onApproval.${f}` : "drill.cleanup.onApproval")}
                  set={({ type: _approval, ...fields }) => update((p) => { p.drill = { cleanup: { onApproval: fields } }; })} />
              </Container>
            )}
          </SpaceBetween>
        </Container>

        <Container header={<Header variant="h3" description="Drag a group into a wave, or use “Add group” in the wave">Protection groups not in the plan</Header>}>
          <div style={{ display: "flex", flexWrap: "wrap", gap: 8 }} data-testid="group-palette" role="list" aria-label="Protection groups not in the plan">
            {unplaced.map((g) => (
              <div key={g.id} draggable role="listitem" aria-label={`${g.name} (${g.id}), drag into a wave`} data-group={g.id}
                onDragStart={(e) => { e.dataTransfer.setData("text/plain", g.id); e.dataTransfer.effectAllowed = "copy"; }}
                style={{ border: "1px solid #0972d3", borderRadius: 16, padding: "4px 12px", cursor: "grab", background: "#f0f7ff", color: "#033160" }}>
                {g.name}
              </div>
            ))}
            {unplaced.length === 0 && <Box color="text-body-secondary">Every protection group is in the plan.</Box>}
          </div>
        </Container>
        {plan.waves.map((w, wi) => (
          <div key={wi} data-testid={`wave-${wi + 1}`} onDragOver={(e) => { e.preventDefault(); e.dataTransfer.dropEffect = "copy"; }}
            onDrop={(e) => { e.preventDefault(); const id = e.dataTransfer.getData("text/plain"); if (id) place(id, wi); }}>
          <Container header={
            <Header variant="h3" actions={<Button onClick={() => update((p) => { p.waves.splice(wi, 1); })} disabled={plan.waves.length === 1}>Remove wave</Button>}>
              Wave {wi + 1}
            </Header>
          }>
            <SpaceBetween size="s">
              <FormField label="Wave name" errorText={err(`waves.${wi}.name`) ?? err(`waves.${wi}`)}>
                <Input value={w.name} onChange={(e) => update((p) => { wave(p, wi).name = e.detail.value; })} ariaLabel={`Wave ${wi + 1} name`} />
              </FormField>
              <StepsEditor title="Before this wave" steps={w.before ?? []} owner={`wave ${wi + 1} before`} types={["approval", "wait"]}
                empty="Nothing: the wave starts when the one before it ends."
                err={(path) => err(path ? `waves.${wi}.before.${path}` : `waves.${wi}.before`)}
                onChange={(steps) => update((p) => { wave(p, wi).before = steps.length ? steps : undefined; })} />
              {w.groups.map((g, gi) => (
                <Container key={gi} header={<Header variant="h3" actions={<Button onClick={() => update((p) => { wave(p, wi).groups.splice(gi, 1); })}>Remove group</Button>}>Group {gi + 1}</Header>}>
                  <SpaceBetween size="s">
                    <FormField label="Protection group" errorText={err(`waves.${wi}.groups.${gi}.group`) ?? err(`waves.${wi}.groups.${gi}`)}>
                      <Select selectedOption={g.group ? opt(g.group) : null} options={groupOptions} placeholder="Choose a protection group" ariaLabel={`Wave ${wi + 1} group ${gi + 1}`}
                        onChange={(e) => update((p) => { group(p, wi, gi).group = e.detail.selectedOption.value ?? ""; })} />
                    </FormField>
                    <FormField label="Criticality">
                      <Select selectedOption={opt(g.criticality ?? "critical")} options={[opt("critical", "Critical: failure stops the plan"), opt("optional", "Optional: failure is a warning")]} ariaLabel={`Criticality of wave ${wi + 1} group ${gi + 1}`}
                        onChange={(e) => update((p) => { group(p, wi, gi).criticality = e.detail.selectedOption.value as "critical" | "optional"; })} />
                    </FormField>
                    <ColumnLayout columns={2}>
                      {(["launchTimeout", "runningTimeout"] as const).map((t) => (
                        <FormField key={t} label={t === "launchTimeout" ? "Launch timeout" : "Running timeout"} description="empty: the plan's" errorText={err(`waves.${wi}.groups.${gi}.${t}`)}>
                          <Input value={(g[t] as string | undefined) ?? ""} placeholder={plan.defaults?.[t] ?? (t === "launchTimeout" ? "45m" : "20m")}
                            ariaLabel={`${t === "launchTimeout" ? "Launch" : "Running"} timeout of wave ${wi + 1} group ${gi + 1}`}
                            onChange={(e) => update((p) => { group(p, wi, gi)[t] = e.detail.value || undefined; })} />
                        </FormField>
                      ))}
                    </ColumnLayout>
                    <FormField label="Depends on" errorText={err(`waves.${wi}.groups.${gi}.dependsOn`)}>
                      <SpaceBetween size="xs">
                        {(g.dependsOn ?? []).map((d, di) => (
                          <SpaceBetween key={di} direction="horizontal" size="xs">
                            <Select selectedOption={d.group ? opt(d.group) : null} options={allGroups.filter((x) => x && x !== g.group).map((x) => opt(x))} placeholder="Group" ariaLabel={`Dependency ${di + 1} of ${g.group || "group"}`}
                              onChange={(e) => update((p) => { const dep = group(p, wi, gi).dependsOn?.[di]; if (dep) dep.group = e.detail.selectedOption.value; })} />
                            <Select selectedOption={opt(d.condition ?? "running")} options={CONDITIONS.map((c) => opt(c))} ariaLabel={`Condition of dependency ${di + 1} of ${g.group || "group"}`}
                              onChange={(e) => update((p) => { const dep = group(p, wi, gi).dependsOn?.[di]; if (dep) dep.condition = e.detail.selectedOption.value as Condition; })} />
                            <Button onClick={() => update((p) => { group(p, wi, gi).dependsOn?.splice(di, 1); })}>Remove</Button>
                          </SpaceBetween>
                        ))}
                        <Button onClick={() => update((p) => { const x = group(p, wi, gi); x.dependsOn = [...(x.dependsOn ?? []), { condition: "running" }]; })}>Add dependency</Button>
                      </SpaceBetween>
                    </FormField>
                    <StepsEditor title="Steps" description="Run in order once the group's instances are running" steps={g.steps ?? []} owner={`wave ${wi + 1} group ${gi + 1}`}
                      err={(path) => err(path ? `waves.${wi}.groups.${gi}.steps.${path}` : `waves.${wi}.groups.${gi}.steps`)}
                      onChange={(steps) => update((p) => { group(p, wi, gi).steps = steps.length ? steps : undefined; })} />
                  </SpaceBetween>
                </Container>
              ))}
              <div data-testid={`wave-drop-${wi + 1}`} style={{ border: "2px dashed #8c8c94", borderRadius: 8, padding: 12, textAlign: "center", color: "#414d5c" }}>
                Drop a protection group here
              </div>
              <Button onClick={() => update((p) => { wave(p, wi).groups.push({ group: "" }); })}>Add group to wave {wi + 1}</Button>
              <StepsEditor title="After this wave" steps={w.after ?? []} owner={`wave ${wi + 1} after`} types={["approval", "wait"]}
                empty="Nothing: the next wave starts when every group of this one has ended."
                err={(path) => err(path ? `waves.${wi}.after.${path}` : `waves.${wi}.after`)}
                onChange={(steps) => update((p) => { wave(p, wi).after = steps.length ? steps : undefined; })} />
            </SpaceBetween>
          </Container>
          </div>
        ))}
        <Button onClick={() => update((p) => { p.waves.push({ name: `Wave ${p.waves.length + 1}`, groups: [] }); })}>Add wave</Button>
        <Container header={<Header variant="h3">Preview</Header>}>
          <Box variant="small">Drag from one group's handle to another's to add a dependency (running); select a dependency and press Delete to remove it.</Box>
          <PlanGraph plan={plan} height={360} onConnect={connect} onDeleteDependency={deleteDependency} />
        </Container>
      </SpaceBetween>
    </Form>
  );
}
