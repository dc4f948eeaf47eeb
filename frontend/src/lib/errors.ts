// The API's validation errors ({path, message} details) mapped onto the form fields that
// show them; what matches no field is shown at the top of the form.

import type { ProblemDetail } from "./types";

export interface FieldErrors {
  byField: Record<string, string>;
  other: string[];
}

/** `plan.waves[0].groups[1].group` -> `waves.0.groups.1.group` (the form's field ids). */
export function fieldId(path: string): string {
  return path
    .replace(/^plan\./, "")
    .replace(/\[(\d+)\]/g, ".$1")
    .replace(/^\./, "");
}

export function mapErrors(details: ProblemDetail[], fields: string[]): FieldErrors {
  const known = new Set(fields);
  const result: FieldErrors = { byField: {}, other: [] };
  for (const d of details) {
    const id = fieldId(d.path);
    // The nearest field at or above the path: `waves.0.groups.1.dependsOn.0.group` falls
    // back to `waves.0.groups.1` when the form has no input for the dependency itself.
    let candidate = id;
    while (candidate && !known.has(candidate)) {
      const cut = candidate.lastIndexOf(".");
      candidate = cut > 0 ? candidate.slice(0, cut) : "";
    }
    if (candidate) {
      const existing = result.byField[candidate];
      result.byField[candidate] = existing ? `${existing}; ${d.message}` : d.message;
    } else {
      result.other.push(`${d.path}: ${d.message}`);
    }
  }
  return result;
}
