import Button from "@cloudscape-design/components/button";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Link from "@cloudscape-design/components/link";
import Modal from "@cloudscape-design/components/modal";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Table from "@cloudscape-design/components/table";
import Textarea from "@cloudscape-design/components/textarea";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useNavigate } from "react-router-dom";
import { useApp } from "../App";
import { api, get } from "../api";
import { DialogFooter, ErrorAlert, time } from "../components/common";
import type { StoredPlan } from "../lib/types";

function ImportPlan({ onClose }: { onClose: () => void }) {
  const client = useQueryClient();
  const navigate = useNavigate();
  const [text, setText] = useState("");
  const upload = useMutation({
    mutationFn: () => api<StoredPlan>("POST", "/plans/import", text, "application/yaml"),
    onSuccess: (plan) => {
      void client.invalidateQueries({ queryKey: ["plans"] });
      navigate(`/plans/${plan.id}`);
    },
  });
  return (
    <Modal closeAriaLabel="Close dialog" visible onDismiss={onClose} size="large" header="Import a plan (YAML)"
      footer={<DialogFooter action="Import" busy={upload.isPending} onAction={() => upload.mutate()} onCancel={onClose} />}>
      <SpaceBetween size="m">
        <ErrorAlert error={upload.error} header="The plan was not imported" />
        <FormField label="Plan file" description="The same format as examples/*.yaml and the plan's YAML export; its protection groups must exist.">
          <Textarea value={text} onChange={(e) => setText(e.detail.value)} rows={18} ariaLabel="Plan YAML" spellcheck={false} />
        </FormField>
        <input type="file" accept=".yaml,.yml,.json" aria-label="Plan file" onChange={(e) => { const f = e.target.files?.[0]; if (f) void f.text().then(setText); }} />
      </SpaceBetween>
    </Modal>
  );
}

export function PlansPage() {
  const { can } = useApp();
  const navigate = useNavigate();
  const plans = useQuery({ queryKey: ["plans"], queryFn: () => get<{ items: StoredPlan[] }>("/plans") });
  const [importing, setImporting] = useState(false);
  return (
    <SpaceBetween size="m">
      <ErrorAlert error={plans.error} />
      <Table
        header={
          <Header variant="h1" counter={`(${plans.data?.items.length ?? 0})`} description="Each plan runs as its own Step Functions state machine"
            actions={can.author ? (
              <SpaceBetween direction="horizontal" size="xs">
                <Button onClick={() => setImporting(true)}>Import YAML</Button>
                <Button variant="primary" onClick={() => navigate("/plans/new")}>Create plan</Button>
              </SpaceBetween>
            ) : undefined}>
            Recovery plans
          </Header>
        }
        loading={plans.isPending}
        items={plans.data?.items ?? []}
        trackBy="id"
        columnDefinitions={[
          { id: "name", header: "Name", cell: (p) => <Link href={`/plans/${p.id}`} onFollow={(e) => { e.preventDefault(); navigate(`/plans/${p.id}`); }}>{p.name}</Link> },
          { id: "id", header: "ID", cell: (p) => <code>{p.id}</code> },
          { id: "servers", header: "Servers", cell: (p) => p.servers },
          { id: "version", header: "Version", cell: (p) => p.version },
          { id: "updated", header: "Updated", cell: (p) => `${time(p.updatedAt)} by ${p.updatedBy}` },
        ]}
        empty="No recovery plans"
      />
      {importing && <ImportPlan onClose={() => setImporting(false)} />}
    </SpaceBetween>
  );
}
