// The API client: same origin, bearer token, errors that keep the API's details.

import { currentSession } from "./auth";
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

export async function api<T>(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<T> {
  const session = currentSession();
  const headers: Record<string, string> = {};
  if (session) headers.authorization = `Bearer ${session.accessToken}`;
  if (body !== undefined) headers["content-type"] = contentType;
  const response = await fetch(`/api${path}`, {
    method,
    headers,
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
  const session = currentSession();
  const response = await fetch(`/api${path}`, { headers: session ? { authorization: `Bearer ${session.accessToken}` } : {} });
  if (!response.ok) throw new ApiError(response.status, `GET ${path} answered ${response.status}`);
  return response.text();
}

export const get = <T>(path: string) => api<T>("GET", path);
export const post = <T>(path: string, body?: unknown) => api<T>("POST", path, body ?? {});
export const put = <T>(path: string, body: unknown) => api<T>("PUT", path, body);
export const del = <T>(path: string) => api<T>("DELETE", path);
