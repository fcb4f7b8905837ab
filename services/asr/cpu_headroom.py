"""How many of this process's CPUs nobody else is using: the solo model's threads are worth having only
when they get a core each. A decode split over two threads on cores that other processes keep busy waits
for the slower thread at every step (measured on 2 shared cores: 2 threads 2.1 s against 1 thread 1.3 s
for the same clip), so a lone request takes the solo copy only when the cores are free of others' work.

A daemon thread reads /proc/stat (the CPUs of the process's affinity) and the process's own CPU time every
SAMPLE_S (100 ms); free = the idle share of those CPUs plus the share this process used itself. Where /proc/stat
cannot be read the reading is every CPU (the solo copy then runs whenever the model is idle, as before)."""

import os
import threading
import time
from pathlib import Path

SAMPLE_S = 0.1  # short: a reading lags the CPUs by at most two samples
PROC_STAT = Path("/proc/stat")


def cpu_times(cpus: set[int], stat: str) -> tuple[float, float]:
    """(idle, total) jiffies of `cpus` from /proc/stat's text (idle counts iowait; guest time is inside user)."""
    idle = total = 0.0
    for line in stat.splitlines():
        name, *fields = line.split()
        if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in cpus:
            continue
        values = [float(v) for v in fields[:8]]
        idle += values[3] + values[4]
        total += sum(values)
    return idle, total


def free_cpus(before: tuple[float, float, float], after: tuple[float, float, float], cpus: int) -> float:
    """CPUs free of other processes' work between two (idle jiffies, total jiffies, own CPU s) readings."""
    idle = after[0] - before[0]
    total = after[1] - before[1]
    if total <= 0:
        return float(cpus)
    wall_s = total / cpus / os.sysconf("SC_CLK_TCK")
    own = (after[2] - before[2]) / wall_s if wall_s > 0 else 0.0
    return max(0.0, min(float(cpus), cpus * idle / total + own))


class CpuHeadroom:
    def __init__(self, cpus: set[int] | None = None) -> None:
        self.cpus = cpus if cpus is not None else os.sched_getaffinity(0)
        self.free = float(len(self.cpus))

    def start(self) -> None:
        """Once, at start-up (nothing is started where /proc/stat cannot be read)."""
        if self._reading() is None:
            return
        threading.Thread(target=self._sample, name="asr-cpu-headroom", daemon=True).start()

    def _reading(self) -> tuple[float, float, float] | None:
        try:
            idle, total = cpu_times(self.cpus, PROC_STAT.read_text())
        except (OSError, ValueError):
            return None
        own = os.times()
        return idle, total, own.user + own.system

    def _sample(self) -> None:
        before = self._reading()
        while before is not None:
            time.sleep(SAMPLE_S)
            after = self._reading()
            if after is not None:
                self.free = free_cpus(before, after, len(self.cpus))
            before = after
