// Sign-in. In AWS: Cognito managed login, authorization code flow with PKCE (the SPA is a
// public client: no secret; passwords, MFA and resets stay on Cognito's pages). In local
// mode: user name and password through the local server, which asks the emulator's
// Cognito (it has no hosted login pages).
//
// Sessions outlast their access tokens: the access token is renewed with the refresh
// token shortly before it expires, and once more if the API refuses it (then the request
// is sent again, once). In AWS through managed login's token endpoint (grant_type
// refresh_token; a public client, no secret); in local mode through the local server.
// Tokens live in this tab's sessionStorage only. A renewal that is refused ends the
// session: the sign-in page says why. A renewal that fails for a passing reason (the
// pool does not answer) is tried again at the next request.

import { type AppConfig, loadConfig } from "./config";

const KEY = "drs-orchestrator.session";
const MESSAGE = "drs-orchestrator.sign-in-message";

export interface Session {
  accessToken: string;
  refreshToken?: string;
  /** When the access token expires (ms since the epoch, by this browser's clock). */
  expiresAt: number;
  /** When to renew it: shortly before it expires. */
  renewAt: number;
}

/** What the token endpoint (AWS) or the local sign-in answers. */
export interface TokenAnswer {
  access_token?: string;
  AccessToken?: string;
  refresh_token?: string;
  RefreshToken?: string | null;
  expires_in?: number;
  ExpiresIn?: number;
}

/** A quarter of the lifetime before it ends, at most five minutes: an hour's token at 55 minutes. */
export function renewalTime(issuedAt: number, lifetimeSeconds: number): number {
  return issuedAt + 1000 * (lifetimeSeconds - Math.min(300, lifetimeSeconds / 4));
}

function read(): Session | null {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) ?? "null") as (Omit<Session, "renewAt"> & { renewAt?: number }) | null;
    if (!s?.accessToken) return null;
    return { ...s, renewAt: s.renewAt ?? s.expiresAt };
  } catch {
    return null;
  }
}

/** The session, while its access token is valid or it can be renewed. */
export function currentSession(): Session | null {
  const s = read();
  return s && (s.expiresAt > Date.now() || s.refreshToken) ? s : null;
}

function save(tokens: TokenAnswer, previous?: Session): Session {
  const lifetime = tokens.expires_in ?? tokens.ExpiresIn ?? 3600;
  const now = Date.now();
  const session: Session = {
    accessToken: tokens.access_token ?? tokens.AccessToken ?? "",
    // Cognito answers a renewal without a refresh token unless it rotates them.
    refreshToken: tokens.refresh_token ?? tokens.RefreshToken ?? previous?.refreshToken,
    expiresAt: now + 1000 * lifetime,
    renewAt: renewalTime(now, lifetime),
  };
  sessionStorage.setItem(KEY, JSON.stringify(session));
  sessionStorage.removeItem(MESSAGE);
  return session;
}

/** Why the last session ended, for the sign-in page. */
export function signInMessage(): string | null {
  return sessionStorage.getItem(MESSAGE);
}

/** The session is over: forget it and show the sign-in page with why (then come back here). */
export class SessionEnded extends Error {}

export function endSession(message: string): SessionEnded {
  sessionStorage.removeItem(KEY);
  sessionStorage.setItem(MESSAGE, message);
  window.location.assign(window.location.pathname + window.location.search);
  return new SessionEnded(message);
}

/** A renewal that failed for a reason that may pass; the session goes on. */
export class RenewalFailed extends Error {}

let renewing: Promise<Session> | null = null;

/** Renews the access token: one request, however many callers ask at once. */
export function renew(): Promise<Session> {
  renewing ??= renewNow().finally(() => {
    renewing = null;
  });
  return renewing;
}

async function renewNow(): Promise<Session> {
  const session = read();
  if (!session?.refreshToken) throw endSession("Your sign-in has expired. Sign in again.");
  const config = await loadConfig();
  let response: Response;
  try {
    response = config.local
      ? await fetch("/_local/refresh", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ refreshToken: session.refreshToken }),
        })
      : await fetch(new URL("/oauth2/token", config.signInUrl), {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ grant_type: "refresh_token", client_id: config.clientId, refresh_token: session.refreshToken }),
        });
  } catch (e) {
    throw new RenewalFailed(`Your sign-in could not be renewed just now (${e instanceof Error ? e.message : String(e)}); trying again.`);
  }
  // Refused (revoked, expired, from another pool): 400 invalid_grant from Cognito, 401 locally.
  if (response.status === 400 || response.status === 401) {
    throw endSession("Your session has ended: it could not be renewed (the sign-in expired or was revoked). Sign in again.");
  }
  if (!response.ok) throw new RenewalFailed(`Your sign-in could not be renewed just now (the sign-in service answered ${response.status}); trying again.`);
  const current = read();
  if (current && current.refreshToken !== session.refreshToken) return current; // signed in again meanwhile
  return save((await response.json()) as TokenAnswer, session);
}

/** The access token to send: renewed first when it is about to expire. */
export async function accessToken(): Promise<string | null> {
  const session = currentSession();
  if (!session) return null;
  if (Date.now() < session.renewAt || !session.refreshToken) return session.accessToken;
  try {
    return (await renew()).accessToken;
  } catch (e) {
    if (e instanceof SessionEnded) throw e;
    // Not renewed this time: the API decides whether the token still works.
    return session.accessToken;
  }
}

/** After the API refused `refused`: a newer token (renewed, unless another call just did). */
export async function renewAfter(refused: string): Promise<string> {
  const session = read();
  if (!session) throw endSession("Your sign-in has expired. Sign in again.");
  if (session.accessToken !== refused) return session.accessToken;
  return (await renew()).accessToken;
}

export function signOut(config: AppConfig): void {
  const session = read();
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(MESSAGE);
  if (!config.local && config.signInUrl) {
    if (session?.refreshToken) {
      // Revoke the refresh token (the app client has token revocation on): the tokens it
      // gave stop working too. Best effort; the page is leaving.
      void fetch(new URL("/oauth2/revoke", config.signInUrl), {
        method: "POST",
        keepalive: true,
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token: session.refreshToken, client_id: config.clientId }),
      }).catch(() => {});
    }
    const url = new URL("/logout", config.signInUrl);
    url.searchParams.set("client_id", config.clientId);
    url.searchParams.set("logout_uri", config.redirectUri ?? window.location.origin + "/");
    window.location.assign(url.toString());
  } else {
    window.location.assign("/");
  }
}

export class SignInError extends Error {}

/** Local mode: user name and password. */
export async function signInWithPassword(username: string, password: string): Promise<Session> {
  const response = await fetch("/_local/sign-in", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  const body = (await response.json().catch(() => ({}))) as { message?: string };
  if (!response.ok) throw new SignInError(body.message ?? `sign-in answered ${response.status}`);
  return save(body as TokenAnswer);
}

export function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** RFC 7636 S256: BASE64URL(SHA-256(verifier)). */
export async function pkceChallenge(verifier: string): Promise<string> {
  return base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
}

/** Managed login's authorize URL for the code flow with PKCE. */
export function authorizeUrl(config: Pick<AppConfig, "signInUrl" | "clientId">, redirectUri: string, challenge: string, state: string): URL {
  const url = new URL("/oauth2/authorize", config.signInUrl);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("client_id", config.clientId);
  url.searchParams.set("redirect_uri", redirectUri);
  url.searchParams.set("scope", "openid email profile");
  url.searchParams.set("code_challenge", challenge);
  url.searchParams.set("code_challenge_method", "S256");
  url.searchParams.set("state", state);
  return url;
}

/** AWS: go to managed login with a PKCE challenge; `completeSignIn` finishes on return. */
export async function startManagedLogin(config: AppConfig, returnTo: string): Promise<void> {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
  sessionStorage.setItem("drs-orchestrator.pkce", JSON.stringify({ verifier, state, returnTo }));
  const redirectUri = config.redirectUri ?? window.location.origin + "/";
  window.location.assign(authorizeUrl(config, redirectUri, await pkceChallenge(verifier), state).toString());
}

/** On the redirect back: exchanges the code; returns where the user was going. */
export async function completeSignIn(config: AppConfig): Promise<string | null> {
  const params = new URLSearchParams(window.location.search);
  const code = params.get("code");
  if (!code || !config.signInUrl) return null;
  const pending = JSON.parse(sessionStorage.getItem("drs-orchestrator.pkce") ?? "null") as { verifier: string; state: string; returnTo: string } | null;
  sessionStorage.removeItem("drs-orchestrator.pkce");
  if (!pending || pending.state !== params.get("state")) throw new SignInError("the sign-in response does not match the request; sign in again");
  const response = await fetch(new URL("/oauth2/token", config.signInUrl), {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: config.clientId,
      code,
      redirect_uri: config.redirectUri ?? window.location.origin + "/",
      code_verifier: pending.verifier,
    }),
  });
  if (!response.ok) throw new SignInError(`the token exchange answered ${response.status}`);
  save((await response.json()) as TokenAnswer);
  return pending.returnTo;
}
