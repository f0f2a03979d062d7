#!/usr/bin/env python3
"""Writes whittle's hostile-archive corpus: one `docker save` archive per case, and a manifest.

    make_hostile.py OUTDIR            # every case
    make_hostile.py OUTDIR NAME...    # only the cases named
    make_hostile.py --engine OUTDIR   # only the cases a Docker engine is given (not "skip")

Each case is OUTDIR/NAME.tar, a Docker <= 24 `docker save` archive (manifest.json, the config as
<digest>.json, <id>/layer.tar) tagged whittle-hostile/NAME:1, whose layers are written byte by
byte here. OUTDIR/manifest.json lists the cases:

    {"name": ..., "file": "NAME.tar", "about": "...",
     "outcome": "refuse" | "docker",
     "message": "...",          # refuse: a substring whittle's error must contain
     "engine": "refuses" | "loads" | "skip",
                                # what a real Docker engine does with the archive (checked by the
                                # tests); skip where loading it would cost the engine too much
     "inspect": "refuses" | "accepts"}
                                # what `whittle inspect` must do: it reads headers only, so it
                                # checks no digest

`refuse`: whittle must exit non-zero with that text and leave no output. `docker`: whittle's
output, loaded into a real engine, must export exactly what the engine makes of the archive.
Only the Python standard library is used, and the same arguments always give the same bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import zlib

MTIME = 1_000_000_000  # 2001-09-09T01:46:40Z: every entry, so exports compare exactly
BLOCK = 512

# ---------------------------------------------------------------------------------------------
# Tar members, byte by byte (names are bytes so that any byte can be written)


def octal(value: int, width: int) -> bytes:
    return (b"%0*o" % (width - 1, value)) + b"\0"


def header(name: bytes, kind: bytes = b"0", size: int = 0, mode: int = 0o644, link: bytes = b"",
           magic: bytes = b"ustar\x0000", extra: dict[int, bytes] | None = None) -> bytes:
    """One 512-byte header. `extra` places raw bytes at offsets (GNU sparse fields)."""
    if len(name) > 100 or len(link) > 100:
        raise ValueError(f"name or link too long for a plain header: {name!r}")
    block = bytearray(BLOCK)
    block[0:len(name)] = name
    block[100:108] = octal(mode, 8)
    block[108:116] = octal(0, 8)
    block[116:124] = octal(0, 8)
    block[124:136] = octal(size, 12) if size < 8**11 else b"\x80" + size.to_bytes(11, "big")
    block[136:148] = octal(MTIME, 12)
    block[156:157] = kind
    block[157:157 + len(link)] = link
    block[257:265] = magic
    for offset, raw in (extra or {}).items():
        block[offset:offset + len(raw)] = raw
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % BLOCK)


def pax_records(records: dict[str, bytes | str]) -> bytes:
    out = b""
    for key, value in records.items():
        raw = value if isinstance(value, bytes) else str(value).encode()
        body = b" " + key.encode() + b"=" + raw + b"\n"
        length = len(body) + 1
        while len(str(length).encode()) + len(body) != length:
            length += 1
        out += str(length).encode() + body
    return out


class Layer:
    """A layer tar built member by member. Names longer than a header holds go in PAX."""

    def __init__(self) -> None:
        self.members: list[bytes] = []   # each member's bytes, headers and data together

    def add(self, name: str | bytes, kind: bytes = b"0", data: bytes = b"", mode: int = 0o644,
            link: str | bytes = b"", pax: dict[str, bytes | str] | None = None) -> "Layer":
        name = name.encode() if isinstance(name, str) else name
        link = link.encode() if isinstance(link, str) else link
        records = dict(pax or {})
        if len(name) > 100:
            records["path"] = name
            name = name[:99]
        if len(link) > 100:
            records["linkpath"] = link
            link = link[:99]
        out = b""
        if records:
            body = pax_records(records)
            out += header(b"PaxHeaders/" + name[:80], b"x", len(body)) + pad(body)
        out += header(name, kind, len(data), mode, link) + pad(data)
        self.members.append(out)
        return self

    def dir(self, name: str | bytes, mode: int = 0o755) -> "Layer":
        return self.add(name, b"5", mode=mode)

    def file(self, name: str | bytes, text: str | bytes = "", mode: int = 0o644, **kw) -> "Layer":
        return self.add(name, b"0", text.encode() if isinstance(text, str) else text, mode, **kw)

    def symlink(self, name: str | bytes, target: str | bytes) -> "Layer":
        return self.add(name, b"2", mode=0o777, link=target)

    def hardlink(self, name: str | bytes, target: str | bytes) -> "Layer":
        return self.add(name, b"1", link=target)

    def raw(self, member: bytes) -> "Layer":
        self.members.append(member)
        return self

    def tar(self) -> bytes:
        return b"".join(self.members) + b"\0" * (2 * BLOCK)


# ---------------------------------------------------------------------------------------------
# docker save archives


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def outer_member(name: str, data: bytes) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), MTIME, 0o644
    return info.tobuf(format=tarfile.USTAR_FORMAT) + pad(data)


def archive(tag: str, layers: list[bytes], diff_ids: list[str] | None = None,
            config_extra: bytes = b"", entrypoint: list[str] | None = None,
            layer_names: list[str] | None = None, config_name: str | None = None) -> bytes:
    """A Docker <= 24 `docker save` archive. `layers` are the stored blobs (plain or gzip);
    `diff_ids` default to the sha256 of each plain tar. `config_extra` is spliced into the
    config object raw (for documents no JSON writer would make)."""
    if diff_ids is None:
        diff_ids = ["sha256:" + digest(gzip.decompress(b) if b[:2] == b"\x1f\x8b" else b) for b in layers]
    config = {
        "architecture": "amd64", "os": "linux", "created": "2001-09-09T01:46:40Z",
        "config": {"Entrypoint": entrypoint, "Cmd": ["/x"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2001-09-09T01:46:40Z", "created_by": f"hostile layer {i + 1}"}
                    for i in range(len(layers))],
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    if config_extra:
        config_bytes = config_bytes[:-1] + b',"x-hostile":' + config_extra + b"}"
    config_hex = digest(config_bytes)
    names, members, seen = [], [], set()
    for index, blob in enumerate(layers):
        name = (layer_names or [None] * len(layers))[index] or f"{digest(blob + bytes([index % 256]) + str(index).encode())}/layer.tar"
        names.append(name)
        if name not in seen and not name.startswith(("/", "..")):
            members.append(outer_member(name, blob))
            seen.add(name)
    manifest = [{"Config": config_name or f"{config_hex}.json", "RepoTags": [tag], "Layers": names}]
    members.append(outer_member(f"{config_hex}.json", config_bytes))
    members.append(outer_member("manifest.json", json.dumps(manifest).encode()))
    return b"".join(members) + b"\0" * (2 * BLOCK)


# ---------------------------------------------------------------------------------------------
# The cases


CASES: list[dict] = []


def case(name: str, about: str, outcome: str, engine: str, message: str = "", inspect: str = ""):
    def register(build):
        CASES.append({"name": name, "about": about, "outcome": outcome, "engine": engine,
                      "message": message,
                      "inspect": inspect or ("refuses" if outcome == "refuse" else "accepts"), "build": build})
        return build
    return register


def base() -> Layer:
    """What most cases start from: a few directories and files, every entry listed."""
    return (Layer().dir("etc/").file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
            .dir("data/").file("data/a", "a\n").file("data/b", "b\n").dir("tmp/", 0o1777))


def simple(*layers: Layer, **kw) -> callable:
    return lambda tag: archive(tag, [layer.tar() for layer in layers], **kw)


# `..`, absolute names

case("dotdot-entry", "an entry named ../../escape", "refuse", "loads", "climbs out of the image root")(
    simple(base().file("../../escape", "out\n")))
case("dotdot-folds-inside", "an entry data/../c that folds to c inside the root", "docker", "loads")(
    simple(base().file("data/../c", "c\n")))
case("absolute-entries", "entries, a hardlink target and a symlink with a leading /", "docker", "loads")(
    simple(base().dir("/abs/").file("/abs/f", "abs\n").hardlink("/abs/h", "/abs/f").symlink("/abs/s", "/etc/passwd")))
case("dotdot-symlink-target", "a symlink whose target climbs with ..: kept as it is", "docker", "loads")(
    simple(base().symlink("data/up", "../../../../../etc/passwd")))
case("dotdot-hardlink-target", "a hardlink to ../../etc/passwd", "refuse", "loads", "outside the image root")(
    simple(base().hardlink("data/h", "../../etc/passwd")))
case("dotdot-whiteout", "a whiteout etc/.wh.. naming the directory's parent", "refuse", "refuses",
     "names no single file")(simple(base(), Layer().dir("etc/").file("etc/.wh..")))
case("dotdot-whiteout-climbs", "a whiteout ../.wh.etc above the root", "refuse", "loads", "climbs out of the image root")(
    simple(base(), Layer().file("../.wh.etc")))
case("dotdot-manifest-layer", "manifest.json names a layer ../../layer.tar", "refuse", "refuses",
     "climbs out of the archive")(lambda tag: archive(tag, [base().tar()], layer_names=["../../layer.tar"]))
case("dotdot-manifest-config", "manifest.json names the config ../config.json", "refuse", "refuses",
     "climbs out of the archive")(lambda tag: archive(tag, [base().tar()], config_name="../config.json"))

# Writes through symlinks

case("symlink-out-absolute", "evil -> /tmp/x, then evil/pwned: /tmp/x is not in the image", "refuse", "refuses",
     "'evil'")(simple(base().symlink("evil", "/tmp/x").file("evil/pwned", "pwned\n")))
case("symlink-out-relative", "evil -> ../../../tmp/x, then evil/pwned", "refuse", "refuses",
     "'data/evil' -> '../../../tmp/x'")(
    simple(base().symlink("data/evil", "../../../tmp/x").file("data/evil/pwned", "pwned\n")))
case("symlink-dangling", "d -> nowhere, then d/sub/f", "refuse", "refuses", "'nowhere'")(
    simple(base().symlink("d", "nowhere").file("d/sub/f", "f\n")))
case("symlink-out-next-layer", "evil -> /tmp/x in one layer, evil/pwned in the next", "refuse", "refuses",
     "'/tmp/x'")(simple(base().symlink("evil", "/tmp/x"), Layer().file("evil/pwned", "pwned\n")))
case("symlink-absolute-inside", "in -> /data, then in/f: written to data/f", "docker", "loads")(
    simple(base().symlink("in", "/data").file("in/f", "f\n")))
case("symlink-escape-to-existing", "evil -> ../../../tmp, then evil/x: .. stops at the root", "docker", "loads")(
    simple(base().symlink("data/evil", "../../../tmp").file("data/evil/x", "x\n")))
case("symlink-to-file", "l -> data/a (a file), then l/x", "refuse", "refuses", "not a directory")(
    simple(base().symlink("l", "data/a").file("l/x", "x\n")))
# (Directories Docker makes for an entry whose parents the layer does not list get mode 0600
# from Docker 20.10 and 0755 from Docker 25: the cases list every directory they write.)
case("symlink-dir-below", "l -> data, then l/new/, l/new/deeper/ and l/new/deeper/f: written in data/", "docker",
     "loads")(simple(base().symlink("l", "data").dir("l/new/").dir("l/new/deeper/").file("l/new/deeper/f", "f\n")))
case("whiteout-after-file", "x, then .wh.x in the same layer: Docker applies entries in order", "docker", "loads")(
    simple(base(), Layer().dir("data/").file("data/x", "x\n").file("data/.wh.x").file("data/.wh.a")))
case("whiteout-before-file", ".wh.a, then a in the same layer", "docker", "loads")(
    simple(base(), Layer().dir("data/").file("data/.wh.a").file("data/a", "new a\n")))
case("opaque-under-symlink", "l -> data, then l/.wh..wh..opq: Docker does not follow the link", "docker", "loads")(
    simple(base().symlink("l", "data"), Layer().file("l/.wh..wh..opq")))
case("whiteout-through-symlink", "l -> data, then l/.wh.a in the next layer removes data/a", "docker", "loads")(
    simple(base().symlink("l", "data"), Layer().dir("data/").file("l/.wh.a")))

# Hardlinks

case("hardlink-missing", "a hardlink to a name that does not exist", "refuse", "refuses", "does not exist")(
    simple(base().hardlink("data/h", "data/nothing")))
case("hardlink-to-directory", "a hardlink to a directory", "refuse", "refuses", "directory")(
    simple(base().hardlink("data/h", "etc")))
case("hardlink-loop", "a -> b and b -> a, neither a file", "refuse", "refuses", "does not exist")(
    simple(base().hardlink("data/x", "data/y").hardlink("data/y", "data/x")))
case("hardlink-swap", "a -> b and b -> a over two existing files", "docker", "loads")(
    simple(base(), Layer().dir("data/").hardlink("data/a", "data/b").hardlink("data/b", "data/a")))
case("hardlink-self", "a hardlink a -> a over an existing file: Docker removes a first", "refuse", "refuses",
     "does not exist")(simple(base(), Layer().hardlink("data/a", "data/a")))
case("hardlink-into-replaced", "a hardlink data -> data/a replaces the directory it names", "refuse", "refuses",
     "does not exist")(simple(base(), Layer().hardlink("data", "data/a")))

# Symlink loops

case("symlink-loop-write", "a -> b, b -> a, then a/f", "refuse", "refuses", "too many levels of symbolic links")(
    simple(base().symlink("a", "b").symlink("b", "a").file("a/f", "f\n")))
case("symlink-loop-entrypoint", "the entrypoint and lib are symlink loops: slim must not hang", "docker", "loads")(
    simple(base().dir("bin/").symlink("bin/app", "app").symlink("lib", "lib").symlink("lib64", "lib"),
           entrypoint=["/bin/app"]))

# Long names and deep trees

def long_path(total: int) -> str:
    parts, length = [], 0
    while length + 201 < total:
        parts.append(("d%03d" % len(parts)) + "x" * 196)
        length += 201
    parts.append("f" * (total - length))
    return "/".join(parts)


def tree_of(path: str) -> Layer:
    layer = base()
    parts = path.split("/")
    for depth in range(1, len(parts)):
        layer.dir("/".join(parts[:depth]) + "/")
    return layer.file(path, "deep\n")


case("path-4096", "a file whose path is 4,096 bytes, over Linux's PATH_MAX", "refuse", "refuses", "PATH_MAX")(
    simple(tree_of(long_path(4096))))
# The longest path Docker applies is 4,094 bytes, but it cannot export one that long (the
# path of its storage comes first), so the case the engine checks is a little shorter.
case("path-3900", "a file whose path is 3,900 bytes", "docker", "loads")(simple(tree_of(long_path(3900))))
case("path-4095", "a file whose path is 4,095 bytes", "refuse", "refuses", "PATH_MAX")(
    simple(tree_of(long_path(4095))))
case("name-256", "a name of 256 bytes, over NAME_MAX", "refuse", "refuses", "NAME_MAX")(
    simple(base().file("data/" + "n" * 256, "n\n")))
# symlink(2) takes a target of at most PATH_MAX bytes with its terminating NUL: Docker's
# applier fails on a longer one ("file name too long").
case("symlink-target-4096", "a symlink whose target is 4,096 bytes, over Linux's PATH_MAX", "refuse", "refuses",
     "PATH_MAX")(simple(base().symlink("data/long", long_path(4096))))
case("symlink-target-4095", "a symlink whose target is 4,095 bytes, the longest Linux takes", "docker", "loads")(
    simple(base().symlink("data/long", long_path(4095))))
case("deep-400", "a tree 400 directories deep", "docker", "loads")(
    simple(tree_of("/".join(["d"] * 400) + "/bottom")))

# Names that are not UTF-8

case("non-utf8-name", "a file named data/bad-\\xff\\xfe", "refuse", "loads", "not valid UTF-8")(
    simple(base().file(b"data/bad-\xff\xfe", "x\n")))
case("non-utf8-symlink", "a symlink whose target is not UTF-8", "refuse", "loads", "not valid UTF-8")(
    simple(base().symlink("data/s", b"bad-\xc3\x28")))

# Duplicates

case("duplicate-file", "one name twice in a layer", "refuse", "refuses", "twice")(
    simple(base().file("data/dup", "first\n").file("data/dup", "second\n")))
case("duplicate-dir-then-file", "a directory with a child, then a file of the same name", "refuse", "refuses", "twice")(
    simple(base().dir("data/d/").file("data/d/x", "x\n").file("data/d", "now a file\n")))
case("duplicate-linked-file", "a, b -> a, then a again", "refuse", "refuses", "twice")(
    simple(base().file("data/h1", "one\n").hardlink("data/h2", "data/h1").file("data/h1", "two\n")))


# Tar forms

def gnu_sparse(name: bytes, real_size: int, chunks: list[tuple[int, bytes]]) -> bytes:
    """An old GNU sparse member (type S) with up to four chunks in its header."""
    extra = {257: b"ustar  \0"}
    for i, (offset, data) in enumerate(chunks):
        extra[386 + 24 * i] = octal(offset, 12)
        extra[398 + 24 * i] = octal(len(data), 12)
    extra[483] = octal(real_size, 12)
    stored = b"".join(data for _, data in chunks)
    raw = bytearray(header(name, b"S", len(stored), 0o644, magic=b"ustar  \0", extra=extra))
    return bytes(raw) + pad(stored)


case("gnu-sparse", "an old GNU sparse file (type S), which Docker's applier does not take", "refuse", "refuses",
     "sparse")(
    simple(base().raw(gnu_sparse(b"data/sparse", 3 * 65536 + 100,
                                 [(0, b"head" * 128), (65536, b"mid" * 200), (3 * 65536 + 100, b"")]))))


def pax_sparse(name: str, real_size: int, chunks: list[tuple[int, bytes]]) -> bytes:
    """A PAX sparse file, format 1.0 as GNU tar writes it: the map leads the data."""
    sparse_map = f"{len(chunks)}\n" + "".join(f"{o}\n{len(d)}\n" for o, d in chunks)
    body = pad(sparse_map.encode()) + b"".join(d for _, d in chunks)
    records = pax_records({"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": name,
                           "GNU.sparse.realsize": str(real_size)})
    stored = "GNUSparseFile.0/" + name.rsplit("/", 1)[-1]
    return (header(b"PaxHeaders/sparse", b"x", len(records)) + pad(records)
            + header(stored.encode(), b"0", len(body)) + pad(body))


case("pax-sparse", "a PAX 1.0 sparse file: holes and data", "docker", "loads")(
    simple(base().raw(pax_sparse("data/sparse", 3 * 65536 + 100, [(0, b"head" * 128), (65536, b"mid" * 200)]))))
case("pax-huge-size", "a PAX header that claims a file of 99 TB over 6 bytes of data", "refuse", "refuses",
     "runcated")(simple(base().file("data/huge", "small\n", pax={"size": "99000000000000"})))


def bomb(tag: str) -> bytes:
    """A gzip layer of 11 MiB that inflates to 11 GiB: one file of zeros. The gzip is many
    members, each a compressed 64 MiB of zeros, as gzip readers take concatenated members."""
    size = 11 << 30
    head = header(b"zeros", b"0", size)
    chunk = 64 << 20
    zeros = gzip.compress(b"\0" * chunk, compresslevel=9, mtime=0)
    blob = io.BytesIO()
    blob.write(gzip.compress(head, mtime=0))
    hasher = hashlib.sha256(head)
    zero_chunk = b"\0" * chunk
    for _ in range(size // chunk):
        blob.write(zeros)
        hasher.update(zero_chunk)
    tail = b"\0" * (2 * BLOCK)
    blob.write(gzip.compress(tail, mtime=0))
    hasher.update(tail)
    return archive(tag, [blob.getvalue()], diff_ids=["sha256:" + hasher.hexdigest()])


case("gzip-bomb", "an 11 MiB gzip layer that inflates to 11 GiB", "refuse", "skip", "--max-inflation")(bomb)


def sparse_bomb(tag: str) -> bytes:
    layer = base().raw(pax_sparse("data/hole", 64 << 30, [(0, b"x" * 512), (64 << 30, b"")]))
    return archive(tag, [layer.tar()])


case("sparse-bomb", "a 7 KiB layer with a PAX sparse file of 64 GiB", "refuse", "skip", "--max-inflation")(sparse_bomb)


# Manifests and configs

LAYERS = int(os.environ.get("HOSTILE_LAYERS", "3000"))


def many_layers(tag: str) -> bytes:
    layers = [base().tar()] + [Layer().dir("data/").file(f"data/layer-{i:04d}", f"{i}\n").tar()
                                for i in range(1, LAYERS)]
    return archive(tag, layers)


case("thousands-of-layers", "a manifest of 3,000 layers", "refuse", "refuses", "layers")(many_layers)
case("config-nested-100000", "a config with an array nested 100,000 deep", "refuse", "refuses",
     "nested more than 512 levels")(lambda tag: archive(tag, [base().tar()], config_extra=b"[" * 100_000 + b"]" * 100_000))
case("diff-id-mismatch", "a layer whose content does not hash to its diff_id (inspect reads headers only)",
     "refuse", "refuses", "does not match its diff_id", inspect="accepts")(lambda tag: archive(tag, [base().tar()], diff_ids=["sha256:" + "0" * 64]))


# Truncated layers: at every member boundary (the end-of-archive blocks missing) and inside
# every header. Each diff_id is the digest of the truncated bytes, so truncation is the only fault.

def truncations() -> None:
    layer = base().symlink("data/s", "a")
    members = layer.members
    offset = 0
    for number, member in enumerate(members):
        cut = offset + 100  # inside this member's header
        register_truncated(f"truncated-header-{number + 1}", f"the layer ends 100 bytes into member {number + 1}'s header",
                           layer, cut, "refuse", "refuses")
        offset += len(member)
        register_truncated(f"truncated-after-{number + 1}", f"the layer ends right after member {number + 1}",
                           layer, offset, "docker", "loads")
    register_truncated("truncated-in-data", "the layer ends inside data/a's data", layer,
                       sum(len(m) for m in members[:4]) + BLOCK + 1, "refuse", "refuses")


def register_truncated(name: str, about: str, layer: Layer, cut: int, outcome: str, engine: str) -> None:
    def build(tag: str) -> bytes:
        return archive(tag, [layer.tar()[:cut]])
    message = "runcated" if outcome == "refuse" else ""
    if cut < BLOCK:
        message = "Unrecognized archive format"  # too short for libarchive to know it is a tar
    case(name, about, outcome, engine, message)(build)


truncations()


# ---------------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    for_engine = argv[0] == "--engine"
    if for_engine:
        argv = argv[1:]
    out, wanted = argv[0], set(argv[1:])
    unknown = wanted - {c["name"] for c in CASES}
    if unknown:
        print(f"make_hostile.py: no such case: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    os.makedirs(out, exist_ok=True)
    listed = []
    for spec in CASES:
        if (wanted and spec["name"] not in wanted) or (for_engine and spec["engine"] == "skip"):
            continue
        entry = {k: v for k, v in spec.items() if k != "build"}
        entry["file"] = spec["name"] + ".tar"
        with open(os.path.join(out, entry["file"]), "wb") as handle:
            handle.write(spec["build"]("whittle-hostile/" + spec["name"] + ":1"))
        listed.append(entry)
    with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as handle:
        json.dump(listed, handle, indent=1)
        handle.write("\n")
    print(f"{len(listed)} cases written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
