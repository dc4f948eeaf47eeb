// The deployment's settings, written by CloudFormation (Custom::SpaConfig) or served by
// local mode at /config.json: one build of the SPA serves any deployment.

export interface AppConfig {
  region: string;
  userPoolId: string;
  clientId: string;
  apiBase: string;
  /** Managed login (AWS): https://<prefix>.auth.<region>.amazoncognito.com */
  signInUrl?: string;
  redirectUri?: string;
  /** Local mode: sign in with user name and password through the local server. */
  local?: boolean;
}

let loaded: AppConfig | null = null;

export async function loadConfig(): Promise<AppConfig> {
  if (loaded) return loaded;
  const response = await fetch("/config.json", { cache: "no-store" });
  if (!response.ok) throw new Error(`/config.json answered ${response.status}`);
  loaded = (await response.json()) as AppConfig;
  return loaded;
}
