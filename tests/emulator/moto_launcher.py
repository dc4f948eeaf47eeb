#!/usr/bin/env python3
"""Run moto server with Step Functions execution on and the AWS-fidelity patches applied.

    python tests/emulator/moto_launcher.py --port P --engine-port E [--host 127.0.0.1]

moto listens on P. Its Step Functions engine sends every `aws-sdk:*` and optimized
integration call to http://localhost:$MOTO_PORT, so MOTO_PORT is set to E: in the full
setup the DRS simulator owns E and forwards everything that is not DRS back to P. Without
the simulator pass E == P and the engine calls moto directly.

Prints one line, `READY http://HOST:P`, once it accepts connections; SIGTERM or SIGINT
stops it. Lambda functions do not run: moto returns scripted results instead (see below).
"""

import argparse
import ipaddress
import logging
import os
import signal
import sys
from pathlib import Path


def _loopback(host: str) -> str:
    # Only ever serve the local machine: the emulator has no authentication at all.
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise argparse.ArgumentTypeError(f"{host} is not a loopback address")
    return host


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="port moto listens on")
    parser.add_argument(
        "--engine-port",
        type=int,
        required=True,
        help="port the Step Functions engine sends service calls to (the DRS simulator, or --port)",
    )
    parser.add_argument("--host", type=_loopback, default="127.0.0.1")
    return parser.parse_args(argv)


def _stop(signum, frame):  # noqa: ARG001 - signal handler signature
    # Unwinds serve_forever() in the main thread; the finally below closes the socket.
    raise SystemExit(0)


def main(argv: list[str]) -> int:
    args = _parse_args(argv)
    # Read by moto.settings.moto_server_port() on every engine call, so set it before
    # anything runs; nothing else in moto server mode depends on it.
    os.environ["MOTO_PORT"] = str(args.engine_port)
    # The engine's calls go to localhost; a proxy configured for the caller must not see them.
    no_proxy = os.environ.get("NO_PROXY") or os.environ.get("no_proxy") or ""
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = ",".join(
        filter(None, [no_proxy, "localhost", "127.0.0.1"])
    )

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import moto_patches
    from moto.core.config import default_user_config
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    moto_patches.apply()
    # In-process equivalent of POST {"stepfunctions": {"execute_state_machine": true}}
    # to /moto-api/config: executions run the ASL interpreter instead of a canned history.
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    # There is no Docker here to run Lambda code in. Without Docker, moto answers an
    # invoke with the next result queued at /moto-api/static/lambda-simple/response
    # (or echoes the payload), which is what `arn:aws:states:::lambda:invoke` tasks need.
    default_user_config["lambda"] = {"use_docker": False}
    # One access-log line per request on stderr drowns everything else out.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    app = DomainDispatcherApplication(create_backend_app)
    # make_server binds and listens before returning, so connections queue from here on.
    server = make_server(
        args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler
    )
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"READY http://{args.host}:{args.port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
