#!/usr/bin/env python3
"""Check the AWS SDK integration Tasks of compiled state machines against the
real AWS service models shipped with botocore.

    python tests/fidelity/check_sdk_tasks.py [--errors] FILE_OR_DIR...

Emulators accept any action or parameter name, so a typo such as
`aws-sdk:drs:startRecovry` or `SourceServerIds` (the member is
`sourceServerIDs`) would only fail in a real AWS account. This reads botocore's
`data/<service>/<version>/service-2.json(.gz)` and checks, for each Task:

- the service and the operation exist;
- every Parameters key names an input member, recursively through static
  objects and arrays (map keys are user data and are not members);
- required members are present, static values have the right JSON kind
  (object / array / scalar) and satisfy the model's enum, min/max and pattern;
- ResultSelector paths, including paths inside intrinsic functions and the
  fields of filter expressions, name members of the output shape;
- with --errors, Retry/Catch error names are errors the service declares.

Step Functions writes members with the first letter capitalised (`IsDrill` for
`isDrill`), so a model member matches a name iff capitalise(member) == name.

Prints `FILE: STATE: problem` per problem and a summary line. Exit status:
0 clean, 1 problems found, 2 usage or I/O error.
"""
import difflib
import functools
import gzip
import json
import re
import sys
from pathlib import Path

import botocore

DATA = Path(botocore.__file__).parent / "data"
# arn:aws:states:::aws-sdk:drs:startRecovery, ...:::dynamodb:updateItem; any
# partition (aws, aws-cn, aws-us-gov).
RESOURCE = re.compile(r"arn:aws[\w-]*:states:::(aws-sdk:)?([\w-]+):(.+)")

# Optimized integrations whose parameters mirror an API operation, with the
# members that take any JSON there instead of the model's blob/string (their
# values are not checked). Other optimized integrations are skipped: several
# expose actions that are not API operations (e.g. emr:createCluster).
OPTIMIZED = {
    ("dynamodb", "getItem"): set(),
    ("dynamodb", "putItem"): set(),
    ("dynamodb", "updateItem"): set(),
    ("dynamodb", "deleteItem"): set(),
    ("sns", "publish"): {"Message"},
    ("sqs", "sendMessage"): {"MessageBody"},
    ("lambda", "invoke"): {"Payload"},
    ("states", "startExecution"): {"Input"},
}
# Optimized resources name Step Functions itself `states`; its SDK name is `sfn`.
OPTIMIZED_SERVICE = {"states": "sfn"}


def cap(name):
    return name[:1].upper() + name[1:]


def sfn_name(member):
    # Documented Step Functions rename: API fields named "equals" are written
    # EqualsValue (they clash with Java's equals()).
    return "EqualsValue" if member.lower() == "equals" else cap(member)


def strip_path_suffix(key):
    return key[:-2] if key.endswith(".$") else key


def is_dynamic(value):
    """A JSONata expression (QueryLanguage JSONata): any value at run time."""
    return isinstance(value, str) and value.strip().startswith("{%")


def brief(value):
    return json.dumps(value)[:60]


# ---- service models ------------------------------------------------------

def load_model(directory):
    """Newest API version of one botocore service (version dirs are dates)."""
    for version in sorted((p for p in directory.iterdir() if p.is_dir()), reverse=True):
        for name, opener in (("service-2.json", open), ("service-2.json.gz", gzip.open)):
            if (version / name).exists():
                with opener(version / name, "rt", encoding="utf-8") as f:
                    return json.load(f)
    return None


@functools.lru_cache(maxsize=None)
def service_model(sdk_name):
    """Model for a Step Functions SDK service name, or None.

    Step Functions names services after the AWS SDK for Java v2 clients, which
    derive from the model's serviceId, not from botocore's directory name:
    `sfn` (serviceId "SFN") is botocore's `stepfunctions`, `cloudwatchlogs` is
    `logs`, `eventbridge` is `events`, `elasticloadbalancingv2` is `elbv2`.
    So: botocore directory name first (drs, ec2, ssm, dynamodb, lambda, sns
    are identical), then serviceId lower-cased without spaces/punctuation,
    with or without a trailing "service" (Java drops it: "Database Migration
    Service" -> databasemigration).
    """
    direct = DATA / sdk_name
    if direct.is_dir() and (model := load_model(direct)) is not None:
        return model
    directory = service_ids().get(sdk_name)
    return load_model(directory) if directory else None


@functools.lru_cache(maxsize=None)
def service_ids():
    """{normalised serviceId: botocore directory}; reads every model once."""
    index = {}
    for directory in sorted(p for p in DATA.iterdir() if p.is_dir()):
        sid = (load_model(directory) or {}).get("metadata", {}).get("serviceId", "")
        sid = re.sub(r"[^a-z0-9]", "", sid.lower())
        for name in (sid, sid.removesuffix("service")):
            index.setdefault(name, directory)
    index.pop("", None)
    return index


def closest(name, names):
    """Hint: the name differing only in case (`SourceServerIds` ->
    SourceServerIDs), else near spellings, else all names when few."""
    near = [n for n in names if n.lower() == name.lower()]
    near = near or difflib.get_close_matches(name, list(names), n=3)
    if near:
        return f" (did you mean {', '.join(near)}?)"
    return f" (has: {', '.join(sorted(names))})" if 0 < len(names) <= 12 else ""


def constraint_problem(shape, value):
    """The model's enum / min / max / pattern for a static value, or None."""
    if isinstance(value, (str, list, dict)):
        size, what = len(value), "length"
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        size, what = value, "value"
    else:
        return None
    if "min" in shape and size < shape["min"]:
        return f"{what} {size} is below the minimum {shape['min']}"
    if "max" in shape and size > shape["max"]:
        return f"{what} {size} is above the maximum {shape['max']}"
    if isinstance(value, str):
        if "enum" in shape and value not in shape["enum"]:
            return f"{value!r} is not one of {', '.join(shape['enum'])}"
        try:  # Smithy patterns are not implicitly anchored: search, not match
            if "pattern" in shape and not re.search(shape["pattern"], value):
                return f"{value!r} does not match pattern {shape['pattern']}"
        except re.error:
            pass  # a Java-only regex feature; not worth a false alarm
    return None


# ---- checker -------------------------------------------------------------

class Checker:
    def __init__(self, errors=False):
        self.problems = []  # (file, state name, message)
        self.tasks = 0
        self.errors = errors  # also check Retry/Catch error names

    def report(self, where, message):
        self.problems.append((*where, message))

    def check_machine(self, file, machine):
        self.walk(file, machine.get("States", {}))

    def walk(self, file, states):
        for name, state in states.items():
            if state.get("Type") == "Task":
                self.check_task((file, name), state)
            for branch in state.get("Branches", []):
                self.walk(file, branch.get("States", {}))
            for key in ("ItemProcessor", "Iterator"):
                if key in state:
                    self.walk(file, state[key].get("States", {}))

    def check_task(self, where, state):
        m = RESOURCE.fullmatch(str(state.get("Resource")))
        if not m:
            return  # Lambda function ARNs, activities: no service model
        sdk, service, action = m.groups()
        optimized, free = not sdk, set()
        if service == "aws-sdk":  # aws-sdk:drs without an action
            self.tasks += 1
            return self.report(where, f"malformed resource {m.group(0)}: expected aws-sdk:SERVICE:action")
        if optimized:
            free = OPTIMIZED.get((service, action.partition(".")[0]))
            if free is None:
                return
            service = OPTIMIZED_SERVICE.get(service, service)
        self.tasks += 1
        # Integration pattern suffix: .waitForTaskToken, .sync, .sync:2
        action, _, pattern = action.partition(".")

        model = service_model(service)
        if model is None:
            return self.report(where, f"unknown service '{service}' (no botocore model)")
        op_name = cap(action)
        op = model["operations"].get(op_name)
        if op is None or not action[:1].islower():
            return self.report(where, f"{service} has no operation {op_name} (action '{action}')"
                                      f"{closest(op_name, model['operations'])}")
        shapes = model["shapes"]
        no_input = {"type": "structure", "members": {}}
        input_shape = shapes[op["input"]["shape"]] if "input" in op else no_input
        # JSONata machines pass Arguments instead of Parameters, without `.$`.
        params = state.get("Parameters", state.get("Arguments", {}))
        self.check_value(where, shapes, input_shape, params, f"{op_name} input", free)

        # A callback task's result (and errors) are whatever SendTaskSuccess /
        # SendTaskFailure send, and optimized integrations wrap their output
        # (lambda: {Payload: ...}) and name errors their own way: only plain
        # request-response SDK calls follow the model.
        if optimized or pattern:
            return
        if self.errors:
            self.check_errors(where, service, model, state)
        output = shapes[op["output"]["shape"]] if "output" in op else None
        for path in selector_paths(state.get("ResultSelector", {})):
            try:
                _, problem = follow(shapes, output, parse_path(path), f"{op_name} output")
            except ValueError as err:
                problem = str(err)
            if problem:
                self.report(where, f"ResultSelector {path}: {problem}")

    def check_errors(self, where, service, model, state):
        """Retry/Catch names must be errors an SDK call can raise.

        Step Functions names them `Service.ErrorException`: the service in
        PascalCase (`Drs`, `Ec2`, `Ssm`), the model's error shape with an
        `Exception` suffix added when missing (SSM `InternalServerError` ->
        InternalServerErrorException); errors the model does not declare
        arrive as the generic `Service.ServiceException` (every EC2 error is
        `Ec2.Ec2Exception`: the EC2 model declares none). This is the Step
        Functions naming convention, not part of the model: hence opt-in.
        """
        errors = {n if n.endswith("Exception") else n + "Exception"
                  for n, s in model["shapes"].items() if s.get("exception")}
        for rule in state.get("Retry", []) + state.get("Catch", []):
            for name in rule.get("ErrorEquals", []):
                prefix, dot, error = name.partition(".")
                if prefix == "States" or not dot:
                    continue
                if prefix.lower() != service:
                    self.report(where, f"error {name}: not an error of service '{service}'")
                elif error not in errors | {prefix + "Exception", "SdkClientException"}:
                    self.report(where, f"error {name} is never raised: the {service} model declares no "
                                       f"{error}; undeclared errors arrive as {prefix}.{prefix}Exception")

    def check_value(self, where, shapes, shape, value, label, free=()):
        """Check a static JSON value against a model shape."""
        kind = shape["type"]
        if is_dynamic(value) or kind == "document":  # document: any JSON
            return
        expected = {"structure": dict, "map": dict, "list": list}.get(kind)
        if expected and not isinstance(value, expected):
            return self.report(where, f"{label}: expected {'an array' if expected is list else 'an object'}"
                                      f" ({kind}), got {brief(value)}")
        if not expected and isinstance(value, (dict, list)):
            return self.report(where, f"{label}: expected a {kind}, got {brief(value)}")
        if kind != "structure" and (problem := constraint_problem(shape, value)):
            self.report(where, f"{label}: {problem}")

        if kind == "structure":
            members = {sfn_name(m): ref for m, ref in shape.get("members", {}).items()}
            for key, item in value.items():
                name = strip_path_suffix(key)
                if name not in members:
                    self.report(where, f"{label}: unknown member '{name}'{closest(name, members)}")
                elif not key.endswith(".$") and name not in free:
                    self.check_value(where, shapes, shapes[members[name]["shape"]], item, f"{label}.{name}")
            given = {strip_path_suffix(k) for k in value}
            for req in shape.get("required", []):
                if sfn_name(req) not in given:
                    self.report(where, f"{label}: missing required member '{sfn_name(req)}'")
        elif kind == "list":
            element = shapes[shape["member"]["shape"]]
            for i, item in enumerate(value):
                self.check_value(where, shapes, element, item, f"{label}[{i}]")
        elif kind == "map":
            # Keys are user data (tags, DynamoDB attribute names): checked as
            # values of the key shape, never as members. Values have a shape,
            # e.g. DynamoDB's AttributeValue ({"S": ...}).
            key_shape, value_shape = shapes[shape["key"]["shape"]], shapes[shape["value"]["shape"]]
            for key, item in value.items():
                name = strip_path_suffix(key)
                if problem := constraint_problem(key_shape, name):
                    self.report(where, f"{label}: key {problem}")
                if not key.endswith(".$"):
                    self.check_value(where, shapes, value_shape, item, f"{label}[{name!r}]")


# ---- response paths ------------------------------------------------------

def follow(shapes, shape, steps, label, trail="$"):
    """Walk path steps through output shapes; return (shape, problem)."""
    for step, arg in steps:
        if shape is None:
            return None, f"{label} is empty, nothing at {trail}"
        kind = shape["type"]
        if step == "stop" or kind == "document":
            return None, None  # recursive descent, wildcard member, free JSON: cannot follow
        if step == "name":
            if kind == "map":  # keys are data
                shape = shapes[shape["value"]["shape"]]
            elif kind != "structure":
                return None, f"{label} {trail} is a {kind}, it has no member '{arg}'"
            else:
                members = {sfn_name(m): r for m, r in shape.get("members", {}).items()}
                if arg not in members:
                    return None, f"{label} {trail} has no member '{arg}'{closest(arg, members)}"
                shape = shapes[members[arg]["shape"]]
            trail += f".{arg}"
            continue
        # index, slice, wildcard or filter: step into the elements
        if kind not in ("list", "map"):
            return None, f"{label} {trail} is a {kind}, not a list"
        element = shapes[shape["member" if kind == "list" else "value"]["shape"]]
        trail += "[]"
        if step == "filter":  # @.Field names a member of the element
            for fields, literal in arg:
                field, problem = follow(shapes, element, [("name", f) for f in fields],
                                        f"{label} (in filter)", trail)
                if problem:
                    return None, problem
                if literal is not None and field and literal not in field.get("enum", [literal]):
                    return None, (f"{label} (in filter) @.{'.'.join(fields)} is never {literal!r}: "
                                  f"one of {', '.join(field['enum'])}")
        shape = element
    return shape, None


def selector_paths(selector):
    """Output paths read by a ResultSelector: values of `.$` keys, including
    path arguments of intrinsic functions; `$$` (context object) excluded."""
    if isinstance(selector, dict):
        for key, value in selector.items():
            if key.endswith(".$") and isinstance(value, str):
                if value.startswith("$$"):
                    continue
                if value.startswith("$"):
                    yield value
                else:  # intrinsic: States.ArrayLength($.Items), States.Format('{}', $.a)
                    unquoted = re.sub(r"'(?:[^'\\]|\\.)*'", "''", value)
                    for m in re.finditer(r"(?<![\w$])(\$\$?)((?:\.[\w-]+|\[[^\]]*\])*)", unquoted):
                        if m.group(1) == "$":
                            yield m.group(0)
            else:
                yield from selector_paths(value)
    elif isinstance(selector, list):
        for item in selector:
            yield from selector_paths(item)


# A quoted string, or @.a.b optionally compared (==, !=) with a quoted literal.
FILTER_TOKEN = re.compile(
    r"""(['"])(?:\\.|(?!\1).)*\1|@((?:\.[\w-]+)+)(?:\s*[=!]=\s*(['"])((?:\\.|(?!\3).)*)\3)?""")


def parse_path(path):
    """Split a JSONPath into steps: ("name", "Items"), ("index", "0"),
    ("filter", [(["IsDrill"], None), (["LaunchStatus"], "LAUNCHED")]),
    ("stop", None)."""
    if not path.startswith("$"):
        raise ValueError("does not start with $")
    steps, i = [], 1
    while i < len(path):
        if path.startswith(("..", ".*"), i):
            steps.append(("stop", None))
            break
        if path[i] == ".":
            m = re.compile(r"[\w-]+").match(path, i + 1)
            if not m:
                raise ValueError(f"bad member name at {path[i:]!r}")
            steps.append(("name", m.group(0)))
            i = m.end()
        elif path[i] == "[":
            end = closing_bracket(path, i)
            inner = path[i + 1:end].strip()
            if inner[:1] in ("'", '"'):
                steps.append(("name", inner[1:-1]))
            elif inner.startswith("?"):
                fields = [(m.group(2).split(".")[1:], m.group(4))
                          for m in FILTER_TOKEN.finditer(inner) if m.group(2)]
                steps.append(("filter", fields))
            else:
                steps.append(("index", inner))
            i = end + 1
        else:
            raise ValueError(f"unexpected {path[i:]!r}")
    return steps


def closing_bracket(path, start):
    depth, quote = 0, None
    for j in range(start, len(path)):
        c = path[j]
        if quote:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                return j
    raise ValueError("unbalanced [")


# ---- command line --------------------------------------------------------

def machine_files(args):
    files = []
    for arg in args:
        p = Path(arg)
        if p.is_dir():
            found = sorted(p.rglob("*.asl.json"))
            if not found:
                raise OSError(f"{arg}: no *.asl.json files")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise OSError(f"{arg}: no such file or directory")
    return files


def main(argv):
    errors = "--errors" in argv
    argv = [a for a in argv if a != "--errors"]
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: check_sdk_tasks.py [--errors] FILE_OR_DIR...", file=sys.stderr)
        return 2
    checker = Checker(errors)
    try:
        files = machine_files(argv)
        for f in files:
            with open(f, encoding="utf-8") as fh:
                machine = json.load(fh)
            if not isinstance(machine, dict):
                raise ValueError(f"{f}: not a state machine object")
            checker.check_machine(str(f), machine)
    except (OSError, ValueError) as err:  # json.JSONDecodeError is a ValueError
        print(f"error: {err}", file=sys.stderr)
        return 2
    for file, state, message in checker.problems:
        print(f"{file}: {state}: {message}")
    print(f"{checker.tasks} tasks checked in {len(files)} machines, {len(checker.problems)} problems")
    return 1 if checker.problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
