"""`make up|down|ps|logs|clean`: the Docker Compose stack when an engine answers, else the local one.

    python -m stack up|down|ps|logs|clean [--stack auto|compose|local] [--scale SERVICE=N ...] [--yes]
    python -m stack oidc-keys list|rotate|retire [--all]|activate KID [--stack ...]   (`manage.py oidc_keys`)
"""

import argparse
import shutil
import subprocess
import sys

from stack.compose import ComposeStack, compose_command, engine_answers
from stack.envfile import ensure_env_file
from stack.local import ROOT, LocalStack, Ports, print_welcome

LOCAL_STATE = ROOT / ".state"


def local(command: str):
    subprocess.run([sys.executable, "-m", "stack.local", command], cwd=ROOT, check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "down", "ps", "logs", "clean", "oidc-keys"])
    parser.add_argument("action", nargs="?", choices=["list", "rotate", "retire", "activate"],
                        help="oidc-keys only: what to do with the ID-token signing keys")
    parser.add_argument("kid", nargs="?", help="oidc-keys activate: the previous key to sign with again")
    parser.add_argument("--all", action="store_true", help="oidc-keys retire: every previous key, now")
    parser.add_argument("--stack", choices=["auto", "compose", "local"], default="auto")
    parser.add_argument("--scale", nargs="*", default=[], metavar="SERVICE=N",
                        help="replicas per service (Compose only), e.g. resource_api=3 auth_server=2")
    parser.add_argument("--yes", action="store_true", help="clean without asking")
    args = parser.parse_args()

    use_compose = args.stack == "compose" or (args.stack == "auto" and compose_command() and engine_answers())
    if args.stack == "compose" and args.command == "up" and not (compose_command() and engine_answers()):
        # Installs Docker and starts an engine as root on Debian; elsewhere says what to run.
        if subprocess.run([str(ROOT / "docker" / "ensure-engine.sh")]).returncode:
            sys.exit(1)
    if args.stack == "compose" and not compose_command():
        sys.exit("Docker Compose is not installed (Debian: apt-get install docker.io docker-compose)")
    compose = ComposeStack()

    if args.command == "up" and use_compose:
        compose.up({service: int(n) for service, n in (s.split("=", 1) for s in args.scale)})
        print_welcome("The Compose stack", compose.url, compose.env, compose.prometheus_url)
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
    elif args.command == "oidc-keys":
        oidc_keys(compose if use_compose else None,
                  [args.action or "list", *([args.kid] if args.kid else []), *(["--all"] if args.all else [])])
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


def oidc_keys(compose: ComposeStack | None, argv: list[str]):
    """`manage.py oidc_keys …` where the key lives: for Compose in a one-off auth_server_setup container
    (the one service that mounts the key volume writable), else against .state/."""
    if compose:
        compose.run("run", "--rm", "--no-deps", "-T", "auth_server_setup", "python", "manage.py", "oidc_keys", *argv)
        return
    env = ensure_env_file(ROOT / ".env")
    done = LocalStack(LOCAL_STATE, env, Ports(public=int(env["PUBLIC_PORT"]))).manage(
        "auth_server", "oidc_keys", *argv, check=False)
    print(done.stdout + done.stderr, end="")
    if done.returncode:
        sys.exit(done.returncode)


if __name__ == "__main__":
    main()
