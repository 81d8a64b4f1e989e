"""`make bench`: run every benchmark, print each figure with its counterpart, ratio and goal as it comes,
then write the whole table, with the machine it ran on, to bench/REPORT.md (bench/report.txt: the same as
plain text). Run one alone with `python -m bench.<name>_bench`."""

import datetime
import os
import platform
import sys
import time

from bench import (
    contention_bench,
    follower_bench,
    history_bench,
    load_bench,
    page_bench,
    range_bench,
    render_bench,
    shared_bench,
    static_server,
    status_bench,
    submit_bench,
)
from bench.results import markdown_table, text_table

BENCHMARKS = [
    range_bench,
    load_bench,
    page_bench,
    submit_bench,
    render_bench,
    status_bench,
    history_bench,
    follower_bench,
    contention_bench,
    shared_bench,
]
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
    return (
        f"{os.cpu_count()} cores, {memory} memory, load {load} (1, 5, 15 min), "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def main():
    started, clock = datetime.datetime.now().isoformat(timespec="seconds"), time.monotonic()
    header = f"make bench, {started}, on {machine()}"
    print(header, flush=True)
    if not static_server.available():
        print(
            "nginx is not installed: the video-serving counterparts are not measured (make bench installs it "
            "where it can)",
            flush=True,
        )
    figures, notes = [], []
    for module in BENCHMARKS:
        result = module.main()
        print(f"\n{result.title}\n" + "\n".join("  " + line for line in text_table(result.figures)), flush=True)
        figures += result.figures
        notes += result.notes
    took = time.monotonic() - clock
    missed = [f for f in figures if f.met is False]
    summary = (
        f"{sum(1 for f in figures if f.met)} of {sum(1 for f in figures if f.met is not None)} goals met"
        + (": missed " + "; ".join(f.name for f in missed) if missed else "")
        + f"; the run took {took:.0f} s."
    )
    with open(os.path.join(HERE, "report.txt"), "w", encoding="utf-8") as fh:
        fh.write("\n".join([f"# {header}", *text_table(figures), "", *notes, "", summary]) + "\n")
    with open(os.path.join(HERE, "REPORT.md"), "w", encoding="utf-8") as fh:
        fh.write(
            "\n".join(
                [
                    "# Benchmarks",
                    "",
                    f"{header}.",
                    "",
                    "Each figure with its counterpart measured in the same run (interleaved, A B A B, where there is "
                    "one), the ratio of the two, the goal and whether it is met. The app runs under gunicorn with its "
                    "default configuration (gunicorn.conf.py), talking to video APIs on loopback.",
                    "",
                    *markdown_table(figures),
                    "",
                    summary,
                    "",
                    "## How each was measured",
                    "",
                    *[f"- {note}" for note in notes],
                    "",
                ]
            )
        )
    print(f"\n{summary}\nreport written to bench/REPORT.md and bench/report.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
