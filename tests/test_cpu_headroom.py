"""The CPUs free of other processes' work, which decide whether a lone request gets the solo copy's threads."""

import multiprocessing
import os
import time

import pytest

from services.asr.cpu_headroom import CpuHeadroom, cpu_times, free_cpus

STAT = """cpu  900 0 300 1700 100 0 0 0 0 0
cpu0 400 0 100 400 100 0 0 0 0 0
cpu1 500 0 200 1300 0 0 0 0 0 0
intr 12345
"""


def test_idle_and_total_jiffies_of_the_chosen_cpus() -> None:
    assert cpu_times({0}, STAT) == (500.0, 1000.0)  # idle + iowait; the summary line is not a CPU
    assert cpu_times({0, 1}, STAT) == (1800.0, 3000.0)
    assert cpu_times({7}, STAT) == (0.0, 0.0)


def test_free_counts_idle_time_and_the_process_own_work() -> None:
    tick = os.sysconf("SC_CLK_TCK")
    second = 2 * tick  # one second of two CPUs, in jiffies
    assert free_cpus((0, 0, 0.0), (second / 2, second, 0.0), 2) == pytest.approx(1.0)  # half idle: one free
    assert free_cpus((0, 0, 0.0), (0, second, 2.0), 2) == pytest.approx(2.0)  # busy with our own work only
    assert free_cpus((0, 0, 0.0), (0, second, 0.5), 2) == pytest.approx(0.5)  # others took 1.5 CPUs
    assert free_cpus((5, 5, 0.0), (5, 5, 0.0), 2) == 2.0  # no time passed: nothing known against the CPUs


def spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_other_processes_spinning_on_every_cpu_leave_none_free() -> None:
    cpus = os.sched_getaffinity(0)
    headroom = CpuHeadroom(cpus)
    headroom.start()
    spinners = [multiprocessing.Process(target=spin, args=(3.0,)) for _ in range(2 * len(cpus))]
    for process in spinners:
        process.start()
    try:
        time.sleep(2.0)
        assert headroom.free < 0.5, headroom.free
    finally:
        for process in spinners:
            process.join()
