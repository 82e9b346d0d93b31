"""`make bench-growth`: token tables with 1,000,000 expired tokens, and `cleartokens` under traffic.

On a throwaway stack (as `make bench`), through nginx:

 1. measures issuing (client-credentials grant) and validating (RFC 7662 introspection, what the
    posts API calls on a cache miss) on the fresh tables;
 2. inserts 1,000,000 expired access tokens with one SQL statement (generate_series);
 3. measures issuing and validating again: both look tokens up by unique indexes, so the numbers
    should not move;
 4. runs `manage.py cleartokens` while clients keep asking for tokens, and records throughput and
    latency second by second: DOT deletes in batches of CLEAR_EXPIRED_TOKENS_BATCH_SIZE with
    CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL seconds between them, and the expired rows are found
    through the index on `expires` that this project adds to DOT's token model.

Writes loadtest/reports/growth.md and growth.png.

    python -m loadtest.growth [--tokens 1000000] [--duration 10] [--users 16]
"""

from loadtest.bench import BENCH_OVERRIDES, REPORTS, Meter, Result, Variant, load, machine, measure, throwaway_stack  # isort: skip

import argparse
import time
from collections import Counter

import gevent
import psycopg
import redis
import requests
from locust.stats import calculate_response_time_percentile

from common.revocation import REVOKED_PREFIX
from loadtest import steal
from stack.local import LocalStack

INSERT_EXPIRED = """
INSERT INTO oauth_accesstoken (token, token_checksum, expires, scope, resource, created, updated, application_id)
SELECT 'expired-' || n, encode(sha256(('expired-' || n)::bytea), 'hex'),
       now() - interval '1 day' - n * interval '1 second', 'read', '[]'::jsonb,
       now() - interval '2 days', now() - interval '2 days',
       (SELECT id FROM oauth_application WHERE client_id = %(client_id)s)
FROM generate_series(1, %(count)s) AS n
"""


def auth_db(stack: LocalStack) -> psycopg.Connection:
    return psycopg.connect(stack.database_url("auth"), autocommit=True)


def expired_count(stack: LocalStack) -> int:
    with auth_db(stack) as db:
        return db.execute("SELECT count(*) FROM oauth_accesstoken WHERE expires < now()").fetchone()[0]


def revocation_markers(stack: LocalStack) -> int:
    """How many revocation events the auth server has published (their revocation markers)."""
    return sum(1 for _ in redis.Redis.from_url(stack.redis_url()).scan_iter(match=f"{REVOKED_PREFIX}*", count=1000))


def during_cleartokens(variant: Variant, stack: LocalStack, users: int, calm: float = 10):
    """Token traffic before, during and after `cleartokens`: a per-second timeline and both results."""
    timeline: list[tuple[float, int, int]] = []  # (seconds since start, requests, p99 ms) per second
    with load(variant, stack, users) as env:
        start = time.monotonic()
        seen = Counter()

        def sample():
            nonlocal seen
            gevent.sleep(1)
            now = Counter(env.stats.total.response_times)
            second = now - seen
            count = sum(second.values())
            timeline.append((time.monotonic() - start, count,
                             calculate_response_time_percentile(second, count, 0.99) if count else 0))
            seen = now

        before = Meter(env, stack)
        while time.monotonic() - start < calm:
            sample()
        baseline = before.result()
        window = [time.monotonic() - start]
        during = Meter(env, stack)  # resets the statistics
        seen = Counter()
        job = gevent.spawn(stack.manage, "auth_server", "cleartokens")
        while not job.ready():
            sample()
        window.append(time.monotonic() - start)
        result = during.result()
        for _ in range(int(calm)):
            sample()
    job.get()  # raises if cleartokens failed
    return timeline, window, baseline, result


def chart(timeline, window, png):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 4.5))
    xs = [t for t, _, _ in timeline]
    ax.plot(xs, [r for _, r, _ in timeline], color="#2f7ed8", label="tokens issued per second")
    ax.axvspan(*window, color="#f28f43", alpha=0.2, label="cleartokens deleting 1,000,000 expired tokens")
    ax.set_xlabel("seconds")
    ax.set_ylabel("requests/s")
    ax.set_ylim(bottom=0)
    ax2 = ax.twinx()
    ax2.plot(xs, [p for _, _, p in timeline], color="#910000", alpha=0.6, linestyle=":", label="p99 ms of that second")
    ax2.set_ylabel("p99 latency, ms")
    ax2.set_ylim(bottom=0)
    lines = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    fig.legend(lines, [line.get_label() for line in lines], loc="lower center", ncol=3)
    ax.set_title("Token endpoint while cleartokens removes expired tokens")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(png, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--duration", type=float, default=10, help="seconds per measurement")
    parser.add_argument("--users", type=int, default=16)
    args = parser.parse_args()
    REPORTS.mkdir(exist_ok=True)
    info, cpu_at_start = machine(), steal.cpu_times()

    with throwaway_stack(BENCH_OVERRIDES) as stack:
        env = stack.env
        loadtest_client = (env["LOADTEST_CLIENT_ID"], env["LOADTEST_CLIENT_SECRET"])
        grant = {"grant_type": "client_credentials", "scope": "read"}
        token = requests.post(f"{stack.url}/o/token/", data=grant, auth=loadtest_client, timeout=10).json()
        variants = [
            Variant("issue", "issue a token (client credentials)", "issue", "POST", "/o/token/", grant,
                    loadtest_client),
            Variant("validate", "validate a token (introspection)", "validate", "POST", "/o/introspect/",
                    {"token": token["access_token"]}, (env["API_CLIENT_ID"], env["API_CLIENT_SECRET"])),
        ]

        def both() -> dict[str, Result]:
            results = {v.key: measure(v, stack, args.users, args.duration) for v in variants}
            for v in variants:
                r = results[v.key]
                print(f"  {v.label:40} {r.rps:7.1f} req/s  p99 {r.p99:5.0f} ms  {r.cpu_ms:.2f} CPU ms/request  "
                      f"failures {r.failures}", flush=True)
            return results

        print("fresh tables", flush=True)
        fresh = both()
        print(f"inserting {args.tokens:,} expired access tokens ...", flush=True)
        began = time.monotonic()
        with auth_db(stack) as db:
            db.execute(INSERT_EXPIRED, {"client_id": env["LOADTEST_CLIENT_ID"], "count": args.tokens})
            db.execute("ANALYZE oauth_accesstoken")
        inserted_in = time.monotonic() - began
        rows = expired_count(stack)
        print(f"  {rows:,} expired tokens in the table ({inserted_in:.0f} s)", flush=True)
        print("with the expired tokens", flush=True)
        grown = both()
        print("cleartokens under token traffic", flush=True)
        markers = revocation_markers(stack)
        timeline, window, baseline, during = during_cleartokens(variants[0], stack, args.users)
        left = expired_count(stack)
        published = revocation_markers(stack) - markers
        print(f"  cleartokens took {window[1] - window[0]:.0f} s, {left:,} expired tokens left; token endpoint "
              f"{baseline.rps:.0f} req/s before, {during.rps:.0f} req/s during (p99 {baseline.p99:.0f} → "
              f"{during.p99:.0f} ms, failures {during.failures}); revocation events published: {published}", flush=True)
        settings_used = stack.manage("auth_server", "shell", "--no-imports", "-c", (
            "from oauth2_provider.settings import oauth2_settings as s; "
            "print(s.CLEAR_EXPIRED_TOKENS_BATCH_SIZE, s.CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL)")).stdout.split()

    png, md = REPORTS / "growth.png", REPORTS / "growth.md"
    chart(timeline, window, png)
    lines = [
        "# Growth: 1,000,000 expired tokens", "",
        f"`make bench-growth` on {time.strftime('%Y-%m-%d %H:%M %Z')}, through nginx, {args.users} closed-loop "
        f"users, {args.duration:.0f} s per measurement. {rows:,} expired access tokens inserted in "
        f"{inserted_in:.0f} s (one `INSERT … SELECT … generate_series`).", "",
        "| | fresh tables req/s | p99 ms | with 1M expired req/s | p99 ms | ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for v in variants:
        a, b = fresh[v.key], grown[v.key]
        lines.append(f"| {v.label} | {a.rps:,.1f} | {a.p99:.0f} | {b.rps:,.1f} | {b.p99:.0f} | {b.rps / a.rps:.2f}× |")
    lines += [
        "", "## cleartokens under traffic", "",
        f"`manage.py cleartokens` (batches of {settings_used[0]} rows, {settings_used[1]} s apart) removed "
        f"{rows - left:,} expired tokens in {window[1] - window[0]:.0f} s ({left:,} left) while clients kept "
        f"asking for tokens. Revocation events published for them: {published} (expired tokens are skipped).", "",
        "| token endpoint | req/s | p50 ms | p99 ms | failures |", "| --- | ---: | ---: | ---: | ---: |",
        f"| before cleartokens | {baseline.rps:,.1f} | {baseline.p50:.0f} | {baseline.p99:.0f} | {baseline.failures} |",
        f"| during cleartokens | {during.rps:,.1f} | {during.p50:.0f} | {during.p99:.0f} | {during.failures} |",
        "", f"![token endpoint during cleartokens]({png.name})", "",
    ]
    info["CPU steal during the run"] = steal.describe(steal.steal_percent(cpu_at_start))
    lines += ["## Machine", "", "| | |", "| --- | --- |", *[f"| {k} | {v} |" for k, v in info.items()], ""]
    md.write_text("\n".join(lines))
    print("\n".join(lines) + f"\nwritten: {md}, {png}")


if __name__ == "__main__":
    main()
