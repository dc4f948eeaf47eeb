"""Building blocks for the small state machines the emulator tests run."""

import re

ISO_MILLIS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6})?Z")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
PASS = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
MISSING_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:missing"


def sdk(service: str, action: str) -> str:
    return f"arn:aws:states:::aws-sdk:{service}:{action}"


def task(resource: str, parameters: dict, **fields) -> dict:
    return {"Type": "Task", "Resource": resource, "Parameters": parameters, **fields}


def chain(*states: tuple[str, dict]) -> dict:
    """A machine running the named states in order."""
    names = [name for name, _ in states]
    built = {}
    for index, (name, state) in enumerate(states):
        last = index == len(states) - 1
        built[name] = {**state, **({"End": True} if last else {"Next": names[index + 1]})}
    return {"StartAt": names[0], "States": built}


def succeeded(result: dict) -> dict:
    assert result["status"] == "SUCCEEDED", result
    return result["output"]


def approval_machine(table: str, timeout_seconds: int) -> dict:
    """Waits for a decision: the task token goes into DynamoDB, keyed by execution name."""
    return {"StartAt": "Ask", "States": {
        "Ask": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:dynamodb:putItem.waitForTaskToken",
            "Parameters": {"TableName": table, "Item": {
                "pk": {"S.$": "$$.Execution.Name"}, "token": {"S.$": "$$.Task.Token"}}},
            "TimeoutSeconds": timeout_seconds,
            "ResultPath": "$.approval",
            "Catch": [{"ErrorEquals": ["Approval.Rejected", "States.Timeout"],
                       "ResultPath": "$.failure", "Next": "Not approved"}],
            "End": True,
        },
        "Not approved": {"Type": "Pass", "End": True},
    }}
