// End-to-end test of the web UI in Debian's Chromium (playwright-core), against a running
// local mode: sign in, create a protection group, build a plan with a dependency and an
// approval, run a drill, approve it as the approver from the outbox link, watch it
// finish, open the report; a viewer cannot start a run. Every page gets an axe-core check
// (no serious or critical violation) and a screenshot.
//
//   node e2e/e2e.mjs --url http://127.0.0.1:8080 --out ../target/ui-screenshots

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { launch, options } from "./browser.mjs";

const { base, out } = options();
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const PASSWORD = "Drill-Passw0rd!";
const results = [];
let shot = 0;

function check(ok, what) {
  if (!ok) throw new Error(what);
  results.push(what);
  console.log(`ok      ${what}`);
}

async function audit(page, name) {
  await page.waitForLoadState("networkidle").catch(() => {});
  shot += 1;
  const file = path.join(out, `${String(shot).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  await page.addScriptTag({ content: axeSource });
  const found = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length, target: v.nodes[0]?.target?.join(" ") }));
  });
  const serious = found.filter((v) => v.impact === "serious" || v.impact === "critical");
  const minor = found.length - serious.length;
  if (serious.length > 0) {
    throw new Error(`axe on ${name}: ${serious.map((v) => `${v.id} (${v.impact}, ${v.nodes} nodes, e.g. ${v.target}): ${v.help}`).join("; ")}`);
  }
  console.log(`ok      ${name}: no serious accessibility violation (${minor} minor); ${file}`);
}

async function signIn(page, user) {
  await page.goto(`${base}/plans`);
  if (await page.getByRole("button", { name: "Sign out" }).count()) await page.getByRole("button", { name: "Sign out" }).click();
  await page.evaluate(() => sessionStorage.clear());
  await page.goto(`${base}/plans`);
  await page.getByLabel("User name").fill(user);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Recovery plans", level: 1 }).waitFor();
}

async function choose(page, label, option) {
  const escaped = label.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  await page.getByRole("button", { name: new RegExp(`${escaped}(?!\\d)`) }).first().click();
  await page.getByRole("option", { name: option }).first().click();
}

const browser = await launch();
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
page.setDefaultTimeout(20_000);
let failed = false;
try {
  await page.goto(`${base}/`);
  await page.getByLabel("User name").waitFor();
  await audit(page, "sign-in");

  await signIn(page, "planauthor");
  check(true, "the plan author signs in");
  await audit(page, "plans");

  await page.goto(`${base}/source-servers`);
  await page.getByRole("heading", { name: "Source servers" }).waitFor();
  await page.getByText("hr-web-01").waitFor({ state: "detached" }).catch(() => {});
  await page.getByRole("searchbox", { name: "Filter servers" }).fill("Application=hr");
  await page.getByText("hr-web-01").waitFor();
  check(true, "source servers filter by tag");
  await audit(page, "source-servers");

  // A protection group by tag selector, with its live preview.
  await page.goto(`${base}/protection-groups`);
  await page.getByRole("button", { name: "Create protection group" }).click();
  await page.getByLabel("Group ID").fill("e2e-web");
  await page.getByLabel("Group name").fill("E2E web");
  await page.getByText("Select by tags").click();
  await page.getByLabel("Tag selector").fill("Application=hr, Role=web");
  await page.getByTestId("preview-count").filter({ hasText: "2 servers match" }).waitFor();
  await audit(page, "protection-group-create");
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await page.getByRole("cell", { name: "E2E web", exact: true }).waitFor();
  // And one by picking servers.
  await page.getByRole("button", { name: "Create protection group" }).click();
  await page.getByLabel("Group ID").fill("e2e-db");
  await page.getByLabel("Group name").fill("E2E database");
  await page.getByRole("button", { name: /Source servers/ }).click();
  await page.getByRole("option", { name: /hr-db-01/ }).click();
  await page.getByRole("option", { name: /hr-db-02/ }).click();
  await page.keyboard.press("Escape");
  await page.getByTestId("preview-count").filter({ hasText: "2 servers match" }).waitFor();
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await page.getByRole("cell", { name: "E2E database", exact: true }).waitFor();
  check(true, "two protection groups created (tag selector with preview; picked servers)");
  await page.getByRole("button", { name: "Edit E2E database" }).click();
  await page.getByLabel("Group name").fill("E2E databases");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.getByRole("cell", { name: "E2E databases", exact: true }).waitFor();
  check(true, "a protection group edited (its version checked)");
  await audit(page, "protection-groups");

  // A plan: wave 1 the database; wave 2 the web tier after an approval, depending on the
  // database running.
  await page.goto(`${base}/plans/new`);
  await page.getByLabel("Plan ID").fill("e2e-dr");
  await page.getByLabel("Plan name").fill("E2E DR");
  await page.getByLabel("Wave 1 name").fill("Data");
  await page.getByRole("button", { name: "Add group to wave 1" }).click();
  await choose(page, "Wave 1 group 1", /E2E databases/);
  await page.getByRole("button", { name: "Add wave" }).click();
  await page.getByLabel("Wave 2 name").fill("Web");
  await page.getByRole("button", { name: "Add step to wave 2 before" }).click();
  await page.getByRole("menuitem", { name: "Approval" }).click();
  await page.getByLabel("wave 2 before step 1 name").fill("Open the web tier");
  // Wave 2's group is dragged from the palette; its dependency is drawn on the graph.
  // HTML5 drag and drop, as the browser dispatches it (the two ends are a screen apart).
  const transfer = await page.evaluateHandle(() => new DataTransfer());
  await page.locator('[data-group="e2e-web"]').dispatchEvent("dragstart", { dataTransfer: transfer });
  await page.getByTestId("wave-drop-2").dispatchEvent("dragover", { dataTransfer: transfer });
  await page.getByTestId("wave-drop-2").dispatchEvent("drop", { dataTransfer: transfer });
  await page.getByTestId("wave-2").getByText("e2e-web", { exact: true }).waitFor();
  check(true, "a protection group dragged into a wave");
  const graph = page.getByTestId("plan-graph");
  await graph.locator('.react-flow__node[data-id="w1.e2e-db"] .react-flow__handle.source').dragTo(
    graph.locator('.react-flow__node[data-id="w2.e2e-web"] .react-flow__handle.target'),
  );
  await page.getByTestId("wave-2").getByText("e2e-db", { exact: true }).waitFor();
  check(true, "a dependency drawn on the graph appears in the form");
  // Steps are forms: an SSM script on the database group. Its timeout is mistyped first,
  // so the API's error lands on the step, naming the value.
  await page.getByRole("button", { name: "Add step to wave 1 group 1" }).click();
  await page.getByRole("menuitem", { name: "SSM document (script or runbook)" }).click();
  await page.getByLabel("wave 1 group 1 step 1 name").fill("Check the database");
  // Typed key by key, as a person does: spaces and new lines must survive each keystroke.
  const commands = page.getByLabel("wave 1 group 1 step 1 parameter commands values");
  await commands.fill("");
  await commands.pressSequentially("echo e2e-ready\nsystemctl is-active postgresql");
  await page.getByLabel("wave 1 group 1 step 1 timeout").fill("5 minutes");
  await audit(page, "plan-builder");
  await page.getByRole("button", { name: "Save plan" }).click();
  await page.getByTestId("wave-1").getByText("invalid duration `5 minutes`").waitFor();
  check(true, "a step's bad timeout is refused and shown on that step");
  await page.getByLabel("wave 1 group 1 step 1 timeout").fill("5m");
  await page.getByRole("button", { name: "Save plan" }).click();
  await page.getByRole("heading", { name: "E2E DR", level: 1 }).waitFor();
  check(true, "a plan with a dependency and an approval gate saved and compiled");
  await page.getByTestId("plan-graph").waitFor();
  await audit(page, "plan-overview");
  await page.getByRole("tab", { name: "State machine" }).click();
  await page.getByTestId("asl").filter({ hasText: "StartAt" }).waitFor();
  await page.getByTestId("asl-graph").locator(".react-flow__node").first().waitFor();
  check(true, "the State machine tab shows the compiled ASL and its graph");
  await audit(page, "plan-state-machine");
  await page.getByRole("tab", { name: "YAML" }).click();
  await page.getByTestId("yaml").filter({ hasText: "protectionGroups" }).filter({ hasText: "systemctl is-active postgresql" }).filter({ hasText: "echo e2e-ready" }).waitFor();
  check(true, "the SSM step's commands, typed key by key, were saved as two commands");
  await audit(page, "plan-yaml");

  // A viewer sees the plan but cannot run it.
  await signIn(page, "viewer");
  await page.goto(`${base}/plans/e2e-dr`);
  await page.getByRole("heading", { name: "E2E DR", level: 1 }).waitFor();
  check((await page.getByRole("button", { name: "Run" }).count()) === 0, "a viewer is offered no Run button");

  // The operator runs a drill.
  await signIn(page, "operator");
  await page.goto(`${base}/plans/e2e-dr`);
  await page.getByRole("button", { name: "Run" }).click();
  await page.getByTestId("preflight").filter({ hasText: "Ready" }).waitFor();
  await page.getByLabel("Poll interval").fill("1");
  await audit(page, "run-dialog");
  await page.getByRole("button", { name: "Start drill" }).click();
  await page.waitForURL(/\/executions\/e2e-dr-drill-/);
  const executionUrl = page.url();
  check(true, `the operator started a drill (${executionUrl.split("/").pop()})`);
  await page.getByTestId("execution-status").waitFor();
  await audit(page, "execution-running");

  // The approver follows the outbox's approval link.
  await signIn(page, "approver");
  await page.goto(`${base}/outbox`);
  const executionId = executionUrl.split("/").pop();
  const link = page.getByRole("link", { name: `Approve ${executionId}` });
  await link.waitFor({ timeout: 120_000 });
  await audit(page, "outbox");
  await link.click();
  await page.getByTestId("approval-status").filter({ hasText: "pending" }).waitFor();
  await audit(page, "approval");
  await page.getByLabel("Comment").fill("E2E: go ahead");
  await page.getByRole("button", { name: "Confirm approval", exact: true }).click();
  await page.getByTestId("approval-status").filter({ hasText: "approved" }).waitFor();
  check(true, "the approver approved from the outbox's Approve link (one confirming click)");

  // Everyone watches it finish; then the report.
  await page.goto(executionUrl);
  await page.getByTestId("execution-status").filter({ hasText: "succeeded" }).waitFor({ timeout: 300_000 });
  check(true, "the drill succeeded, live on the dashboard");
  await page.getByRole("button", { name: "Show the log of Check the database · E2E databases" }).click();
  const stepLog = page.getByTestId("step-log");
  await stepLog.getByText("AWS-RunShellScript").waitFor();
  const invocations = await stepLog.getByText(/exit code 0/).count();
  check(invocations === 2, `the SSM step's log shows its command on both instances (${invocations})`);
  await page.getByRole("button", { name: "Show the log of E2E databases" }).click();
  await stepLog.getByText("JOB_START").first().waitFor();
  check(true, "the group's log shows its DRS job log");
  await audit(page, "execution-succeeded");
  await page.getByRole("button", { name: "Report" }).click();
  await page.getByTestId("report").waitFor();
  const measured = await page.getByTestId("measured").innerText();
  check(measured !== "—", `the report shows the measured recovery time (${measured})`);
  const decided = page.getByTestId("report-approvals").getByRole("row").filter({ hasText: "Open the web tier" });
  await decided.filter({ hasText: "approver" }).filter({ hasText: "E2E: go ahead" }).waitFor();
  await page.getByTestId("report").getByText("Check the database").waitFor();
  check(true, "the report names the approval's decider and comment, and the group's SSM step");
  await audit(page, "report");
  await page.goto(`${base}/executions`);
  await page.getByRole("link", { name: executionUrl.split("/").pop() }).waitFor();
  await audit(page, "history");
  await page.goto(`${base}/approvals`);
  await page.getByRole("heading", { name: "Approvals", level: 1 }).waitFor();
  await audit(page, "approvals");
  await page.getByRole("button", { name: "Decided" }).click();
  await page.getByRole("row").filter({ hasText: "Open the web tier" }).filter({ hasText: "approver" }).filter({ hasText: "E2E: go ahead" }).waitFor();
  check(true, "the approvals page lists the decision, its decider and comment");
  await audit(page, "approvals-decided");

  // Editing the plan: drills now end on an approval; the saved YAML has it (no `type`, as
  // the plan model wants).
  await signIn(page, "planauthor");
  await page.goto(`${base}/plans/e2e-dr`);
  await page.getByRole("tab", { name: "Edit" }).click();
  await choose(page, "Drill cleanup", "Terminate when an approver ends the drill");
  await page.getByLabel("drill end approval name").fill("End the E2E drill");
  await page.getByRole("button", { name: "Save plan" }).click();
  await page.getByRole("tab", { name: "YAML" }).click();
  await page.getByTestId("yaml").filter({ hasText: "onApproval" }).filter({ hasText: "End the E2E drill" }).waitFor();
  check(true, "a plan edited to end drills on an approval saved as a new version");
} catch (e) {
  failed = true;
  console.error(`FAILED  ${e instanceof Error ? e.message : e}`);
  await page.screenshot({ path: path.join(out, "failure.png"), fullPage: true }).catch(() => {});
} finally {
  await browser.close();
}
console.log(`ui e2e: ${results.length} checks passed${failed ? ", 1 failed" : ""}; screenshots in ${out}`);
process.exit(failed ? 1 : 0);
