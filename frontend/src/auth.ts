// Sign-in. In AWS: Cognito managed login, authorization code flow with PKCE (the SPA is a
// public client: no secret; passwords, MFA and resets stay on Cognito's pages). In local
// mode: user name and password through the local server, which asks the emulator's
// Cognito (it has no hosted login pages).

import type { AppConfig } from "./config";

const KEY = "drs-orchestrator.session";

export interface Session {
  accessToken: string;
  refreshToken?: string;
  expiresAt: number;
}

export function currentSession(): Session | null {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) ?? "null") as Session | null;
    return s && s.expiresAt > Date.now() ? s : null;
  } catch {
    return null;
  }
}

function save(tokens: { access_token?: string; AccessToken?: string; refresh_token?: string; RefreshToken?: string; expires_in?: number; ExpiresIn?: number }): Session {
  const session: Session = {
    accessToken: tokens.access_token ?? tokens.AccessToken ?? "",
    refreshToken: tokens.refresh_token ?? tokens.RefreshToken,
    expiresAt: Date.now() + 1000 * ((tokens.expires_in ?? tokens.ExpiresIn ?? 3600) - 30),
  };
  sessionStorage.setItem(KEY, JSON.stringify(session));
  return session;
}

export function signOut(config: AppConfig): void {
  sessionStorage.removeItem(KEY);
  if (!config.local && config.signInUrl) {
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
  return save(body as Parameters<typeof save>[0]);
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
  save((await response.json()) as Parameters<typeof save>[0]);
  return pending.returnTo;
}
