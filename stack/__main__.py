"""`make up|down|ps|logs|clean`: the Docker Compose stack when an engine answers, else the local one.

    python -m stack up|down|ps|logs|clean [--stack auto|compose|local] [--scale SERVICE=N ...] [--yes]
"""

import argparse
import shutil
import subprocess
import sys

from stack.compose import ComposeStack, compose_command, engine_answers
from stack.local import ROOT, print_welcome

LOCAL_STATE = ROOT / ".state"


def local(command: str):
    subprocess.run([sys.executable, "-m", "stack.local", command], cwd=ROOT, check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "down", "ps", "logs", "clean"])
    parser.add_argument("--stack", choices=["auto", "compose", "local"], default="auto")
    parser.add_argument("--scale", nargs="*", default=[], metavar="SERVICE=N",
                        help="replicas per service (Compose only), e.g. resource_api=3 auth_server=2")
    parser.add_argument("--yes", action="store_true", help="clean without asking")
    args = parser.parse_args()

    use_compose = args.stack == "compose" or (args.stack == "auto" and compose_command() and engine_answers())
    if args.stack == "compose" and not compose_command():
        sys.exit("Docker Compose is not installed (Debian: apt-get install docker.io docker-compose)")
    compose = ComposeStack()

    if args.command == "up" and use_compose:
        compose.up({service: int(n) for service, n in (s.split("=", 1) for s in args.scale)})
        print_welcome("The Compose stack", compose.url, compose.env)
    elif args.command == "up":
        local("up")
    elif args.command == "down":
        if use_compose:
            compose.down()
        # The local stack too if it runs (started with STACK=local while an engine answers).
        if not use_compose or any((LOCAL_STATE / "run").glob("*.pid")):
            local("down")
    elif args.command == "ps" and use_compose:
        compose.run("ps")
    elif args.command == "ps":
        local("status")
    elif args.command == "logs":
        if use_compose:
            subprocess.run(compose.argv("logs", "--follow", "--tail=100"), env=compose.environ)
        else:
            subprocess.run(["tail", "-n", "20", "-F", *map(str, (LOCAL_STATE / "logs").glob("*.log"))])
    elif args.command == "clean":
        what = "the Compose stack's volumes and .state/" if use_compose else ".state/"
        if not args.yes and input(f"Delete all data of the stack ({what}): database, Redis, OIDC key? [y/N] ") != "y":
            sys.exit("nothing deleted")
        if (LOCAL_STATE / "run").exists():
            local("down")
        shutil.rmtree(LOCAL_STATE, ignore_errors=True)
        if use_compose:
            compose.down(volumes=True)
        print("data deleted; `make up` starts afresh (.env is kept)")


if __name__ == "__main__":
    main()
