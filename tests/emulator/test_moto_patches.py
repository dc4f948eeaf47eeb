"""One test per correction in moto_patches.py, each showing the behaviour AWS documents."""

from datetime import datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from machines import INSTANT, ISO_MILLIS, MISSING_MACHINE, PASS, UUID, chain, sdk, succeeded, task
from moto_patches import sdk_service_error_name


# 1. Member-name casing ----------------------------------------------------------------


def test_sdk_parameters_and_results_use_capitalised_member_names(moto):
    target = moto.create(PASS)
    out = succeeded(moto.run(chain(
        ("Describe", task(
            sdk("sfn", "describeStateMachine"), {"StateMachineArn.$": "$.arn"},
            ResultSelector={"arn.$": "$.StateMachineArn", "name.$": "$.Name", "created.$": "$.CreationDate"},
            ResultPath="$.described")),
        ("Tag", task(
            sdk("sfn", "tagResource"),
            {"ResourceArn.$": "$.arn", "Tags": [{"Key": "plan", "Value": "crm-dr"}]},
            ResultPath=None)),
        ("List", task(sdk("sfn", "listTagsForResource"), {"ResourceArn.$": "$.arn"}, ResultPath="$.listed")),
    ), {"arn": target}))
    assert out["described"]["arn"] == target
    assert out["described"]["name"] == target.rsplit(":", 1)[1]
    assert INSTANT.fullmatch(out["described"]["created"])  # a string, not a datetime
    assert out["listed"] == {"Tags": [{"Key": "plan", "Value": "crm-dr"}]}


def test_sdk_map_keys_are_not_renamed(moto):
    out = succeeded(moto.run(chain(("Create", task(
        sdk("apigateway", "createRestApi"),
        {"Name": "orchestrator", "Tags": {"drsOrchestratorPlan": "crm-dr"}},
        ResultSelector={"name.$": "$.Name", "tags.$": "$.Tags", "created.$": "$.CreatedDate"})))))
    assert out["name"] == "orchestrator"
    assert out["tags"] == {"drsOrchestratorPlan": "crm-dr"}
    assert INSTANT.fullmatch(out["created"])


def test_drs_round_trip_through_the_sdk_names(drs):
    emulator, stub = drs
    stub.script("StartRecovery", (202, None, {"job": {"jobID": "drsjob-1", "status": "PENDING"}}))
    stub.script("DescribeJobs", (200, None, {"items": [{
        "jobID": "drsjob-1", "status": "COMPLETED",
        "participatingServers": [
            {"sourceServerID": "s-1", "launchStatus": "LAUNCHED"},
            {"sourceServerID": "s-2", "launchStatus": "FAILED"}]}]}))
    stub.script("DescribeRecoveryInstances", (200, None, {"items": [
        {"recoveryInstanceID": "i-1", "isDrill": True, "tags": {"drsOrchestratorPlan": "crm-dr"}},
        {"recoveryInstanceID": "i-2", "isDrill": False}]}))
    out = succeeded(emulator.run(chain(
        ("Launch", task(sdk("drs", "startRecovery"), {
            "IsDrill.$": "$.isDrill",
            "SourceServers": [{"SourceServerID": "s-1"}, {"SourceServerID": "s-2"}],
            "Tags": {"drsOrchestratorPlan": "crm-dr"}},
            ResultSelector={"jobId.$": "$.Job.JobID"}, ResultPath="$.launch")),
        ("Check", task(
            sdk("drs", "describeJobs"), {"Filters": {"JobIDs.$": "States.Array($.launch.jobId)"}},
            ResultSelector={
                "status.$": "$.Items[0].Status",
                "launched.$": "$.Items[0].ParticipatingServers[?(@.LaunchStatus == 'LAUNCHED')].SourceServerID"},
            ResultPath="$.job")),
        ("Find", task(
            sdk("drs", "describeRecoveryInstances"), {"Filters": {"SourceServerIDs.$": "$.job.launched"}},
            ResultSelector={
                "drill.$": "$.Items[?(@.IsDrill == true)].RecoveryInstanceID", "tags.$": "$.Items[0].Tags"},
            ResultPath="$.found")),
    ), {"isDrill": True}))
    assert out["launch"] == {"jobId": "drsjob-1"}
    assert out["job"] == {"status": "COMPLETED", "launched": ["s-1"]}
    assert out["found"] == {"drill": ["i-1"], "tags": {"drsOrchestratorPlan": "crm-dr"}}
    assert stub.requests == [
        ("StartRecovery", {
            "isDrill": True,
            "sourceServers": [{"sourceServerID": "s-1"}, {"sourceServerID": "s-2"}],
            "tags": {"drsOrchestratorPlan": "crm-dr"}}),
        ("DescribeJobs", {"filters": {"jobIDs": ["drsjob-1"]}}),
        ("DescribeRecoveryInstances", {"filters": {"sourceServerIDs": ["s-1"]}}),
    ]


# 2. Error names -------------------------------------------------------------------------


@pytest.mark.parametrize("boto_service, name", [
    ("drs", "Drs"), ("ec2", "Ec2"), ("ssm", "Ssm"), ("lambda", "Lambda"), ("dynamodb", "DynamoDb"),
    ("stepfunctions", "Sfn"), ("sns", "Sns"), ("acm-pca", "AcmPca"), ("logs", "CloudWatchLogs"),
])
def test_sdk_service_error_names_follow_the_java_sdk(boto_service, name):
    assert sdk_service_error_name(boto_service) == name


def _caught(error: str, *states: tuple[str, dict]) -> dict:
    """A branch whose last state fails with `error`, caught by exactly that name."""
    branch = chain(*states)
    branch["States"][states[-1][0]]["Catch"] = [{"ErrorEquals": [error], "Next": "Caught"}]
    branch["States"]["Caught"] = {"Type": "Pass", "Parameters": {"error.$": "$.Error"}, "End": True}
    return branch


def test_sdk_errors_are_named_service_dot_exception(moto):
    instance = "i-0123456789abcdef0"
    cases = {
        "Sfn.StateMachineDoesNotExistException": [
            ("Call", task(sdk("sfn", "describeStateMachine"), {"StateMachineArn": MISSING_MACHINE}))],
        # EC2 models no errors, so the SDK (and Step Functions) only has its base exception.
        "Ec2.Ec2Exception": [
            ("Call", task(sdk("ec2", "describeInstanceStatus"), {"InstanceIds": [instance]}))],
        "Ssm.InvocationDoesNotExistException": [
            ("Send", task(sdk("ssm", "sendCommand"), {
                "DocumentName": "AWS-RunShellScript", "InstanceIds": [instance],
                "Parameters": {"commands": ["true"]}},  # a map: its keys pass as written
                ResultSelector={"id.$": "$.Command.CommandId"})),
            ("Call", task(sdk("ssm", "getCommandInvocation"),
                          {"CommandId.$": "$.id", "InstanceId": "i-0fedcba9876543210"}))],
        "Lambda.ResourceNotFoundException": [
            ("Call", task(sdk("lambda", "getFunction"), {"FunctionName": "missing"}))],
        "DynamoDb.ResourceNotFoundException": [
            ("Call", task(sdk("dynamodb", "getItem"), {"TableName": "missing", "Key": {"pk": {"S": "x"}}}))],
    }
    out = succeeded(moto.run({"StartAt": "All", "States": {"All": {
        "Type": "Parallel", "End": True,
        "Branches": [_caught(error, *states) for error, states in cases.items()]}}}))
    assert [branch["error"] for branch in out] == list(cases)


def test_drs_throttling_is_retried_by_name(drs):
    emulator, stub = drs
    throttled = (429, "ThrottlingException", {"message": "Rate exceeded"})
    stub.script("DescribeJobs", throttled, throttled, (200, None, {"items": []}))
    result = emulator.run(chain(("Check", task(sdk("drs", "describeJobs"), {}, Retry=[{
        "ErrorEquals": ["Drs.ThrottlingException"], "IntervalSeconds": 1, "MaxAttempts": 3,
        "BackoffRate": 1.0, "MaxDelaySeconds": 1, "JitterStrategy": "FULL"}]))))
    assert succeeded(result) == {"Items": []}
    assert stub.operations() == ["DescribeJobs"] * 3
    failures = [e["taskFailedEventDetails"] for e in emulator.history(result["executionArn"])
                if e["type"] == "TaskFailed"]
    assert [f["error"] for f in failures] == ["Drs.ThrottlingException"] * 2
    assert "Rate exceeded (Service: Drs, Status Code: 429" in failures[0]["cause"]


def test_drs_unmodelled_error_is_the_service_exception(drs):
    emulator, stub = drs
    stub.script("DescribeJobs", (500, None, {"message": "boom"}))
    out = succeeded(emulator.run({"StartAt": "Check", "States": {
        "Check": task(sdk("drs", "describeJobs"), {}, End=True, Catch=[
            {"ErrorEquals": ["Drs.DrsException"], "ResultPath": "$.failure", "Next": "Caught"}]),
        "Caught": {"Type": "Pass", "End": True}}}))
    assert out["failure"]["Error"] == "Drs.DrsException"
    assert out["failure"]["Cause"].startswith("boom (Service: Drs, Status Code: 500")


# 3. Definite JSONPath ---------------------------------------------------------------------


def test_definite_path_yields_the_value_and_others_a_list(moto):
    data = {"Items": [{"Status": "PENDING", "Things": [{"y": "first"}]}, {"Status": "LAUNCHED"}]}
    out = succeeded(moto.run({"StartAt": "Read", "States": {
        "Read": {"Type": "Parallel",
                 "Branches": [{"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}],
                 "ResultSelector": {
                     "status.$": "$[0].Items[0].Status",
                     "y.$": "$[0].Items[0].Things[0].y",
                     "all.$": "$[0].Items[*].Status",
                     "slice.$": "$[0].Items[0:1].Status",
                     "launched.$": "$[0].Items[?(@.Status == 'LAUNCHED')].Status",
                     "none.$": "$[0].Items[?(@.Status == 'GONE')].Status"},
                 "Next": "Pending?"},
        "Pending?": {"Type": "Choice", "Choices": [
            {"Variable": "$.status", "StringEquals": "PENDING", "Next": "Done"}], "Default": "Wrong"},
        "Wrong": {"Type": "Fail", "Error": "Wrong"},
        "Done": {"Type": "Pass", "End": True}}}, data))
    assert out == {"status": "PENDING", "y": "first", "all": ["PENDING", "LAUNCHED"],
                   "slice": ["PENDING"], "launched": ["LAUNCHED"], "none": []}


# 4. Context timestamps ---------------------------------------------------------------------


def test_context_timestamps_are_iso_strings_with_milliseconds(moto):
    result = moto.run({"StartAt": "Stamp", "States": {
        "Stamp": {"Type": "Pass", "Next": "Later?", "Parameters": {
            "started.$": "$$.Execution.StartTime", "entered.$": "$$.State.EnteredTime"}},
        "Later?": {"Type": "Choice", "Default": "Earlier", "Choices": [
            {"Variable": "$.entered", "TimestampGreaterThanEqualsPath": "$.started", "Next": "Done"}]},
        "Earlier": {"Type": "Fail", "Error": "Earlier"},
        "Done": {"Type": "Pass", "End": True}}})
    out = succeeded(result)  # DescribeExecution itself used to fail on the datetime
    assert ISO_MILLIS.fullmatch(out["started"]) and ISO_MILLIS.fullmatch(out["entered"])
    started = datetime.fromisoformat(out["started"].replace("Z", "+00:00"))
    assert abs(started - result["startDate"]) < timedelta(seconds=1)
    assert moto.history(result["executionArn"])[-1]["type"] == "ExecutionSucceeded"


# 5. StartExecution without a name ------------------------------------------------------------


def test_start_execution_without_a_name_gets_a_uuid(moto):
    machine = moto.create(PASS)
    first, second = moto.start(machine), moto.start(machine)
    assert first != second
    name = first.rsplit(":", 1)[1]
    assert UUID.fullmatch(name)
    assert moto.wait(first)["name"] == name


# 6. GetExecutionHistory paging --------------------------------------------------------------


def test_execution_history_honours_max_results_next_token_and_reverse_order(moto):
    result = moto.run({"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.items", "End": True,
        "ItemProcessor": {"StartAt": "One", "States": {"One": {"Type": "Pass", "End": True}}}}}},
        {"items": list(range(30))})
    arn = result["executionArn"]
    everything = moto.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    total = len(everything)
    assert total > 100 and [e["id"] for e in everything] == list(range(1, total + 1))

    default = moto.sfn.get_execution_history(executionArn=arn)
    assert len(default["events"]) == 100 and "nextToken" in default

    def pages(**kwargs):
        ids, token = [], None
        for _ in range(total):  # bounded: at least one event per page
            page = moto.sfn.get_execution_history(
                executionArn=arn, maxResults=7, **kwargs, **({"nextToken": token} if token else {}))
            assert len(page["events"]) <= 7
            ids += [e["id"] for e in page["events"]]
            token = page.get("nextToken")
            if not token:
                return ids
        raise AssertionError("paging did not end")

    assert pages() == list(range(1, total + 1))
    assert pages(reverseOrder=True) == list(range(total, 0, -1))
    with pytest.raises(ClientError) as error:
        moto.sfn.get_execution_history(executionArn=arn, nextToken="not-a-token")
    assert error.value.response["Error"]["Code"] == "InvalidToken"


# Further corrections found while running the ASL features our compiler emits ----------------


def test_json_and_intrinsic_escapes_decode_like_aws(moto):
    # Emulator.create sends json.dumps(definition), which writes `·` as `\u00b7`.
    result = moto.run({"StartAt": "Format · plan", "States": {"Format · plan": {
        "Type": "Pass", "End": True, "Parameters": {
            "text.$": "States.Format('it\\'s \\{literal\\} {} and {}, \\\\ stays', $.a, $.b)",
            "key.$": "States.Format('EXEC#{}', $.a)",
            "json.$": "States.StringToJson('{\"mode\":\"DRILL\"}')"}}}}, {"a": "x", "b": 3})
    assert succeeded(result) == {
        "text": "it's {literal} x and 3, \\ stays", "key": "EXEC#x", "json": {"mode": "DRILL"}}
    entered = [e for e in moto.history(result["executionArn"]) if e["type"] == "PassStateEntered"]
    assert entered[0]["stateEnteredEventDetails"]["name"] == "Format · plan"


def test_choice_timestamps_accept_rfc3339_with_fractions_and_offsets(moto):
    choice = {"StartAt": "Later?", "States": {
        "Later?": {"Type": "Choice", "Default": "No", "Choices": [{"And": [
            {"Variable": "$.a", "IsTimestamp": True},
            {"Variable": "$.a", "TimestampGreaterThanPath": "$.b"}], "Next": "Yes"}]},
        "Yes": {"Type": "Pass", "Result": "yes", "End": True},
        "No": {"Type": "Pass", "Result": "no", "End": True}}}
    cases = [
        ("2024-01-01T12:00:00.124Z", "2024-01-01T12:00:00.123Z", "yes"),
        ("2024-01-01T12:00:00.123456+00:00", "2024-01-01T12:00:00Z", "yes"),
        ("2024-01-01T13:00:00+02:00", "2024-01-01T12:00:00Z", "no"),  # 11:00 UTC
        ("2024-01-01 13:00:00", "2024-01-01T12:00:00Z", "no"),  # not RFC 3339
    ]
    for a, b, expected in cases:
        assert succeeded(moto.run(choice, {"a": a, "b": b})) == expected, (a, b)


def test_send_task_failure_keeps_its_cause(moto, approval):
    execution, token = approval(timeout_seconds=30)
    moto.sfn.send_task_failure(taskToken=token, error="Approval.Rejected", cause="rejected by ops")
    out = succeeded(moto.finish(execution))
    assert out["failure"] == {"Error": "Approval.Rejected", "Cause": "rejected by ops"}


def test_describe_execution_output_is_json_text(moto):
    def output_of(result):
        execution = moto.start(moto.create({"StartAt": "R", "States": {
            "R": {"Type": "Pass", "Result": result, "End": True}}}))
        return moto.wait(execution)["output"]

    assert output_of("yes") == '"yes"'
    assert output_of(None) == "null"
    assert output_of({"a": [1, True]}) == '{"a":[1,true]}'


def test_stop_execution_aborts_a_machine_waiting_for_a_token(moto):
    """AWS: StopExecution makes a waiting execution ABORTED at once."""
    import json as _json
    import time as _time

    sfn = moto.client("stepfunctions")
    ddb = moto.client("dynamodb")
    ddb.create_table(
        TableName="stop-test",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    definition = {
        "StartAt": "Wait for token",
        "States": {
            "Wait for token": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:dynamodb:putItem.waitForTaskToken",
                "Parameters": {"TableName": "stop-test", "Item": {"pk": {"S": "x"}, "token": {"S.$": "$$.Task.Token"}}},
                "End": True,
            }
        },
    }
    arn = sfn.create_state_machine(
        name="stop-test", definition=_json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/r"
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    deadline = _time.time() + 10
    while "Item" not in ddb.get_item(TableName="stop-test", Key={"pk": {"S": "x"}}) and _time.time() < deadline:
        _time.sleep(0.1)
    sfn.stop_execution(executionArn=execution, cause="test")
    described = sfn.describe_execution(executionArn=execution)
    assert described["status"] == "ABORTED"
    assert "stopDate" in described


def test_a_published_version_runs_as_published(moto):
    """AWS: StartExecution on `<machine>:N` runs version N, whatever was deployed since;
    the execution is the machine's and DescribeExecution names the version."""
    import json
    import uuid

    from conftest import ROLE_ARN

    sfn = moto.sfn

    def passing(result):
        return json.dumps({"StartAt": "R", "States": {"R": {"Type": "Pass", "Result": result, "End": True}}})

    created = sfn.create_state_machine(
        name=f"versions-{uuid.uuid4().hex[:8]}", definition=passing("v1"), roleArn=ROLE_ARN, publish=True
    )
    first = created["stateMachineVersionArn"]
    assert first == created["stateMachineArn"] + ":1"
    second = sfn.update_state_machine(
        stateMachineArn=created["stateMachineArn"], definition=passing("v2"), publish=True
    )["stateMachineVersionArn"]
    assert second == created["stateMachineArn"] + ":2"

    execution = moto.start(first)
    machine_name = created["stateMachineArn"].rsplit(":", 1)[1]
    assert f":execution:{machine_name}:" in execution
    described = moto.wait(execution)
    assert (described["status"], described["output"]) == ("SUCCEEDED", '"v1"')
    assert described["stateMachineVersionArn"] == first
    assert moto.wait(moto.start(created["stateMachineArn"]))["output"] == '"v2"'
    assert "stateMachineVersionArn" not in moto.wait(moto.start(created["stateMachineArn"]))
    # The machine itself still reads as its latest definition.
    assert json.loads(sfn.describe_state_machine(stateMachineArn=created["stateMachineArn"])["definition"])["States"]["R"]["Result"] == "v2"


def test_versions_are_listed_newest_first_and_deleted(moto):
    """AWS: ListStateMachineVersions lists a machine's versions newest first, paginated;
    DeleteStateMachineVersion removes one, after which it cannot be started."""
    import json
    import uuid

    import pytest
    from botocore.exceptions import ClientError
    from conftest import ROLE_ARN

    sfn = moto.sfn

    def passing(result):
        return json.dumps({"StartAt": "R", "States": {"R": {"Type": "Pass", "Result": result, "End": True}}})

    arn = sfn.create_state_machine(
        name=f"prune-{uuid.uuid4().hex[:8]}", definition=passing("v1"), roleArn=ROLE_ARN, publish=True
    )["stateMachineArn"]
    for n in range(2, 6):
        sfn.update_state_machine(stateMachineArn=arn, definition=passing(f"v{n}"), publish=True)
    first = sfn.list_state_machine_versions(stateMachineArn=arn, maxResults=3)
    listed = [v["stateMachineVersionArn"] for v in first["stateMachineVersions"]]
    assert listed == [f"{arn}:5", f"{arn}:4", f"{arn}:3"]
    rest = sfn.list_state_machine_versions(stateMachineArn=arn, maxResults=3, nextToken=first["nextToken"])
    assert [v["stateMachineVersionArn"] for v in rest["stateMachineVersions"]] == [f"{arn}:2", f"{arn}:1"]
    assert "nextToken" not in rest
    sfn.delete_state_machine_version(stateMachineVersionArn=f"{arn}:1")
    sfn.delete_state_machine_version(stateMachineVersionArn=f"{arn}:1")
    left = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in left] == [f"{arn}:{n}" for n in (5, 4, 3, 2)]
    with pytest.raises(ClientError):
        sfn.start_execution(stateMachineArn=f"{arn}:1")
