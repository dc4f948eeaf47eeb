// A rejection from the email link, in Debian's Chromium (playwright-core), against a
// running local mode: the operator starts a drill of a plan with an approval gate (the
// demo's shop-dr, the three-tier example: "Open the web tier" before wave 3). Its approval
// email lands in the outbox with an Approve and a Reject link. The Reject link, followed
// in the app by the operator, opens the approval with Reject chosen but no way to decide
// (not an approver). The approver opens the same link in a browser that is not signed in
// (as from the email), signs in, lands on the approval with Reject chosen and what the
// gate releases; nothing is decided until the one confirming click. Then the run ends
// failed with Approval.Rejected, and the drill is cleaned up: the run page shows Clean-up
// "Clean", and the API's record says cleanup CLEAN with no instance left.
//
//   node e2e/reject.mjs --url http://127.0.0.1:8080 --out ../target/ui-screenshots [--plan shop-dr]

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { launch, options } from "./browser.mjs";

const { base, out, plan } = options({ plan: "shop-dr" });
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const PASSWORD = "Drill-Passw0rd!";
const COMMENT = "E2E: not today";
const started = Date.now();
const results = [];

function check(ok, what) {
  if (!ok) throw new Error(what);
  results.push(what);
  console.log(`ok      ${what}`);
}

const seconds = (ms) => `${(ms / 1000).toFixed(0)} s`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function audit(page, name) {
  await page.waitForLoadState("networkidle").catch(() => {});
  const file = path.join(out, `reject-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  await page.addScriptTag({ content: axeSource });
  const found = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id} (${v.nodes[0]?.target?.join(" ")}): ${v.help}`);
  });
  if (found.length > 0) throw new Error(`axe on ${name}: ${found.join("; ")}`);
  console.log(`ok      ${name}: no serious accessibility violation; ${file}`);
}

/** The sign-in form, wherever it shows (it keeps the page's address). */
async function signInHere(page, user) {
  await page.getByLabel("User name").fill(user);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** A fresh access token (local mode's sign-in; the run may hand out 15-second tokens). */
async function token(user) {
  const r = await fetch(`${base}/_local/sign-in`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: user, password: PASSWORD }),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(`sign-in of ${user} answered ${r.status}: ${JSON.stringify(body)}`);
  return body.access_token ?? body.AccessToken;
}

/** GET an API path as a user, on a fresh token; the parsed body (200 only). */
async function api(apiPath, user = "viewer") {
  const r = await fetch(`${base}/api${apiPath}`, { headers: { authorization: `Bearer ${await token(user)}` } });
  const body = await r.json().catch(() => null);
  if (r.status !== 200) throw new Error(`GET /api${apiPath} answered ${r.status}: ${JSON.stringify(body)}`);
  return body;
}

/** Every decision a page sends: POST /api/approvals/…, with its body and answer. */
function decisions(page) {
  const seen = [];
  page.on("request", (r) => {
    if (r.method() === "POST" && new URL(r.url()).pathname.startsWith("/api/approvals/")) seen.push({ path: new URL(r.url()).pathname, body: r.postDataJSON(), status: null });
  });
  page.on("response", (r) => {
    const hit = seen.find((s) => s.path === new URL(r.url()).pathname && s.status === null && r.request().method() === "POST");
    if (hit) hit.status = r.status();
  });
  return seen;
}

const browser = await launch();
// Two people, two browsers' worth of storage: the approver's starts signed out.
const operatorContext = await browser.newContext({ viewport: { width: 1400, height: 900 } });
const approverContext = await browser.newContext({ viewport: { width: 1400, height: 900 } });
const operator = await operatorContext.newPage();
const approver = await approverContext.newPage();
operator.setDefaultTimeout(20_000);
approver.setDefaultTimeout(20_000);
const sent = decisions(approver);
let failed = false;
try {
  // The operator starts a drill.
  await operator.goto(`${base}/plans/${plan}`);
  await signInHere(operator, "operator");
  await operator.getByRole("button", { name: "Run" }).click();
  await operator.getByTestId("preflight").filter({ hasText: "Ready" }).waitFor();
  await operator.getByLabel("Poll interval").fill("1");
  await operator.getByRole("button", { name: "Start drill" }).click();
  await operator.waitForURL(new RegExp(`/executions/${plan}-drill-`));
  const executionUrl = operator.url();
  const executionId = executionUrl.split("/").pop();
  await operator.getByTestId("execution-status").filter({ hasText: "running" }).waitFor();
  check(true, `the operator started drill ${executionId}`);

  // Its approval email reaches the outbox, with an Approve and a Reject link.
  await operator.goto(`${base}/outbox`);
  const reject = operator.getByRole("link", { name: `Reject ${executionId}` });
  await reject.waitFor({ timeout: 180_000 });
  await operator.getByRole("link", { name: `Approve ${executionId}` }).waitFor();
  const href = await reject.getAttribute("href");
  const match = /^\/approvals\/([^/?]+)\?decision=reject$/.exec(href ?? "");
  check(match, `the outbox's approval email has a Reject link (${href}) next to its Approve link, ${seconds(Date.now() - started)} after the start`);
  const approvalId = decodeURIComponent(match[1]);
  await audit(operator, "outbox");

  // Followed in the app by someone who is not an approver: Reject chosen, nothing to click.
  await reject.click();
  await operator.waitForURL((u) => u.pathname === `/approvals/${approvalId}` && u.searchParams.get("decision") === "reject");
  await operator.getByTestId("approval-status").filter({ hasText: "pending" }).waitFor();
  await operator.getByText("Only approvers may decide.").waitFor();
  check(
    (await operator.getByRole("button", { name: /^Confirm / }).count()) === 0,
    "the operator following the Reject link sees the pending approval and no way to decide it",
  );

  // The approver opens the link as from the email, in a browser not signed in: the
  // sign-in form shows at that address, and signing in comes back to it.
  await approver.goto(`${base}${href}`);
  await approver.getByLabel("User name").waitFor();
  check(new URL(approver.url()).search === "?decision=reject", "the Reject link, opened signed out, asks the approver to sign in (the address kept)");
  await signInHere(approver, "approver");
  await approver.getByTestId("approval-status").filter({ hasText: "pending" }).waitFor();
  const here = new URL(approver.url());
  check(here.pathname === `/approvals/${approvalId}` && here.searchParams.get("decision") === "reject", `after signing in the approver is back on ${here.pathname}${here.search}`);
  await approver.getByRole("heading", { level: 1 }).filter({ hasText: "Open the web tier" }).waitFor();
  const confirm = approver.getByRole("button", { name: "Confirm rejection", exact: true });
  await confirm.waitFor();
  await approver.getByRole("button", { name: "Approve instead" }).waitFor();
  check(
    (await approver.getByRole("button", { name: "Confirm approval" }).count()) === 0 &&
      (await approver.getByRole("button", { name: "Approve", exact: true }).count()) === 0,
    "the page opens with Reject chosen: one confirming button, Confirm rejection (Approve only as 'Approve instead')",
  );
  const releases = approver.getByTestId("approval-releases");
  await releases.filter({ hasText: "Deciding releases wave 3 · Web" }).waitFor();
  await releases.getByText(/^Shop web: 4 servers \(s-/).waitFor();
  check(true, `the page shows what the gate releases: "${(await releases.innerText()).replace(/\s+/g, " ").trim()}"`);
  await audit(approver, "approval-reject-chosen");

  // Nothing is decided by opening the page (or by signing in on it).
  await sleep(3_000);
  const before = await api(`/approvals/${encodeURIComponent(approvalId)}`);
  const runBefore = await api(`/executions/${executionId}`);
  check(
    sent.length === 0 && before.status === "PENDING" && !before.decidedBy && runBefore.status === "RUNNING" && runBefore.engineStatus === "RUNNING",
    `nothing decided before the click: no decision sent, the approval ${before.status}, the run ${runBefore.status} (its machine ${runBefore.engineStatus})`,
  );

  // One confirming click rejects.
  await approver.getByLabel("Comment").fill(COMMENT);
  await confirm.click();
  await approver.getByTestId("approval-status").filter({ hasText: "rejected" }).waitFor();
  check(
    sent.length === 1 && sent[0].body?.decision === "REJECT" && sent[0].body?.comment === COMMENT && sent[0].status === 200,
    `one confirming click sent one decision, REJECT with its comment (${JSON.stringify(sent.map((s) => ({ ...s.body, status: s.status })))})`,
  );
  check((await approver.getByRole("button", { name: "Confirm rejection" }).count()) === 0, "the decided approval offers no more buttons");
  await audit(approver, "approval-rejected");

  // The run ends failed, Approval.Rejected, and its drill instances are cleaned up.
  await approver.getByRole("link", { name: executionId }).click();
  await approver.waitForURL(executionUrl);
  await approver.getByTestId("execution-status").filter({ hasText: "failed" }).waitFor({ timeout: 300_000 });
  const error = approver.getByText(/^Approval\.Rejected: /);
  await error.waitFor();
  await approver.getByTestId("execution-cleanup").filter({ hasText: /^Clean$/ }).waitFor({ timeout: 300_000 });
  await approver.getByRole("row").filter({ hasText: "Open the web tier" }).filter({ hasText: "rejected" }).waitFor();
  check(true, `the run page shows failed, "${await error.innerText()}", the gate's step rejected and Clean-up "Clean", ${seconds(Date.now() - started)} after the start`);
  await audit(approver, "execution-rejected");
  // So does the operator's dashboard.
  await operator.goto(executionUrl);
  await operator.getByTestId("execution-status").filter({ hasText: "failed" }).waitFor();
  await operator.getByTestId("execution-cleanup").filter({ hasText: /^Clean$/ }).waitFor();

  const record = await api(`/executions/${executionId}`);
  const instances = await api(`/executions/${executionId}/instances`);
  check(
    record.status === "FAILED" && record.errorName === "Approval.Rejected" && record.cleanup === "CLEAN" && record.engineStatus !== "RUNNING",
    `the API's record: status ${record.status}, errorName ${record.errorName}, cleanup ${record.cleanup} (its machine ${record.engineStatus})`,
  );
  check(Array.isArray(instances.items) && instances.items.length === 0, `DRS lists none of the run's drill instances (${instances.items?.length})`);
  const gate = record.steps.find((s) => s.kind === "approval");
  const web = record.steps.filter((s) => s.key.startsWith("w3.") && s.kind !== "approval");
  check(gate?.key === "w3.before1" && gate?.status === "REJECTED" && web.length === 0, `the gate's step ${gate?.key} is ${gate?.status} and wave 3 never started (${web.length} steps)`);
  const decided = await api(`/approvals/${encodeURIComponent(approvalId)}`);
  check(decided.status === "REJECTED" && decided.decidedBy === "approver" && decided.decisionComment === COMMENT, `the approval is recorded REJECTED by ${decided.decidedBy} with its comment`);
} catch (e) {
  failed = true;
  console.error(`FAILED  ${e instanceof Error ? e.message : e}`);
  await operator.screenshot({ path: path.join(out, "reject-failure-operator.png"), fullPage: true }).catch(() => {});
  await approver.screenshot({ path: path.join(out, "reject-failure-approver.png"), fullPage: true }).catch(() => {});
} finally {
  await browser.close();
}
console.log(`ui reject e2e: ${results.length} checks passed${failed ? ", 1 failed" : ""} in ${seconds(Date.now() - started)}`);
process.exit(failed ? 1 : 0);
