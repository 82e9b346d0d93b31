"""`make bench-instructions`: CPU instructions per token request, counted, beside another commit's.

On these shared VMs a process's speed swings by ±30 % from minute to minute, which hides a 5 %
change in `make bench`. valgrind's callgrind counts the instructions a process executes instead:
the same code on the same input gives the same count to within a fraction of a percent, whatever
else the machine is doing. This drives the auth server's Django (its WSGI handler, in one process:
no gunicorn, nginx or network) with client-credentials token requests against a throwaway stack's
Postgres, warms up, and counts the instructions of `--requests` more: for this checkout and, with
`--against REF`, for that commit too (checked out in a temporary git worktree), with the ratio.

Instructions are not time (a cache miss or a system call weighs more than its count), and
Postgres's own work is in another process, not in the count: a change that saves a statement saves
more than it shows here. Both commits must have the same migrations: the stack's schema is this
checkout's.

    python -m loadtest.instructions [--against REF] [--requests 200]
"""

import argparse
import base64
import gc
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

WARM_UP = 100


def drive(requests: int):
    """Runs under callgrind, in auth_server's directory: counted token requests after a warm-up."""
    sys.path.insert(0, os.getcwd())
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler

    app, body = WSGIHandler(), b"grant_type=client_credentials&scope=read"
    credentials = f"{os.environ['LOADTEST_CLIENT_ID']}:{os.environ['LOADTEST_CLIENT_SECRET']}".encode()
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/o/token/", "SCRIPT_NAME": "", "QUERY_STRING": "",
        "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "localhost",
        "REMOTE_ADDR": "127.0.0.1", "HTTP_X_REQUEST_ID": "instructions", "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr, "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)), "HTTP_AUTHORIZATION": "Basic " + base64.b64encode(credentials).decode(),
    }

    def token_request():
        def start_response(status, headers):
            if not status.startswith("200"):
                raise SystemExit(f"token request answered {status}")

        response = app({**environ, "wsgi.input": io.BytesIO(body)}, start_response)
        b"".join(response)
        response.close()

    for _ in range(WARM_UP):
        token_request()
    # As a gunicorn worker does after start-up (gunicorn.conf.py): what is loaded by now stays, and a
    # full collection scanning it would land in whichever count it happens to fall.
    gc.collect()
    gc.freeze()
    # Only the requests below are counted (valgrind runs with --instr-atstart=no).
    subprocess.run(["callgrind_control", "--instr=on", str(os.getpid())], check=True, capture_output=True)
    for _ in range(requests):
        token_request()
    subprocess.run(["callgrind_control", "--instr=off", str(os.getpid())], check=True, capture_output=True)


def count(auth_server: Path, env: dict[str, str], requests: int) -> float:
    """Millions of instructions per token request of the auth server in `auth_server`."""
    with tempfile.TemporaryDirectory() as out:
        run = subprocess.run(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}/callgrind.out",
             sys.executable, "-m", "loadtest.instructions", "--drive", str(requests)],
            cwd=auth_server, env={**env, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
            capture_output=True, text=True,
        )
    collected = re.search(r"Collected : (\d+)", run.stderr)
    if run.returncode or not collected:
        raise SystemExit(f"counting failed in {auth_server}:\n{run.stderr[-3000:]}")
    return int(collected.group(1)) / requests / 1e6


def worktree(ref: str, root: Path) -> Path:
    if subprocess.run(["git", "diff", "--quiet", ref, "--", "auth_server/oauth/migrations"], cwd=root).returncode:
        raise SystemExit(f"{ref} has other migrations than this checkout: its code would not fit the schema")
    path = Path(tempfile.mkdtemp(prefix="oauth-instructions-"))
    subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(path), ref], cwd=root, check=True)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", metavar="REF", help="also count this commit (a branch, tag or hash)")
    parser.add_argument("--requests", type=int, default=200, help="counted token requests (after 100 uncounted)")
    parser.add_argument("--drive", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        return drive(args.drive)

    from loadtest.bench import throwaway_stack
    from stack.local import ROOT

    if not shutil.which("valgrind"):
        raise SystemExit("valgrind not found (Debian: apt-get install valgrind)")
    checkouts = {"this checkout": ROOT}
    if args.against:
        checkouts[args.against] = worktree(args.against, ROOT)
    try:
        with throwaway_stack({}) as stack:
            # Only its Postgres is used: the other services would take CPU from the count's run.
            for service in ("consumer_demo", "resource_api", "auth_server"):
                stack.stop_service(service)
            env = stack.service_env("auth_server", bootstrap=True)  # with the load-test client
            counts = {name: count(path / "auth_server", env, args.requests) for name, path in checkouts.items()}
    finally:
        for name, path in checkouts.items():
            if path != ROOT:
                subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT, check=False)
    for name, millions in counts.items():
        print(f"{name:>24}: {millions:.3f} million instructions per token request")
    if args.against:
        print(f"{'ratio':>24}: {counts['this checkout'] / counts[args.against]:.3f} (this checkout / {args.against})")


if __name__ == "__main__":
    main()
