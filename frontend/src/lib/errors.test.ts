import { describe, expect, it } from "vitest";
import { fieldId, mapErrors } from "./errors";

describe("mapErrors", () => {
  it("turns API paths into field ids", () => {
    expect(fieldId("plan.waves[0].groups[1].group")).toBe("waves.0.groups.1.group");
    expect(fieldId("name")).toBe("name");
  });

  it("puts each problem on its field, or the nearest one above it, else at the top", () => {
    const fields = ["name", "waves.0.name", "waves.0.groups.1", "waves.0.groups.1.group"];
    const mapped = mapErrors(
      [
        { path: "plan.waves[0].groups[1].group", message: "protection group `nope` is not defined" },
        { path: "plan.waves[0].groups[1].dependsOn[0].group", message: "cycle: a -> b -> a" },
        { path: "plan.waves[0].groups[1].dependsOn[1].group", message: "depends on a later wave" },
        { path: "protectionGroups[2].servers[0]", message: "server `s-1` is in two groups" },
      ],
      fields,
    );
    expect(mapped.byField["waves.0.groups.1.group"]).toBe("protection group `nope` is not defined");
    expect(mapped.byField["waves.0.groups.1"]).toBe("cycle: a -> b -> a; depends on a later wave");
    expect(mapped.other).toEqual(["protectionGroups[2].servers[0]: server `s-1` is in two groups"]);
  });
});
