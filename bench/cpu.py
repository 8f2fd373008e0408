"""CPU time from /proc (Linux): of given processes, and of the whole machine, so a benchmark can
say whether it was waiting or out of CPU."""

from __future__ import annotations

import os
from dataclasses import dataclass

TICK = os.sysconf("SC_CLK_TCK")


def process_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


@dataclass(frozen=True)
class MachineCpu:
    busy: float  # CPU seconds spent on anything but idle and I/O wait, all cores
    total: float

    @classmethod
    def now(cls) -> MachineCpu:
        with open("/proc/stat") as handle:
            values = [int(v) for v in handle.readline().split()[1:9]]
        idle = values[3] + values[4]
        return cls(busy=(sum(values) - idle) / TICK, total=sum(values) / TICK)

    def busy_share_since(self, start: MachineCpu) -> float:
        """Share of all cores' time that was busy between `start` and this sample."""
        spent = self.total - start.total
        return (self.busy - start.busy) / spent if spent else 0.0
