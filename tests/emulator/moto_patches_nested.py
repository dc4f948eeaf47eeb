"""Corrections to moto 5.2.5 for nested executions: a parent machine that runs each wave as
a child execution through Step Functions' optimized integration with itself,
`arn:aws:states:::states:startExecution` (`.sync`, `.sync:2`).

Same shape as moto_patches: one function per correction, docstring saying what AWS does
and what moto does; moto_patches.apply() applies these too. The AWS facts come from the
Step Functions developer guide: "Start a new AWS Step Functions state machine from a
running execution" (connect-stepfunctions), "Start workflow executions from a task state"
(concepts-nested-workflows) and "Discover service integration patterns" (connect-to-resource).
"""

import datetime


def _operation(action: str):
    """The Step Functions operation for `startExecution` or `describe_execution`, or None."""
    from moto_patches import _service_model

    service = _service_model("stepfunctions")
    wanted = action.replace("_", "").lower()
    for name in service.operation_names:
        if name.lower() == wanted:
            return service.operation_model(name)
    return None


def _epoch_millis(value):
    # Timestamps in an optimized integration's result are numbers, milliseconds since the
    # epoch (as in Step Functions' own execution events), never datetime objects, which
    # would break DescribeExecution once they are in state data.
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return round(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {key: _epoch_millis(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_epoch_millis(item) for item in value]
    return value


def sfn_integration_member_names() -> None:
    """`states:startExecution` tasks: parameters and results use capitalised member names.

    AWS: the task's Parameters are `StateMachineArn`, `Input` (JSON, or a string) and
    `Name` (connect-stepfunctions' examples); the request-response task returns
    StartExecution's response, `{"ExecutionArn", "StartDate"}`; `.sync` and `.sync:2`
    return the child's DescribeExecution response once it has ended, with the same
    capitalised names (`ExecutionArn`, `StateMachineArn`, `Status`, `Input`,
    `InputDetails.Included`, `Output`, ...; the guide's example reads `"Output": ...`).
    moto 5.2.5: its `_normalise_parameters` / `_normalise_response` for these tasks only
    turn `Input` into a string, so boto3 is called with `StateMachineArn=`, which its
    serialiser does not know: every such task fails with `States.Runtime` and the cause
    `'StateMachineArn'`. Were it called, the `.sync` waiters read `ExecutionArn` from the
    lower-case response and failed the same way, and results kept lower-case names and
    datetimes.
    """
    from moto_patches import _from_boto, _replace_in_place, _to_boto
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
        StateTaskServiceSfn,
    )

    original_parameters = StateTaskServiceSfn._normalise_parameters

    def _normalise_parameters(self, parameters, boto_service_name=None, service_action_name=None):
        # moto's own step first: a JSON `Input` becomes the string StartExecution takes.
        original_parameters(self, parameters, boto_service_name, service_action_name)
        operation = _operation(service_action_name or self.resource.api_action)
        if operation is not None and operation.input_shape is not None:
            _replace_in_place(parameters, _to_boto(parameters, operation.input_shape))

    def _normalise_response(self, response, boto_service_name=None, service_action_name=None):
        operation = _operation(service_action_name or self.resource.api_action)
        if isinstance(response, dict) and operation is not None:
            _replace_in_place(response, _from_boto(_epoch_millis(response), operation.output_shape))

    StateTaskServiceSfn._normalise_parameters = _normalise_parameters
    StateTaskServiceSfn._normalise_response = _normalise_response


def describe_execution_input_details() -> None:
    """DescribeExecution answers `inputDetails: {included: true}`.

    AWS (API reference, DescribeExecution and CloudWatchEventsExecutionDataDetails): the
    response carries `inputDetails`, whose `included` "Indicates whether input or output
    was included in the response. Always true for API calls." A `.sync` / `.sync:2` task
    returns this response, so its result has `InputDetails: {"Included": true}`.
    moto 5.2.5 (execution mode): DescribeExecution leaves `inputDetails` out (it gives
    `outputDetails` only).
    """
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    original = StepFunctionResponse.describe_execution

    def describe_execution(self):
        result = original(self)
        if isinstance(self.stepfunction_backend, StepFunctionsParserBackend):
            result.result.setdefault("inputDetails", {"included": True})
        return result

    StepFunctionResponse.describe_execution = describe_execution


class _ChildWaiter:
    """moto's `.sync` waiter for one child execution, which also knows how to stop it."""

    def __init__(self, resolve, execution_arn: str, client):
        self._resolve = resolve
        self.execution_arn = execution_arn
        self._client = client

    def __call__(self):
        return self._resolve()

    def stop(self) -> None:
        # Best effort, as AWS's: a child that has just ended cannot be stopped.
        try:
            self._client.stop_execution(executionArn=self.execution_arn)
        except Exception:  # noqa: BLE001 - nothing left to do about it
            pass


def stopped_parent_stops_child() -> None:
    """A `.sync` / `.sync:2` task that is aborted stops the child execution it waits for.

    AWS (connect-to-resource, Run a Job (.sync)): a task using the `.sync` pattern is
    aborted when the execution is stopped, when a different branch of a Parallel state
    fails with an uncaught error, or when an iteration of a Map state fails with an
    uncaught error; "Step Functions will make a best-effort attempt to cancel the task.
    For example, if a Step Functions `states:startExecution.sync` task is aborted, it will
    call the Step Functions `StopExecution` API action." (Hence `states:StopExecution` in
    the IAM policy the guide gives for the synchronous pattern.) So the child ends ABORTED.
    moto 5.2.5: the waiter loop just ends when the parent's environment stops; the child
    runs on to its end, so stopping a plan would leave its current wave running.
    Here the waiter remembers the child, and once the loop ends because the task's
    environment was stopped (StopExecution, or a failing Parallel branch) without the child
    having ended, StopExecution is called for it. A task that times out is left alone: the
    guide does not list that among the aborts.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
        StateTaskServiceSfn,
    )
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

    def _remembering(build):
        def build_waiter(self, env, resource_runtime_part, normalised_parameters, state_credentials):
            # The builder pops StartExecution's result off the stack: read the ARN first.
            execution_arn = env.stack[-1]["ExecutionArn"]
            resolve = build(
                self,
                env=env,
                resource_runtime_part=resource_runtime_part,
                normalised_parameters=normalised_parameters,
                state_credentials=state_credentials,
            )
            client = boto_client_for(
                region=resource_runtime_part.region,
                service="stepfunctions",
                state_credentials=state_credentials,
            )
            return _ChildWaiter(resolve, execution_arn, client)

        return build_waiter

    original_eval_sync = StateTaskServiceSfn._eval_sync

    def _eval_sync(self, env, sync_resolver, timeout_seconds, callback_endpoint, heartbeat_endpoint):
        outcome = original_eval_sync(
            self,
            env=env,
            sync_resolver=sync_resolver,
            timeout_seconds=timeout_seconds,
            callback_endpoint=callback_endpoint,
            heartbeat_endpoint=heartbeat_endpoint,
        )
        if (
            not outcome
            and isinstance(sync_resolver, _ChildWaiter)
            and isinstance(env.program_state(), ProgramStopped)
        ):
            sync_resolver.stop()
        return outcome

    StateTaskServiceSfn._build_sync_resolver = _remembering(StateTaskServiceSfn._build_sync_resolver)
    StateTaskServiceSfn._build_sync2_resolver = _remembering(StateTaskServiceSfn._build_sync2_resolver)
    StateTaskServiceSfn._eval_sync = _eval_sync


def stopped_execution_stays_aborted() -> None:
    """An execution that was stopped ends ABORTED, whatever its tasks do afterwards.

    AWS (StopExecution, API reference): stopping an execution ends it with status ABORTED;
    an ended execution's status never changes. moto 5.2.5: StopExecution marks the program
    stopped, but a callback task inside a Parallel or Map state keeps waiting, and when it
    later times out (or fails) the error overwrites the stopped state, so the execution
    ends FAILED with `States.Runtime` ("Custom Error Names MUST NOT begin with the prefix
    'States.'"). A stopped wave child of a cancelled plan ended FAILED that way. Here an
    error or timeout that comes after the stop is ignored.
    """
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped

    def unless_stopped(original):
        def guarded(self, *args, **kwargs):
            if isinstance(self._program_state, ProgramStopped):
                return None
            return original(self, *args, **kwargs)

        return guarded

    Environment.set_error = unless_stopped(Environment.set_error)
    Environment.set_timed_out = unless_stopped(Environment.set_timed_out)


CORRECTIONS = (
    sfn_integration_member_names,
    describe_execution_input_details,
    stopped_parent_stops_child,
    stopped_execution_stays_aborted,
)
