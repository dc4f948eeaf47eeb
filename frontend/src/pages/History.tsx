import Button from "@cloudscape-design/components/button";
import Header from "@cloudscape-design/components/header";
import Link from "@cloudscape-design/components/link";
import Select from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Table from "@cloudscape-design/components/table";
import TextFilter from "@cloudscape-design/components/text-filter";
import { useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { useNavigate } from "react-router-dom";
import { get } from "../api";
import { download, ErrorAlert, RunStatus, time } from "../components/common";
import { csv } from "../lib/csv";
import { formatSeconds, seconds } from "../lib/report";
import type { Execution } from "../lib/types";

const ANY = { value: "", label: "Any" };

type SortField = "startedAt" | "planName" | "status" | "duration" | "startedBy";

function compareBy(field: SortField, a: Execution, b: Execution): number {
  if (field === "duration") return (seconds(a.startedAt, a.endedAt) ?? Infinity) - (seconds(b.startedAt, b.endedAt) ?? Infinity) || 0;
  return (a[field] ?? "").localeCompare(b[field] ?? "");
}
const COLUMNS = ["id", "planId", "planName", "mode", "status", "warnings", "startedAt", "endedAt", "startedBy", "stoppedBy"];

export function HistoryPage() {
  const navigate = useNavigate();
  const runs = useQuery({ queryKey: ["executions"], queryFn: () => get<{ items: Execution[] }>("/executions"), refetchInterval: 5000 });
  const [text, setText] = useState("");
  const [mode, setMode] = useState(ANY);
  const [status, setStatus] = useState(ANY);
  const [descending, setDescending] = useState(true);
  const [sortBy, setSortBy] = useState<SortField>("startedAt");
  const items = useMemo(() => {
    const all = (runs.data?.items ?? []).filter(
      (e) => `${e.id} ${e.planName} ${e.startedBy ?? ""}`.toLowerCase().includes(text.toLowerCase()) && (!mode.value || e.mode === mode.value) && (!status.value || e.status === status.value),
    );
    return all.sort((a, b) => (descending ? -1 : 1) * compareBy(sortBy, a, b));
  }, [runs.data, text, mode, status, descending, sortBy]);
  return (
    <SpaceBetween size="m">
      <ErrorAlert error={runs.error} />
      <Table
        header={
          <Header variant="h1" counter={`(${items.length})`}
            actions={
              <SpaceBetween direction="horizontal" size="xs">
                <Button onClick={() => download("executions.csv", csv(items as unknown as Record<string, unknown>[], COLUMNS), "text/csv")}>Export CSV</Button>
                <Button onClick={() => download("executions.json", JSON.stringify(items, null, 2), "application/json")}>Export JSON</Button>
              </SpaceBetween>
            }>
            History
          </Header>
        }
        loading={runs.isPending}
        items={items}
        trackBy="id"
        sortingColumn={{ sortingField: sortBy }}
        sortingDescending={descending}
        onSortingChange={(e) => {
          setSortBy((e.detail.sortingColumn.sortingField as SortField | undefined) ?? "startedAt");
          setDescending(e.detail.isDescending ?? false);
        }}
        filter={
          <SpaceBetween direction="horizontal" size="s">
            <TextFilter filteringClearAriaLabel="Clear filter" filteringText={text} filteringPlaceholder="Find executions" filteringAriaLabel="Filter executions" onChange={(e) => setText(e.detail.filteringText)} />
            <Select selectedOption={mode} onChange={(e) => setMode(e.detail.selectedOption as typeof ANY)} options={[ANY, { value: "DRILL", label: "Drill" }, { value: "RECOVERY", label: "Recovery" }]} inlineLabelText="Mode" />
            <Select selectedOption={status} onChange={(e) => setStatus(e.detail.selectedOption as typeof ANY)} options={[ANY, ...["RUNNING", "SUCCEEDED", "FAILED", "ABORTED", "CLEANUP_FAILED"].map((s) => ({ value: s, label: s }))]} inlineLabelText="Status" />
          </SpaceBetween>
        }
        columnDefinitions={[
          { id: "id", header: "Execution", cell: (e) => <Link href={`/executions/${e.id}`} onFollow={(ev) => { ev.preventDefault(); navigate(`/executions/${e.id}`); }}>{e.id}</Link> },
          { id: "plan", header: "Plan", cell: (e) => e.planName, sortingField: "planName" },
          { id: "mode", header: "Mode", cell: (e) => e.mode },
          { id: "status", header: "Status", cell: (e) => <RunStatus run={e} />, sortingField: "status" },
          { id: "startedAt", header: "Started", cell: (e) => time(e.startedAt), sortingField: "startedAt" },
          { id: "startedBy", header: "Started by", cell: (e) => e.startedBy ?? "—", sortingField: "startedBy" },
          { id: "duration", header: "Duration", cell: (e) => formatSeconds(seconds(e.startedAt, e.endedAt)), sortingField: "duration" },
        ]}
        empty="No executions yet"
      />
    </SpaceBetween>
  );
}
