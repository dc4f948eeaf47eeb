// Shapes of the API's JSON (api/openapi.json), as far as the UI reads them.

export type Role = "Admin" | "PlanAuthor" | "Operator" | "Approver" | "Viewer";

export interface Me {
  user: string;
  roles: Role[];
}

export interface SourceServer {
  id: string;
  hostname: string;
  tags: Record<string, string>;
  replicationState: string;
  lagSeconds: number;
  protectionGroup?: string | null;
  lastLaunch?: string | null;
}

export interface Group {
  id: string;
  name: string;
  description?: string;
  servers: string[];
  tagSelector?: Record<string, string> | null;
  resolvedServers?: string[];
  version: number;
}

export type Condition = "launched" | "running" | "healthy";

export interface Dependency {
  group?: string;
  server?: string;
  condition?: Condition;
}

export interface Step {
  type: "approval" | "wait" | "ssm" | "healthCheck";
  name?: string;
  [key: string]: unknown;
}

/** DRS launch settings a plan or group declares (DRS's own member names and values). */
export interface LaunchSettings {
  launchDisposition?: "STOPPED" | "STARTED";
  copyPrivateIp?: boolean;
  copyTags?: boolean;
  targetInstanceTypeRightSizingMethod?: "NONE" | "BASIC" | "IN_AWS";
  licensing?: { osByol: boolean };
  postLaunchEnabled?: boolean;
}

export interface PlanGroup {
  group: string;
  launchSettings?: LaunchSettings;
  criticality?: "critical" | "optional";
  launchTimeout?: string;
  runningTimeout?: string;
  dependsOn?: Dependency[];
  steps?: Step[];
}

export interface Wave {
  name: string;
  before?: Step[];
  groups: PlanGroup[];
  after?: Step[];
}

export interface PlanDocument {
  id: string;
  name: string;
  description?: string;
  rto?: string;
  defaults?: { launchTimeout?: string; runningTimeout?: string };
  launchSettings?: LaunchSettings;
  waves: Wave[];
  [key: string]: unknown;
}

export interface StoredPlan {
  id: string;
  name: string;
  plan: PlanDocument;
  version: number;
  stateMachineArn: string;
  servers: number;
  updatedAt: string;
  updatedBy: string;
}

export interface StepRecord {
  key: string;
  kind?: string;
  label?: string;
  status: string;
  stage?: string;
  startedAt?: string;
  endedAt?: string;
  errorName?: string;
  errorCause?: string;
  jobIds?: string[];
  commandIds?: string[];
  /** A re-run took this group over from its earlier run (nothing launched again). */
  adopted?: boolean;
}

export interface JobLogEntry {
  at: string;
  event: string;
  sourceServerId?: string | null;
  targetInstanceId?: string | null;
}

export interface Invocation {
  instanceId: string;
  status: string;
  responseCode: number;
  startedAt?: string | null;
  endedAt?: string | null;
  output: string;
  errorOutput: string;
}

export interface CommandLog {
  commandId: string;
  document?: string;
  status?: string;
  instanceCount?: number;
  invocations: Invocation[];
  /** Why the command could not be read (e.g. SSM keeps commands 30 days). */
  error?: string;
}

/** `GET /executions/{id}/steps/{key}/logs`: the step's record with its logs. */
export interface StepLog extends StepRecord {
  jobs: { jobId: string; log: JobLogEntry[]; error?: string }[];
  commands: CommandLog[];
  moreJobs: number;
  moreCommands: number;
  /** True for Viewers: what scripts printed is shown to the roles that act on it. */
  outputHidden?: boolean;
}

export interface RecoveryInstance {
  recoveryInstanceId: string;
  sourceServerId: string;
  ec2InstanceState?: string;
  isDrill: boolean;
}

export interface Execution {
  id: string;
  planId: string;
  planName: string;
  mode: "DRILL" | "RECOVERY";
  status: string;
  startedAt?: string;
  endedAt?: string;
  startedBy?: string;
  stoppedBy?: string;
  /** The plan version the execution ran (absent for runbook-started runs). */
  planVersion?: number;
  /** Optional groups that failed: a SUCCEEDED run with warnings. */
  warnings?: number;
  /** A drill's clean-up: RUNNING, CLEAN (DRS lists none of its instances) or FAILED. */
  cleanup?: "RUNNING" | "CLEAN" | "FAILED";
  /** Set while a pause is asked (status stays RUNNING until the next wave boundary). */
  pauseRequested?: string;
  /** The wave (1-based) a PAUSED run waits before. */
  pausedBefore?: number;
  /** The earlier run this one re-ran, and the re-run of this one. */
  rerunOf?: string;
  rerunBy?: string;
  /** The state machine version the run executed, compiled and published at its start. */
  stateMachineVersionArn?: string;
  /** How many servers its start resolved (the list: `GET /executions/{id}/servers`). */
  serverCount?: number;
  steps?: StepRecord[];
  errorName?: string;
  errorCause?: string;
}

export interface Approval {
  approvalId: string;
  title?: string;
  message?: string;
  planId: string;
  executionName: string;
  mode: string;
  status: string;
  requestedAt: string;
  expiresAt?: string;
  approvers?: string[];
  decidedBy?: string;
  decidedAt?: string;
  decisionComment?: string;
  votes?: { by: string; comment?: string; at?: string }[];
  /** What deciding releases: the wave behind the gate, its groups and servers. */
  releases?: { what: string; wave?: string; groups?: { group: string; name: string; servers: string[] }[] };
}

export interface OutboxMessage {
  id: string;
  sentAt: string;
  subject: string;
  message: string;
  links: string[];
}

export interface ProblemDetail {
  path: string;
  message: string;
}
