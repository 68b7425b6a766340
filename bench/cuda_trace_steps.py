#!/usr/bin/env python3
"""What each kernel adds to a decode step, from bench/cuda_kernel_trace.cpp's output.

Kernels overlap (early launch), so a kernel's own span says little; the time from the end of the
kernel before to its own end is what it adds to the critical path. Averaged per kernel and grid
over the second half of the trace (the decode steps), then one stretch of a step in order.
  python3 bench/cuda_trace_steps.py /tmp/trace.txt
"""
import collections
import re
import statistics
import subprocess
import sys


def short_names(mangled):
    names = sorted(set(mangled))
    try:
        plain = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True).stdout.split("\n")
    except OSError:
        plain = names
    short = {}
    for name, readable in zip(names, plain):
        readable = re.sub(r"^void ", "", readable)
        readable = re.sub(r"\((?!anonymous).*$", "", readable)  # the parameter list
        readable = re.sub(r"salut::backend::cuda::|\(anonymous namespace\)::|salut::backend::", "", readable)
        short[name] = readable.replace("__nv_bfloat16", "bf16")[:70]
    return short


def main(path):
    rows = []
    for line in open(path):
        start, end, gx, gy, gz, _, name = line.split(maxsplit=6)
        rows.append((int(start), int(end), (int(gx), int(gy), int(gz)), name.strip()))
    rows.sort(key=lambda r: r[1])
    short = short_names(r[3] for r in rows)
    steps = rows[len(rows) // 2:]
    added, span, ahead = (collections.defaultdict(list) for _ in range(3))
    for before, (start, end, grid, name) in zip(steps, steps[1:]):
        key = "%s <%d,%d,%d>" % (short[name], *grid)
        added[key].append(end - before[1])
        ahead[key].append(before[1] - start)
        span[key].append(end - start)
    total = sum(sum(v) for v in added.values())
    print("%d kernels, %.3f ms in the decode window" % (len(steps), total / 1e6))
    print("%-78s %6s %9s %9s %9s %6s" % ("kernel <grid>", "count", "added", "span", "early", "share"))
    for key, v in sorted(added.items(), key=lambda kv: -sum(kv[1])):
        print("%-78s %6d %7.2fus %7.2fus %7.2fus %5.1f%%" % (key, len(v), statistics.mean(v) / 1e3,
              statistics.mean(span[key]) / 1e3, statistics.mean(ahead[key]) / 1e3, 100 * sum(v) / total))
    middle = len(steps) // 2
    t0 = steps[middle][0]
    print("a stretch of a step (us from its first kernel's start):")
    for start, end, _, name in steps[middle:middle + 20]:
        print("  %-70s start %8.2f end %8.2f" % (short[name], (start - t0) / 1e3, (end - t0) / 1e3))


if __name__ == "__main__":
    main(sys.argv[1])
