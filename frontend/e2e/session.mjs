// Sessions that outlast their access tokens, in Debian's Chromium (playwright-core),
// against local mode started with `--test-token-lifetime N` (access tokens that expire
// after N seconds, signed like the emulator's own). The approver signs in and stays on
// the approvals inbox; the operator starts a drill and watches its dashboard. Once the
// API refuses their first access tokens (N s + the API's 60 s of clock leeway), the
// dashboard still polls and the approver, never signed in again, approves the drill from
// the inbox. Then a refused token is renewed on its 401 and the request sent again, and
// a refresh token Cognito refuses ends the session with a message on the sign-in page.
//
//   node e2e/session.mjs --url http://127.0.0.1:8080 --out ../target/ui-screenshots

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { launch, options } from "./browser.mjs";

const { base, out, plan } = options({ plan: "shop-dr" });
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const PASSWORD = "Drill-Passw0rd!";
const SESSION = "drs-orchestrator.session";
const started = Date.now();
const results = [];

function check(ok, what) {
  if (!ok) throw new Error(what);
  results.push(what);
  console.log(`ok      ${what}`);
}

const seconds = (ms) => `${(ms / 1000).toFixed(0)} s`;

function claims(token) {
  return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8"));
}

async function stored(page) {
  return JSON.parse((await page.evaluate((key) => sessionStorage.getItem(key), SESSION)) ?? "null");
}

/** Every /api answer a page gets, in order: when, its status and the token it was sent with. */
function record(page) {
  const seen = [];
  page.on("response", async (r) => {
    const at = Date.now();
    const url = new URL(r.url());
    if (!url.pathname.startsWith("/api/")) return;
    const headers = await r.request().allHeaders();
    const token = (headers.authorization ?? "").replace("Bearer ", "");
    seen.push({ at, path: url.pathname + url.search, method: r.request().method(), status: r.status(), token });
    seen.sort((a, b) => a.at - b.at);
  });
  return seen;
}

async function signIn(page, user) {
  await page.goto(`${base}/approvals`);
  await page.getByLabel("User name").fill(user);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Approvals", level: 1 }).waitFor();
  return (await stored(page)).accessToken;
}

/** What the API says to a token now. */
async function apiStatus(token) {
  const r = await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${token}` } });
  return r.status;
}

async function audit(page, name) {
  const file = path.join(out, `session-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  await page.addScriptTag({ content: axeSource });
  const found = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.help}`);
  });
  if (found.length > 0) throw new Error(`axe on ${name}: ${found.join("; ")}`);
  console.log(`ok      ${name}: no serious accessibility violation; ${file}`);
}

const browser = await launch();
// Two people, two browsers' worth of storage.
const approverContext = await browser.newContext({ viewport: { width: 1400, height: 900 } });
const operatorContext = await browser.newContext({ viewport: { width: 1400, height: 900 } });
const approver = await approverContext.newPage();
const operator = await operatorContext.newPage();
approver.setDefaultTimeout(20_000);
operator.setDefaultTimeout(20_000);
const approverSeen = record(approver);
const operatorSeen = record(operator);
let failed = false;
try {
  const approverFirst = await signIn(approver, "approver");
  const lifetime = claims(approverFirst).exp - claims(approverFirst).iat;
  check(lifetime < 300, `the approver signed in; access tokens expire after ${lifetime} s (local mode's --test-token-lifetime)`);
  // The inbox polls every 5 s from now on, without a reload.

  const operatorFirst = await signIn(operator, "operator");
  await operator.goto(`${base}/plans/${plan}`);
  await operator.getByRole("button", { name: "Run" }).click();
  await operator.getByTestId("preflight").filter({ hasText: "Ready" }).waitFor();
  await operator.getByLabel("Poll interval").fill("1");
  await operator.getByRole("button", { name: "Start drill" }).click();
  await operator.waitForURL(new RegExp(`/executions/${plan}-drill-`));
  const executionId = operator.url().split("/").pop();
  await operator.getByTestId("execution-status").waitFor();
  check(true, `the operator started drill ${executionId}; the dashboard polls`);

  // Both first tokens expire; the API refuses them (after its clock leeway).
  const deadline = Date.now() + (lifetime + 150) * 1000;
  while ((await apiStatus(approverFirst)) !== 401 || (await apiStatus(operatorFirst)) !== 401) {
    if (Date.now() > deadline) throw new Error(`the API still accepts the first access tokens after ${seconds(Date.now() - started)}`);
    await new Promise((r) => setTimeout(r, 2_000));
  }
  const expiredAt = Date.now();
  check(true, `the API refuses both first access tokens (${seconds(expiredAt - started)} after sign-in)`);

  // The approver, signed in once, long ago in token time, approves from the inbox.
  const row = approver.getByRole("row").filter({ hasText: plan });
  await row.getByRole("link").first().waitFor({ timeout: 180_000 });
  await row.getByRole("link").first().click();
  await approver.getByTestId("approval-status").filter({ hasText: "pending" }).waitFor();
  await approver.getByLabel("Comment").fill("session e2e: approved on a renewed token");
  await approver.getByRole("button", { name: "Approve", exact: true }).click();
  await approver.getByTestId("approval-status").filter({ hasText: "approved" }).waitFor();
  const decision = approverSeen.find((r) => r.method === "POST" && r.path.startsWith("/api/approvals/") && r.status === 200);
  check(decision && decision.token !== approverFirst && decision.at > expiredAt, "the approver's decision succeeded after the first token expired, on a renewed token, with no new sign-in");
  await audit(approver, "approved-after-renewal");

  await operator.getByTestId("execution-status").filter({ hasText: "succeeded" }).waitFor({ timeout: 300_000 });
  const polls = operatorSeen.filter((r) => r.path === `/api/executions/${executionId}` && r.at > expiredAt);
  const refused = polls.filter((r) => r.status !== 200);
  check(polls.length >= 2 && refused.length === 0, `the dashboard kept polling after the first token expired (${polls.length} polls, all 200) and shows the drill succeeded`);
  const renewed = new Set(operatorSeen.map((r) => r.token)).size - 1;
  check(renewed >= 2, `the operator's token was renewed ${renewed} times in ${seconds(Date.now() - started)}`);

  // A token the API refuses although the browser thinks it valid: renewed on the 401,
  // the request sent again once.
  await operator.evaluate(
    ([key, token]) => {
      const s = JSON.parse(sessionStorage.getItem(key));
      sessionStorage.setItem(key, JSON.stringify({ ...s, accessToken: token, renewAt: Date.now() + 3_600_000, expiresAt: Date.now() + 3_600_000 }));
    },
    [SESSION, operatorFirst],
  );
  const mark = Date.now();
  await operator.getByRole("link", { name: "History", exact: true }).click();
  await operator.getByRole("link", { name: executionId }).waitFor();
  const history = operatorSeen.filter((r) => r.at >= mark && r.path.startsWith("/api/executions"));
  check(
    history[0]?.status === 401 && history[0]?.token === operatorFirst && history[1]?.status === 200 && history[1]?.token !== operatorFirst,
    "a refused token is renewed on the 401 and the request sent again once (History listed)",
  );

  // A refresh token Cognito refuses: the session ends, the sign-in page says why, and
  // signing in again comes back to the page.
  await operator.evaluate(
    ([key, token]) => {
      const s = JSON.parse(sessionStorage.getItem(key));
      sessionStorage.setItem(key, JSON.stringify({ ...s, accessToken: token, refreshToken: "revoked-refresh-token", renewAt: 0 }));
    },
    [SESSION, operatorFirst],
  );
  await operator.getByRole("link", { name: "Recovery plans", exact: true }).click();
  await operator.getByText("Your session has ended").waitFor();
  check((await stored(operator)) === null, "a refused refresh token ends the session: the sign-in page says why, no token is kept");
  await audit(operator, "session-ended");
  await operator.getByLabel("User name").fill("operator");
  await operator.getByLabel("Password").fill(PASSWORD);
  await operator.getByRole("button", { name: "Sign in" }).click();
  await operator.getByRole("heading", { name: "Recovery plans", level: 1 }).waitFor();
  check((await operator.getByText("Your session has ended").count()) === 0, "signing in again returns to the page, the message gone");
} catch (e) {
  failed = true;
  console.error(`FAILED  ${e instanceof Error ? e.message : e}`);
  await approver.screenshot({ path: path.join(out, "session-failure-approver.png"), fullPage: true }).catch(() => {});
  await operator.screenshot({ path: path.join(out, "session-failure-operator.png"), fullPage: true }).catch(() => {});
} finally {
  await browser.close();
}
console.log(`ui session e2e: ${results.length} checks passed${failed ? ", 1 failed" : ""} in ${seconds(Date.now() - started)}`);
process.exit(failed ? 1 : 0);
