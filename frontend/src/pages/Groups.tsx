import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Form from "@cloudscape-design/components/form";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import Modal from "@cloudscape-design/components/modal";
import Multiselect from "@cloudscape-design/components/multiselect";
import RadioGroup from "@cloudscape-design/components/radio-group";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Table from "@cloudscape-design/components/table";
import Textarea from "@cloudscape-design/components/textarea";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useApp } from "../App";
import { ApiError, get, post, put } from "../api";
import { DialogFooter, ErrorAlert } from "../components/common";
import type { Group, SourceServer } from "../lib/types";

interface Preview {
  items: { id: string; hostname: string; ownedBy?: string | null }[];
  conflicts: number;
}

/** `Application=shop, Role=db` -> {Application: "shop", Role: "db"}; null when malformed. */
export function parseSelector(text: string): Record<string, string> | null {
  const out: Record<string, string> = {};
  for (const part of text.split(/[,\n]/).map((p) => p.trim()).filter(Boolean)) {
    const [k, ...rest] = part.split("=");
    if (!k || rest.length === 0) return null;
    out[k.trim()] = rest.join("=").trim();
  }
  return out;
}

function GroupDialog({ onClose, existing }: { onClose: (plansChanged?: string[]) => void; existing?: Group }) {
  const client = useQueryClient();
  const servers = useQuery({ queryKey: ["source-servers"], queryFn: () => get<{ items: SourceServer[] }>("/source-servers") });
  const [id, setId] = useState(existing?.id ?? "");
  const [name, setName] = useState(existing?.name ?? "");
  const [mode, setMode] = useState<"servers" | "tags">(existing?.tagSelector ? "tags" : "servers");
  const [picked, setPicked] = useState<string[]>(existing?.servers ?? []);
  const [selector, setSelector] = useState(
    existing?.tagSelector ? Object.entries(existing.tagSelector).map(([k, v]) => `${k}=${v}`).join(", ") : "",
  );
  const tags = parseSelector(selector);
  const body = { id, name, ...(mode === "servers" ? { servers: picked } : { tagSelector: tags ?? {} }) };
  const preview = useQuery({
    queryKey: ["preview", mode, picked, selector],
    queryFn: () =>
      post<Preview>("/protection-groups/preview", { ...(mode === "servers" ? { servers: picked } : { tagSelector: tags ?? {} }), ...(existing ? { group: existing.id } : {}) }),
    enabled: mode === "servers" ? picked.length > 0 : !!tags && Object.keys(tags).length > 0,
  });
  const create = useMutation({
    // Editing names the version read: a concurrent change is refused (409), not lost.
    mutationFn: () =>
      existing
        ? put<Group & { plansChanged?: string[] }>(`/protection-groups/${existing.id}`, { ...body, version: existing.version })
        : post<Group & { plansChanged?: string[] }>("/protection-groups", body),
    onSuccess: (saved) => {
      void client.invalidateQueries({ queryKey: ["groups"] });
      void client.invalidateQueries({ queryKey: ["source-servers"] });
      onClose(saved.plansChanged);
    },
  });
  const fieldError = (path: string) =>
    create.error instanceof ApiError ? create.error.details.filter((d) => d.path === path || d.path.startsWith(`${path}[`)).map((d) => d.message).join("; ") || undefined : undefined;
  const conflicts = (preview.data?.items ?? []).filter((s) => s.ownedBy && s.ownedBy !== id);
  return (
    <Modal closeAriaLabel="Close dialog" visible onDismiss={() => onClose()} header={existing ? `Edit ${existing.name}` : "Create protection group"} size="large"
      footer={<DialogFooter action={existing ? "Save" : "Create"} busy={create.isPending} onAction={() => create.mutate()} onCancel={() => onClose()} />}>
      <Form>
        <SpaceBetween size="m">
          {create.error && !(create.error instanceof ApiError && create.error.details.length > 0) && <ErrorAlert error={create.error} />}
          <FormField label="ID" description="Lower-case letters, digits and hyphens" errorText={fieldError("id")}>
            <Input value={id} onChange={(e) => setId(e.detail.value)} ariaLabel="Group ID" disabled={!!existing} />
          </FormField>
          <FormField label="Name" errorText={fieldError("name")}>
            <Input value={name} onChange={(e) => setName(e.detail.value)} ariaLabel="Group name" />
          </FormField>
          <FormField label="Servers">
            <RadioGroup value={mode} onChange={(e) => setMode(e.detail.value as "servers" | "tags")} items={[{ value: "servers", label: "Pick servers" }, { value: "tags", label: "Select by tags" }]} />
          </FormField>
          {mode === "servers" ? (
            <FormField label="Source servers" errorText={fieldError("servers")}>
              <Multiselect deselectAriaLabel={(o) => `Remove ${o.label ?? ""}`}
                selectedOptions={picked.map((p) => ({ value: p, label: servers.data?.items.find((s) => s.id === p)?.hostname ?? p }))}
                onChange={(e) => setPicked(e.detail.selectedOptions.map((o) => o.value ?? ""))}
                options={(servers.data?.items ?? []).map((s) => ({ value: s.id, label: s.hostname, description: s.id, tags: s.protectionGroup ? [`in ${s.protectionGroup}`] : [] }))}
                filteringType="auto"
                placeholder="Choose source servers"
                ariaLabel="Source servers"
              />
            </FormField>
          ) : (
            <FormField label="Tag selector" description="Key=Value pairs; a server must match all" errorText={tags === null ? "write Key=Value pairs separated by commas" : fieldError("tagSelector")}>
              <Textarea value={selector} onChange={(e) => setSelector(e.detail.value)} placeholder="Application=shop, Role=db" ariaLabel="Tag selector" />
            </FormField>
          )}
          <Box>
            <Box variant="awsui-key-label">Preview</Box>
            {preview.data ? (
              <>
                <div data-testid="preview-count">{preview.data.items.length} servers match</div>
                {conflicts.length > 0 && (
                  <Box color="text-status-error" data-testid="preview-conflicts">
                    Already protected: {conflicts.map((c) => `${c.hostname} (in ${c.ownedBy})`).join(", ")}
                  </Box>
                )}
              </>
            ) : (
              <Box color="text-body-secondary">Choose servers or tags to see which servers the group claims.</Box>
            )}
          </Box>
        </SpaceBetween>
      </Form>
    </Modal>
  );
}

export function GroupsPage() {
  const { can } = useApp();
  const groups = useQuery({ queryKey: ["groups"], queryFn: () => get<{ items: Group[] }>("/protection-groups") });
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<Group | null>(null);
  const [changed, setChanged] = useState<{ group: string; plans: string[] } | null>(null);
  return (
    <SpaceBetween size="m">
      <ErrorAlert error={groups.error} />
      {changed && (
        <Alert type="info" dismissible i18nStrings={{ dismissAriaLabel: "Dismiss" }} onDismiss={() => setChanged(null)} data-testid="plans-changed">
          {changed.plans.length === 0
            ? `${changed.group} saved; no recovery plan uses it.`
            : `${changed.group} saved. It changes ${changed.plans.length === 1 ? "recovery plan" : "recovery plans"} ${changed.plans.join(", ")}: their next run launches the group's servers as they are now (each run compiles its plan when it starts).`}
        </Alert>
      )}
      <Table
        header={
          <Header variant="h1" counter={`(${groups.data?.items.length ?? 0})`} description="A source server belongs to at most one group"
            actions={can.author ? <Button variant="primary" onClick={() => setCreating(true)}>Create protection group</Button> : undefined}>
            Protection groups
          </Header>
        }
        loading={groups.isPending}
        items={groups.data?.items ?? []}
        trackBy="id"
        columnDefinitions={[
          { id: "name", header: "Name", cell: (g) => g.name },
          { id: "id", header: "ID", cell: (g) => <code>{g.id}</code> },
          { id: "selection", header: "Selection", cell: (g) => (g.tagSelector ? `tags ${Object.entries(g.tagSelector).map(([k, v]) => `${k}=${v}`).join(", ")}` : "explicit servers") },
          { id: "servers", header: "Servers", cell: (g) => (g.resolvedServers ?? g.servers).length },
          { id: "version", header: "Version", cell: (g) => g.version },
          ...(can.author ? [{ id: "edit", header: "Actions", cell: (g: Group) => <Button variant="inline-link" ariaLabel={`Edit ${g.name}`} onClick={() => setEditing(g)}>Edit</Button> }] : []),
        ]}
        empty="No protection groups"
      />
      {creating && <GroupDialog onClose={() => setCreating(false)} />}
      {editing && (
        <GroupDialog
          existing={editing}
          onClose={(plans) => {
            if (plans) setChanged({ group: editing.name, plans });
            setEditing(null);
          }}
        />
      )}
    </SpaceBetween>
  );
}
