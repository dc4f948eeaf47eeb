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


@pytest.mark.skipif(shutil.which("aws") is None, reason="needs the AWS CLI's package command")
def test_package_uploads_every_local_artifact(tmp_path):
    """The `aws cloudformation package` step of deploy, against moto's S3: every nested
    template, Lambda zip and SSM document is uploaded and referenced by S3 URL."""
    import json
    import re

    import boto3
    import yaml
    from moto.server import ThreadedMotoServer

    build = ROOT / "build" / "lambda"
    if not all((build / f"{n}.zip").exists() for n in ("api", "probe", "custom-resource")):
        # The zips' contents do not matter to packaging; stand-ins keep this test
        # independent of `deploy.sh build`.
        build = tmp_path / "lambda"
        build.mkdir()
        for name in ("api", "probe", "custom-resource"):
            (build / f"{name}.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "templates", tree / "templates")
    shutil.copytree(ROOT / "ssm-documents", tree / "ssm-documents")
    # The launch events machine's definition (aslgen's), uploaded as DefinitionS3Location.
    (tree / "statemachines").mkdir()
    shutil.copy(ROOT / "statemachines" / "launch-events.asl.json", tree / "statemachines")
    shutil.copytree(build, tree / "build" / "lambda")

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint,
               "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_EC2_METADATA_DISABLED": "true",
               "HOME": str(tmp_path), "PATH": os.environ["PATH"]}
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
        s3.create_bucket(Bucket="artifacts")
        out = tmp_path / "packaged.yaml"
        done = subprocess.run(
            ["aws", "cloudformation", "package", "--template-file", str(tree / "templates/master.yaml"),
             "--s3-bucket", "artifacts", "--output-template-file", str(out)],
            capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr

        def load(text):
            class Loader(yaml.SafeLoader):
                pass
            Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
            return yaml.load(text, Loader=Loader)

        def body(url):
            key = re.sub(r"^https?://[^/]+/artifacts/", "", url)
            return s3.get_object(Bucket="artifacts", Key=key)["Body"].read()

        master = load(out.read_text())
        nested = {name: r["Properties"]["TemplateURL"] for name, r in master["Resources"].items()
                  if r["Type"] == "AWS::CloudFormation::Stack"}
        assert sorted(nested) == ["Api", "Auth", "Data", "Frontend", "Orchestration", "Ssm"]
        code, includes, definitions = [], [], []
        for name, url in nested.items():
            assert url.startswith("http"), f"{name}: {url}"
            template = load(body(url).decode())
            for resource in template["Resources"].values():
                props = resource.get("Properties") or {}
                if resource["Type"] == "AWS::Lambda::Function":
                    code.append(props["Code"])
                if resource["Type"] == "AWS::SSM::Document":
                    includes.append(props["Content"]["Fn::Transform"]["Parameters"]["Location"])
                if resource["Type"] == "AWS::StepFunctions::StateMachine":
                    definitions.append(props["DefinitionS3Location"])
        assert len(code) == 5 and all(set(c) == {"S3Bucket", "S3Key"} for c in code), code
        assert len(includes) == 5 and all(i.startswith("s3://artifacts/") for i in includes), includes
        # The uploaded document bodies are the files in ssm-documents/.
        uploaded = {s3.get_object(Bucket="artifacts", Key=i.removeprefix("s3://artifacts/"))["Body"].read()
                    for i in includes}
        assert uploaded == {p.read_bytes() for p in (ROOT / "ssm-documents").glob("*.yaml")}
        # The launch events machine's definition is aslgen's file, uploaded.
        assert [set(d) for d in definitions] == [{"Bucket", "Key"}], definitions
        assert s3.get_object(Bucket="artifacts", Key=definitions[0]["Key"])["Body"].read() == \
            (ROOT / "statemachines" / "launch-events.asl.json").read_bytes()
        assert json.dumps(master).find("../") == -1
    finally:
        server.stop()
