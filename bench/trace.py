#!/usr/bin/env python3
"""Trace section of the whittle benchmark (run by bench/trace.sh).

1. web app: `whittle trace flask-naive.tar --probe-http …/health --probe-http …/`
   then `whittle slim flask-naive.tar --trace flask.trace.json`; the result must
   answer GET /health and GET / with 200 and be >= 15x smaller than the input.
2. batch job: batch-naive.tar is traced to exit (`whittle trace … --network
   none`, no probe) and slimmed with the trace; the slimmed image's stdout must
   equal byte for byte what `docker run` of the original printed (recorded by
   build-image.sh) and the image must be >= 6x smaller.

Writes WORKDIR/results-trace.md; exit status 1 on any FAIL.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench as b  # noqa: E402  (shared docker helpers)

FLASK_TAG = "whittle-bench/flask-traced:latest"
BATCH_TAG = "whittle-bench/batch-traced:latest"
FLASK_MIN_RATIO = 15.0
BATCH_MIN_RATIO = 6.0


def timed(cmd: list[str], log_path: Path, timeout: float) -> tuple[int, float, float]:
    """Runs cmd (stdout+stderr to log_path); returns (rc, wall s, cpu s of children)."""
    b.log("$ " + " ".join(cmd))
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    with open(log_path, "w") as f:
        try:
            rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            rc = -1
    wall = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return rc, wall, cpu


def trace_entries(path: Path) -> str:
    try:
        d = json.loads(path.read_text())
        return f"{len(d.get('entries', []))} paths, command `{' '.join(d.get('command') or [])}`"
    except Exception as e:  # noqa: BLE001
        return f"unreadable ({e})"


def kept_top(image_tar: Path, n: int = 8, depth: int = 6) -> list[str]:
    """Largest directories (first `depth` path components) of the single output layer."""
    import collections
    import tarfile
    c: collections.Counter[str] = collections.Counter()
    try:
        with tarfile.open(image_tar) as t:
            mf = json.load(t.extractfile("manifest.json"))[0]
            layer = t.extractfile(mf["Layers"][0])
            with tarfile.open(fileobj=layer, mode="r|*") as lt:
                for m in lt:
                    if m.isfile():
                        c["/" + "/".join(m.name.lstrip("./").split("/")[:depth])] += m.size
    except Exception as e:  # noqa: BLE001
        return [f"could not read {image_tar.name}: {e}"]
    return [f"| `{k}` | {b.mib(v)} |" for k, v in c.most_common(n)]


def http_get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=3) as r:
        return r.status, r.read().decode(errors="replace").strip()


def check_web(tag: str, wait_s: float = 90) -> tuple[bool, list[str]]:
    port = b.free_port()
    cid = b.docker("run", "-d", "--network", "host", "-e", f"PORT={port}", tag)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + wait_s
        last = ""
        while time.monotonic() < deadline:
            try:
                ok = True
                for p in ("/health", "/"):
                    st, body = http_get(f"http://127.0.0.1:{port}{p}")
                    lines.append(f"GET {p} on 127.0.0.1:{port} -> {st} {body}")
                    ok &= st == 200
                return ok, lines
            except Exception as e:  # noqa: BLE001
                last = str(e)
                lines.clear()
            if b.docker("inspect", "-f", "{{.State.Running}}", cid) != "true":
                logs = b.docker("logs", "--tail", "20", cid, check=False)
                return False, [f"container exited: {logs}"]
            time.sleep(1)
        return False, [f"no answer in {wait_s:.0f} s ({last})"]
    finally:
        b.docker("rm", "-f", cid, check=False)


def run_stdout(tag: str, dest: Path, timeout: float) -> tuple[int, float]:
    t0 = time.monotonic()
    with open(dest, "wb") as f:
        p = subprocess.run(["docker", "run", "--rm", "--network", "none", tag],
                           stdout=f, stderr=subprocess.PIPE, timeout=timeout)
    if p.returncode != 0:
        b.log(f"docker run {tag}: rc {p.returncode}: {p.stderr.decode(errors='replace')[-2000:]}")
    return p.returncode, time.monotonic() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--whittle", type=Path, required=True)
    ap.add_argument("--whittle-desc", default="")
    ap.add_argument("--web-timeout", type=float, default=120)
    ap.add_argument("--batch-timeout", type=float, default=300)
    ap.add_argument("--cases", default="web,batch")
    ap.add_argument("--no-docker", action="store_true")
    a = ap.parse_args()
    w = a.workdir
    wh = str(a.whittle)
    cases = set(a.cases.split(","))
    fails = 0
    md: list[str] = ["# whittle trace: trace an app, then slim with the trace", ""]
    md += [f"* whittle: {a.whittle_desc or wh}",
           f"* date: {time.strftime('%F %T %Z')}; load average at start: "
           f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs",
           "* times: wall clock around the whittle process (monotonic); CPU = user+system of it and its children", ""]

    def verdict(ok: bool, what: str) -> str:
        nonlocal fails
        fails += 0 if ok else 1
        return f"**{'PASS' if ok else 'FAIL'}**: {what}"

    def trace_and_slim(label: str, naive: Path, stem: str, report_name: str, tag: str,
                       trace_args: list[str], timeout: float, min_ratio: float) -> tuple[int | None, Path]:
        """Traces `naive`, slims it with the trace, and adds the steps, sizes and
        verdicts to the results; returns slim's exit status (None if not run) and the output."""
        trace, out, report = w / f"{stem}.trace.json", w / f"{stem}-traced.tar", w / report_name
        for p in (trace, out, report):
            p.unlink(missing_ok=True)
        subprocess.run(["sync"])
        tcmd = [wh, "trace", str(naive), "-o", str(trace), *trace_args, "--timeout", f"{timeout:g}"]
        trc, twall, tcpu = timed(tcmd, w / f"{stem}-trace.log", timeout + 300)
        scmd = [wh, "slim", str(naive), "-o", str(out), "--trace", str(trace),
                "--report", str(report), "--tag", tag]
        src, swall, scpu = (timed(scmd, w / f"{stem}-slim.log", 1800) if trc == 0 else (None, 0.0, 0.0))
        isz, osz = b.size_of(naive), b.size_of(out)
        ratio = isz / osz if osz else 0.0
        md.extend([f"    {' '.join(tcmd)}", f"    {' '.join(scmd)}", "",
                   "| step | exit | wall | CPU |", "| --- | --- | --- | --- |",
                   f"| trace | {trc} | {twall:.1f} s | {tcpu:.1f} s |",
                   f"| slim --trace | {src if src is not None else 'not run'} | {swall:.1f} s | {scpu:.1f} s |", "",
                   f"* trace file: {trace.name}: {trace_entries(trace)}",
                   f"* whittle's report: {report.name}",
                   "", "| image | bytes | size |", "| --- | --- | --- |",
                   f"| input {naive.name} | {isz:,} | {b.mib(isz)} |",
                   f"| output {out.name} | {osz:,} | {b.mib(osz)} |", "",
                   f"* ratio input/output: **{ratio:.1f}x**", ""])
        if osz:
            md.extend(["Largest directories kept in the output:", "", "| directory | bytes |", "| --- | --- |",
                       *kept_top(out), ""])
        md.append("* " + verdict(trc == 0, f"`whittle trace` exit status {trc}"))
        md.append("* " + verdict(src == 0, f"`whittle slim --trace` exit status {src}"))
        md.append("* " + verdict(ratio >= min_ratio, f"output {ratio:.1f}x smaller than input (target >= {min_ratio:g}x)"))
        b.log(f"{label}: {isz:,} -> {osz:,} bytes ({ratio:.1f}x); trace {twall:.1f} s, slim {swall:.1f} s")
        return src, out

    # ------------------------------------------------ 1. web app
    if "web" in cases:
        md += ["## 1. Web app (flask-naive.tar)", ""]
        # The image's Env sets PORT=8080; a free port keeps the host-network run clear of others.
        port = b.free_port()
        src, out = trace_and_slim(
            "web", w / "flask-naive.tar", "flask", "trace-report.md", FLASK_TAG,
            ["-e", f"PORT={port}", "--probe-http", f"http://127.0.0.1:{port}/health",
             "--probe-http", f"http://127.0.0.1:{port}/"], a.web_timeout, FLASK_MIN_RATIO)
        if not a.no_docker and src == 0:
            try:
                md.append("* load: " + b.check_load(out, FLASK_TAG))
                ok, lines = check_web(FLASK_TAG)
                md.append("* " + verdict(ok, "slimmed image runs (`--network host -e PORT=<free port>`), GET /health and GET / answer 200"))
                md += [f"  * {x}" for x in lines]
            except Exception as e:  # noqa: BLE001
                md.append("* " + verdict(False, f"docker check: {e}"))
        md.append("")

    # ------------------------------------------------ 2. batch job
    if "batch" in cases:
        naive = w / "batch-naive.tar"
        # What `docker run` of the original printed, recorded by build-image.sh.
        expected = w / "batch-naive.expected-stdout"
        md += ["## 2. Batch job (batch-naive.tar)", ""]
        if not naive.exists() or not expected.exists():
            md += [f"* not run: {naive.name} or {expected.name} missing (`bench/build-image.sh --batch`)", ""]
        else:
            src, out = trace_and_slim("batch", naive, "batch", "trace-batch-report.md", BATCH_TAG,
                                      ["--network", "none"], a.batch_timeout, BATCH_MIN_RATIO)
            if not a.no_docker and src == 0:
                slim_out = w / "batch-traced.stdout"
                try:
                    md.append("* load: " + b.check_load(out, BATCH_TAG))
                    rc, wall = run_stdout(BATCH_TAG, slim_out, a.batch_timeout)
                    same = expected.read_bytes() == slim_out.read_bytes()
                    md.append("* " + verdict(rc == 0 and same,
                                             f"slimmed image runs (exit {rc}, {wall:.1f} s); stdout "
                                             f"{'identical' if same else 'DIFFERS'} byte for byte to the "
                                             f"original's ({b.size_of(slim_out)} bytes in {slim_out.name})"))
                except Exception as e:  # noqa: BLE001
                    md.append("* " + verdict(False, f"docker check: {e}"))
            md += ["", "Original stdout (`docker run` of the input, recorded when it was built):", "",
                   *["    " + ln for ln in expected.read_text(errors="replace").splitlines()], ""]

    md.append(f"Overall: **{'PASS' if fails == 0 else f'FAIL ({fails} failed)'}**")
    text = "\n".join(md) + "\n"
    (w / "results-trace.md").write_text(text)
    print(text)
    return 0 if fails == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
