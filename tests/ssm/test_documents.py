"""The SSM documents in ssm-documents/: well-formed, every parameter declared and valid
against its own pattern, the runbook's AWS API calls real (botocore's models), and the
Linux documents actually run here in bash, passing and failing as they should.
(PowerShell is not available on this machine; the Windows documents get the static checks.)
"""

import http.server
import pathlib
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
    assert checked == 3


def run_document(path, **values):
    """Renders the document's one runShellScript step as SSM would and runs it in bash."""
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
    cwd = step["inputs"].get("workingDirectory")
    cwd = PLACEHOLDER.sub(lambda m: values[m.group(1)], cwd) if cwd else None
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, cwd=cwd)
    return done.returncode, done.stdout + done.stderr


@pytest.fixture
def local_site():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


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
