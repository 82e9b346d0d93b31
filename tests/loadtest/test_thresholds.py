"""`make loadtest`'s verdict: the thresholds file, and the check of a run's statistics against it."""

from collections import Counter

from loadtest.run import check, percentile, thresholds_for

CONFIG = """
[default]
max_error_rate = 0.0
p99_ms = 500

[api]
p99_ms = 50

[api.requests."POST /api/posts/"]
p99_ms = 100
"""


def entry(times: dict[int, int], failures: int = 0) -> dict:
    return {"num_requests": sum(times.values()), "num_failures": failures, "response_times": Counter(times)}


def test_scenario_section_overrides_default_key_by_key(tmp_path):
    path = tmp_path / "thresholds.toml"
    path.write_text(CONFIG)
    assert thresholds_for("api", path) == {
        "Aggregated": {"max_error_rate": 0.0, "p99_ms": 50},
        "POST /api/posts/": {"p99_ms": 100},
    }
    assert thresholds_for("token", path) == {"Aggregated": {"max_error_rate": 0.0, "p99_ms": 500}}


def test_percentile_of_a_histogram():
    times = Counter({10: 989, 40: 10, 900: 1})  # milliseconds: requests
    assert percentile(times, 0.95) == 10
    assert percentile(times, 0.99) == 40
    assert percentile(times, 0.9999) == 900


def test_a_run_within_every_threshold_passes():
    stats = {"Aggregated": entry({10: 990, 40: 10}), "POST /api/posts/": entry({20: 100})}
    assert check(stats, {"Aggregated": {"max_error_rate": 0.0, "p99_ms": 50}, "POST /api/posts/": {"p99_ms": 100}}) == []


def test_each_missed_threshold_is_reported():
    stats = {"Aggregated": entry({10: 900, 80: 100}, failures=3), "POST /api/posts/": entry({300: 10})}
    missed = check(stats, {"Aggregated": {"max_error_rate": 0.0, "p99_ms": 50}, "POST /api/posts/": {"p99_ms": 100}})
    assert missed == [
        "Aggregated: max_error_rate = 0.003 > 0",
        "Aggregated: p99_ms = 80 > 50",
        "POST /api/posts/: p99_ms = 300 > 100",
    ]


def test_a_request_that_never_ran_misses_its_threshold():
    assert check({"Aggregated": entry({10: 5})}, {"GET /api/me/": {"p99_ms": 100}}) == ["GET /api/me/: no requests were made"]


def test_a_progress_line_reads_the_latest_aggregated_row(tmp_path):
    from loadtest.run import progress_line

    history = tmp_path / "token_stats_history.csv"
    assert progress_line(history) is None
    header = "Timestamp,User Count,Type,Name,Requests/s,Failures/s,95%,Total Request Count,Total Failure Count\n"
    history.write_text(header + "1,2,POST,/o/token/,9.0,0.0,12,90,0\n"
                       "1,2,,Aggregated,9.0,0.0,12,90,0\n2,2,,Aggregated,10.5,0.5,15,200,3\n")
    line = progress_line(history)
    assert "10.5 req/s" in line and "0.5 failures/s" in line and "p95    15 ms" in line and "200 requests, 3 failed" in line
