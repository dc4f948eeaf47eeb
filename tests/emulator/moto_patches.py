"""Corrections that make moto 5.2.5's Step Functions interpreter behave like AWS.

Each public function applies one correction; its docstring says what AWS does and what
moto does instead. `apply()` applies them all, once. They replace methods on moto's
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
        return {
            (_sfn_member_name(key) if key in shape.members else key): _from_boto(
                item, shape.members.get(key)
            )
            for key, item in value.items()
        }
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
    moto 5.2.5: any path that passes through an index after the last field, e.g.
    `$.x[0].y`, yields `["value"]`; a filter that matches nothing raises States.Runtime.
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
                assert last["executionArn"] == arn
            except Exception:
                raise InvalidToken(token) from None
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


# Found while running the ASL features our compiler emits.


def json_string_escapes() -> None:
    """State names, error names, paths and intrinsic functions are JSON strings: escapes decode.

    AWS: `"States.Format('it\\\\'s {}', $.a)"` in the definition is the intrinsic
    `States.Format('it\\'s {}', $.a)`; a state named `"Launch \\u00b7 db"` is `Launch · db`.
    moto 5.2.5: decodes escapes in plain string values only; for those fields it keeps the
    raw JSON text, so `\\\\'` ends the intrinsic's literal early (`'it\\\\'`) and names
    written with escapes (json.dumps writes `·` as `\\u00b7`) show up in the history as typed.
    """
    from moto.stepfunctions.parser.asl.parse import preprocessor as asl

    def _decoded(text: str) -> str:
        if len(text) >= 2 and text[0] == text[-1] == '"':
            try:
                return json.loads(text)
            except ValueError:
                return text[1:-1]
        return text

    def _inner_string_of(parser_rule_context):
        if asl.is_terminal(parser_rule_context, asl.ASLLexer.NULL):
            return None
        return _decoded(parser_rule_context.getText())

    def visitString_intrinsic_function(self, ctx):
        derivation = _decoded(ctx.STRINGINTRINSICFUNC().getText())
        function, _ = asl.IntrinsicParser.parse(derivation)
        return asl.StringIntrinsicFunction(
            intrinsic_function_derivation=derivation, function=function
        )

    asl.Preprocessor._inner_string_of = staticmethod(_inner_string_of)
    asl.Preprocessor.visitString_intrinsic_function = visitString_intrinsic_function


def intrinsic_escapes() -> None:
    """Intrinsic string literals: `\\'`, `\\{`, `\\}`, `\\\\` stand for the character itself.

    AWS: `States.Format('it\\'s \\{x\\} {}', $.a)` -> `it's {x} <a>`; only an unescaped
    `{}` is a placeholder.
    moto 5.2.5: keeps those backslashes in every literal and formats with Python's
    str.format, so escaped braces become (broken) replacement fields.
    """
    from moto.stepfunctions.parser.asl.component.intrinsic.argument.argument import (
        ArgumentLiteral,
    )
    from moto.stepfunctions.parser.asl.component.intrinsic.function.statesfunction.generic.string_format import (
        StringFormat,
    )
    from moto.stepfunctions.parser.asl.parse.intrinsic.preprocessor import Preprocessor

    def _unescape(match):
        char = match.group(1)
        return char if char in "'{}\\" else Preprocessor._replace_escaped_characters(match)

    def visitFunc_arg_string(self, ctx):
        escaped = ctx.STRING().getText()[1:-1]
        literal = ArgumentLiteral(definition_value=re.sub(r"\\(.)", _unescape, escaped))
        literal.escaped_text = escaped  # States.Format needs to tell \{ from {
        return literal

    def _eval_body(self, env):
        self.argument_list.eval(env=env)
        template, *values = env.stack.pop()
        escaped = getattr(self.argument_list.arguments[0], "escaped_text", None)
        values = iter(map(StringFormat._to_str_repr, values))

        def _substitute(match):
            if match.group(0) != "{}":
                return match.group(1)
            value = next(values, None)
            if value is None:
                raise ValueError("States.Format has more {} than arguments")
            return value

        if escaped is not None:
            env.stack.append(re.sub(r"\\(.)|\{\}", _substitute, escaped))
        else:  # a template read from a path: only {} is special
            env.stack.append(re.sub(r"\{\}", _substitute, template))

    Preprocessor.visitFunc_arg_string = visitFunc_arg_string
    StringFormat._eval_body = _eval_body


_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?P<fraction>\.\d+)?(?P<zone>Z|[+-]\d{2}:\d{2})"
)


def choice_timestamps() -> None:
    """Choice `Timestamp*` rules accept any RFC 3339 timestamp.

    AWS: `2024-01-01T12:00:00.123Z` and `2024-01-01T12:00:00+02:00` are timestamps (the
    first is what `$$.Execution.StartTime` looks like).
    moto 5.2.5: only `%Y-%m-%dT%H:%M:%SZ` parses; with a fraction the rule is false, and
    comparing such a value from a path raises TypeError.
    """
    from moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.is_operator import (
        IsTimestamp,
    )

    def string_to_timestamp(string):
        match = isinstance(string, str) and _RFC3339.fullmatch(string)
        if not match:
            return None
        fraction = (match["fraction"] or ".0")[1:7].ljust(6, "0")  # Python takes 6 digits
        text = string[: match.start("fraction") if match["fraction"] else match.start("zone")]
        zone = "+00:00" if match["zone"] == "Z" else match["zone"]
        return datetime.datetime.fromisoformat(f"{text}.{fraction}{zone}")

    IsTimestamp.string_to_timestamp = staticmethod(string_to_timestamp)


def send_task_failure_cause() -> None:
    """SendTaskFailure passes its `cause` on to the Catch (`$.failure.Cause`).

    AWS: the task fails with the error and cause given.
    moto 5.2.5: the request handler drops `cause`, so the Catch sees `"Cause": null`.
    """
    from moto.core.responses import EmptyResult
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    original = StepFunctionResponse.send_task_failure

    def send_task_failure(self):
        backend = self.stepfunction_backend
        if not isinstance(backend, StepFunctionsParserBackend):
            return original(self)  # the non-executing backend has no cause to keep
        backend.send_task_failure(
            self._get_param("taskToken"),
            error=self._get_param("error"),
            cause=self._get_param("cause"),
        )
        return EmptyResult()

    StepFunctionResponse.send_task_failure = send_task_failure


def describe_execution_output() -> None:
    """DescribeExecution's `output` is the JSON text of whatever the execution returned.

    AWS: a machine ending with the string `yes` has output `"yes"`; one ending with null, `null`.
    moto 5.2.5: passes a str result through as is (`yes`, not JSON) and leaves `output`
    out for null, because the non-executing backend keeps outputs as JSON text already.
    """
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    original = StepFunctionResponse.describe_execution

    def describe_execution(self):
        result = original(self)
        backend = self.stepfunction_backend
        described = result.result
        if isinstance(backend, StepFunctionsParserBackend) and described["status"] == "SUCCEEDED":
            execution = backend.describe_execution(described["executionArn"])
            described["output"] = to_json_str(execution.output, separators=(",", ":"))
        return result

    StepFunctionResponse.describe_execution = describe_execution


CORRECTIONS = (
    sdk_member_casing,
    sdk_error_names,
    definite_json_paths,
    context_timestamps,
    start_execution_name,
    execution_history_paging,
    json_string_escapes,
    intrinsic_escapes,
    choice_timestamps,
    send_task_failure_cause,
    describe_execution_output,
)

_applied = False


def apply() -> None:
    """Apply every correction; calling it again does nothing."""
    global _applied
    if not _applied:
        for correction in CORRECTIONS:
            correction()
        _applied = True
