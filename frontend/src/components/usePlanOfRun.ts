import { useQuery } from "@tanstack/react-query";
import { get } from "../api";
import type { Execution, StoredPlan } from "../lib/types";

/** The plan version an execution runs (the current one when the run did not record it,
 * e.g. a runbook start), for its graph and its report. */
export function usePlanOfRun(run: Execution | undefined) {
  const version = run?.planVersion;
  return useQuery({
    queryKey: ["plan", run?.planId, version ?? "current"],
    queryFn: () => get<StoredPlan>(`/plans/${run?.planId}${version ? `?version=${version}` : ""}`),
    enabled: !!run?.planId,
  });
}
