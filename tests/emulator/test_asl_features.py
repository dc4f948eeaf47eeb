"""The ASL features aslgen emits, run in the patched moto with small hand-written machines.

Rejection of a `.waitForTaskToken` task by SendTaskFailure is in test_moto_patches.py
(test_send_task_failure_keeps_its_cause), filters in a Task's ResultSelector on DRS results
in test_drs_round_trip_through_the_sdk_names.
"""

import io
import json
import urllib.request
import uuid
import zipfile
from datetime import timedelta

from machines import MISSING_MACHINE, UUID, sdk, succeeded


def events(moto, result: dict, kind: str) -> list[dict]:
    return [e for e in moto.history(result["executionArn"]) if e["type"] == kind]


def test_intrinsic_functions(moto):
    machine = {"StartAt": "Read input", "States": {
        "Read input": {"Type": "Pass", "Next": "Compute", "Parameters": {
            "input.$": "States.JsonMerge(States.StringToJson('{\"mode\":\"DRILL\",\"pollSeconds\":30}'), "
                       "$$.Execution.Input, false)"}},
        "Compute": {"Type": "Pass", "End": True, "Parameters": {
            "input.$": "$.input",
            "tick.$": "States.MathAdd($.input.pollSeconds, 1)",
            "back.$": "States.MathAdd($.input.pollSeconds, -31)",
            "id.$": "States.UUID()",
            "ids.$": "States.Array($.input.mode)",
            "count.$": "States.ArrayLength($.input.servers)",
            "none.$": "States.ArrayLength(States.Array())",
            "key.$": "States.Format('EXEC#{}', $$.Execution.Name)"}}}}
    out = succeeded(moto.run(machine, {"mode": "RECOVERY", "servers": ["s-1", "s-2"]}))
    assert out["input"] == {"mode": "RECOVERY", "pollSeconds": 30, "servers": ["s-1", "s-2"]}
    assert (out["tick"], out["back"], out["ids"], out["count"], out["none"]) == (31, -1, ["RECOVERY"], 2, 0)
    assert UUID.fullmatch(out["id"]) and out["key"].startswith("EXEC#")

    defaults = succeeded(moto.run(machine, {"servers": []}))
    assert defaults["input"] == {"mode": "DRILL", "pollSeconds": 30, "servers": []}


def test_jsonpath_filters_in_result_selector(moto):
    data = {"Items": [
        {"IsDrill": True, "Id": "i-1",
         "Things": [{"Status": "LAUNCHED", "Id": "t-1"}, {"Status": "PENDING", "Id": "t-2"}]},
        {"IsDrill": False, "Id": "i-2", "Things": []}]}
    out = succeeded(moto.run({"StartAt": "Echo", "States": {"Echo": {
        "Type": "Parallel", "End": True,
        "Branches": [{"StartAt": "Same", "States": {"Same": {"Type": "Pass", "End": True}}}],
        "ResultSelector": {
            "launched.$": "$[0].Items[0].Things[?(@.Status == 'LAUNCHED')].Id",
            "drill.$": "$[0].Items[?(@.IsDrill == true)].Id",
            "failed.$": "$[0].Items[0].Things[?(@.Status == 'FAILED')].Id"}}}}, data))
    assert out == {"launched": ["t-1"], "drill": ["i-1"], "failed": []}


def test_choice_rules(moto):
    ready = {"And": [
        {"Variable": "$.x.list[3]", "IsPresent": True},
        {"Variable": "$.n", "IsNumeric": True},
        {"Or": [
            {"Variable": "$.n", "NumericEqualsPath": "$.m"},
            {"And": [{"Variable": "$.t", "TimestampGreaterThanEqualsPath": "$.since"},
                     {"Not": {"Variable": "$.n", "NumericLessThan": 0}}]}]}]}
    machine = {"StartAt": "Ready?", "States": {
        "Ready?": {"Type": "Choice", "Choices": [{**ready, "Next": "Yes"}], "Default": "No"},
        "Yes": {"Type": "Pass", "Result": "yes", "End": True},
        "No": {"Type": "Pass", "Result": "no", "End": True}}}
    base = {"x": {"list": [0, 1, 2, 3]}, "n": 5, "m": 5,
            "t": "2024-01-01T12:00:00.000Z", "since": "2024-01-01T12:00:00.000Z"}
    cases = [
        ({}, "yes"),
        ({"x": {"list": [0, 1, 2]}}, "no"),  # $.x.list[3] absent
        ({"n": "5"}, "no"),  # not numeric
        ({"m": 6}, "yes"),  # Or falls through to the timestamps
        ({"m": 6, "since": "2024-01-01T12:00:00.001Z"}, "no"),
        ({"m": 6, "n": -1}, "no"),
    ]
    for change, expected in cases:
        assert succeeded(moto.run(machine, {**base, **change})) == expected, change


def test_retry_with_max_delay_and_full_jitter(moto):
    result = moto.run({"StartAt": "Describe", "States": {
        "Describe": {
            "Type": "Task", "Resource": sdk("sfn", "describeStateMachine"),
            "Parameters": {"StateMachineArn": MISSING_MACHINE}, "End": True,
            "Retry": [{"ErrorEquals": ["Sfn.StateMachineDoesNotExistException"], "IntervalSeconds": 1,
                       "MaxAttempts": 2, "BackoffRate": 10.0, "MaxDelaySeconds": 1, "JitterStrategy": "FULL"}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Gave up"}]},
        "Gave up": {"Type": "Pass", "End": True}}})
    assert succeeded(result)["failure"]["Error"] == "Sfn.StateMachineDoesNotExistException"
    history = moto.history(result["executionArn"])
    assert [e["type"] for e in history].count("TaskScheduled") == 3
    # Each wait is at most MaxDelaySeconds (1 s), not 1 s and then 10 s.
    failed = [e["timestamp"] for e in history if e["type"] == "TaskFailed"]
    scheduled = [e["timestamp"] for e in history if e["type"] == "TaskScheduled"]
    for failure, retry in zip(failed, scheduled[1:]):
        assert timedelta(0) <= retry - failure < timedelta(seconds=1.5)


def test_inline_map_with_item_selector_and_max_concurrency(moto):
    out = succeeded(moto.run({"StartAt": "Clean up", "States": {"Clean up": {
        "Type": "Map", "ItemsPath": "$.batches", "MaxConcurrency": 2, "ResultPath": "$.done", "End": True,
        "ItemSelector": {"servers.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index", "tick.$": "$.tick"},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Count",
            "States": {"Count": {"Type": "Pass", "End": True, "Parameters": {
                "index.$": "$.index", "count.$": "States.ArrayLength($.servers)", "tick.$": "$.tick"}}}}}}},
        {"batches": [["s-1", "s-2"], ["s-3"], []], "tick": 31}))
    assert out["done"] == [{"index": 0, "count": 2, "tick": 31}, {"index": 1, "count": 1, "tick": 31},
                           {"index": 2, "count": 0, "tick": 31}]


def test_parallel_discards_its_result_and_catches_a_failing_branch(moto):
    def parallel(branch_end: dict, **fields) -> dict:
        return {"Type": "Parallel", "ResultPath": None, **fields, "Branches": [
            {"StartAt": "Fine", "States": {"Fine": {"Type": "Pass", "Result": "ignored", "End": True}}},
            {"StartAt": "Last", "States": {"Last": branch_end}}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "After"}]}

    out = succeeded(moto.run({"StartAt": "Wave 1", "States": {
        "Wave 1": parallel({"Type": "Pass", "End": True}, Next="Wave 2"),
        "Wave 2": parallel({"Type": "Fail", "Error": "Unit.Failed", "Cause": "db did not launch"}, End=True),
        "After": {"Type": "Pass", "End": True}}}, {"plan": "crm-dr"}))
    assert out == {"plan": "crm-dr", "failure": {"Error": "Unit.Failed", "Cause": "db did not launch"}}


def test_wait_with_seconds_path(moto):
    result = moto.run({"StartAt": "Wait", "States": {
        "Wait": {"Type": "Wait", "SecondsPath": "$.input.pollSeconds", "End": True}}},
        {"input": {"pollSeconds": 1}})
    succeeded(result)
    entered, = events(moto, result, "WaitStateEntered")
    exited, = events(moto, result, "WaitStateExited")
    assert exited["timestamp"] - entered["timestamp"] >= timedelta(seconds=0.9)


def test_wait_for_task_token_completed_by_send_task_success(moto, approval):
    execution, token = approval(timeout_seconds=30)
    moto.sfn.send_task_success(taskToken=token, output=json.dumps({"approved": True, "by": "ops"}))
    out = succeeded(moto.finish(execution))
    assert out["approval"] == {"approved": True, "by": "ops"}


def test_wait_for_task_token_times_out(moto, approval):
    execution, _ = approval(timeout_seconds=1)
    result = moto.finish(execution)
    assert succeeded(result)["failure"]["Error"] == "States.Timeout"
    assert len(events(moto, result, "TaskTimedOut")) == 1


def test_optimized_dynamodb_update_item_and_sns_publish(moto):
    dynamodb, sns, sqs = moto.client("dynamodb"), moto.client("sns"), moto.client("sqs")
    table = f"orchestrator-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}])
    topic = sns.create_topic(Name=f"outcome-{uuid.uuid4().hex[:8]}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"outcome-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    result = moto.run({"StartAt": "Record", "States": {
        "Record": {
            "Type": "Task", "Resource": "arn:aws:states:::dynamodb:updateItem",
            "ResultPath": None, "Next": "Notify",
            "Parameters": {
                "TableName": table,
                "Key": {"pk": {"S.$": "States.Format('EXEC#{}', $$.Execution.Name)"}, "sk": {"S": "EXECUTION"}},
                "UpdateExpression": "SET #status = :status, startedAt = if_not_exists(startedAt, :t)",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": {
                    ":status": {"S": "RUNNING"}, ":t": {"S.$": "$$.State.EnteredTime"}}}},
        "Notify": {
            "Type": "Task", "Resource": "arn:aws:states:::sns:publish", "ResultPath": "$.sns", "End": True,
            "Parameters": {"TopicArn": topic, "Subject": "DRS plan CRM DR: SUCCEEDED",
                           "Message.$": "States.Format('Execution {} ended', $$.Execution.Name)"}}}})
    out = succeeded(result)
    name = result["name"]
    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": f"EXEC#{name}"}, "sk": {"S": "EXECUTION"}})["Item"]
    assert item["status"] == {"S": "RUNNING"} and item["startedAt"]["S"].endswith("Z")
    assert UUID.fullmatch(out["sns"]["MessageId"])
    messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    assert json.loads(messages[0]["Body"])["Message"] == f"Execution {name} ended"


def test_optimized_lambda_invoke_returns_a_scripted_result(moto):
    iam, lambda_ = moto.client("iam"), moto.client("lambda")
    role = iam.create_role(RoleName=f"probe-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("probe.py", "def handler(event, context):\n    return {}\n")
    function = lambda_.create_function(
        FunctionName=f"health-probe-{uuid.uuid4().hex[:8]}", Runtime="python3.12", Role=role,
        Handler="probe.handler", Code={"ZipFile": code.getvalue()})["FunctionArn"]
    # moto runs no Lambda code without Docker; it answers with the next queued result.
    queued = json.dumps({"results": [json.dumps({"healthy": True})], "region": "us-east-1"}).encode()
    urllib.request.urlopen(f"{moto.endpoint}/moto-api/static/lambda-simple/response", queued).close()
    out = succeeded(moto.run({"StartAt": "Probe", "States": {"Probe": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
        "Parameters": {"FunctionName": function, "Payload": {"check": "tcp", "port": 5432}},
        "ResultSelector": {"healthy.$": "$.Payload.healthy", "status.$": "$.StatusCode"}}}}))
    assert out == {"healthy": True, "status": 200}
