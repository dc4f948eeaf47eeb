"""More corrections to moto 5.2.5's Step Functions, found while running the ASL features
aslgen emits (intrinsics, Choice timestamps, callbacks) in the patched emulator.

Same shape as moto_patches: one function per correction, docstring saying what AWS does
and what moto does; moto_patches.apply() applies these too.
"""

import datetime
import json
import re


def json_string_escapes() -> None:
    r"""State names, error names, paths and intrinsic functions are JSON strings: escapes decode.

    AWS: `"States.Format('it\\'s {}', $.a)"` in the definition file is the intrinsic
    `States.Format('it\'s {}', $.a)`; a state named `"Launch \u00b7 db"` is `Launch · db`.
    moto 5.2.5: decodes escapes in plain string values only; for these fields it keeps the
    raw JSON text, so `\\'` ends the intrinsic's literal early (at `'it\\'`) and names
    written with escapes (json.dumps writes `·` as `\u00b7`) show up in the history as typed.
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
    r"""Intrinsic string literals: `\'`, `\{`, `\}`, `\\` stand for the character itself.

    AWS: `States.Format('it\'s \{x\} {}', $.a)` -> `it's {x} <a>`; only an unescaped `{}`
    is a placeholder.
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


def stop_execution_aborts() -> None:
    """StopExecution ends the execution at once: status ABORTED, with its stop date.

    AWS: a stopped Standard execution is ABORTED immediately, whatever state it is in.
    moto 5.2.5: asks the worker thread to stop and lets it reflect the status; a worker
    blocked on a `.waitForTaskToken` task (an approval) never does, so DescribeExecution
    keeps answering RUNNING.
    """
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.backend.execution import Execution

    original = Execution.stop

    def stop(self, stop_date, error, cause):
        original(self, stop_date=stop_date, error=error, cause=cause)
        if self.exec_status == ExecutionStatus.RUNNING:
            self.exec_status = ExecutionStatus.ABORTED
            self.stop_date = stop_date

    Execution.stop = stop


def start_published_versions() -> None:
    """StartExecution takes a published version's ARN and runs that version as published.

    AWS: `StartExecution(stateMachineArn="<machine>:3")` runs version 3's definition even
    after the machine was updated; the execution belongs to the machine (its ARN is
    `execution:<machine>:<name>`, so DescribeExecution and StopExecution find it), and
    DescribeExecution names the version in `stateMachineVersionArn`.
    moto 5.2.5: publishes versions on Create/UpdateStateMachine (`publish`), but
    StartExecution on a version ARN fails with an AttributeError (a 500): a version lacks
    the machine's execution methods.
    """
    import threading

    from moto.stepfunctions.models import StateMachineVersion
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    original_start = StepFunctionsParserBackend.start_execution
    swapping = threading.Lock()

    def start_execution(self, state_machine_arn, name=None, execution_input=None, trace_header=None):
        target = self.describe_state_machine(state_machine_arn)
        if not isinstance(target, StateMachineVersion):
            return original_start(self, state_machine_arn, name, execution_input, trace_header)
        machine = self.describe_state_machine(target.source_arn)
        # The execution runs a snapshot of the machine taken as it starts: let that snapshot
        # be the version's definition, then put the machine's own back.
        with swapping:
            latest = machine.definition
            machine.definition = target.definition
            try:
                execution = original_start(self, machine.arn, name, execution_input, trace_header)
            finally:
                machine.definition = latest
        execution.state_machine_version_arn = target.arn
        return execution

    StepFunctionsParserBackend.start_execution = start_execution

    original_describe = StepFunctionResponse.describe_execution

    def describe_execution(self):
        result = original_describe(self)
        backend = self.stepfunction_backend
        described = result.result
        if isinstance(backend, StepFunctionsParserBackend):
            execution = backend.describe_execution(described["executionArn"])
            version = getattr(execution, "state_machine_version_arn", None)
            if version:
                described["stateMachineVersionArn"] = version
        return result

    StepFunctionResponse.describe_execution = describe_execution


def list_and_delete_versions() -> None:
    """ListStateMachineVersions and DeleteStateMachineVersion exist.

    AWS: a state machine keeps at most 1000 published versions, and unused ones must be
    deleted with DeleteStateMachineVersion; ListStateMachineVersions lists them newest
    first (`stateMachineVersionArn`, `creationDate`), paginated. moto 5.2.5 implements
    neither, so no deployment could stay under the quota. Here both act on moto's own
    version table; deleting a version that no longer exists succeeds, as a retried
    delete does in AWS.
    """
    from moto.core.responses import ActionResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def _machine(self, arn):
        return self.stepfunction_backend.describe_state_machine(arn)

    def list_state_machine_versions(self):
        machine = _machine(self, self._get_param("stateMachineArn"))
        versions = sorted(machine.versions.values(), key=lambda v: v.version, reverse=True)
        start = int(self._get_param("nextToken") or 0)
        size = int(self._get_param("maxResults") or 100) or 100
        page = versions[start : start + size]
        result = {
            "stateMachineVersions": [
                {"stateMachineVersionArn": v.arn, "creationDate": v.creation_date} for v in page
            ]
        }
        if start + size < len(versions):
            result["nextToken"] = str(start + size)
        return ActionResult(result)

    def delete_state_machine_version(self):
        arn = self._get_param("stateMachineVersionArn")
        machine_arn, _, number = arn.rpartition(":")
        machine = _machine(self, machine_arn)
        machine.versions.pop(int(number), None)
        return ActionResult({})

    StepFunctionResponse.list_state_machine_versions = list_state_machine_versions
    StepFunctionResponse.delete_state_machine_version = delete_state_machine_version


CORRECTIONS = (
    json_string_escapes,
    intrinsic_escapes,
    choice_timestamps,
    send_task_failure_cause,
    describe_execution_output,
    stop_execution_aborts,
    start_published_versions,
    list_and_delete_versions,
)
