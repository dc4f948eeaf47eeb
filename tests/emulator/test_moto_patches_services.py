"""Tests for moto_patches_services.py: the corrections keep moto's results, at AWS's cost."""

import json
import uuid

import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def table(moto):
    """A fresh pk/sk table (the product's shape) with items a (v=1) and b (v=1)."""
    ddb = moto.client("dynamodb")
    name = f"t-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for pk in ("a", "b"):
        ddb.put_item(TableName=name, Item={"pk": {"S": pk}, "sk": {"S": "x"}, "v": {"N": "1"}})
    return ddb, name


def _key(pk: str) -> dict:
    return {"pk": {"S": pk}, "sk": {"S": "x"}}


def _items(ddb, name: str) -> dict:
    scanned = ddb.scan(TableName=name, ConsistentRead=True)["Items"]
    return {item["pk"]["S"]: item.get("v", {}).get("N") for item in scanned}


def _writes(name: str) -> list:
    return [
        {"Update": {"TableName": name, "Key": _key("a"), "UpdateExpression": "SET v = :two",
                    "ExpressionAttributeValues": {":two": {"N": "2"}}}},
        {"Put": {"TableName": name, "Item": {**_key("c"), "v": {"N": "3"}},
                 "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Delete": {"TableName": name, "Key": _key("b")}},
    ]


def test_a_transaction_applies_every_write(table):
    ddb, name = table
    ddb.transact_write_items(TransactItems=_writes(name))
    assert _items(ddb, name) == {"a": "2", "c": "3"}


def test_a_failed_condition_undoes_the_writes_before_it_and_reports_each_item(table):
    ddb, name = table
    failing_check = {"ConditionCheck": {
        "TableName": name, "Key": _key("d"), "ConditionExpression": "attribute_exists(pk)"}}
    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(TransactItems=_writes(name) + [failing_check])
    error = raised.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    codes = [reason["Code"] for reason in error["CancellationReasons"]]
    assert codes == ["None", "None", "None", "ConditionalCheckFailed"]
    assert _items(ddb, name) == {"a": "1", "b": "1"}


def test_a_failed_put_condition_keeps_the_existing_item(table):
    ddb, name = table
    writes = _writes(name)
    writes[1]["Put"]["Item"] = {**_key("b"), "v": {"N": "7"}}  # b exists: the put fails
    del writes[2]  # and b must not also be deleted in the same transaction
    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(TransactItems=writes)
    codes = [reason["Code"] for reason in raised.value.response["CancellationReasons"]]
    assert codes == ["None", "ConditionalCheckFailed"]
    assert _items(ddb, name) == {"a": "1", "b": "1"}


def test_the_same_item_twice_is_refused_and_nothing_is_written(table):
    ddb, name = table
    writes = _writes(name) + [{"Delete": {"TableName": name, "Key": _key("a")}}]
    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(TransactItems=writes)
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert _items(ddb, name) == {"a": "1", "b": "1"}


def test_a_large_table_takes_full_transactions_without_losing_items(moto, table):
    ddb, name = table
    for start in range(0, 3000, 100):
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": name, "Item": {"pk": {"S": f"s-{n:05}"}, "sk": {"S": "x"}, "v": {"N": str(n)}},
                     "ConditionExpression": "attribute_not_exists(pk)"}}
            for n in range(start, start + 100)])
    items = _items_paged(ddb, name)
    assert len(items) == 3002
    assert items["s-02999"] == "2999"


def _items_paged(ddb, name: str) -> dict:
    found, start = {}, None
    while True:
        page = ddb.scan(TableName=name, **({"ExclusiveStartKey": start} if start else {}))
        found.update({item["pk"]["S"]: item.get("v", {}).get("N") for item in page["Items"]})
        start = page.get("LastEvaluatedKey")
        if not start:
            return found


def test_a_command_runs_on_the_instances_it_names_only(moto):
    ec2, ssm = moto.client("ec2"), moto.client("ssm")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    launched = ec2.run_instances(ImageId=image, MinCount=3, MaxCount=3)["Instances"]
    ids = [i["InstanceId"] for i in launched]
    sent = ssm.send_command(
        InstanceIds=ids[:1], DocumentName="AWS-RunShellScript", Parameters={"commands": ["true"]}
    )["Command"]
    listed = ssm.list_commands(CommandId=sent["CommandId"])["Commands"][0]
    assert listed["InstanceIds"] == ids[:1]
    tagged = ssm.send_command(
        Targets=[{"Key": "instance-id", "Values": ids[1:]}], DocumentName="AWS-RunShellScript",
        Parameters={"commands": ["true"]},
    )["Command"]
    listed = ssm.list_commands(CommandId=tagged["CommandId"])["Commands"][0]
    assert sorted(listed["InstanceIds"]) == sorted(ids[1:])


RUNBOOK = """
schemaVersion: "0.3"
parameters:
  PlanId: {type: String}
mainSteps:
  - name: Nothing
    action: aws:sleep
    inputs: {Duration: PT1S}
"""


def test_automation_executions_record_who_started_them(moto):
    ssm = moto.client("ssm")
    name = f"runbook-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ClientError) as missing:
        ssm.start_automation_execution(DocumentName=name)
    assert missing.value.response["Error"]["Code"] == "AutomationDefinitionNotFoundException"
    ssm.create_document(Name=name, Content=RUNBOOK, DocumentType="Automation", DocumentFormat="YAML")
    started = ssm.start_automation_execution(DocumentName=name, Parameters={"PlanId": ["shop-dr"]})
    execution = ssm.get_automation_execution(AutomationExecutionId=started["AutomationExecutionId"])[
        "AutomationExecution"
    ]
    me = moto.client("sts").get_caller_identity()["Arn"]
    assert execution["ExecutedBy"] == me
    assert execution["DocumentName"] == name
    assert execution["Parameters"] == {"PlanId": ["shop-dr"]}
    assert execution["AutomationExecutionStatus"] == "InProgress"
    with pytest.raises(ClientError) as unknown:
        ssm.get_automation_execution(AutomationExecutionId=str(uuid.uuid4()))
    assert unknown.value.response["Error"]["Code"] == "AutomationExecutionNotFoundException"


def test_of_twenty_concurrent_conditional_writes_one_wins(moto, table):
    """AWS: a conditional write is atomic; moto without the correction let several
    concurrent writers pass the same condition."""
    import concurrent.futures

    from botocore.config import Config

    _, name = table
    # As many connections as writers, so the twenty really are concurrent.
    ddb = moto.client("dynamodb", config=Config(max_pool_connections=32))

    def claim(item: int, writer: int) -> bool:
        try:
            ddb.update_item(
                TableName=name,
                Key={"pk": {"S": f"race-{item}"}, "sk": {"S": "x"}},
                UpdateExpression="SET w = :w",
                ConditionExpression="attribute_not_exists(w)",
                ExpressionAttributeValues={":w": {"N": str(writer)}},
            )
            return True
        except ClientError as e:
            assert e.response["Error"]["Code"] == "ConditionalCheckFailedException"
            return False

    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        for item in range(30):
            wins = sum(pool.map(lambda writer, item=item: claim(item, writer), range(20)))
            assert wins == 1, f"item {item}: {wins} writers passed the condition"


def test_a_read_never_sees_half_a_write(moto, table):
    """AWS: an UpdateItem that sets two attributes is seen whole or not at all."""
    import threading

    from botocore.config import Config

    _, name = table
    ddb = moto.client("dynamodb", config=Config(max_pool_connections=32))
    key = {"pk": {"S": "torn"}, "sk": {"S": "x"}}
    ddb.put_item(TableName=name, Item={**key, "a": {"N": "0"}, "b": {"N": "0"}})
    done = threading.Event()

    def write():
        for n in range(1, 400):
            ddb.update_item(
                TableName=name,
                Key=key,
                UpdateExpression="SET a = :n, b = :n",
                ExpressionAttributeValues={":n": {"N": str(n)}},
            )
        done.set()

    writers = [threading.Thread(target=write) for _ in range(2)]
    for w in writers:
        w.start()
    torn = 0
    while not done.is_set():
        item = ddb.get_item(TableName=name, Key=key, ConsistentRead=True)["Item"]
        torn += item["a"] != item["b"]
    for w in writers:
        w.join()
    assert torn == 0, f"{torn} reads saw half a write"


# rules_start_state_machines -------------------------------------------------------------

def test_a_rule_starts_its_state_machine_target_with_the_transformed_event(moto):
    """AWS: a matching event starts an execution of the target machine; its input is
    what the target's InputTransformer makes of the event (here DRS's launch result)."""
    sfn = moto.sfn
    machine = sfn.create_state_machine(
        name=f"m-{uuid.uuid4().hex[:12]}",
        definition='{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}',
        roleArn="arn:aws:iam::123456789012:role/r",
        type="EXPRESS",
    )["stateMachineArn"]
    events = moto.client("events")
    rule = f"r-{uuid.uuid4().hex[:8]}"
    events.put_rule(
        Name=rule,
        EventPattern='{"source": ["aws.drs"], "detail-type": ["DRS Source Server Launch Result"]}',
    )
    events.put_targets(Rule=rule, Targets=[{
        "Id": "t", "Arn": machine, "RoleArn": "arn:aws:iam::123456789012:role/r",
        "InputTransformer": {
            "InputPathsMap": {"jobId": "$.detail.job-id", "server": "$.resources[0]"},
            "InputTemplate": '{"jobId": <jobId>, "server": <server>}',
        },
    }])
    server = "arn:aws:drs:us-east-1:123456789012:source-server/s-1"
    for source in ("aws.drs", "aws.mgn"):
        events.put_events(Entries=[{
            "Source": source, "DetailType": "DRS Source Server Launch Result",
            "Resources": [server], "Detail": '{"state": "LAUNCH_SUCCEEDED", "job-id": "drsjob-1"}',
        }])
    executions = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert len(executions) == 1, "the rule starts the machine once, for the matching event"
    described = moto.wait(executions[0]["executionArn"])
    assert json.loads(described["input"]) == {"jobId": "drsjob-1", "server": server}
