"""Corrections that make moto 5.2.5's Step Functions interpreter behave like AWS.

Each public function applies one correction; its docstring says what AWS does and what
moto does instead. These are the ones the emulator was written for; moto_patches_extra
holds those found while running the ASL features aslgen emits. `apply()` applies both
sets, once. They replace methods on moto's
classes (or module attributes), so they must run in the process that serves moto,
before the first execution starts.
"""

import base64
import datetime
import functools
import json
import re
import sys
import uuid

import botocore.session
from botocore.exceptions import ClientError, UnknownServiceError
from botocore.response import StreamingBody
from jsonpath_ng import Child, Fields, Index, Root, This
from jsonpath_ng.ext import parse as parse_json_path

# ---------------------------------------------------------------------------- helpers


@functools.lru_cache(maxsize=None)
def _service_model(boto_service: str):
    return botocore.session.get_session().get_service_model(boto_service)


@functools.lru_cache(maxsize=None)
def _operation_model(boto_service: str, api_action: str):
    """The botocore operation for `describeJobs`-style action names, or None if unknown."""
    try:
        service = _service_model(boto_service)
    except UnknownServiceError:
        return None
    for name in service.operation_names:
        if name.lower() == api_action.lower():
            return service.operation_model(name)
    return None


def _sfn_member_name(member: str) -> str:
    # Step Functions uses the AWS SDK for Java v2 member names: first letter upper-cased
    # (`sourceServerIDs` -> `SourceServerIDs`), and `Equals` is spelt `EqualsValue`.
    name = member[:1].upper() + member[1:]
    return "EqualsValue" if name == "Equals" else name


def _is_plain(shape) -> bool:
    # No shape, or a free-form document: nothing in it is a member name.
    return shape is None or getattr(shape, "is_document_type", False)


def _to_boto(value, shape):
    if _is_plain(shape):
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        by_sfn_name = {_sfn_member_name(m): m for m in shape.members}
        converted = {}
        for key, item in value.items():
            member = key if key in shape.members else by_sfn_name.get(key, key)
            converted[member] = _to_boto(item, shape.members.get(member))
        return converted
    if shape.type_name == "list" and isinstance(value, list):
        return [_to_boto(item, shape.member) for item in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {key: _to_boto(item, shape.value) for key, item in value.items()}
    return value


def _java_instant(ts: datetime.datetime) -> str:
    # How Java's Instant.toString() prints: no fraction when it is zero, else 3 or 6 digits.
    if ts.tzinfo is not None:
        ts = ts.astimezone(datetime.timezone.utc)
    text = ts.strftime("%Y-%m-%dT%H:%M:%S")
    if ts.microsecond:
        fraction = f"{ts.microsecond:06d}"
        text += "." + (fraction[:3] if fraction.endswith("000") else fraction)
    return text + "Z"


def _from_boto(value, shape):
    # Timestamps leave as strings: a datetime in state data breaks JSON serialisation.
    if isinstance(value, datetime.datetime):
        return _java_instant(value)
    if isinstance(value, StreamingBody):
        return value.read().decode("utf-8")
    if _is_plain(shape):
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        converted = {}
        for key, item in value.items():
            name = _sfn_member_name(key) if key in shape.members else key
            converted[name] = _from_boto(item, shape.members.get(key))
        return converted
    if shape.type_name == "list" and isinstance(value, list):
        return [_from_boto(item, shape.member) for item in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {key: _from_boto(item, shape.value) for key, item in value.items()}
    return value


def _replace_in_place(target: dict, converted: dict) -> None:
    # moto's hooks return nothing and expect the dict they passed to be changed.
    target.clear()
    target.update(converted)


def _aws_timestamp(value) -> str:
    """`2024-01-01T12:00:00.123Z`, the format of every timestamp in the context object."""
    from moto.core.utils import iso_8601_datetime_with_milliseconds

    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return iso_8601_datetime_with_milliseconds(value.astimezone(datetime.timezone.utc))


# ------------------------------------------------------------------------ corrections


def sdk_member_casing() -> None:
    """`aws-sdk:` tasks: parameters and results use the SDK's member names, capitalised.

    AWS: `arn:aws:states:::aws-sdk:drs:startRecovery` takes `SourceServers[].SourceServerID`
    and `IsDrill` (the API's `sourceServers`, `sourceServerID`, `isDrill` with the first
    letter upper-cased) and its result reads `Job.JobID`. Map keys and document values
    are passed through unchanged.
    moto 5.2.5: `_normalise_parameters` / `_normalise_response` are empty, so boto3 gets
    `SourceServers`, does not know it and drops or trips over it, and results keep the
    API's lower-case names (and raw datetimes, which then break DescribeExecution).
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
        StateTaskServiceAwsSdk,
    )

    def _operation(task, boto_service_name, service_action_name):
        return _operation_model(
            task._get_boto_service_name(boto_service_name),
            service_action_name or task.resource.api_action,
        )

    def _normalise_parameters(
        self, parameters, boto_service_name=None, service_action_name=None
    ):
        operation = _operation(self, boto_service_name, service_action_name)
        if operation is not None and operation.input_shape is not None:
            _replace_in_place(parameters, _to_boto(parameters, operation.input_shape))

    def _normalise_response(
        self, response, boto_service_name=None, service_action_name=None
    ):
        operation = _operation(self, boto_service_name, service_action_name)
        if isinstance(response, dict) and operation is not None:
            _replace_in_place(response, _from_boto(response, operation.output_shape))

    StateTaskServiceAwsSdk._normalise_parameters = _normalise_parameters
    StateTaskServiceAwsSdk._normalise_response = _normalise_response


def sdk_service_error_name(boto_service: str) -> str:
    """`drs` -> `Drs`, `ec2` -> `Ec2`, `dynamodb` -> `DynamoDb`, `stepfunctions` -> `Sfn`.

    The AWS SDK for Java v2 client name: the service id split into words (also where an
    acronym meets a word, `DynamoDB` -> `Dynamo DB`), each word capitalised, rest lower.
    """
    try:
        service_id = str(_service_model(boto_service).service_id)
    except UnknownServiceError:
        service_id = boto_service
    words = re.sub(r"[^A-Za-z0-9]+", " ", service_id)
    words = re.sub(r"([a-z])([A-Z])", r"\1 \2", words)
    words = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", words)
    return "".join(word[:1].upper() + word[1:].lower() for word in words.split())


def sdk_error_names() -> None:
    """`aws-sdk:` task errors are named `<Service>.<Exception>`, the service as the SDK spells it.

    AWS (Step Functions calls the AWS SDK for Java v2): the service part is the SDK's
    client name, `Drs`, `Ec2`, `Ssm`, `Lambda`, `DynamoDb`, `Sfn`; the error part is the
    class of the exception the SDK threw, so a modelled error keeps its name
    (`Drs.ThrottlingException`, `Ssm.InvocationDoesNotExistException`,
    `Sfn.StateMachineDoesNotExistException`) and anything else is the service's base
    exception: `Drs.DrsException`, and every EC2 error (EC2 models none) `Ec2.Ec2Exception`.
    moto 5.2.5: the same rule for the error part, but the service part is spelt right only
    for dynamodb and sfn; the rest keep the lower-case api name (`drs.ThrottlingException`,
    `ec2.ec2Exception`). And a response without a request id (`x-amzn-RequestId`) raises
    KeyError, so the task fails with `States.Runtime` instead.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
        StateTaskServiceAwsSdk,
    )

    boto_names = StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES
    original_from_error = StateTaskServiceAwsSdk._from_error

    def _normalise_service_error_name(api_name: str) -> str:
        return sdk_service_error_name(boto_names.get(api_name, api_name))

    def _from_error(self, env, ex):
        if isinstance(ex, ClientError):
            ex.response.setdefault("ResponseMetadata", {}).setdefault("RequestId", None)
        return original_from_error(self, env, ex)

    StateTaskServiceAwsSdk._normalise_service_error_name = staticmethod(
        _normalise_service_error_name
    )
    StateTaskServiceAwsSdk._from_error = _from_error


@functools.lru_cache(maxsize=4096)
def _parsed(path: str):
    # Parsing (ply) dominates the cost of a lookup; machines reuse a few hundred paths.
    return parse_json_path(path)


def _is_definite(node) -> bool:
    if isinstance(node, (Root, This)):
        return True
    if isinstance(node, Child):
        return _is_definite(node.left) and _is_definite(node.right)
    if isinstance(node, Fields):
        return len(node.fields) == 1 and node.fields[0] != "*"
    if isinstance(node, Index):
        return len(node.indices) == 1
    return False  # wildcard, slice, filter, descendants, union, ...


def extract_json(path: str, data):
    """AWS (Jayway) semantics: a definite path yields its value, any other a list."""
    from moto.stepfunctions.parser.asl.utils.json_path import NoSuchJsonPathError

    expression = _parsed(path)
    matches = expression.find(data)
    if not _is_definite(expression):
        return [match.value for match in matches]
    if not matches:
        raise NoSuchJsonPathError(json_path=path, data=data)
    return matches[0].value


def definite_json_paths() -> None:
    """A path without wildcard, filter or slice yields the value, not a one-element list.

    AWS: `$.Items[0].Status` -> `"PENDING"`; `$.Items[*].Id`, `$.Items[?(@.IsDrill == true)].Id`
    and `$.a[0:2]` -> a list, `[]` when nothing matches.
    moto 5.2.5: a definite path with a field after an index, e.g. `$.x[0].y`, yields
    `["value"]`; a filter that matches nothing raises States.Runtime.
    """
    import moto.stepfunctions.parser.models  # noqa: F401 - imports every user of extract_json
    from moto.stepfunctions.parser.asl.utils import json_path

    original = json_path.extract_json
    # Modules did `from ... import extract_json`, so rebind the name in each of them.
    for module in list(sys.modules.values()):
        if getattr(module, "extract_json", None) is original:
            module.extract_json = extract_json


def context_timestamps() -> None:
    """`$$.Execution.StartTime` and `$$.State.EnteredTime` are strings like `2024-01-01T12:00:00.123Z`.

    AWS: ISO-8601 in UTC with milliseconds and `Z`.
    moto 5.2.5: StartTime is a datetime object (a state that copies it makes DescribeExecution
    and the history fail with a 500), EnteredTime is `2024-01-01T12:00:00.123456+00:00`.
    """
    from moto.stepfunctions.parser.asl.component.state.state import CommonStateField
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    original_environment = ExecutionWorker._get_evaluation_environment
    original_state_input = CommonStateField._eval_state_input

    def _get_evaluation_environment(self):
        env = original_environment(self)
        execution = env.states.context_object.context_object_data["Execution"]
        execution["StartTime"] = _aws_timestamp(execution["StartTime"])
        return env

    # moto writes EnteredTime in _eval_body right before it calls _eval_state_input.
    def _eval_state_input(self, env):
        state = env.states.context_object.context_object_data.get("State")
        if state and not str(state.get("EnteredTime", "Z")).endswith("Z"):
            state["EnteredTime"] = _aws_timestamp(state["EnteredTime"])
        original_state_input(self, env)

    ExecutionWorker._get_evaluation_environment = _get_evaluation_environment
    CommonStateField._eval_state_input = _eval_state_input


def start_execution_name() -> None:
    """StartExecution without `name` gets a generated UUID as its name.

    AWS: the execution is named with a UUID and its ARN ends with it.
    moto 5.2.5 (execution mode): name None, ARN `...:execution:<machine>:None`, so a
    second nameless start returns the first execution again.
    """
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.start_execution

    def start_execution(self, state_machine_arn, name=None, *args, **kwargs):
        return original(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    StepFunctionsParserBackend.start_execution = start_execution


def execution_history_paging() -> None:
    """GetExecutionHistory honours `maxResults` (default 100), `nextToken` and `reverseOrder`.

    AWS: pages of at most maxResults events (0 or absent means 100) with a nextToken while
    more remain; reverseOrder returns the newest first.
    moto 5.2.5: ignores all three and returns every event, oldest first.
    """
    from moto.core.responses import ActionResult
    from moto.stepfunctions.exceptions import InvalidToken
    from moto.stepfunctions.responses import StepFunctionResponse

    def get_execution_history(self):
        arn = self._get_param("executionArn")
        page_size = self._get_int_param("maxResults") or 100
        newest_first = bool(self._get_param("reverseOrder"))
        events = self.stepfunction_backend.get_execution_history(arn)["events"]
        if newest_first:
            events = events[::-1]
        token = self._get_param("nextToken")
        if token:
            # The token holds the id of the last event returned: ids stay stable while a
            # running execution appends events, positions would not when reversed.
            try:
                last = json.loads(base64.b64decode(token))
                valid = last["executionArn"] == arn and isinstance(last["id"], int)
            except (ValueError, TypeError, KeyError):
                valid = False
            if not valid:
                raise InvalidToken(token)
            events = [
                e for e in events
                if (e["id"] < last["id"] if newest_first else e["id"] > last["id"])
            ]
        result = {"events": events[:page_size]}
        if len(events) > page_size:
            last = {"executionArn": arn, "id": events[page_size - 1]["id"]}
            result["nextToken"] = base64.b64encode(json.dumps(last).encode()).decode()
        return ActionResult(result)

    StepFunctionResponse.get_execution_history = get_execution_history


CORRECTIONS = (
    sdk_member_casing,
    sdk_error_names,
    definite_json_paths,
    context_timestamps,
    start_execution_name,
    execution_history_paging,
)

_applied = False


def apply() -> None:
    """Apply every correction, these, moto_patches_extra's and moto_patches_services's; calling
    it again does nothing."""
    import moto_patches_extra
    import moto_patches_nested
    import moto_patches_services

    global _applied
    if not _applied:
        every = (
            CORRECTIONS
            + moto_patches_extra.CORRECTIONS
            + moto_patches_services.CORRECTIONS
            + moto_patches_nested.CORRECTIONS
        )
        for correction in every:
            correction()
        _applied = True
