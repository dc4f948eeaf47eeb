"""Fixtures: moto started through moto_launcher.py, and a scripted DRS stand-in.

`moto` is the emulator as the task runs it without the DRS simulator: the engine calls
moto itself (engine port == moto port). `drs_moto` is a second emulator whose engine port
is `drs_stub`, a tiny HTTP server that answers DRS calls from a script, so the tests can
see what the engine sends to DRS and how it reads DRS's answers and errors.
"""

import json
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest

from machines import approval_machine

LAUNCHER = Path(__file__).with_name("moto_launcher.py")
REGION = "us-east-1"
ROLE_ARN = "arn:aws:iam::123456789012:role/orchestrator"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Emulator:
    """A running launcher plus the helpers every test needs."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        self.sfn = self.client("stepfunctions")

    def client(self, service: str, config=None):
        return self.session.client(service, endpoint_url=self.endpoint, config=config)

    def create(self, definition: dict) -> str:
        return self.sfn.create_state_machine(
            name=f"m-{uuid.uuid4().hex[:12]}",
            definition=json.dumps(definition),
            roleArn=ROLE_ARN,
        )["stateMachineArn"]

    def start(self, machine_arn: str, payload=None) -> str:
        return self.sfn.start_execution(
            stateMachineArn=machine_arn, input=json.dumps(payload or {})
        )["executionArn"]

    def wait(self, execution_arn: str, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            if time.monotonic() > deadline:
                raise AssertionError(f"{execution_arn} still RUNNING after {timeout}s")
            time.sleep(0.05)

    def finish(self, execution_arn: str, timeout: float = 10.0) -> dict:
        """DescribeExecution once the execution has ended, with `output` parsed."""
        described = self.wait(execution_arn, timeout)
        if "output" in described:
            described["output"] = json.loads(described["output"])
        return described

    def run(self, definition: dict, payload=None, timeout: float = 10.0) -> dict:
        return self.finish(self.start(self.create(definition), payload), timeout)

    def history(self, execution_arn: str) -> list[dict]:
        paginator = self.sfn.get_paginator("get_execution_history")
        return [e for page in paginator.paginate(executionArn=execution_arn) for e in page["events"]]


def _launch(port: int, engine_port: int, log_path: Path):
    log = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, str(LAUNCHER), "--port", str(port), "--engine-port", str(engine_port)],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    # Read stdout on a thread until it closes: the wait for READY stays bounded, and
    # anything printed later cannot fill the pipe and block the server.
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for line in process.stdout:
            lines.append(line)
            ready.set()

    threading.Thread(target=read, daemon=True).start()
    ready.wait(30)
    expected = f"READY http://127.0.0.1:{port}"
    if not lines or lines[0].strip() != expected:
        process.kill()
        raise RuntimeError(f"launcher did not report {expected!r}: {lines}\n{log_path.read_text()}")
    return process, log


def _stop(process, log) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()
    return process.returncode


@pytest.fixture(scope="session")
def moto(tmp_path_factory):
    port = _free_port()
    process, log = _launch(port, port, tmp_path_factory.mktemp("moto") / "moto.log")
    yield Emulator(f"http://127.0.0.1:{port}")
    assert _stop(process, log) == 0, "launcher did not exit cleanly on SIGTERM"


class DrsStub:
    """Answers DRS calls (rest-json, `POST /<Operation>`) from a script, recording each."""

    def __init__(self):
        self.requests: list[tuple[str, dict]] = []
        self._script: dict[str, deque] = {}
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                operation = self.path.strip("/").split("/")[0].split("?")[0]
                stub.requests.append((operation, json.loads(body or b"{}")))
                queue = stub._script.get(operation)
                status, error_type, payload = queue.popleft() if queue else (200, None, {})
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if error_type:
                    self.send_header("x-amzn-ErrorType", error_type)
                # No x-amzn-RequestId on purpose: moto must cope without one.
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):  # keep pytest output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def script(self, operation: str, *answers) -> None:
        """Queue answers for an operation: (status, error type or None, JSON body)."""
        self._script.setdefault(operation, deque()).extend(answers)

    def reset(self) -> None:
        self.requests.clear()
        self._script.clear()

    def operations(self) -> list[str]:
        return [operation for operation, _ in self.requests]


@pytest.fixture(scope="session")
def drs_stub():
    stub = DrsStub()
    yield stub
    stub.server.shutdown()
    stub.server.server_close()


@pytest.fixture(scope="session")
def drs_moto(drs_stub, tmp_path_factory):
    port = _free_port()
    process, log = _launch(port, drs_stub.port, tmp_path_factory.mktemp("drs") / "moto.log")
    yield Emulator(f"http://127.0.0.1:{port}")
    assert _stop(process, log) == 0, "launcher did not exit cleanly on SIGTERM"


@pytest.fixture
def drs(drs_moto, drs_stub):
    drs_stub.reset()
    return drs_moto, drs_stub


def token_table(moto, prefix: str) -> str:
    """A new on-demand table keyed by `pk` (S), where machines put their task tokens."""
    table = f"{prefix}-{uuid.uuid4().hex[:8]}"
    moto.client("dynamodb").create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return table


@pytest.fixture
def approval(moto):
    """Starts an approval execution; returns its ARN and the task token it stored."""
    dynamodb = moto.client("dynamodb")
    table = token_table(moto, "approvals")

    def start(timeout_seconds: int) -> tuple[str, str]:
        execution = moto.start(moto.create(approval_machine(table, timeout_seconds)))
        key = {"pk": {"S": execution.rsplit(":", 1)[1]}}
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            item = dynamodb.get_item(TableName=table, Key=key).get("Item")
            if item:
                return execution, item["token"]["S"]
            time.sleep(0.05)
        raise AssertionError(f"{execution} stored no task token in {table}")

    return start
