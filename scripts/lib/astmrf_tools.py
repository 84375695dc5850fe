"""Helpers the project's Python scripts and tests share: process facts from /proc, and sipp's
statistics file. Standard library only; a script finds it with

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), "lib"))
"""

import os

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_stat(pid):
    """The fields of /proc/PID/stat after the command name (state first), or None when it is gone.
    The name is cut at the last ')' because it may itself hold spaces and parentheses."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def alive(pid):
    """Running (a zombie that nobody has reaped yet is not)."""
    fields = proc_stat(pid) if pid else None
    return fields is not None and fields[0] != "Z"


def cpu_seconds(pid, which=(11, 12), default=float("nan")):
    """utime + stime of a process in seconds (which=(12,): its kernel time only); `default` when
    it is gone."""
    fields = proc_stat(pid)
    if fields is None:
        return default
    return sum(int(fields[i]) for i in which) / CLK_TCK


def group_cpu(pgid):
    """CPU seconds of every live process in a process group (e.g. Kamailio and its forked workers)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = proc_stat(entry)
            if fields is not None and int(fields[2]) == pgid:
                total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


def sipp_counts(path):
    """(created, successful, failed) calls from the last row of sipp's -trace_stat CSV; zeros while
    the file is missing or has no row yet."""
    try:
        with open(path) as f:
            lines = [line.rstrip("\n") for line in f if line.strip()]
        header = lines[0].rstrip(";").split(";")
        row = dict(zip(header, lines[-1].rstrip(";").split(";")))
        return tuple(int(float(row.get(k, "0") or 0)) for k in ("TotalCallCreated", "SuccessfulCall(C)",
                                                                  "FailedCall(C)"))
    except (OSError, IndexError, ValueError):
        return (0, 0, 0)
