import CollectionPreferences from "@cloudscape-design/components/collection-preferences";
import Header from "@cloudscape-design/components/header";
import Pagination from "@cloudscape-design/components/pagination";
import Select from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Table from "@cloudscape-design/components/table";
import TextFilter from "@cloudscape-design/components/text-filter";
import { useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { get } from "../api";
import { ErrorAlert } from "../components/common";
import type { SourceServer } from "../lib/types";

const ALL = { value: "", label: "Any" };

export function SourceServersPage() {
  const servers = useQuery({ queryKey: ["source-servers"], queryFn: () => get<{ items: SourceServer[] }>("/source-servers") });
  const [text, setText] = useState("");
  const [state, setState] = useState(ALL);
  const [group, setGroup] = useState(ALL);
  const [page, setPage] = useState(1);
  const [pageSize, setPageSize] = useState(20);
  const items = servers.data?.items ?? [];
  const options = (values: (string | null | undefined)[]) => [ALL, ...[...new Set(values.filter((v): v is string => !!v))].sort().map((v) => ({ value: v, label: v }))];
  const filtered = useMemo(
    () =>
      items.filter((s) => {
        const hay = `${s.id} ${s.hostname} ${Object.entries(s.tags).map(([k, v]) => `${k}=${v}`).join(" ")}`.toLowerCase();
        return (
          hay.includes(text.toLowerCase()) &&
          (!state.value || s.replicationState === state.value) &&
          (!group.value || (s.protectionGroup ?? "") === group.value)
        );
      }),
    [items, text, state, group],
  );
  const pageItems = filtered.slice((page - 1) * pageSize, page * pageSize);
  return (
    <SpaceBetween size="m">
      <ErrorAlert error={servers.error} />
      <Table
        header={<Header variant="h1" counter={`(${items.length})`} description="DRS source servers in this account and region">Source servers</Header>}
        loading={servers.isPending}
        loadingText="Loading source servers"
        items={pageItems}
        trackBy="id"
        filter={
          <SpaceBetween direction="horizontal" size="s">
            <TextFilter filteringClearAriaLabel="Clear filter" filteringText={text} filteringPlaceholder="Find by name, ID or tag (Key=Value)" filteringAriaLabel="Filter servers" onChange={(e) => { setText(e.detail.filteringText); setPage(1); }} countText={`${filtered.length} matches`} />
            <Select selectedOption={state} onChange={(e) => setState(e.detail.selectedOption as typeof ALL)} options={options(items.map((s) => s.replicationState))} inlineLabelText="Replication" />
            <Select selectedOption={group} onChange={(e) => setGroup(e.detail.selectedOption as typeof ALL)} options={options(items.map((s) => s.protectionGroup))} inlineLabelText="Group" />
          </SpaceBetween>
        }
        pagination={<Pagination ariaLabels={{ nextPageLabel: "Next page", previousPageLabel: "Previous page", pageLabel: (n) => `Page ${n}` }} currentPageIndex={page} pagesCount={Math.max(1, Math.ceil(filtered.length / pageSize))} onChange={(e) => setPage(e.detail.currentPageIndex)} />}
        preferences={
          <CollectionPreferences
            title="Preferences"
            confirmLabel="Confirm"
            cancelLabel="Cancel"
            preferences={{ pageSize }}
            pageSizePreference={{ title: "Page size", options: [10, 20, 50, 100].map((n) => ({ value: n, label: `${n} servers` })) }}
            onConfirm={(e) => setPageSize(e.detail.pageSize ?? 20)}
          />
        }
        columnDefinitions={[
          { id: "hostname", header: "Hostname", cell: (s) => s.hostname, sortingField: "hostname" },
          { id: "id", header: "Source server ID", cell: (s) => <code>{s.id}</code> },
          { id: "replication", header: "Replication", cell: (s) => s.replicationState },
          { id: "lag", header: "Lag", cell: (s) => (s.lagSeconds > 0 ? `${Math.round(s.lagSeconds / 60)} min` : "none") },
          { id: "group", header: "Protection group", cell: (s) => s.protectionGroup ?? "—" },
          { id: "tags", header: "Tags", cell: (s) => Object.entries(s.tags).map(([k, v]) => `${k}=${v}`).join(", ") },
        ]}
        empty="No source servers"
      />
    </SpaceBetween>
  );
}
