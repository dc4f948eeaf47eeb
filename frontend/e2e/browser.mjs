// What both browser runs share: their arguments and Debian's Chromium, started as this
// closed network needs (no background networking).

import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

export function options(defaults) {
  const args = process.argv.slice(2);
  const arg = (name, fallback) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : fallback;
  };
  const out = arg("--out", "screenshots");
  mkdirSync(out, { recursive: true });
  return { base: arg("--url", "http://127.0.0.1:8080"), out, plan: arg("--plan", defaults?.plan) };
}

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}
