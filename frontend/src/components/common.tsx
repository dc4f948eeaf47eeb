import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator, { type StatusIndicatorProps } from "@cloudscape-design/components/status-indicator";
import { ApiError } from "../api";

const KINDS: Record<string, StatusIndicatorProps.Type> = {
  RUNNING: "in-progress",
  SUCCEEDED: "success",
  APPROVED: "success",
  PENDING: "pending",
  WAITING: "pending",
  AWAITING_APPROVAL: "pending",
  FAILED: "error",
  TIMED_OUT: "error",
  REJECTED: "error",
  CLEANUP_FAILED: "warning",
  SKIPPED: "stopped",
  PAUSED: "pending",
  ABORTED: "stopped",
  CANCELLED: "stopped",
  EXPIRED: "stopped",
};

export function Status({ value }: { value: string | undefined }) {
  const v = value ?? "NOT RUN";
  return <StatusIndicator type={KINDS[v] ?? "info"}>{v.replace(/_/g, " ").toLowerCase()}</StatusIndicator>;
}

/** A run's outcome: a success with failed optional groups reads "succeeded with warnings". */
export function RunStatus({ run }: { run: { status?: string; warnings?: number } }) {
  if (run.status === "SUCCEEDED" && (run.warnings ?? 0) > 0) {
    const n = run.warnings ?? 0;
    return <StatusIndicator type="warning">succeeded with warnings ({n} optional group{n === 1 ? "" : "s"} failed or skipped)</StatusIndicator>;
  }
  return <Status value={run.status} />;
}

export function ErrorAlert({ error, header }: { error: unknown; header?: string }) {
  if (!error) return null;
  const e = error instanceof ApiError ? error : null;
  return (
    <Alert type="error" header={header ?? (e ? e.message : "Something went wrong")}>
      {e ? (
        e.details.length > 0 ? (
          <ul>
            {e.details.map((d) => (
              <li key={d.path + d.message}>
                <code>{d.path}</code>: {d.message}
              </li>
            ))}
          </ul>
        ) : null
      ) : (
        String(error)
      )}
    </Alert>
  );
}

export function time(iso: string | undefined): string {
  return iso ? new Date(iso).toLocaleString() : "—";
}

export function download(name: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  URL.revokeObjectURL(url);
}

/** A dialog's footer: Cancel, and the primary action. */
export function DialogFooter(props: { action: string; busy: boolean; disabled?: boolean; dismiss?: string; onAction: () => void; onCancel: () => void }) {
  return (
    <Box float="right">
      <SpaceBetween direction="horizontal" size="xs">
        <Button variant="link" onClick={props.onCancel}>{props.dismiss ?? "Cancel"}</Button>
        <Button variant="primary" disabled={props.disabled} loading={props.busy} onClick={props.onAction}>{props.action}</Button>
      </SpaceBetween>
    </Box>
  );
}
