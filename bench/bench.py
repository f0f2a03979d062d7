#!/usr/bin/env python3
"""Timing harness for the whittle benchmark (driven by bench/run.sh).

Measures, on the same input file and in the same run:
  * whittle slim (uncompressed output)       vs  oci-squash (squash all layers)
  * whittle slim --compression gzip          vs  pigz -p2 on the flattened layer tar
Each command runs under /usr/bin/time -v; wall time is taken with a monotonic
clock around the process, peak RSS is time's "Maximum resident set size".
The Markdown table goes to stdout and to <workdir>/results.md.

This is a script, not a test: it exits non-zero only when a tool fails.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

TIME = "/usr/bin/time"


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def mib(n: float) -> str:
    return f"{n / 1024 / 1024:,.1f} MiB"


def size_of(p: Path) -> int:
    return p.stat().st_size if p.exists() else 0


@dataclass
class Case:
    key: str            # short id
    label: str          # what the table shows
    argv: list[str]     # command (output path already inside)
    output: Path        # file the command writes (deleted before each run)
    stdout_to: Path | None = None  # for pigz -c
    walls: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)   # user + sys seconds
    error: str | None = None

    def median_wall(self) -> float | None:
        return statistics.median(self.walls) if self.walls else None

    def median_cpu(self) -> float | None:
        return statistics.median(self.cpu) if self.cpu else None

    def peak_rss(self) -> int | None:
        return max(self.rss_kib) if self.rss_kib else None

    def median_rss(self) -> int | None:
        return int(statistics.median(self.rss_kib)) if self.rss_kib else None


def drop_output(case: Case) -> None:
    for p in (case.output, case.stdout_to):
        if p is not None and p.exists():
            p.unlink()
    # Writeback of the previous run's output must not land in the next timing.
    os.sync()


def run_once(case: Case, timeout: float | None) -> None:
    drop_output(case)
    time_log = case.output.with_name(case.output.name + ".time")
    argv = [TIME, "-v", "-o", str(time_log), *case.argv]
    stdout = open(case.stdout_to, "wb") if case.stdout_to else subprocess.DEVNULL
    err_log = case.output.with_name(case.output.name + ".stderr")
    try:
        with open(err_log, "wb") as err:
            t0 = time.monotonic()
            proc = subprocess.run(argv, stdout=stdout, stderr=err, timeout=timeout)
            wall = time.monotonic() - t0
    finally:
        if case.stdout_to:
            stdout.close()
    if proc.returncode != 0:
        tail = err_log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{case.label} exited {proc.returncode}:\n{tail}")
    text = time_log.read_text()
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    if not m:
        raise RuntimeError(f"no RSS in {time_log}:\n{text}")
    user = re.search(r"User time \(seconds\): ([\d.]+)", text)
    syst = re.search(r"System time \(seconds\): ([\d.]+)", text)
    cpu = float(user.group(1)) + float(syst.group(1)) if user and syst else float("nan")
    case.walls.append(wall)
    case.rss_kib.append(int(m.group(1)))
    case.cpu.append(cpu)
    log(f"  {case.label}: {wall:.2f} s, {cpu:.2f} s CPU, {int(m.group(1)) / 1024:.0f} MiB RSS, "
        f"output {mib(size_of(case.stdout_to or case.output))}")


def run_rounds(cases: list[Case], runs: int, timeout: float | None, drop_after: bool = False) -> None:
    """Interleave the cases round by round so both sides see the same cache state. With
    `drop_after`, each output is deleted as soon as it is measured, so no case runs with the
    page cache holding the outputs of the cases before it in the round."""
    for r in range(runs):
        log(f"round {r + 1}/{runs}")
        for c in cases:
            if c.error:
                continue
            try:
                run_once(c, timeout)
                if drop_after:
                    drop_output(c)
            except subprocess.TimeoutExpired:
                c.error = f"timed out after {timeout:.0f} s"
                log(f"  {c.label}: {c.error}")
            except Exception as e:  # keep going with the other tool
                c.error = " ".join(l.strip() for l in str(e).splitlines() if l.strip())[:300]
                log(f"  {c.label}: FAILED: {e}")


def warm_cache(path: Path) -> None:
    with open(path, "rb") as f:
        while f.read(8 << 20):
            pass


# ---------------------------------------------------------------- image files
def layer_count(image_tar: Path) -> int:
    with tarfile.open(image_tar) as t:
        names = t.getnames()
        if "manifest.json" in names:
            return len(json.load(t.extractfile("manifest.json"))[0]["Layers"])
        if "index.json" in names:
            return len(_oci_manifest(t)["layers"])
    return -1


def _oci_manifest(t: tarfile.TarFile) -> dict:
    idx = json.load(t.extractfile("index.json"))
    desc = idx["manifests"][0]
    while True:
        blob = json.load(t.extractfile("blobs/" + desc["digest"].replace(":", "/")))
        if "manifests" in blob:  # nested index
            desc = blob["manifests"][0]
            continue
        return blob


def extract_single_layer(image_tar: Path, dest: Path) -> None:
    """Write the (only) layer blob of a single-layer image archive to dest."""
    with tarfile.open(image_tar) as t:
        names = t.getnames()
        if "manifest.json" in names:
            layers = json.load(t.extractfile("manifest.json"))[0]["Layers"]
            member = layers[-1]
        elif "index.json" in names:
            layers = [l["digest"] for l in _oci_manifest(t)["layers"]]
            member = "blobs/" + layers[-1].replace(":", "/")
        else:
            raise RuntimeError(f"{image_tar}: neither manifest.json nor index.json")
        if len(layers) != 1:
            log(f"warning: {image_tar} has {len(layers)} layers; using the last one")
        src = t.extractfile(member)
        with open(dest, "wb") as out:
            shutil.copyfileobj(src, out, 8 << 20)
    with open(dest, "rb") as f:
        if f.read(2) == b"\x1f\x8b":
            raise RuntimeError(f"layer of {image_tar} is gzip-compressed; need an uncompressed one")


# ---------------------------------------------------------------- docker checks
def docker(*args: str, check: bool = True, capture: bool = True) -> str:
    p = subprocess.run(["docker", *args], text=True,
                       stdout=subprocess.PIPE if capture else None,
                       stderr=subprocess.PIPE if capture else None)
    if check and p.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {p.stderr.strip()}")
    return (p.stdout or "").strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_load(image_tar: Path, tag: str) -> str:
    out = docker("load", "-i", str(image_tar))
    layers = json.loads(docker("image", "inspect", "-f", "{{json .RootFS.Layers}}", tag))
    return f"loads (`docker load`), {len(layers)} layer(s)" + ("" if "Loaded image" in out else f" [{out}]")


def check_health(tag: str, wait_s: float = 90) -> str:
    port = free_port()
    cid = docker("run", "-d", "--network", "host", "-e", f"PORT={port}", tag)
    try:
        deadline = time.monotonic() + wait_s
        last = ""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=3) as r:
                    body = r.read().decode()
                    if r.status == 200 and json.loads(body).get("status") == "ok":
                        return f"runs; GET /health on 127.0.0.1:{port} -> 200 {body.strip()}"
                    last = f"{r.status} {body}"
            except Exception as e:
                last = str(e)
            if docker("inspect", "-f", "{{.State.Running}}", cid) != "true":
                logs = docker("logs", "--tail", "20", cid, check=False)
                return f"FAILED: container exited: {logs}"
            time.sleep(1)
        return f"FAILED: no healthy answer in {wait_s:.0f} s ({last})"
    finally:
        docker("rm", "-f", cid, check=False)


# ---------------------------------------------------------------- report
def ocisq_version(exe: Path) -> str:
    venv = exe.resolve().parent.parent
    found = sorted(venv.glob("lib/python*/site-packages/oci_squash-*.dist-info"))
    return found[-1].name.split("-")[1].removesuffix(".dist") if found else str(exe)


def fmt_s(v: float | None) -> str:
    return f"{v:.2f}" if v is not None else "n/a"


def fmt_rss(k: int | None) -> str:
    return f"{k / 1024:,.0f}" if k is not None else "n/a"


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a and b else "n/a"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--whittle", type=Path, help="whittle binary (omit if not built)")
    ap.add_argument("--whittle-desc", default="", help="where the whittle binary came from (for the report)")
    ap.add_argument("--oci-squash", type=Path, required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--squash-runs", type=int, help="runs for the whittle/oci-squash pair (default --runs)")
    ap.add_argument("--gzip-runs", type=int, help="runs for the gzip pair (default --runs)")
    ap.add_argument("--timeout", type=float, default=None, help="per-run timeout in seconds")
    ap.add_argument("--no-docker", action="store_true", help="skip docker load / health checks")
    a = ap.parse_args()

    wd = a.workdir.resolve()
    naive, multi = wd / "flask-naive.tar", wd / "flask-multistage.tar"
    out = wd / "out"
    out.mkdir(exist_ok=True)
    squash_runs = a.squash_runs or a.runs
    gzip_runs = a.gzip_runs or a.runs
    whittle = a.whittle if a.whittle and a.whittle.exists() else None

    load_start = " ".join(open("/proc/loadavg").read().split()[0:3])
    log(f"input {naive} ({mib(size_of(naive))}, {layer_count(naive)} layers)")
    warm_cache(naive)

    # ---- pair 1: whittle (uncompressed) vs oci-squash, same input file
    w_plain = Case("whittle", "whittle slim (uncompressed)",
                   [str(whittle or "whittle"), "slim", str(naive), "-o", str(out / "whittle.tar"),
                    "--compression", "none", "--tag", "whittle-bench/flask-whittle:latest"],
                   out / "whittle.tar")
    o_sq = Case("oci-squash", "oci-squash (all layers)",
                [str(a.oci_squash), str(naive), "-o", str(out / "oci-squash.tar"),
                 "-t", "whittle-bench/flask-ocisquash:latest"],
                out / "oci-squash.tar")
    if whittle is None:
        w_plain.error = "whittle binary not available"
    run_rounds([w_plain, o_sq], squash_runs, a.timeout)

    # ---- pair 2: whittle gzip vs pigz -p2 on the flattened layer tar
    layer = out / "layer.tar"
    layer_src = None
    for c in (w_plain, o_sq):          # prefer whittle's own uncompressed output
        if not c.error and c.output.exists():
            layer_src = c
            break
    w_gz = Case("whittle-gzip", "whittle slim --compression gzip",
                [str(whittle or "whittle"), "slim", str(naive), "-o", str(out / "whittle-gzip.tar"),
                 "--compression", "gzip", "--tag", "whittle-bench/flask-whittle:gzip"],
                out / "whittle-gzip.tar")
    pigz = Case("pigz", "pigz -p2 (flattened layer tar)",
                ["pigz", "-p2", "-c", str(layer)], out / "pigz.gz.run", stdout_to=out / "layer.tar.gz")
    if whittle is None:
        w_gz.error = "whittle binary not available"
    if layer_src is None:
        pigz.error = "no flattened layer tar (both squash tools failed)"
    else:
        log(f"extracting the flattened layer from {layer_src.output.name} (not timed)")
        extract_single_layer(layer_src.output, layer)
        warm_cache(layer)
    run_rounds([w_gz, pigz], gzip_runs, a.timeout)

    # ---- checks, outside every timed region
    checks: list[tuple[str, str]] = []
    if not a.no_docker:
        for c, tag in ((w_plain, "whittle-bench/flask-whittle:latest"),
                       (o_sq, "whittle-bench/flask-ocisquash:latest"),
                       (w_gz, "whittle-bench/flask-whittle:gzip")):
            if c.error or not c.output.exists():
                checks.append((c.label, f"not checked ({c.error or 'no output'})"))
                continue
            try:
                res = check_load(c.output, tag) + "; " + check_health(tag)
                checks.append((c.label, res))
            except Exception as e:
                checks.append((c.label, f"FAILED: {e}"))
            log(f"check {c.label}: {checks[-1][1]}")

    # ---- report
    cpu = "?"
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except Exception:
        pass
    lines = [
        "# whittle benchmark results",
        "",
        f"Date: {time.strftime('%Y-%m-%d %H:%M %Z')}; machine: {os.cpu_count()} CPUs ({cpu}), "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM, {platform.platform()}; "
        f"load average at start {load_start}, at end {' '.join(open('/proc/loadavg').read().split()[0:3])}.",
        "",
        f"whittle: {a.whittle_desc or (str(whittle) if whittle else 'not available')}; "
        f"oci-squash: {ocisq_version(a.oci_squash)}; pigz: {subprocess.run(['pigz', '--version'], capture_output=True, text=True).stdout.strip() or subprocess.run(['pigz', '--version'], capture_output=True, text=True).stderr.strip()}.",
        "",
        "## Inputs",
        "",
        "| image | file | size | layers |",
        "| --- | --- | ---: | ---: |",
        f"| naive Dockerfile (benchmark input) | flask-naive.tar | {mib(size_of(naive))} | {layer_count(naive)} |",
        f"| hand-written multi-stage | flask-multistage.tar | {mib(size_of(multi))} | "
        f"{layer_count(multi) if multi.exists() else 'n/a'} |",
        "",
        "## Flatten: whittle vs oci-squash",
        "",
        f"Same input file (flask-naive.tar, docker-archive as written by `docker save`), {squash_runs} runs each, "
        "interleaved; page cache warm; `sync` between runs, outside the timing.",
        "",
        "| tool | runs | median wall (s) | min-max (s) | median CPU user+sys (s) | peak RSS (MiB) | output size |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    def row(c: Case) -> str:
        if not c.walls:
            return f"| {c.label} | 0 | n/a | n/a | n/a | n/a | {c.error or ''} |"
        outp = c.stdout_to or c.output
        return (f"| {c.label} | {len(c.walls)} | {fmt_s(c.median_wall())} | "
                f"{min(c.walls):.2f}-{max(c.walls):.2f} | {fmt_s(c.median_cpu())} | {fmt_rss(c.peak_rss())} | "
                f"{mib(size_of(outp))} |"
                + (f" ({c.error})" if c.error else ""))

    lines += [row(w_plain), row(o_sq), "",
              "## Compress: whittle gzip vs pigz",
              "",
              "whittle does the whole flatten + gzip from flask-naive.tar; pigz -p2 only compresses the already "
              f"flattened layer tar (the layer blob of {layer_src.label if layer_src else 'n/a'}'s output, "
              f"{mib(size_of(layer))}), extracted outside the timing. {gzip_runs} runs each.",
              "",
              "| tool | runs | median wall (s) | min-max (s) | median CPU user+sys (s) | peak RSS (MiB) | output size |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
              row(w_gz), row(pigz), "",
              "## Ratios (medians; peak RSS = max over runs)",
              "",
              "Wall time on this 2-core machine is sensitive to other load (see the load averages above); "
              "CPU time (user+sys) is the steadier figure when the machine is shared.",
              "",
              "| ratio | wall time | CPU time | peak RSS |",
              "| --- | ---: | ---: | ---: |",
              f"| oci-squash / whittle | {ratio(o_sq.median_wall(), w_plain.median_wall())} | "
              f"{ratio(o_sq.median_cpu(), w_plain.median_cpu())} | {ratio(o_sq.peak_rss(), w_plain.peak_rss())} |",
              f"| whittle-gzip / pigz | {ratio(w_gz.median_wall(), pigz.median_wall())} | "
              f"{ratio(w_gz.median_cpu(), pigz.median_cpu())} | {ratio(w_gz.peak_rss(), pigz.peak_rss())} |",
              ""]
    if checks:
        lines += ["## Output checks (not timed)", "", "| output | result |", "| --- | --- |"]
        lines += [f"| {k} | {v.replace('|', '/')} |" for k, v in checks]
        lines.append("")
    text = "\n".join(lines)
    (wd / "results.md").write_text(text)
    print(text)
    failed = [c for c in (w_plain, o_sq, w_gz, pigz) if c.error and "not available" not in c.error]
    failed_checks = [k for k, v in checks if v.startswith("FAILED") or "FAILED" in v]
    return 1 if failed or failed_checks else 0


if __name__ == "__main__":
    sys.exit(main())
