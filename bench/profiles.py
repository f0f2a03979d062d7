#!/usr/bin/env python3
"""Removal-profiles section of the whittle benchmark (driven by bench/profiles.sh).

On flask-naive.tar:
  1. times `whittle slim … --profile P --report WORKDIR/profiles-report.md`
     (median wall time of N runs, peak RSS) and saves the `--dry-run --format json`
     list of the same profiles to WORKDIR/profiles-dry-run.json;
  2. loads the result into the private engine, checks GET /health and that
     flask, requests, numpy, pandas, numpy.testing and pandas.testing still import;
  3. compares sizes with the hand-written multi-stage image: the tarballs
     (PASS when the slimmed one is not larger) and `docker image inspect .Size`;
  4. runs bench/dive-compare.sh on the input and keeps its output.
The Markdown goes to stdout and to WORKDIR/results-profiles.md.

Exit status: 0 when whittle ran and every check passed (size comparison included),
1 otherwise.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench as b  # noqa: E402  (shared timing and docker helpers)

DEFAULT_PROFILES = "apt-cache,pip-cache,pycache,tests,docs,locales,dev-tools"
IMPORTS = "import flask, requests, numpy, pandas, numpy.testing, pandas.testing; print('imports ok')"
SLIM_TAG = "whittle-bench/flask-profiles:latest"


def repo_tag(image_tar: Path) -> str | None:
    """First RepoTag of a docker-archive (what `docker load` will name it)."""
    with tarfile.open(image_tar) as t:
        tags = json.load(t.extractfile("manifest.json"))[0].get("RepoTags") or []
    return tags[0] if tags else None


def run_dry(whittle: Path, naive: Path, profiles: str, dest: Path) -> tuple[dict, float]:
    argv = [str(whittle), "slim", str(naive), "--dry-run", "--format", "json", "--profile", profiles]
    t0 = time.monotonic()
    with open(dest, "wb") as out:
        p = subprocess.run(argv, stdout=out, stderr=subprocess.PIPE, text=False)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        raise RuntimeError(f"dry run exited {p.returncode}: {p.stderr.decode(errors='replace')[-1000:]}")
    return json.loads(dest.read_text()), wall


def per_profile(dry: dict) -> dict[str, tuple[int, int]]:
    """profile -> (entries, bytes), from the dry run's rules ("profile:glob")."""
    acc: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for r in dry.get("removals", []):
        name = str(r.get("rule", "?")).split(":", 1)[0]
        acc[name][0] += int(r.get("entries", 1))
        acc[name][1] += int(r.get("size", 0))
    return {k: (v[0], v[1]) for k, v in acc.items()}


def report_profile_totals(report_md: Path) -> tuple[int, int] | None:
    """Sum of the 'Savings per profile' table of whittle's Markdown report, or None
    when the report has no such table (its layout is whittle's, not ours)."""
    if not report_md.exists():
        return None
    text = report_md.read_text()
    m = re.search(r"^## Savings per profile\n(.*?)(?:^## |\Z)", text, re.M | re.S)
    if not m:
        return None
    entries = size = 0
    rows = 0
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[1].isdigit() and cells[2].isdigit():
            entries += int(cells[1])
            size += int(cells[2])
            rows += 1
    return (entries, size) if rows else None


def check_imports(tag: str) -> str:
    p = subprocess.run(["docker", "run", "--rm", "--network", "none", tag, "python3", "-c", IMPORTS],
                       capture_output=True, text=True, timeout=600)
    if p.returncode == 0 and "imports ok" in p.stdout.splitlines():
        return "imports ok"
    tail = " ".join((p.stderr or p.stdout).strip().splitlines()[-3:])
    return f"FAILED (exit {p.returncode}): {tail[:400]}"


def image_size(tag: str) -> int:
    return int(b.docker("image", "inspect", "--format", "{{.Size}}", tag))


def run_dive_compare(script: Path, whittle: Path, image: Path) -> tuple[int, str]:
    env = dict(os.environ, WHITTLE=str(whittle))
    p = subprocess.run(["bash", str(script), str(image)], env=env, text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return p.returncode, p.stdout.rstrip()


def pct(a: int, b_: int) -> str:
    return f"{a / b_:.3f}x" if a and b_ else "n/a"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--whittle", type=Path, required=True)
    ap.add_argument("--whittle-desc", default="")
    ap.add_argument("--profiles", default=DEFAULT_PROFILES, help=f"comma-separated (default {DEFAULT_PROFILES})")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=None, help="per-run timeout in seconds")
    ap.add_argument("--no-docker", action="store_true", help="skip docker load, run checks and docker sizes")
    a = ap.parse_args()

    wd = a.workdir.resolve()
    naive, multi = wd / "flask-naive.tar", wd / "flask-multistage.tar"
    slim = wd / "flask-profiles.tar"
    report_md = wd / "profiles-report.md"
    dry_json = wd / "profiles-dry-run.json"
    dive_script = Path(__file__).resolve().parent / "dive-compare.sh"
    failures: list[str] = []

    load_start = " ".join(open("/proc/loadavg").read().split()[0:3])
    b.log(f"input {naive} ({b.mib(b.size_of(naive))}); profiles {a.profiles}")
    b.warm_cache(naive)

    # ---- 1. timed runs (same harness as bench.py: /usr/bin/time -v, sync between runs)
    case = b.Case("profiles", f"whittle slim --profile {a.profiles}",
                  [str(a.whittle), "slim", str(naive), "-o", str(slim), "--profile", a.profiles,
                   "--report", str(report_md), "--tag", SLIM_TAG],
                  slim)
    b.run_rounds([case], a.runs, a.timeout)
    if case.error or not slim.exists():
        failures.append(f"whittle slim: {case.error or 'no output'}")

    # ---- dry run (not part of the timing) and its agreement with the real run's report
    dry, dry_wall, by_profile, dry_error = None, None, {}, None
    try:
        dry, dry_wall = run_dry(a.whittle, naive, a.profiles, dry_json)
        by_profile = per_profile(dry)
        b.log(f"dry run: {dry.get('totalEntries')} entries, {b.mib(dry.get('totalBytes', 0))} "
              f"in {dry_wall:.2f} s -> {dry_json}")
    except Exception as e:
        dry_error = str(e)
        failures.append(f"dry run: {e}")
        b.log(f"dry run FAILED: {e}")
    rep_totals = report_profile_totals(report_md)
    if dry and rep_totals:
        same = rep_totals == (dry.get("totalEntries"), dry.get("totalBytes"))
        agreement = (("same" if same else "DIFFERENT") + f": dry run {dry.get('totalEntries')} entries / "
                     f"{dry.get('totalBytes')} B, report {rep_totals[0]} entries / {rep_totals[1]} B")
        if not same:
            failures.append("dry run and report disagree")
    else:
        agreement = "not compared (no dry run, or no 'Savings per profile' table in the report)"

    # ---- 2. docker: load both, run checks, sizes
    checks: list[tuple[str, str]] = []
    dsize: dict[str, int | None] = {"multi": None, "slim": None}
    dlayers: dict[str, int | None] = {"multi": None, "slim": None}
    if not a.no_docker:
        multi_tag = repo_tag(multi) if multi.exists() else None
        for key, tar, tag, label in (("multi", multi, multi_tag, "multi-stage"),
                                     ("slim", slim, SLIM_TAG, "whittle --profile")):
            if not tar.exists() or tag is None:
                checks.append((f"{label}: docker load", f"FAILED: no {tar.name} or no tag in it"))
                continue
            first = len(checks)
            try:
                b.docker("load", "-i", str(tar))
                dsize[key] = image_size(tag)
                dlayers[key] = len(json.loads(b.docker("image", "inspect", "-f", "{{json .RootFS.Layers}}", tag)))
                checks.append((f"{label}: docker load", f"ok, {tag}, {dlayers[key]} layer(s)"))
            except Exception as e:
                checks.append((f"{label}: docker load", f"FAILED: {e}"))
                b.log(f"check {label}: docker load FAILED: {e}")
                continue
            if key == "slim":
                checks.append((f"{label}: app (GET /health)", b.check_health(tag)))
            checks.append((f"{label}: imports (`python3 -c \"{IMPORTS}\"`)", check_imports(tag)))
            for k, v in checks[first:]:
                b.log(f"check {k}: {v}")
        failures += [k for k, v in checks if "FAILED" in v]

    # ---- 3. tarball sizes
    s_naive, s_multi, s_slim = b.size_of(naive), b.size_of(multi), b.size_of(slim)
    size_ok = bool(s_slim and s_multi and s_slim <= s_multi)
    if not size_ok:
        failures.append("slimmed tarball larger than the multi-stage one (or missing)")

    # ---- 4. dive vs whittle wasted bytes on the input
    b.log("bench/dive-compare.sh on the input")
    dive_rc, dive_out = run_dive_compare(dive_script, a.whittle, naive)
    dive_meaning = {0: "dive and whittle agree", 1: "dive and whittle DIFFER",
                    2: "a tool was missing or failed"}.get(dive_rc, "unexpected exit status")

    # ---- report
    def mib_b(n: int | None) -> str:
        return f"{n:,} B ({b.mib(n)})" if n else "n/a"

    c = case
    lines = [
        "# whittle benchmark: removal profiles",
        "",
        f"Date: {time.strftime('%Y-%m-%d %H:%M %Z')}; {os.cpu_count()} CPUs; load average at start "
        f"{load_start}, at end {' '.join(open('/proc/loadavg').read().split()[0:3])}.",
        "",
        f"whittle: {a.whittle_desc or a.whittle}.",
        "",
        f"Command: `whittle slim flask-naive.tar -o flask-profiles.tar --profile {a.profiles} "
        f"--report profiles-report.md --tag {SLIM_TAG}`",
        "",
        f"whittle's own before/after report: `{report_md.name}`.",
        "",
        "## Time",
        "",
        f"{a.runs} runs; page cache warm; `sync` between runs, outside the timing. "
        "Peak RSS is the largest over the runs.",
        "",
        "| runs | median wall (s) | min-max (s) | median CPU user+sys (s) | peak RSS (MiB) |",
        "| ---: | ---: | ---: | ---: | ---: |",
        (f"| {len(c.walls)} | {b.fmt_s(c.median_wall())} | {min(c.walls):.2f}-{max(c.walls):.2f} | "
         f"{b.fmt_s(c.median_cpu())} | {b.fmt_rss(c.peak_rss())} |") if c.walls
        else f"| 0 | n/a | n/a | n/a | n/a |  ({c.error})",
        "",
        "## Sizes: tarballs",
        "",
        "| tarball | size | / multi-stage |",
        "| --- | ---: | ---: |",
        f"| naive input (`flask-naive.tar`) | {mib_b(s_naive)} | {pct(s_naive, s_multi)} |",
        f"| multi-stage (`flask-multistage.tar`, `docker save`) | {mib_b(s_multi)} | {pct(s_multi, s_multi)} |",
        f"| whittle, profiles (`flask-profiles.tar`) | {mib_b(s_slim)} | {pct(s_slim, s_multi)} |",
        "",
        f"Slimmed tarball relative to the multi-stage one: {pct(s_slim, s_multi)}"
        + (f" ({(s_slim - s_multi) / 2**20:+,.1f} MiB)" if s_slim and s_multi else "")
        + f"; relative to the naive input: {pct(s_slim, s_naive)}.",
        "",
        f"**{'PASS' if size_ok else 'FAIL'}**: slimmed ≤ multi-stage "
        f"({s_slim:,} B {'≤' if size_ok else '>'} {s_multi:,} B)",
        "",
        "## Sizes: after `docker load` (`docker image inspect --format '{{.Size}}'`)",
        "",
    ]
    if a.no_docker:
        lines += ["Not measured (`--no-docker`).", ""]
    else:
        lines += [
            "| | multi-stage | whittle, profiles | whittle / multi-stage |",
            "| --- | ---: | ---: | ---: |",
            f"| image size | {mib_b(dsize['multi'])} | {mib_b(dsize['slim'])} | "
            f"{pct(dsize['slim'] or 0, dsize['multi'] or 0)} |",
            f"| layers | {dlayers['multi'] if dlayers['multi'] is not None else 'n/a'} | "
            f"{dlayers['slim'] if dlayers['slim'] is not None else 'n/a'} | |",
            "",
        ]
    lines += ["## Dry run", ""]
    if dry is not None:
        lines += [
            f"`whittle slim flask-naive.tar --dry-run --format json --profile {a.profiles}` -> "
            f"`profiles-dry-run.json`, {dry_wall:.2f} s: {dry.get('totalEntries')} entries, "
            f"{mib_b(dry.get('totalBytes'))} would go, in {len(dry.get('removals', []))} listed removals.",
            "",
            f"Dry run vs the real run's report (sum of its per-profile table): {agreement}.",
            "",
            "| profile | entries | bytes |",
            "| --- | ---: | ---: |",
        ]
        for name in a.profiles.split(","):
            n, s = by_profile.get(name, (0, 0))
            lines.append(f"| {name} | {n} | {mib_b(s) if s else '0 B'} |")
        for name in sorted(set(by_profile) - set(a.profiles.split(","))):
            n, s = by_profile[name]
            lines.append(f"| {name} (not requested) | {n} | {mib_b(s)} |")
        lines.append("")
        idle = [n for n in a.profiles.split(",") if by_profile.get(n, (0, 0))[0] == 0]
        if idle:
            lines += [f"Removed nothing in this image: {', '.join(idle)}.", ""]
    else:
        lines += [f"FAILED: {dry_error}", ""]
    if checks:
        lines += ["## Checks (not timed)", "", "| check | result |", "| --- | --- |"]
        lines += [f"| {k.replace('|', '/')} | {v.replace('|', '/')} |" for k, v in checks]
        lines.append("")
    lines += [
        "## dive vs whittle on the input (`bench/dive-compare.sh flask-naive.tar`)",
        "",
        f"Exit status {dive_rc}: {dive_meaning}.",
        "",
        "```",
        dive_out or "(no output)",
        "```",
        "",
    ]
    if failures:
        lines += ["## Failures", ""] + [f"* {f}" for f in failures] + [""]

    text = "\n".join(lines)
    (wd / "results-profiles.md").write_text(text)
    print(text)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
