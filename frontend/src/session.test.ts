// Sessions that outlast their access tokens: renewal before expiry (AWS's token endpoint
// as a public client), after a 401 (local mode), a refused renewal ending the session with
// a message, and a failure that may pass keeping it.

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

type Call = { url: string; init?: RequestInit };

const AWS = { region: "us-east-1", userPoolId: "p", clientId: "spa-client", apiBase: "/api", signInUrl: "https://drs.auth.us-east-1.amazoncognito.com" };
const LOCAL = { region: "us-east-1", userPoolId: "p", clientId: "spa-client", apiBase: "/api", local: true };

let calls: Call[];
let assign: ReturnType<typeof vi.fn>;

function storage(): Storage {
  const map = new Map<string, string>();
  return {
    get length() {
      return map.size;
    },
    clear: () => map.clear(),
    getItem: (k) => map.get(k) ?? null,
    key: (i) => [...map.keys()][i] ?? null,
    removeItem: (k) => void map.delete(k),
    setItem: (k, v) => void map.set(k, String(v)),
  };
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

/** Answers config, the token endpoints and the API; `api` decides per bearer token. */
function serve(config: object, renewal: () => Response, api: (token: string | null) => Response) {
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: string | URL, init?: RequestInit) => {
      const url = String(input);
      calls.push({ url, init });
      if (url === "/config.json") return json(200, config);
      if (url.endsWith("/oauth2/token") || url === "/_local/refresh") {
        await new Promise((r) => setTimeout(r, 5));
        return renewal();
      }
      const auth = new Headers(init?.headers).get("authorization");
      return api(auth ? auth.replace("Bearer ", "") : null);
    }),
  );
}

function signedIn(session: { accessToken: string; refreshToken?: string; expiresAt: number; renewAt: number }) {
  sessionStorage.setItem("drs-orchestrator.session", JSON.stringify(session));
}

beforeEach(() => {
  vi.resetModules();
  calls = [];
  assign = vi.fn();
  vi.stubGlobal("sessionStorage", storage());
  vi.stubGlobal("window", { location: { pathname: "/executions/run-1", search: "", origin: "https://d1.cloudfront.net", assign } });
});

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("renewal", () => {
  it("renews an hour's token at 55 minutes, a short one a quarter before its end", async () => {
    const { renewalTime } = await import("./auth");
    expect(renewalTime(0, 3600)).toBe(3300_000);
    expect(renewalTime(0, 20)).toBe(15_000);
  });

  it("AWS: renews shortly before expiry at the token endpoint, as a public client, once for many callers", async () => {
    serve(AWS, () => json(200, { access_token: "new", id_token: "id", expires_in: 3600, token_type: "Bearer" }), (t) => (t === "new" ? json(200, { ok: true }) : json(401, {})));
    signedIn({ accessToken: "old", refreshToken: "r1", expiresAt: Date.now() + 60_000, renewAt: Date.now() - 1 });
    const { get } = await import("./api");
    await Promise.all([get("/me"), get("/executions/run-1"), get("/approvals")]);
    const renewals = calls.filter((c) => c.url.endsWith("/oauth2/token"));
    expect(renewals).toHaveLength(1);
    expect(renewals[0]?.url).toBe("https://drs.auth.us-east-1.amazoncognito.com/oauth2/token");
    expect(Object.fromEntries(new URLSearchParams(String(renewals[0]?.init?.body)))).toEqual({ grant_type: "refresh_token", client_id: "spa-client", refresh_token: "r1" });
    const { currentSession } = await import("./auth");
    const session = currentSession();
    expect(session?.accessToken).toBe("new");
    expect(session?.refreshToken).toBe("r1"); // kept: Cognito sent none
    expect(session!.renewAt - Date.now()).toBeGreaterThan(3290_000);
    expect(calls.filter((c) => c.url.startsWith("/api")).every((c) => new Headers(c.init?.headers).get("authorization") === "Bearer new")).toBe(true);
  });

  it("local: a 401 renews through the local server and sends the request once more", async () => {
    serve(LOCAL, () => json(200, { AccessToken: "new", RefreshToken: null, ExpiresIn: 20 }), (t) => (t === "new" ? json(200, { id: "a1", status: "APPROVED" }) : json(401, { message: "expired" })));
    // This browser still thinks the token valid (its clock, or asleep past its renewal).
    signedIn({ accessToken: "old", refreshToken: "r1", expiresAt: Date.now() + 60_000, renewAt: Date.now() + 30_000 });
    const { post } = await import("./api");
    expect(await post("/approvals/a1", { decision: "APPROVE" })).toEqual({ id: "a1", status: "APPROVED" });
    const sent = calls.filter((c) => c.url === "/api/approvals/a1");
    expect(sent.map((c) => new Headers(c.init?.headers).get("authorization"))).toEqual(["Bearer old", "Bearer new"]);
    expect(sent[1]?.init?.body).toBe(JSON.stringify({ decision: "APPROVE" }));
    const renewal = calls.find((c) => c.url === "/_local/refresh");
    expect(JSON.parse(String(renewal?.init?.body))).toEqual({ refreshToken: "r1" });
    expect(assign).not.toHaveBeenCalled();
  });

  it("a refused renewal ends the session and says why on the sign-in page", async () => {
    serve(AWS, () => json(400, { error: "invalid_grant" }), () => json(401, {}));
    signedIn({ accessToken: "old", refreshToken: "revoked", expiresAt: Date.now() - 1, renewAt: Date.now() - 60_000 });
    const { get, ApiError } = await import("./api");
    const error = await get("/me").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as InstanceType<typeof ApiError>).status).toBe(401);
    const { currentSession, signInMessage } = await import("./auth");
    expect(currentSession()).toBeNull();
    expect(signInMessage()).toMatch(/session has ended.*Sign in again/);
    expect(assign).toHaveBeenCalledWith("/executions/run-1");
    expect(calls.filter((c) => c.url.startsWith("/api"))).toHaveLength(0);
  });

  it("a renewal that fails for a passing reason keeps the session and the token still valid", async () => {
    serve(LOCAL, () => json(503, { message: "the user pool did not answer" }), (t) => (t === "old" ? json(200, { ok: true }) : json(401, {})));
    signedIn({ accessToken: "old", refreshToken: "r1", expiresAt: Date.now() + 20_000, renewAt: Date.now() - 1 });
    const { get } = await import("./api");
    expect(await get("/me")).toEqual({ ok: true });
    const { currentSession } = await import("./auth");
    expect(currentSession()?.refreshToken).toBe("r1");
    expect(assign).not.toHaveBeenCalled();
  });

  it("a renewed token the API refuses too ends the session", async () => {
    serve(LOCAL, () => json(200, { AccessToken: "new", ExpiresIn: 3600 }), () => json(401, {}));
    signedIn({ accessToken: "old", refreshToken: "r1", expiresAt: Date.now() + 60_000, renewAt: Date.now() + 30_000 });
    const { get } = await import("./api");
    await expect(get("/me")).rejects.toMatchObject({ status: 401 });
    expect(calls.filter((c) => c.url === "/api/me")).toHaveLength(2);
    expect(assign).toHaveBeenCalledTimes(1);
    const { signInMessage } = await import("./auth");
    expect(signInMessage()).toMatch(/no longer accepts/);
  });
});
