"""Corrections to moto 5.2.5's service backends (the Step Functions interpreter's are in
moto_patches and moto_patches_extra): DynamoDB at the scale the product is sized for (a
3,000-server plan), and SSM commands run where they are sent.

Same shape as moto_patches: one function per correction, docstring saying what AWS does
and what moto does; moto_patches.apply() applies these too.
"""

import copy
import datetime
import uuid


def transact_write_touched_items_only() -> None:
    """TransactWriteItems rolls back only what it touched.

    AWS: a transaction of up to 100 writes is all-or-nothing, and costs what its items
    cost, whatever the table's size. moto 5.2.5: before the first write it deep-copies the
    whole table once for *every* item in the transaction (100 copies of a 3,000-item table
    per call), so locking a 3,000-server plan's servers (31 transactions) took minutes.
    Here the items the transaction names are copied instead, and a failed transaction puts
    exactly those back. Validation, conditions and error reporting are moto's own calls,
    in moto's order, so the results are the same. Restoring items rather than swapping the
    table also keeps writes other requests made meanwhile, as AWS does.
    """
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType

    def _key_of(table, op_type: str, op: dict) -> dict:
        if op_type != "Put":
            return op["Key"]
        attrs = op["Item"]
        key = {table.hash_key_attr: attrs[table.hash_key_attr]}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = attrs[table.range_key_attr]
        return key

    def _restore(saved: list) -> None:
        # Newest first, so an item touched twice (moto refuses that, but defensively)
        # ends as it was before the transaction.
        for table, hash_value, range_value, before in reversed(saved):
            if before is None:
                table.delete_item(hash_value, range_value)
            elif range_value is not None:
                table.items[hash_value][range_value] = before
            else:
                table.items[hash_value] = before

    def transact_write_items(self, transact_items: list) -> None:
        if len(transact_items) > 100:
            raise TooManyTransactionsException()
        saved: list = []
        seen: set = set()
        errors: list = []
        for item in transact_items:
            original_item = None
            if len(list(item.keys())) > 1:
                _restore(saved)
                raise TransactWriteSingleOpException
            try:
                op_type, op = next(iter(item.items()))
                if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                    raise ValueError("Unsupported transaction operation")
                table_name = op["TableName"]
                condition_expression = op.get("ConditionExpression")
                names = op.get("ExpressionAttributeNames")
                values = op.get("ExpressionAttributeValues")
                table = self.get_table(table_name)
                key = _key_of(table, op_type, op)

                unique = (str(table_name), str(dict(sorted(key.items()))))
                if unique in seen:
                    raise MultipleTransactionsException()
                seen.add(unique)

                current = self.get_item(table_name, key)
                if condition_expression is not None:
                    condition = get_filter_expression(condition_expression, names, values)
                    if not condition.expr(current):
                        if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                            original_item = current.to_json()["Attributes"]
                        raise ConditionalCheckFailed(item=original_item)

                if op_type != "ConditionCheck":
                    hash_value = DynamoType(key[table.hash_key_attr])
                    range_value = (
                        DynamoType(key[table.range_key_attr])
                        if table.range_key_attr is not None
                        else None
                    )
                    saved.append((table, hash_value, range_value, copy.deepcopy(current)))
                if op_type == "Put":
                    self.put_item(
                        table_name,
                        op["Item"],
                        condition_expression=condition_expression,
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
                elif op_type == "Delete":
                    self.delete_item(
                        table_name,
                        key,
                        condition_expression=condition_expression,
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
                elif op_type == "Update":
                    self.update_item(
                        table_name,
                        key,
                        update_expression=op["UpdateExpression"],
                        condition_expression=condition_expression,
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
                errors.append((None, None, None))
            except (MultipleTransactionsException, MockValidationException):
                _restore(saved)
                raise
            except ConditionalCheckFailed as e:
                errors.append(("ConditionalCheckFailed", str(e.message), original_item))
            except Exception as e:  # noqa: BLE001 - moto reports any other failure per item
                errors.append((type(e).__name__, str(e), original_item))

        if any(code is not None for code, _, _ in errors):
            _restore(saved)
            raise TransactionCanceledException(errors)

    DynamoDBBackend.transact_write_items = transact_write_items


def send_command_instances_only() -> None:
    """SendCommand with InstanceIds runs on those instances only.

    AWS: a command goes to the instances named in InstanceIds and to those its Targets
    select; without Targets, to the named instances alone. moto 5.2.5: adds the instances
    its Targets select, and an empty Targets list selects every EC2 instance in the
    region, so a plan's script for its application tier ran on the database servers too.
    """
    from moto.ssm.models import Command

    original = Command._get_instance_ids_from_targets

    def _get_instance_ids_from_targets(self) -> list:
        return original(self) if self.targets else []

    Command._get_instance_ids_from_targets = _get_instance_ids_from_targets


def automation_executions() -> None:
    """StartAutomationExecution and GetAutomationExecution exist.

    AWS: StartAutomationExecution starts a runbook (an Automation document that must
    exist, else AutomationDefinitionNotFoundException) and answers its
    AutomationExecutionId; GetAutomationExecution answers the execution with its
    DocumentName, Parameters (each a list of strings), AutomationExecutionStatus and
    ExecutedBy (the ARN of the IAM principal that started it), or
    AutomationExecutionNotFoundException. moto 5.2.5 implements neither. Here the
    execution is recorded as InProgress with the caller's ARN (as STS GetCallerIdentity
    answers it); the runbook's steps are not run (the tests play its Lambda step).
    """
    from moto.core.responses import ActionResult
    from moto.ssm.exceptions import SSMException
    from moto.ssm.responses import SimpleSystemManagerResponse
    from moto.sts.models import sts_backends

    executions: dict = {}

    def start_automation_execution(self) -> ActionResult:
        name = self._get_param("DocumentName")
        documents = self.ssm_backend._documents.get(name)
        if documents is None or documents.get_default_version().document_type != "Automation":
            raise SSMException(
                "AutomationDefinitionNotFoundException",
                f"Document {name} does not exist or is not an Automation document",
            )
        sts = sts_backends[self.current_account]["global"]
        _, arn, _ = sts.get_caller_identity(self.get_access_key(), self.region)
        execution_id = str(uuid.uuid4())
        executions[execution_id] = {
            "AutomationExecutionId": execution_id,
            "DocumentName": name,
            "DocumentVersion": documents.default_version,
            "ExecutionStartTime": datetime.datetime.now(datetime.timezone.utc).timestamp(),
            "AutomationExecutionStatus": "InProgress",
            "Parameters": self._get_param("Parameters") or {},
            "ExecutedBy": arn,
            "Mode": "Auto",
        }
        return ActionResult({"AutomationExecutionId": execution_id})

    def get_automation_execution(self) -> ActionResult:
        execution_id = self._get_param("AutomationExecutionId")
        execution = executions.get(execution_id)
        if execution is None:
            raise SSMException(
                "AutomationExecutionNotFoundException",
                f"Automation execution {execution_id} does not exist",
            )
        return ActionResult({"AutomationExecution": execution})

    SimpleSystemManagerResponse.start_automation_execution = start_automation_execution
    SimpleSystemManagerResponse.get_automation_execution = get_automation_execution


def requests_are_atomic() -> None:
    """Each DynamoDB request is atomic: a write (its condition included) is one step, and
    a read sees an item before or after a write, never halfway.

    AWS: PutItem, UpdateItem and DeleteItem with a ConditionExpression evaluate the
    condition and write atomically (of twenty concurrent writes conditional on
    `attribute_not_exists(x)`, exactly one succeeds), and a read of an item sees whole
    writes. moto 5.2.5 serves requests on threads, applies an UpdateItem's actions one by
    one on the live item and serializes responses from it afterwards, without a lock: a
    read in between saw one attribute of a write removed and another not yet (the API's
    20-request resume race saw a token gone and its request still there, and two
    requests won). Here the DynamoDB handler serves one request at a time.
    """
    import functools
    import threading

    from moto.dynamodb.responses import DynamoHandler

    lock = threading.RLock()
    original = DynamoHandler.call_action

    @functools.wraps(original)
    def call_action(self):
        with lock:
            return original(self)

    DynamoHandler.call_action = call_action


def rules_start_state_machines() -> None:
    """An EventBridge rule whose target is a state machine starts an execution of it with
    the (transformed) event as input.

    AWS: Step Functions state machines are an EventBridge target; for each matching event
    EventBridge calls StartExecution (with the rule's role) and the input is the event, or
    what the target's InputTransformer makes of it. An Express machine runs the same way,
    asynchronously. In an input template a placeholder outside quotes takes the value as
    JSON (a string arrives quoted: `{"jobId": <jobId>}` gives `{"jobId": "drsjob-1"}`);
    inside quotes it takes the text. moto 5.2.5 delivers to logs, archives, SQS, other
    buses and API destinations only, drops events for every other target without a word,
    and puts strings into templates unquoted, so a template like the one above fails
    PutEvents with a 500.
    """
    import json
    import re

    from jsonpath_ng.ext import parse as parse_path
    from moto.events.models import Rule
    from moto.stepfunctions.responses import get_backend
    from moto.utilities.arns import parse_arn

    original = Rule.send_to_targets

    def transform(template: str, paths: dict, event: dict):
        values = {}
        for name, path in paths.items():
            found = parse_path(path).find(event)
            values[name] = found[0].value if found else None
        out, in_string, i = [], False, 0
        while i < len(template):
            char = template[i]
            match = re.match(r"<([A-Za-z0-9_.-]+)>", template[i:])
            if match and match.group(1) in values:
                value = values[match.group(1)]
                if in_string:
                    out.append(value if isinstance(value, str) else json.dumps(value))
                else:
                    out.append(json.dumps(value))
                i += len(match.group(0))
                continue
            if char == '"' and (i == 0 or template[i - 1] != "\\"):
                in_string = not in_string
            out.append(char)
            i += 1
        return json.loads("".join(out))

    def is_machine(target) -> bool:
        return parse_arn(target["Arn"]).service == "states"

    def send_to_targets(self, original_event, transform_input=True):
        machines = [t for t in self.targets if is_machine(t)]
        others = [t for t in self.targets if not is_machine(t)]
        kept, self.targets = self.targets, others
        try:
            original(self, original_event, transform_input)
        finally:
            self.targets = kept
        if not machines or not self.event_pattern.matches_event(original_event):
            return
        plain = {k: v for k, v in original_event.items() if k != "ingestion-time"}
        for target in machines:
            transformer = target.get("InputTransformer")
            if transform_input and transformer:
                event = transform(
                    transformer.get("InputTemplate", ""), transformer.get("InputPathsMap", {}), plain
                )
            elif target.get("Input"):
                event = json.loads(target["Input"])
            else:
                event = plain
            arn = parse_arn(target["Arn"])
            get_backend(arn.account, arn.region).start_execution(
                target["Arn"], execution_input=json.dumps(event, default=str)
            )

    Rule.send_to_targets = send_to_targets

CORRECTIONS = (
    transact_write_touched_items_only,
    send_command_instances_only,
    automation_executions,
    requests_are_atomic,
    rules_start_state_machines,
)
