"""Tests for moto_patches_nested.py: a parent machine running child executions through the
optimized integration `arn:aws:states:::states:startExecution.sync:2`, as AWS documents it
(Step Functions developer guide: "Start a new AWS Step Functions state machine from a
running execution", connect-stepfunctions; "Discover service integration patterns",
connect-to-resource, Run a Job (.sync))."""

import json
import time
import uuid

from conftest import token_table
from machines import chain, succeeded, task

ROLE_ARN = "arn:aws:iam::123456789012:role/orchestrator"

SYNC2 = "arn:aws:states:::states:startExecution.sync:2"
SYNC = "arn:aws:states:::states:startExecution.sync"
START = "arn:aws:states:::states:startExecution"

# What a child execution's DescribeExecution answers, under the names Step Functions gives
# its optimized integrations' results: the API's members with the first letter upper-cased.
DESCRIBED = {"ExecutionArn", "StateMachineArn", "Name", "Status", "StartDate", "StopDate",
             "Input", "InputDetails", "Output", "OutputDetails"}

ECHO = {"StartAt": "Echo", "States": {"Echo": {
    "Type": "Pass", "Parameters": {"got.$": "$", "child.$": "$$.Execution.Id"}, "End": True}}}
WAIT_LONG = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 60, "End": True}}}
FAILS = {"StartAt": "Fail", "States": {"Fail": {
    "Type": "Fail", "Error": "Wave.Failed", "Cause": "s-1 did not launch"}}}


def _child(moto, definition: dict, publish: bool = False) -> dict:
    return moto.sfn.create_state_machine(
        name=f"child-{uuid.uuid4().hex[:12]}", definition=json.dumps(definition),
        roleArn=ROLE_ARN, publish=publish)


def _run_wave(child_arn: str, resource: str = SYNC2, **fields) -> dict:
    return chain(("Wave", task(resource, {
        "StateMachineArn": child_arn,
        "Input": {"wave.$": "$.wave", "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"},
    }, **fields)))


def _executions(moto, machine_arn: str, status: str | None = None) -> list[dict]:
    listed = moto.sfn.list_executions(stateMachineArn=machine_arn)["executions"]
    return [e for e in listed if status is None or e["status"] == status]


def _await(condition, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met after {timeout}s")
        time.sleep(0.1)


# 1. The child's result ------------------------------------------------------------------


def test_sync2_returns_the_childs_description_with_its_output_as_json(moto):
    child = _child(moto, ECHO)["stateMachineArn"]
    parent = moto.start(moto.create(_run_wave(child)), {"wave": 2})
    out = succeeded(moto.finish(parent))
    assert DESCRIBED <= set(out), out
    assert out["Status"] == "SUCCEEDED"
    assert out["StateMachineArn"] == child
    assert out["ExecutionArn"].startswith(child.replace(":stateMachine:", ":execution:") + ":")
    assert out["Name"] == out["ExecutionArn"].rsplit(":", 1)[1]
    # sync:2: Input and Output are JSON, not JSON text (that is `.sync`).
    started_by = {"wave": 2, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": parent}
    assert out["Input"] == started_by
    assert out["Output"] == {"got": started_by, "child": out["ExecutionArn"]}
    assert out["InputDetails"] == {"Included": True}
    assert out["OutputDetails"] == {"Included": True}
    # The child is an execution of its own, and ran with the input the task gave it.
    described = moto.sfn.describe_execution(executionArn=out["ExecutionArn"])
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["input"]) == started_by
    assert described["inputDetails"] == {"included": True}


def test_sync_returns_the_childs_output_as_json_text(moto):
    child = _child(moto, ECHO)["stateMachineArn"]
    out = succeeded(moto.run(_run_wave(child, SYNC), {"wave": 1}))
    assert out["Status"] == "SUCCEEDED"
    assert isinstance(out["Output"], str) and isinstance(out["Input"], str)
    assert json.loads(out["Output"])["got"]["wave"] == 1


def test_start_execution_returns_the_new_executions_arn(moto):
    child = _child(moto, ECHO)["stateMachineArn"]
    out = succeeded(moto.run(_run_wave(child, START), {"wave": 1}))
    assert set(out) == {"ExecutionArn", "StartDate"}
    assert moto.finish(out["ExecutionArn"])["output"]["got"]["wave"] == 1


def test_sync2_runs_a_published_version_as_published(moto):
    created = _child(moto, ECHO, publish=True)
    machine, version = created["stateMachineArn"], created["stateMachineVersionArn"]
    assert version == machine + ":1"
    # The machine moves on; the version keeps the definition it was published with.
    moto.sfn.update_state_machine(stateMachineArn=machine, definition=json.dumps(FAILS))
    out = succeeded(moto.run(_run_wave(version), {"wave": 3}))
    assert out["Status"] == "SUCCEEDED"
    assert out["Output"]["got"]["wave"] == 3
    assert out["StateMachineArn"] == machine
    assert out["StateMachineVersionArn"] == version


# 2. A child that does not succeed -------------------------------------------------------


def _caught(child_arn: str) -> dict:
    return _run_wave(child_arn, Catch=[{
        "ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Failed"}])


def test_a_failed_child_fails_the_task_with_its_description_as_cause(moto):
    child = _child(moto, FAILS)["stateMachineArn"]
    machine = _caught(child)
    machine["States"]["Failed"] = {"Type": "Pass", "End": True}
    out = succeeded(moto.run(machine, {"wave": 4}))
    failure = out["failure"]
    assert failure["Error"] == "States.TaskFailed"
    cause = json.loads(failure["Cause"])
    assert cause["Status"] == "FAILED"
    assert cause["Error"] == "Wave.Failed"
    assert cause["Cause"] == "s-1 did not launch"
    assert cause["StateMachineArn"] == child
    assert cause["Input"]["wave"] == 4
    assert {"ExecutionArn", "Name", "StartDate", "StopDate"} <= set(cause)
    assert _executions(moto, child, "FAILED")[0]["executionArn"] == cause["ExecutionArn"]


def test_an_uncaught_child_failure_fails_the_parent(moto):
    child = _child(moto, FAILS)["stateMachineArn"]
    parent = moto.start(moto.create(_run_wave(child)), {"wave": 5})
    described = moto.finish(parent)
    assert described["status"] == "FAILED"
    assert described["error"] == "States.TaskFailed"
    failed = [e["taskFailedEventDetails"] for e in moto.history(parent) if e["type"] == "TaskFailed"]
    assert [f["error"] for f in failed] == ["States.TaskFailed"]
    assert failed[0]["resource"] == "startExecution.sync:2"
    assert json.loads(failed[0]["cause"])["Error"] == "Wave.Failed"


def test_a_child_stopped_by_someone_else_fails_the_task(moto):
    child = _child(moto, WAIT_LONG)["stateMachineArn"]
    machine = _caught(child)
    machine["States"]["Failed"] = {"Type": "Pass", "End": True}
    parent = moto.start(moto.create(machine), {"wave": 6})
    running = _await(lambda: _executions(moto, child, "RUNNING"), what="child running")
    moto.sfn.stop_execution(executionArn=running[0]["executionArn"], error="Operator", cause="cancelled")
    out = succeeded(moto.finish(parent))
    assert out["failure"]["Error"] == "States.TaskFailed"
    cause = json.loads(out["failure"]["Cause"])
    assert cause["Status"] == "ABORTED"
    assert cause["ExecutionArn"] == running[0]["executionArn"]


# 3. Stopping the parent stops the child -------------------------------------------------


def test_stopping_the_parent_stops_the_running_child(moto):
    child = _child(moto, WAIT_LONG)["stateMachineArn"]
    parent = moto.start(moto.create(_run_wave(child)), {"wave": 7})
    running = _await(lambda: _executions(moto, child, "RUNNING"), what="child running")
    moto.sfn.stop_execution(executionArn=parent)
    assert moto.sfn.describe_execution(executionArn=parent)["status"] == "ABORTED"
    arn = running[0]["executionArn"]
    _await(lambda: moto.sfn.describe_execution(executionArn=arn)["status"] == "ABORTED",
           timeout=5, what="child ABORTED")


def test_a_failing_parallel_branch_stops_the_child_of_the_other(moto):
    child = _child(moto, WAIT_LONG)["stateMachineArn"]
    waves = {"StartAt": "Waves", "States": {"Waves": {"Type": "Parallel", "End": True, "Branches": [
        _run_wave(child),
        {"StartAt": "Later", "States": {
            "Later": {"Type": "Wait", "Seconds": 1, "Next": "Broken"},
            "Broken": {"Type": "Fail", "Error": "Wave.Failed", "Cause": "other wave"}}},
    ]}}}
    parent = moto.start(moto.create(waves), {"wave": 8})
    running = _await(lambda: _executions(moto, child, "RUNNING"), what="child running")
    assert moto.finish(parent)["error"] == "Wave.Failed"
    arn = running[0]["executionArn"]
    _await(lambda: moto.sfn.describe_execution(executionArn=arn)["status"] == "ABORTED",
           timeout=5, what="child ABORTED")


# 4. A stopped execution stays stopped ----------------------------------------------------


def _waiting_in(shape: str, table: str) -> dict:
    """A callback task (its token put into `table`) inside a Parallel or a Map, with a
    Catch-all around it as the plan's machines have."""
    ask = {"StartAt": "Ask", "States": {"Ask": {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:dynamodb:putItem.waitForTaskToken",
        "Parameters": {"TableName": table, "Item": {
            "pk": {"S.$": "$$.Execution.Name"}, "token": {"S.$": "$$.Task.Token"}}},
        "TimeoutSeconds": 2,
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Caught"}],
        "End": True},
        "Caught": {"Type": "Fail", "Error": "Group.Failed", "Cause": "caught"}}}
    if shape == "Parallel":
        outer = {"Type": "Parallel", "Branches": [ask], "End": True}
    else:
        outer = {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"}, **ask}, "End": True}
    return {"StartAt": "Groups", "States": {"Groups": outer}}


def test_an_execution_stopped_inside_a_parallel_or_map_ends_aborted(moto):
    dynamodb = moto.client("dynamodb")
    table = token_table(moto, "tokens")
    for shape in ("Parallel", "Map"):
        execution = moto.start(moto.create(_waiting_in(shape, table)), {"items": [1]})
        key = {"pk": {"S": execution.rsplit(":", 1)[1]}}
        _await(lambda: dynamodb.get_item(TableName=table, Key=key).get("Item"),
               what=f"{shape}: token stored")
        moto.sfn.stop_execution(executionArn=execution, error="Plan.Cancelled", cause="by op")
        # Past the task's timeout: nothing the stopped task does later changes the end.
        time.sleep(3)
        described = moto.sfn.describe_execution(executionArn=execution)
        assert described["status"] == "ABORTED", (shape, described)
