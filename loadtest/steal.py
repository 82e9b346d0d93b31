"""CPU steal time: the share of this VM's CPU time that the hypervisor gave to other guests instead.

On a shared host it is what makes two runs of the same code differ: at a few percent and more,
peak throughput and latency tails measure the neighbours as much as the stack (docs/performance.md).
Read from /proc/stat (Linux); None elsewhere.
"""

from pathlib import Path

CpuTimes = tuple[int, int]  # (steal, total) of all CPUs since boot, in clock ticks


def cpu_times() -> CpuTimes | None:
    try:
        first_line = Path("/proc/stat").read_text().split("\n", 1)[0]
    except OSError:
        return None
    # cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest time is in user)
    user, nice, system, idle, iowait, irq, softirq, steal = map(int, first_line.split()[1:9])
    return steal, user + nice + system + idle + iowait + irq + softirq + steal


def steal_percent(since: CpuTimes | None) -> float | None:
    """Percent of the CPU time since `since` that was stolen; None if unknown."""
    now = cpu_times()
    if since is None or now is None or now[1] == since[1]:
        return None
    return 100 * (now[0] - since[0]) / (now[1] - since[1])


def describe(percent: float | None) -> str:
    if percent is None:
        return "unknown"
    note = " (the host's neighbours took a share: tails and peaks measure them too)" if percent >= 3 else ""
    return f"{percent:.1f} %{note}"
