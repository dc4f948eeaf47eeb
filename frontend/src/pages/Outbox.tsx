import Box from "@cloudscape-design/components/box";
import Container from "@cloudscape-design/components/container";
import Header from "@cloudscape-design/components/header";
import Link from "@cloudscape-design/components/link";
import SpaceBetween from "@cloudscape-design/components/space-between";
import { useQuery } from "@tanstack/react-query";
import { useNavigate } from "react-router-dom";
import { get } from "../api";
import { ErrorAlert, time } from "../components/common";
import type { OutboxMessage } from "../lib/types";

/** Local mode: the emails SNS would have sent, newest first, with working links. */
export function OutboxPage() {
  const navigate = useNavigate();
  const outbox = useQuery({ queryKey: ["outbox"], queryFn: () => get<{ items: OutboxMessage[] }>("/outbox"), refetchInterval: 3000 });
  return (
    <SpaceBetween size="m">
      <Header variant="h1" description="Messages the plans published to SNS (local mode sends no email)">Outbox</Header>
      <ErrorAlert error={outbox.error} />
      {(outbox.data?.items ?? []).map((m) => (
        <Container key={m.id} header={<Header variant="h2" description={time(m.sentAt)}>{m.subject || "(no subject)"}</Header>}>
          <SpaceBetween size="xs">
            <Box>{m.message}</Box>
            {m.links.map((l) => {
              const url = new URL(l);
              // The approval email's Approve and Reject links keep their ?decision=.
              const path = url.pathname + url.search;
              const execution = /Execution (\S+?)[.,]?\s/.exec(m.message)?.[1];
              const approval = url.pathname.startsWith("/approvals/");
              const decision = url.searchParams.get("decision");
              const text = decision === "approve" ? "Approve…" : decision === "reject" ? "Reject…" : "Open the approval";
              const label = decision === "approve" ? `Approve ${execution}` : decision === "reject" ? `Reject ${execution}` : `Open the approval for ${execution}`;
              return (
                <Link key={l} href={path} ariaLabel={approval && execution ? label : undefined}
                  onFollow={(e) => { e.preventDefault(); navigate(path); }}>
                  {approval ? text : path}
                </Link>
              );
            })}
          </SpaceBetween>
        </Container>
      ))}
      {outbox.data?.items.length === 0 && <Box>No messages yet.</Box>}
    </SpaceBetween>
  );
}
