"""Run every benchmark; print the figures and write them, with the machine they ran on, to
bench/REPORT.md (and bench/report.txt, the same lines as plain text)."""

import datetime
import os
import platform

from bench import load_bench, page_bench, range_bench, render_bench

BENCHMARKS = [render_bench, load_bench, range_bench, page_bench]
HERE = os.path.dirname(__file__)


def machine():
    """Cores, memory and load: the figures only mean something next to these."""
    memory = "?"
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            kb = int(next(line for line in fh if line.startswith("MemTotal")).split()[1])
        memory = f"{kb / 1048576:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (f"{os.cpu_count()} cores, {memory} memory, load {load} (1, 5, 15 min), "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}")


def main():
    started = datetime.datetime.now().isoformat(timespec="seconds")
    header = f"make bench, {started}, on {machine()}"
    print(header, flush=True)
    lines = []
    for module in BENCHMARKS:
        found = module.main()
        print("\n".join(found), flush=True)
        lines.extend(found)
    with open(os.path.join(HERE, "report.txt"), "w", encoding="utf-8") as fh:
        fh.write("\n".join([f"# {header}", *lines]) + "\n")
    with open(os.path.join(HERE, "REPORT.md"), "w", encoding="utf-8") as fh:
        fh.write(f"# Benchmarks\n\n{header}.\n\nEach figure with its counterpart measured in the same run, "
                 "interleaved where there is one, the ratio and the goal (issue 14).\n\n```\n"
                 + "\n".join(lines) + "\n```\n")
    print("report written to bench/REPORT.md and bench/report.txt")


if __name__ == "__main__":
    main()
