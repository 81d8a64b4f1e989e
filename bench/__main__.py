"""Run every benchmark and write bench/report.txt."""

import datetime
import os

from bench import load_bench, page_bench, range_bench, render_bench

BENCHMARKS = [render_bench, load_bench, range_bench, page_bench]


def main():
    report = [f"# make bench, {datetime.datetime.now().isoformat(timespec='seconds')}"]
    for module in BENCHMARKS:
        lines = module.main()
        print("\n".join(lines), flush=True)
        report.extend(lines)
    path = os.path.join(os.path.dirname(__file__), "report.txt")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(report) + "\n")
    print(f"report written to {os.path.relpath(path)}")


if __name__ == "__main__":
    main()
