"""deploy.sh refuses bad input and a missing AWS CLI or credentials with a message that
says what is wrong, before touching anything."""

import os
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def deploy(*args, path=None, extra_env=None):
    env = {"HOME": os.environ.get("HOME", "/root"), "PATH": path or os.environ["PATH"]}
    env.update(extra_env or {})
    done = subprocess.run([str(ROOT / "deploy.sh"), *args], capture_output=True, text=True,
                          env=env, timeout=120)
    return done.returncode, done.stdout + done.stderr


GOOD = ["--stack", "drs", "--region", "eu-west-1", "--admin-email", "ops@example.com"]


def test_usage_without_a_command():
    code, out = deploy()
    assert code == 2
    assert "deploy.sh build" in out and "deploy.sh check" in out


@pytest.mark.parametrize("args, message", [
    (["--region", "eu-west-1", "--admin-email", "ops@example.com"], "--stack NAME is required"),
    (["--stack", "Prod_DR", "--region", "eu-west-1", "--admin-email", "ops@example.com"], "--stack 'Prod_DR'"),
    (["--stack", "drs", "--admin-email", "ops@example.com"], "--region is required"),
    (["--stack", "drs", "--region", "eu-west-1"], "--admin-email is required"),
    (["--stack", "drs", "--region", "eu-west-1", "--admin-email", "not-an-email"], "'not-an-email' is not an email address"),
    (GOOD + ["--mfa", "SOMETIMES"], "--mfa 'SOMETIMES' must be OPTIONAL or ON"),
    (GOOD + ["--colour", "blue"], "unknown option '--colour'"),
])
def test_bad_arguments_are_named(args, message):
    code, out = deploy("deploy", *args)
    assert code == 1
    assert message in out, out


def test_a_missing_aws_cli_is_reported():
    code, out = deploy("deploy", *GOOD, path="/usr/bin:/bin")
    assert code == 1
    assert "the AWS CLI is not installed" in out, out


@pytest.mark.skipif(shutil.which("aws") is None, reason="needs the AWS CLI to reach the credentials check")
def test_missing_credentials_are_reported(tmp_path):
    code, out = deploy("deploy", *GOOD, extra_env={
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    })
    assert code == 1
    assert "no AWS credentials for region eu-west-1" in out, out
