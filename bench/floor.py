#!/usr/bin/env python3
"""whittle against the floor: `bsdtar -cf OUT @layer1 @layer2 …` (driven by bench/floor.sh).

For each saved image, its layer blobs are extracted once to a temporary directory (not
timed); then, interleaved round by round on a warm page cache, with `sync` between runs and
each output deleted once measured:

  bsdtar     bsdtar -cf OUT @layer1.tar @layer2.tar …   (reads every layer once, writes one
             archive; no whiteouts, no hashing: nothing that flattens can be faster)
  hashed     the same bsdtar, its output and every layer through `openssl sha256` on the second
             core: the floor for a flatten that checks its input and names its output by
             digest, as whittle does
  flatten    whittle slim IMAGE -o OUT                    (no removals)
  safe       whittle slim IMAGE -o OUT --profile safe
  pipe       cat IMAGE | whittle slim - -o - > OUT            (standard output a file)
  pipeout    cat IMAGE | whittle slim - -o - | cat > OUT      (standard output a pipe)

and prints medians with five ratios: flatten / bsdtar, flatten / hashed, safe / flatten,
and pipe and pipeout / flatten.
Figures go to stdout and to WORKDIR/results-floor.md. A benchmark, not a test: the exit
status is non-zero only when a command fails.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench as b  # noqa: E402  (Case, run_rounds, the image helpers)


def layer_members(t: tarfile.TarFile) -> list[str]:
    """The layer blobs of a saved image, lowest first, as members of its tar."""
    names = set(t.getnames())
    if "manifest.json" in names:
        return json.load(t.extractfile("manifest.json"))[0]["Layers"]
    if "index.json" in names:
        return ["blobs/" + l["digest"].replace(":", "/") for l in b._oci_manifest(t)["layers"]]
    raise RuntimeError("neither manifest.json nor index.json")


def extract_layers(image: Path, dest: Path) -> list[Path]:
    """Copies each layer blob to dest/NN.tar (compressed ones stay compressed: bsdtar reads them)."""
    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    with tarfile.open(image) as t:
        for n, member in enumerate(layer_members(t)):
            path = dest / f"{n:02d}.tar"
            with t.extractfile(member) as src, open(path, "wb") as out:
                shutil.copyfileobj(src, out, 8 << 20)
            paths.append(path)
    return paths


def cases(whittle: str, image: Path, layers: list[Path], out: Path) -> dict[str, b.Case]:
    def o(name: str) -> Path:
        return out / f"{image.stem}.{name}.tar"
    return {
        "bsdtar": b.Case("bsdtar", "bsdtar -cf OUT @layer…", ["bsdtar", "-cf", str(o("bsdtar"))]
                         + ["@" + str(p) for p in layers], o("bsdtar")),
        # openssl's SHA-256 uses the CPU's SHA extensions, as whittle's does; coreutils' does not.
        "hashed": b.Case("hashed", "bsdtar … | tee OUT | openssl sha256, openssl sha256 layer… beside it", [
            "bash", "-c", 'openssl sha256 "$@" > /dev/null & bsdtar -cf - "${@/#/@}" | tee "$0" | openssl sha256 '
            '> /dev/null '
            '&& wait $!', str(o("hashed"))] + [str(p) for p in layers], o("hashed")),
        "flatten": b.Case("flatten", "whittle slim IMAGE -o OUT", [whittle, "slim", str(image), "-o",
                          str(o("flatten")), "-q"], o("flatten")),
        "safe": b.Case("safe", "whittle slim IMAGE -o OUT --profile safe", [whittle, "slim", str(image), "-o",
                       str(o("safe")), "--profile", "safe", "-q"], o("safe")),
        "pipe": b.Case("pipe", "cat IMAGE | whittle slim - -o - > OUT",
                       ["sh", "-c", 'cat "$1" | "$0" slim - -o - -q > "$2"', whittle, str(image), str(o("pipe"))],
                       o("pipe")),
        "pipeout": b.Case("pipeout", "cat IMAGE | whittle slim - -o - | cat > OUT",
                          ["sh", "-c", 'cat "$1" | "$0" slim - -o - -q | cat > "$2"', whittle, str(image),
                           str(o("pipeout"))], o("pipeout")),
        # The trace's set-up (the flattened root written out, the sandbox started) against
        # extracting every layer in order, each into a new directory removed afterwards, as
        # the trace removes its root. Root only; the image needs /bin/true.
        "extract": b.Case("extract", "bsdtar -xpf layer… -C DIR", [
            "sh", "-c", 'd=$(mktemp -d "$0/x.XXXX") && for l; do bsdtar -xpf "$l" -C "$d" || exit 1; done; '
            'rm -rf "$d"', str(out)] + [str(p) for p in layers], o("extract")),
        "trace": b.Case("trace", "whittle trace IMAGE -o OUT -- /bin/true", [
            whittle, "trace", str(image), "-o", str(o("trace")), "--network", "none", "-q", "--", "/bin/true"],
            o("trace")),
    }


def machine() -> str:
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} CPUs ({cpu}), {ram:.0f} GiB RAM, {platform.platform()}"


def loadavg() -> str:
    return " ".join(open("/proc/loadavg").read().split()[:3])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("images", nargs="+", type=Path)
    ap.add_argument("--whittle", required=True)
    ap.add_argument("--workdir", type=Path, required=True, help="where results-floor.md goes")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", default="bsdtar,hashed,flatten,safe,pipe,pipeout",
                    help="comma-separated subset of bsdtar, hashed, flatten, safe, pipe, pipeout, and (as root) "
                    "extract, trace")
    ap.add_argument("--timeout", type=float, default=None, help="per-run timeout in seconds")
    a = ap.parse_args()
    wanted = a.only.split(",")

    start = loadavg()
    rows, ratios, failed = [], [], False
    with tempfile.TemporaryDirectory(prefix="whittle-floor.") as tmp:
        for image in a.images:
            b.log(f"{image.name}: extracting its layers (not timed)")
            layers = extract_layers(image, Path(tmp) / image.stem)
            b.warm_cache(image)
            for layer in layers:
                b.warm_cache(layer)
            chosen = [c for k, c in cases(a.whittle, image, layers, Path(tmp)).items() if k in wanted]
            b.run_rounds(chosen, a.runs, a.timeout, drop_after=True)
            by_key = {c.key: c for c in chosen}
            for c in chosen:
                failed |= c.error is not None
                rows.append(f"| {image.name} | {c.label} | {len(c.walls)} | {b.fmt_s(c.median_wall())} | "
                            + (f"{min(c.walls):.2f}–{max(c.walls):.2f}" if c.walls else "n/a")
                            + f" | {b.fmt_s(c.median_cpu())} | {b.fmt_rss(c.peak_rss())} |"
                            + (f" {c.error}" if c.error else ""))
                c.output.unlink(missing_ok=True)

            def r(x: str, y: str) -> str:
                cx, cy = by_key.get(x), by_key.get(y)
                return b.ratio(cx and cx.median_wall(), cy and cy.median_wall())
            ratios.append(f"| {image.name} | {r('flatten', 'bsdtar')} | {r('flatten', 'hashed')} | "
                          f"{r('safe', 'flatten')} | "
                          f"{r('pipe', 'flatten')} | {r('pipeout', 'flatten')} | {r('trace', 'extract')} |")
            shutil.rmtree(Path(tmp) / image.stem)

    text = "\n".join([
        "# whittle against the floor", "",
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}; {machine()}; load average {start} at the start, "
        f"{loadavg()} at the end. {a.runs} interleaved runs per command, warm page cache.", "",
        "| image | command | runs | median wall (s) | min–max (s) | median CPU (s) | peak RSS (MiB) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |", *rows, "",
        "| image | flatten / bsdtar | flatten / hashed | `--profile safe` / flatten | pipe / file | pipe to pipe / file "
        "| trace set-up / `bsdtar -x` |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |", *ratios, ""])
    a.workdir.mkdir(parents=True, exist_ok=True)
    (a.workdir / "results-floor.md").write_text(text)
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
