"""Tests for check_sdk_tasks.py: the checked-in machines pass, and each kind of
mistake in a small in-memory machine is reported.

    .venv/bin/python -m pytest tests/fidelity -q
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import check_sdk_tasks as checker  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MACHINES = ROOT / "statemachines"
SCRIPT = Path(__file__).parent / "check_sdk_tasks.py"
SDK = "arn:aws:states:::aws-sdk:"


def task(resource, parameters=None, **fields):
    state = {"Type": "Task", "Resource": resource, "End": True, **fields}
    if parameters is not None:
        state["Parameters"] = parameters
    return state


def problems(state, errors=False):
    """Problems reported for a machine made of one state."""
    c = checker.Checker(errors)
    c.check_machine("m.asl.json", {"StartAt": "S", "States": {"S": state}})
    assert c.tasks == 1
    return [message for _, _, message in c.problems]


def only(state, *needles, errors=False):
    """Exactly one problem, containing every needle."""
    found = problems(state, errors)
    assert len(found) == 1, found
    for needle in needles:
        assert needle in found[0], found[0]
    return found[0]


START_RECOVERY = {"SourceServers": [{"SourceServerID": "s-0a1b2c3d4e5f60001"}], "IsDrill.$": "$.isDrill"}


# ---- the checked-in machines ----------------------------------------------

def test_checked_in_machines_pass():
    files = checker.machine_files([MACHINES])
    assert files, "no machines under statemachines/"
    c = checker.Checker()
    for f in files:
        c.check_machine(str(f), json.loads(f.read_text()))
    assert c.tasks > 0
    assert c.problems == []


def test_checked_in_machines_error_names():
    c = checker.Checker(errors=True)
    for f in checker.machine_files([MACHINES]):
        c.check_machine(str(f), json.loads(f.read_text()))
    assert c.problems == []


def test_cli_exit_codes(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)],
                              capture_output=True, text=True)

    ok = run(MACHINES)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "machines, 0 problems" in ok.stdout

    bad = tmp_path / "bad.asl.json"
    bad.write_text(json.dumps({"StartAt": "Go", "States": {
        "Go": task(SDK + "drs:startRecovry", START_RECOVERY)}}))
    out = run(bad)
    assert out.returncode == 1
    assert out.stdout.startswith(f"{bad}: Go: drs has no operation StartRecovry")
    assert out.stdout.rstrip().endswith("1 tasks checked in 1 machines, 1 problems")

    assert run().returncode == 2
    assert run(tmp_path / "missing.asl.json").returncode == 2
    (tmp_path / "broken.asl.json").write_text("{")
    assert run(tmp_path / "broken.asl.json").returncode == 2


# ---- the mistakes the brief names -----------------------------------------

def test_misspelled_action():
    only(task(SDK + "drs:startRecovry", START_RECOVERY), "no operation StartRecovry", "did you mean StartRecovery")


def test_action_must_be_camel_case():
    only(task(SDK + "drs:StartRecovery", START_RECOVERY), "no operation")


def test_wrong_parameter_casing():
    params = {"Filters": {"SourceServerIds": ["s-0a1b2c3d4e5f60001"]}}
    only(task(SDK + "drs:describeRecoveryInstances", params),
         "unknown member 'SourceServerIds'", "did you mean SourceServerIDs")


def test_wrong_casing_of_a_path_key():
    params = {"Filters": {"SourceServerIds.$": "$.servers"}}
    only(task(SDK + "drs:describeRecoveryInstances", params), "unknown member 'SourceServerIds'")


def test_unknown_nested_member_in_list_of_structures():
    params = {"SourceServers": [{"SourceServerID": "s-0a1b2c3d4e5f60001", "Snapshot": "x"}]}
    only(task(SDK + "drs:startRecovery", params), "SourceServers[0]", "unknown member 'Snapshot'")


def test_missing_required_member():
    only(task(SDK + "drs:startRecovery", {"IsDrill": True}), "missing required member 'SourceServers'")
    only(task(SDK + "drs:startRecovery", {"SourceServers": [{}]}),
         "SourceServers[0]", "missing required member 'SourceServerID'")


def test_required_member_given_by_path():
    assert problems(task(SDK + "drs:startRecovery", {"SourceServers.$": "$.servers"})) == []


def test_unknown_response_member():
    state = task(SDK + "drs:startRecovery", START_RECOVERY, ResultSelector={"jobId.$": "$.Job.JobId"})
    only(state, "ResultSelector $.Job.JobId", "has no member 'JobId'", "JobID")


def test_unknown_field_in_filter():
    state = task(SDK + "drs:describeRecoveryInstances", {},
                 ResultSelector={"ids.$": "$.Items[?(@.Drill == true)].RecoveryInstanceID"})
    only(state, "in filter", "no member 'Drill'", "IsDrill")


def test_unknown_service():
    only(task(SDK + "drss:startRecovery", START_RECOVERY), "unknown service 'drss'")


# ---- what must pass --------------------------------------------------------

def test_result_selector_paths_that_exist():
    state = task(SDK + "drs:describeJobs", {"Filters": {"JobIDs.$": "States.Array($.jobId)"}}, ResultSelector={
        "status.$": "$.Items[0].Status",
        "launched.$": "$.Items[0].ParticipatingServers[?(@.LaunchStatus == 'LAUNCHED')].SourceServerID",
        "count.$": "States.ArrayLength($.Items)",
        "nested": {"first.$": "$.Items[0].Job", "execution.$": "$$.Execution.Name"},
        "elapsed": 0,
    })
    found = problems(state)
    # Job is not a member of a DescribeJobs item (the item *is* the Job): only that one.
    assert len(found) == 1 and "$.Items[0].Job" in found[0], found


def test_ec2_nested_lists():
    state = task(SDK + "ec2:describeInstances", {"InstanceIds.$": "$.ids"},
                 ResultSelector={"ips.$": "$.Reservations[*].Instances[*].PrivateIpAddress"})
    assert problems(state) == []
    state["ResultSelector"] = {"ips.$": "$.Reservations[*].Instances[*].PrivateIp"}
    only(state, "no member 'PrivateIp'")


def test_intrinsic_path_argument_is_checked():
    state = task(SDK + "drs:describeRecoveryInstances", {}, ResultSelector={"n.$": "States.ArrayLength($.Itemz)"})
    only(state, "no member 'Itemz'", "Items")


def test_map_keys_are_data_but_attribute_values_are_shapes():
    item = {"pk": {"S.$": "$.id"}, "approvers": {"L": [{"S": "Approver"}]}, "n": {"N": "2"}}
    put = task(SDK + "dynamodb:putItem.waitForTaskToken", {"TableName": "t", "Item": item},
               ResultSelector={"anything.$": "$.callbackField"})  # callback output: not checked
    assert problems(put) == []
    item["approvers"] = {"L": [{"Str": "Approver"}]}
    only(put, "unknown member 'Str'")


def test_tags_and_ssm_parameters_are_maps():
    params = {**START_RECOVERY, "Tags": {"anyKey": "v", "other.$": "$$.Execution.Name"}}
    assert problems(task(SDK + "drs:startRecovery", params)) == []
    send = {"DocumentName": "AWS-RunShellScript", "InstanceIds.$": "$.ids",
            "Parameters": {"commands": ["true"]}}
    assert problems(task(SDK + "ssm:sendCommand", send)) == []


def test_optimized_integrations_check_parameter_names():
    update = {"TableName": "t", "Key": {"pk": {"S": "x"}}, "UpdateExpression": "SET a = :a",
              "ExpressionAttributeValues": {":a": {"S.$": "$.a"}}}
    assert problems(task("arn:aws:states:::dynamodb:updateItem", update)) == []
    only(task("arn:aws:states:::dynamodb:updateItem", {**update, "Keys": {}}), "unknown member 'Keys'")
    only(task("arn:aws:states:::sns:publish", {"TopicArn": "arn", "Message.$": "$.m", "Subjct": "hi"}),
         "unknown member 'Subjct'", "Subject")
    # lambda:invoke Payload is any JSON; its output is wrapped, so no ResultSelector check
    invoke = task("arn:aws:states:::lambda:invoke",
                  {"FunctionName": "f", "Payload": {"anything": [1, {"x": 2}]}},
                  ResultSelector={"healthy.$": "$.Payload.healthy"})
    assert problems(invoke) == []


def test_sdk_service_names_that_differ_from_botocore():
    sfn = task(SDK + "sfn:startExecution", {"StateMachineArn": "arn", "Input": "{}"},
               ResultSelector={"arn.$": "$.ExecutionArn"})
    assert problems(sfn) == []  # botocore: stepfunctions
    logs = task(SDK + "cloudwatchlogs:putLogEvents",
                {"LogGroupName": "g", "LogStreamName": "s", "LogEvents": [{"Timestamp": 1, "Message": "m"}]})
    assert problems(logs) == []  # botocore: logs


def test_value_kind_and_model_constraints():
    only(task(SDK + "drs:describeJobs", {"Filters": [{"Name": "x"}]}), "expected an object")
    bad_id = {"SourceServers": [{"SourceServerID": "s-0a1b2c3d4e5f6000!"}]}
    only(task(SDK + "drs:startRecovery", bad_id), "does not match pattern")
    only(task(SDK + "drs:startRecovery", {"SourceServers": []}), "below the minimum 1")
    state = task(SDK + "drs:describeJobs", {}, ResultSelector={
        "launched.$": "$.Items[0].ParticipatingServers[?(@.LaunchStatus == 'LAUNCH')].SourceServerID"})
    only(state, "@.LaunchStatus is never 'LAUNCH'")


def test_states_nested_in_parallel_and_map_are_checked():
    bad = task(SDK + "drs:startRecovry", START_RECOVERY)
    machine = {"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "End": True, "Branches": [{"StartAt": "M", "States": {
            "M": {"Type": "Map", "End": True, "ItemProcessor": {"StartAt": "Deep", "States": {"Deep": bad}}},
        }}]},
    }}
    c = checker.Checker()
    c.check_machine("m", machine)
    assert [(state, "StartRecovry" in msg) for _, state, msg in c.problems] == [("Deep", True)]


# ---- --errors ---------------------------------------------------------------

def test_error_names():
    retry = lambda *names: {"Retry": [{"ErrorEquals": list(names)}]}  # noqa: E731
    ok = task(SDK + "drs:startRecovery", START_RECOVERY,
              **retry("Drs.ThrottlingException", "Drs.DrsException", "States.ALL"))
    assert problems(ok, errors=True) == []
    only(task(SDK + "ec2:describeInstanceStatus", {}, **retry("Ec2.ThrottlingException")),
         "Ec2.ThrottlingException is never raised", "Ec2.Ec2Exception", errors=True)
    only(task(SDK + "ssm:getCommandInvocation", {"CommandId.$": "$.c", "InstanceId.$": "$.i"},
              **retry("Ssm.InternalServerException", "Ssm.InternalServerErrorException")),
         "Ssm.InternalServerException", errors=True)
    # off by default
    assert problems(task(SDK + "ec2:describeInstanceStatus", {}, **retry("Ec2.Nope")), errors=False) == []
