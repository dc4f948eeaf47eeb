import { describe, expect, it } from "vitest";
import { checkKind, linesToValues, move, newCheck, newStep, portValue, renameKey, valuesToLines } from "./stepForm";

describe("step forms", () => {
  it("makes a valid-looking step of every type", () => {
    expect(newStep("wait")).toMatchObject({ type: "wait", duration: "2m" });
    expect(newStep("ssm")).toMatchObject({ type: "ssm", document: "AWS-RunShellScript", parameters: { commands: ["echo ready"] } });
    expect(newStep("approval")).toMatchObject({ type: "approval", approvers: ["Approver"] });
    expect(checkKind(newStep("healthCheck").check)).toBe("tcp");
  });

  it("reads each health-check kind back from what it writes", () => {
    for (const kind of ["tcp", "http", "ec2Status", "ssm"] as const) expect(checkKind(newCheck(kind))).toBe(kind);
    expect(checkKind(undefined)).toBe("tcp");
    expect(checkKind({ unknown: {} })).toBe("tcp");
  });

  it("keeps SSM parameter values one per line, without blank lines", () => {
    expect(linesToValues("systemctl restart shop\n\n  \n/opt/check --all  ")).toEqual(["systemctl restart shop", "/opt/check --all"]);
    expect(valuesToLines(["a", "b"])).toBe("a\nb");
    expect(valuesToLines(undefined)).toBe("");
  });

  it("takes a port only when it is one, and keeps bad text for the API to name", () => {
    expect(portValue("5432")).toBe(5432);
    expect(portValue("70000")).toBe("70000");
    expect(portValue("")).toBe("");
    expect(portValue("8o")).toBe("8o");
  });

  it("moves a step within the list, clamped at the ends", () => {
    expect(move(["a", "b", "c"], 0, 1)).toEqual(["b", "a", "c"]);
    expect(move(["a", "b", "c"], 2, -1)).toEqual(["a", "c", "b"]);
    expect(move(["a", "b", "c"], 0, -1)).toEqual(["a", "b", "c"]);
  });

  it("renames a parameter in place", () => {
    expect(Object.keys(renameKey({ a: ["1"], b: ["2"], c: ["3"] }, "b", "x"))).toEqual(["a", "x", "c"]);
  });
});
