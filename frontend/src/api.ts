// The API client: same origin, bearer token, errors that keep the API's details. The
// token is renewed shortly before it expires; a request the API refuses (401) is sent
// again once, after a renewal.

import { accessToken, endSession, RenewalFailed, renewAfter, SessionEnded } from "./auth";
import type { ProblemDetail } from "./lib/types";

export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
    public details: ProblemDetail[] = [],
  ) {
    super(message);
  }
}

function withToken(init: RequestInit, token: string | null): RequestInit {
  const headers = new Headers(init.headers);
  if (token) headers.set("authorization", `Bearer ${token}`);
  return { ...init, headers };
}

/** Sends a request with the session's token; on a 401, renews the token and sends it once more. */
export async function send(path: string, init: RequestInit = {}): Promise<Response> {
  try {
    const token = await accessToken();
    const response = await fetch(`/api${path}`, withToken(init, token));
    if (response.status !== 401 || token === null) return response;
    // Refused although this browser thought it valid (expired early, clocks apart, or
    // asleep past its renewal): a 401 is answered before anything is done, so sending
    // again is safe, even a decision.
    const retried = await fetch(`/api${path}`, withToken(init, await renewAfter(token)));
    if (retried.status === 401) throw endSession("The API no longer accepts your sign-in. Sign in again.");
    return retried;
  } catch (e) {
    if (e instanceof SessionEnded) throw new ApiError(401, e.message);
    if (e instanceof RenewalFailed) throw new ApiError(503, e.message);
    throw e;
  }
}

export async function api<T>(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<T> {
  const response = await send(path, {
    method,
    headers: body === undefined ? {} : { "content-type": contentType },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  const json = text ? (JSON.parse(text) as unknown) : null;
  if (!response.ok) {
    const e = (json ?? {}) as { message?: string; details?: ProblemDetail[] };
    throw new ApiError(response.status, e.message ?? `${method} ${path} answered ${response.status}`, e.details ?? []);
  }
  return json as T;
}

/** A text response (YAML export). */
export async function text(path: string): Promise<string> {
  const response = await send(path);
  if (!response.ok) throw new ApiError(response.status, `GET ${path} answered ${response.status}`);
  return response.text();
}

export const get = <T>(path: string) => api<T>("GET", path);
export const post = <T>(path: string, body?: unknown) => api<T>("POST", path, body ?? {});
export const put = <T>(path: string, body: unknown) => api<T>("PUT", path, body);
export const del = <T>(path: string) => api<T>("DELETE", path);
