import { describe, expect, it } from "vitest";
import { checkKind, commaList, fromRows, linesToValues, move, newCheck, newStep, portValue, toRows, valuesToLines } from "./stepForm";

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

  it("keeps parameter rows as typed and turns them into SSM parameters", () => {
    const rows = toRows({ commands: ["echo a", "echo b"], workingDirectory: ["/opt"] });
    expect(rows).toEqual([{ name: "commands", text: "echo a\necho b" }, { name: "workingDirectory", text: "/opt" }]);
    // Mid-typing: a trailing space and a new empty line are in the text, not the values.
    expect(fromRows([{ name: "commands", text: "echo \n" }]).params).toEqual({ commands: ["echo"] });
  });

  it("never lets a name typed twice drop the first parameter's values", () => {
    const { params, duplicates } = fromRows([{ name: "commands", text: "echo a" }, { name: "commands", text: "" }]);
    expect(params).toEqual({ commands: ["echo a"] });
    expect(duplicates).toEqual(["commands"]);
  });

  it("reads approvers from comma-separated text", () => {
    expect(commaList("Approver, dr-lead ,")).toEqual(["Approver", "dr-lead"]);
  });
});
