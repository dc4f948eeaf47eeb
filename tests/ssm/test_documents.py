"""The SSM documents in ssm-documents/: well-formed, every parameter declared and valid
against its own pattern, the runbook's AWS API calls real (botocore's models), and the
Linux documents actually run here in bash, passing and failing as they should.
(PowerShell is not available on this machine; the Windows documents get the static checks.)
"""

import http.server
import os
import pathlib
import json
import re
import socket
import subprocess
import threading

import botocore.session
import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCS = sorted((ROOT / "ssm-documents").glob("*.yaml"))
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.:]+)\s*\}\}")


def load(path):
    return yaml.safe_load(path.read_text())


def test_every_document_is_found():
    names = {p.stem for p in DOCS}
    assert {"linux-health-check", "windows-health-check", "linux-app-validation",
            "windows-app-validation", "run-recovery-plan"} <= names


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.stem)
def test_parameters_are_declared_and_defaults_match_their_patterns(path):
    doc = load(path)
    assert doc["schemaVersion"] in ("2.2", "0.3")
    params = doc.get("parameters", {})
    steps = doc["mainSteps"]
    step_names = {s["name"] for s in steps}
    for name in PLACEHOLDER.findall(path.read_text()):
        head = name.split(".")[0]
        assert (name in params or head in step_names or name.startswith("automation:")
                or name.startswith("global:")), f"{path.name}: {{{{ {name} }}}} is not declared"
    for name, spec in params.items():
        assert spec["type"] in ("String", "StringList", "Integer", "Boolean", "MapList", "StringMap")
        pattern = spec.get("allowedPattern")
        if pattern is not None:
            re.compile(pattern)
            if "default" in spec:
                assert re.fullmatch(pattern, spec["default"]), f"{path.name}: default of {name}"
        if "allowedValues" in spec and "default" in spec:
            assert spec["default"] in spec["allowedValues"]


def test_runbook_calls_real_step_functions_apis():
    doc = load(ROOT / "ssm-documents/run-recovery-plan.yaml")
    session = botocore.session.get_session()
    checked = 0
    for step in doc["mainSteps"]:
        if step["action"] not in ("aws:executeAwsApi", "aws:waitForAwsResourceProperty",
                                  "aws:assertAwsResourceProperty"):
            continue
        inputs = dict(step["inputs"])
        model = session.get_service_model(inputs.pop("Service"))
        operation = model.operation_model(inputs.pop("Api"))
        for key in ("PropertySelector", "DesiredValues"):
            inputs.pop(key, None)
        members = operation.input_shape.members
        for key in inputs:
            assert key in members, f"{step['name']}: {key} is not a {operation.name} member"
        for required in operation.input_shape.required_members:
            assert required in inputs, f"{step['name']}: {operation.name} needs {required}"
        for output in step.get("outputs", []):
            member = output["Selector"].removeprefix("$.")
            assert member in operation.output_shape.members
        checked += 1
    assert checked == 2


def test_runbook_starts_plans_through_the_api_function():
    """The StartPlan step invokes the API function with the internal event it accepts
    (api/src/runbook.rs), and no parameter value its patterns allow can break the JSON."""
    doc = load(ROOT / "ssm-documents/run-recovery-plan.yaml")
    step = next(s for s in doc["mainSteps"] if s["name"] == "StartPlan")
    assert step["action"] == "aws:invokeLambdaFunction"
    assert step["inputs"]["FunctionName"] == "{{ ApiFunctionName }}"
    params = doc["parameters"]
    hostile = 'Shop \'s plan {x} <y> ; $(rm) `z`'
    assert re.fullmatch(params["Confirm"]["allowedPattern"], hostile)
    for bad in ['a"b', "a\\b", "a\nb"]:
        assert not re.fullmatch(params["Confirm"]["allowedPattern"], bad), bad
    values = {"automation:EXECUTION_ID": "0123-abcd", "PlanId": "shop-dr", "Mode": "RECOVERY",
              "Confirm": hostile, "PollSeconds": "30"}
    payload = re.sub(r"\{\{ *([A-Za-z:_.]+) *\}\}", lambda m: values[m.group(1)], step["inputs"]["Payload"])
    event = json.loads(payload)
    assert event == {"internal": "startPlan", "automationExecutionId": "0123-abcd", "planId": "shop-dr",
                     "mode": "RECOVERY", "confirm": hostile, "pollSeconds": 30}
    assert step["outputs"][0]["Selector"] == "$.Payload.executionArn"


SHELL_SPECIAL = ["$", "`", '"', "\\", "\n"]
POWERSHELL_QUOTES = ["'", "\u2018", "\u2019", "\u201a", "\u201b", "\n"]


def can_hold(spec, chars):
    """Whether the parameter's allowedPattern lets a value contain any of `chars`."""
    pattern = spec.get("allowedPattern")
    return pattern is None or any(re.fullmatch(pattern, f"a{c}a") for c in chars)


@pytest.mark.parametrize("path", [p for p in DOCS if load(p)["schemaVersion"] == "2.2"],
                         ids=lambda p: p.stem)
def test_parameters_reach_scripts_as_data_not_code(path):
    """Every {{ parameter }} in a script is a heredoc / here-string body line of its own, or
    sits in quotes its allowedPattern cannot close or expand within."""
    doc = load(path)
    params = doc.get("parameters", {})
    for step in doc["mainSteps"]:
        powershell = step["action"] == "aws:runPowerShellScript"
        lines = step["inputs"]["runCommand"]
        for i, line in enumerate(lines):
            for name in PLACEHOLDER.findall(line):
                spec = params[name]
                body_line = line.strip() == f"{{{{ {name} }}}}"
                if powershell:
                    opened = i > 0 and lines[i - 1].rstrip().endswith("@'")
                    quoted = f"'{{{{ {name} }}}}'" in line and not can_hold(spec, POWERSHELL_QUOTES)
                else:
                    opened = i > 0 and re.search(r"<<'[A-Z_]+'$", lines[i - 1].rstrip()) is not None
                    quoted = (f'"{{{{ {name} }}}}"' in line or f"'{{{{ {name} }}}}'" in line) \
                        and not can_hold(spec, SHELL_SPECIAL + ["'"])
                assert (body_line and opened) or quoted, \
                    f"{path.name}: {{{{ {name} }}}} reaches the script as code: {line!r}"


def run_document(path, cwd=None, path_env=None, **values):
    """Renders the document's one runShellScript step as SSM would and runs it in bash
    (in the document's working directory, else `cwd`)."""
    doc = load(path)
    params = doc.get("parameters", {})
    for name, spec in params.items():
        value = values.get(name, spec.get("default"))
        assert value is not None, f"{name} is required"
        if "allowedPattern" in spec:
            assert re.fullmatch(spec["allowedPattern"], value), f"SSM would refuse {name}={value!r}"
        values[name] = value
    (step,) = doc["mainSteps"]
    script = "\n".join(step["inputs"]["runCommand"])
    script = PLACEHOLDER.sub(lambda m: values[m.group(1)], script)
    workdir = step["inputs"].get("workingDirectory")
    cwd = PLACEHOLDER.sub(lambda m: values[m.group(1)], workdir) if workdir else cwd
    env = dict(os.environ, PATH=path_env) if path_env else None
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60,
                          cwd=cwd, env=env)
    return done.returncode, done.stdout + done.stderr


class Site:
    """A local HTTP server: /health answers 200, anything else 404; every request line kept."""

    def __init__(self):
        self.requests = []
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                site.requests.append(self.path)
                self.send_response(200 if self.path.split("?")[0] == "/health" else 404)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]


@pytest.fixture
def site():
    s = Site()
    threading.Thread(target=s.server.serve_forever, daemon=True).start()
    yield s
    s.server.shutdown()


@pytest.fixture
def local_site(site):
    return site.port


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_linux_health_check_passes_for_a_listening_port_and_a_healthy_url(local_site):
    code, out = run_document(ROOT / "ssm-documents/linux-health-check.yaml",
                             ports=str(local_site), urls=f"http://127.0.0.1:{local_site}/health",
                             timeoutSeconds="5")
    assert code == 0, out
    assert f"ok      port {local_site}" in out and "(200)" in out


def test_linux_health_check_names_every_failed_check(local_site):
    dead = closed_port()
    code, out = run_document(ROOT / "ssm-documents/linux-health-check.yaml",
                             ports=f"{local_site} {dead}",
                             urls=f"http://127.0.0.1:{local_site}/missing",
                             services="drs-no-such-unit", timeoutSeconds="2")
    assert code == 1, out
    assert f"FAILED  port {dead}" in out
    assert "FAILED  url" in out and "404" in out
    assert "FAILED  service drs-no-such-unit" in out
    assert f"ok      port {local_site}" in out


def test_linux_health_check_takes_urls_with_query_strings_verbatim(site, tmp_path):
    # `&` and `?` are allowed in URLs; the list must reach curl word by word, not through the
    # shell's parser (`&` ends a command) or its globbing (`?` matches a file name).
    (tmp_path / "http:").mkdir()
    (tmp_path / "http:" / f"127.0.0.1:{site.port}").mkdir()
    (tmp_path / "http:" / f"127.0.0.1:{site.port}" / "healthXa=1").touch()
    url = f"http://127.0.0.1:{site.port}/health?a=1&b=2"
    code, out = run_document(ROOT / "ssm-documents/linux-health-check.yaml",
                             urls=f"{url} http://127.0.0.1:{site.port}/health?a=1",
                             timeoutSeconds="5", cwd=tmp_path)
    assert code == 0, out
    assert f"ok      url {url} (200)" in out, out
    assert site.requests == ["/health?a=1&b=2", "/health?a=1"], site.requests


def test_linux_health_check_passes_values_as_operands_not_options(site, tmp_path):
    # A value that starts with `-` is a unit or URL to check, never an option of systemctl
    # or curl: `-H…` would make systemctl ask another host, `-K file` make curl fetch
    # whatever URL the file names and report it as this one.
    config = tmp_path / "curlrc"
    config.write_text(f'url = "http://127.0.0.1:{site.port}/health"\n')
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "systemctl-calls"
    fake = bin_dir / "systemctl"
    fake.write_text(f'#!/bin/bash\nprintf "%s\\n" "$*" >> {calls}\nexit 3\n')
    fake.chmod(0o755)
    code, out = run_document(ROOT / "ssm-documents/linux-health-check.yaml",
                             services="-Hroot@127.0.0.1", urls=f"-K{config}",
                             timeoutSeconds="2", cwd=tmp_path,
                             path_env=f"{bin_dir}:{os.environ['PATH']}")
    assert code == 1, out
    assert f"FAILED  url -K{config}" in out, out
    assert site.requests == [], site.requests
    assert "is-active --quiet -- -Hroot@127.0.0.1" in calls.read_text(), calls.read_text()


def test_linux_app_validation_runs_the_command_verbatim_and_checks_its_output(tmp_path):
    doc = ROOT / "ssm-documents/linux-app-validation.yaml"
    code, out = run_document(doc, command="echo 'it''s' \"fine\"; echo rows=42",
                             expectedOutput="rows=[0-9]+", workingDirectory=str(tmp_path))
    assert code == 0, out
    assert "its fine" in out and "ok      application validated" in out

    code, out = run_document(doc, command="echo rows=none", expectedOutput="rows=[0-9]+",
                             workingDirectory=str(tmp_path))
    assert code == 1 and "does not match" in out, out

    code, out = run_document(doc, command="exit 3", workingDirectory=str(tmp_path))
    assert code == 1 and "exited 3" in out, out


def test_allowed_patterns_refuse_shell_injection():
    doc = load(ROOT / "ssm-documents/linux-health-check.yaml")
    for name in ("services", "ports", "urls"):
        pattern = doc["parameters"][name]["allowedPattern"]
        assert not re.fullmatch(pattern, "x; rm -rf /"), name
        assert not re.fullmatch(pattern, "$(id)"), name
