#!/usr/bin/env python3
"""Writes a synthetic `docker save` image with many entries, for measuring memory per entry.

    bench/make_many_files.py OUT.tar [--entries 500000] [--gib 8]

The image has one layer in the legacy `docker save` form (`<id>/layer.tar`, a config and
`manifest.json`). The layer looks like a large Python install: packages of modules in
nested directories, each with `__pycache__` and `tests` folders, so the removal profiles
find work. File sizes vary around the mean that makes the total `--gib`.

File data is all zeros and is skipped with a seek rather than written, so OUT.tar is a
sparse file taking little disk, though every tool that reads it sees all the bytes. The
layer's digest is computed as it is written; hashing the zeros is most of the run time.
"""

import argparse
import hashlib
import json
import os
import sys
import tarfile

BLOCK = 512
ZEROS = bytes(1 << 20)


def padded(size):
    return (size + BLOCK - 1) // BLOCK * BLOCK


def layout(entries, total_bytes):
    """Yields (path, kind, size) for every entry: directories before what they hold."""
    files_per_module_dir = 40
    dirs_per_package = 3  # the package, its __pycache__ and its tests
    per_package = dirs_per_package + files_per_module_dir * 3
    packages = max(1, entries // per_package)
    files = packages * files_per_module_dir * 3
    mean = total_bytes // max(1, files)
    index = 0
    yield "usr/", "dir", 0
    yield "usr/lib/", "dir", 0
    yield "usr/lib/python3/", "dir", 0
    yield "usr/lib/python3/site-packages/", "dir", 0
    for package in range(packages):
        base = f"usr/lib/python3/site-packages/pkg{package:05d}/"
        yield base, "dir", 0
        for folder in ("", "__pycache__/", "tests/"):
            if folder:
                yield base + folder, "dir", 0
            for module in range(files_per_module_dir):
                # Sizes from 1/8 to 15/8 of the mean, in a fixed cycle: the total stays exact.
                size = mean * (1 + 2 * (index % 8)) // 8
                index += 1
                suffix = ".cpython-311.pyc" if folder == "__pycache__/" else ".py"
                name = f"test_module{module:03d}" if folder == "tests/" else f"module{module:03d}"
                yield base + folder + name + suffix, "file", size


def header(path, kind, size):
    info = tarfile.TarInfo(path)
    info.type = tarfile.DIRTYPE if kind == "dir" else tarfile.REGTYPE
    info.mode = 0o755 if kind == "dir" else 0o644
    info.size = size
    info.mtime = 1_700_000_000
    info.uname = info.gname = "root"
    return info.tobuf(format=tarfile.GNU_FORMAT)


class SparseWriter:
    """Writes to OUT, hashing the layer's bytes; zeros become a seek."""

    def __init__(self, out):
        self.out = out
        self.digest = None

    def write(self, data):
        self.out.write(data)
        if self.digest:
            self.digest.update(data)

    def zeros(self, count):
        self.out.seek(count, os.SEEK_CUR)
        if self.digest:
            while count > 0:
                step = min(count, len(ZEROS))
                self.digest.update(ZEROS[:step])
                count -= step


def member(writer, name, data):
    writer.write(header(name, "file", len(data)))
    writer.write(data)
    writer.write(bytes(padded(len(data)) - len(data)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--entries", type=int, default=500_000)
    parser.add_argument("--gib", type=float, default=8.0)
    args = parser.parse_args()

    entries = list(layout(args.entries, int(args.gib * (1 << 30))))
    layer_size = sum(BLOCK + padded(size) for _, _, size in entries) + 2 * BLOCK
    layer_name = "0" * 63 + "1/layer.tar"
    partial = args.out + ".partial"
    with open(partial, "wb") as out:
        writer = SparseWriter(out)
        writer.write(header(layer_name.split("/")[0] + "/", "dir", 0))
        writer.write(header(layer_name, "file", layer_size))
        writer.digest = hashlib.sha256()
        for count, (path, kind, size) in enumerate(entries):
            writer.write(header(path, kind, size))
            writer.zeros(padded(size))
            if count % 50_000 == 0:
                print(f"make_many_files: {count:,} of {len(entries):,} entries", file=sys.stderr)
        writer.zeros(2 * BLOCK)
        diff_id = "sha256:" + writer.digest.hexdigest()
        writer.digest = None
        config = json.dumps({
            "architecture": "amd64", "os": "linux",
            "config": {"Cmd": ["/bin/true"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created_by": "bench/make_many_files.py"}],
        }).encode()
        config_name = hashlib.sha256(config).hexdigest() + ".json"
        member(writer, config_name, config)
        manifest = json.dumps([{"Config": config_name, "RepoTags": ["whittle-bench/many-files:latest"],
                                "Layers": [layer_name]}]).encode()
        member(writer, "manifest.json", manifest)
        writer.zeros(2 * BLOCK)
        out.truncate()
    os.replace(partial, args.out)
    print(f"make_many_files: wrote {args.out}: {len(entries):,} entries, layer {layer_size:,} bytes",
          file=sys.stderr)


if __name__ == "__main__":
    main()
