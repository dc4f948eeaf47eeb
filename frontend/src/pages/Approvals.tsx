import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import KeyValuePairs from "@cloudscape-design/components/key-value-pairs";
import Link from "@cloudscape-design/components/link";
import SegmentedControl from "@cloudscape-design/components/segmented-control";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Spinner from "@cloudscape-design/components/spinner";
import Table from "@cloudscape-design/components/table";
import Textarea from "@cloudscape-design/components/textarea";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useNavigate, useParams, useSearchParams } from "react-router-dom";
import { useApp } from "../App";
import { get, post } from "../api";
import { ErrorAlert, Status, time } from "../components/common";
import type { Approval } from "../lib/types";

export function ApprovalsPage() {
  const navigate = useNavigate();
  const [view, setView] = useState<"pending" | "decided">("pending");
  const list = useQuery({ queryKey: ["approvals", view], queryFn: () => get<{ items: Approval[] }>(`/approvals?status=${view}`), refetchInterval: 5000 });
  const title = (a: Approval) => (
    <Link href={`/approvals/${a.approvalId}`} onFollow={(e) => { e.preventDefault(); navigate(`/approvals/${a.approvalId}`); }}>{a.title ?? a.approvalId}</Link>
  );
  return (
    <SpaceBetween size="m">
      <ErrorAlert error={list.error} />
      <Table
        header={
          <Header variant="h1" counter={`(${list.data?.items.length ?? 0})`} description={view === "pending" ? "Approvals waiting for you" : "The latest decisions, newest first"}
            actions={
              <SegmentedControl selectedId={view} label="Which approvals" onChange={(e) => setView(e.detail.selectedId as "pending" | "decided")}
                options={[{ id: "pending", text: "Waiting for you" }, { id: "decided", text: "Decided" }]} />
            }>
            Approvals
          </Header>
        }
        loading={list.isPending}
        items={list.data?.items ?? []}
        trackBy="approvalId"
        columnDefinitions={
          view === "pending"
            ? [
                { id: "title", header: "Approval", cell: title },
                { id: "plan", header: "Plan", cell: (a) => a.planId },
                { id: "mode", header: "Mode", cell: (a) => a.mode },
                { id: "requested", header: "Requested", cell: (a) => time(a.requestedAt) },
                { id: "expires", header: "Expires", cell: (a) => time(a.expiresAt) },
              ]
            : [
                { id: "title", header: "Approval", cell: title },
                { id: "plan", header: "Plan", cell: (a) => a.planId },
                { id: "mode", header: "Mode", cell: (a) => a.mode },
                { id: "decision", header: "Decision", cell: (a) => <Status value={a.status} /> },
                { id: "by", header: "By", cell: (a) => a.decidedBy ?? "—" },
                { id: "at", header: "At", cell: (a) => time(a.decidedAt ?? a.expiresAt) },
                { id: "comment", header: "Comment", cell: (a) => a.decisionComment || "—" },
              ]
        }
        empty={view === "pending" ? "Nothing waits for your approval" : "No decision yet"}
      />
    </SpaceBetween>
  );
}

/** Where approval emails land: opening it decides nothing; deciding is a signed-in POST. */
export function ApprovalPage() {
  const { id = "" } = useParams();
  const [search, setSearch] = useSearchParams();
  // The email's Approve and Reject links open this page with the decision chosen; one
  // confirming click (after sign-in) decides. Opening it decides nothing.
  const chosen = search.get("decision") === "approve" ? "APPROVE" : search.get("decision") === "reject" ? "REJECT" : null;
  const { can } = useApp();
  const navigate = useNavigate();
  const client = useQueryClient();
  const [comment, setComment] = useState("");
  const approval = useQuery({ queryKey: ["approval", id], queryFn: () => get<Approval>(`/approvals/${id}`) });
  const decide = useMutation({
    mutationFn: (decision: "APPROVE" | "REJECT") => post<Approval>(`/approvals/${id}`, { decision, comment }),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ["approval", id] });
      void client.invalidateQueries({ queryKey: ["approvals"] });
    },
  });
  if (approval.isPending) return <Spinner size="large" />;
  if (!approval.data) return <ErrorAlert error={approval.error} />;
  const a = approval.data;
  const open = a.status === "PENDING";
  return (
    <SpaceBetween size="m">
      <Header variant="h1">{a.title ?? "Approval"}</Header>
      <ErrorAlert error={decide.error} header="The decision was not recorded" />
      <Container>
        <SpaceBetween size="m">
          <Box>{a.message}</Box>
          <KeyValuePairs columns={4} items={[
            { label: "Status", value: <span data-testid="approval-status"><Status value={a.status} /></span> },
            { label: "Plan", value: a.planId },
            { label: "Execution", value: <Link href={`/executions/${a.executionName}`} onFollow={(e) => { e.preventDefault(); navigate(`/executions/${a.executionName}`); }}>{a.executionName}</Link> },
            { label: "Mode", value: a.mode },
            { label: "Expires", value: time(a.expiresAt) },
          ]} />
          {a.releases && (
            <Box data-testid="approval-releases">
              <strong>Deciding releases {a.releases.what}</strong>
              {a.releases.groups && (
                <ul>
                  {a.releases.groups.map((g) => (
                    <li key={g.group + g.name}>{g.name}: {g.servers.length} server{g.servers.length === 1 ? "" : "s"} ({g.servers.join(", ")})</li>
                  ))}
                </ul>
              )}
            </Box>
          )}
          {open && can.approve && (
            <>
              <FormField label="Comment" description="Recorded with your decision">
                <Textarea value={comment} onChange={(e) => setComment(e.detail.value)} ariaLabel="Comment" />
              </FormField>
              {chosen ? (
                <SpaceBetween direction="horizontal" size="xs">
                  <Button variant="primary" loading={decide.isPending} onClick={() => decide.mutate(chosen)}>
                    {chosen === "APPROVE" ? "Confirm approval" : "Confirm rejection"}
                  </Button>
                  <Button variant="link" onClick={() => setSearch({ decision: chosen === "APPROVE" ? "reject" : "approve" })}>
                    {chosen === "APPROVE" ? "Reject instead" : "Approve instead"}
                  </Button>
                </SpaceBetween>
              ) : (
                <SpaceBetween direction="horizontal" size="xs">
                  <Button variant="primary" loading={decide.isPending} onClick={() => decide.mutate("APPROVE")}>Approve</Button>
                  <Button loading={decide.isPending} onClick={() => decide.mutate("REJECT")}>Reject</Button>
                </SpaceBetween>
              )}
            </>
          )}
          {open && !can.approve && <Box color="text-status-warning">Only approvers may decide.</Box>}
        </SpaceBetween>
      </Container>
    </SpaceBetween>
  );
}
