// What a role may do, mirrored from the API's route table (api/src/policy.rs) so the UI
// hides what the API would refuse. The API enforces it anyway.

import type { Role } from "./lib/types";

export interface Can {
  author: boolean;
  operate: boolean;
  approve: boolean;
}

export function can(roles: Role[]): Can {
  const has = (r: Role) => roles.includes(r) || roles.includes("Admin");
  return { author: has("PlanAuthor"), operate: has("Operator"), approve: has("Approver") };
}
