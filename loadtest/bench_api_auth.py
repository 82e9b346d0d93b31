"""What authentication costs the posts API: GET /api/posts/ with a cached valid token against the
same list with authentication switched off, measured in one run, through nginx, on a throwaway stack.

The stack is started with BENCHMARK_ROUTES=1, which mounts the list without authentication at
/api/_bench/noauth/posts/ (never enabled by `make up` or Compose). Both variants return the same
page of 20 posts; the only difference is the bearer-token check (one Redis MGET on a cache hit).
Variants are measured in interleaved rounds (best kept) by locust's FastHttpUser in this process,
so the ratio is the result; the absolute numbers belong to this machine.

    python -m loadtest.bench_api_auth [--duration 10] [--rounds 3] [--users 16]
"""

# loadtest.bench imports locust, which patches the standard library for gevent: it must come first.
from loadtest.bench import Variant, peak, seed_posts, throwaway_stack  # isort: skip

import argparse

import requests

TARGET = 0.85  # authentication may cost at most 15% of the throughput

OVERRIDES = {
    "BENCHMARK_ROUTES": "1",
    # One token serves the whole run.
    "ACCESS_TOKEN_EXPIRE_SECONDS": "3600",
    # A worker recycled mid-run would take its CPU time with it (and pay a restart).
    "GUNICORN_MAX_REQUESTS": "0",
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10, help="seconds per measurement (after 2 s warm-up)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--users", type=int, default=16, help="concurrent closed-loop users")
    args = parser.parse_args()

    with throwaway_stack(OVERRIDES) as stack:
        seed_posts(stack)
        answer = requests.post(f"{stack.url}/o/token/", data={"grant_type": "client_credentials", "scope": "read"},
                               auth=(stack.env["LOADTEST_CLIENT_ID"], stack.env["LOADTEST_CLIENT_SECRET"]), timeout=10)
        answer.raise_for_status()
        bearer = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        cached = Variant("api_cached", "GET /api/posts/, token cached in Redis", "cached", "GET", "/api/posts/",
                         headers=bearer)
        noauth = Variant("api_noauth", "GET /api/_bench/noauth/posts/, no authentication", "no auth", "GET",
                         "/api/_bench/noauth/posts/")
        for variant in (cached, noauth):  # both answer, and the token is in the cache before measuring
            response = requests.get(stack.url + variant.path, headers=variant.headers, timeout=10)
            assert response.status_code == 200, f"{variant.path}: {response.status_code} {response.text[:200]}"
        results = peak([cached, noauth], stack, args.users, args.duration, args.rounds)

    with_token, without = results["api_cached"], results["api_noauth"]
    ratio = with_token.rps / without.rps
    # CPU time of the stack per request is hardly moved by whatever else runs on the machine.
    cpu_ratio = without.cpu_ms / with_token.cpu_ms
    print(f"\nGET /api/posts/ through nginx, {args.users} users, best of {args.rounds} rounds of {args.duration:.0f} s:")
    print(f"  cached token       {with_token.rps:8.1f} req/s  {with_token.cpu_ms:6.2f} CPU ms/request")
    print(f"  no authentication  {without.rps:8.1f} req/s  {without.cpu_ms:6.2f} CPU ms/request")
    print(f"  ratio              {ratio:8.3f}  (from CPU time per request: {cpu_ratio:.3f}; "
          f"target >= {TARGET}) {'OK' if ratio >= TARGET else 'MISSED'}")


if __name__ == "__main__":
    main()
