#!/usr/bin/env python3
"""Helpers for Fixtures/make-fixtures.sh.

    make_fixtures.py corners OUT.tar
        Writes the `corners` image as a Docker <= 24 `docker save` archive (manifest.json, config,
        <id>/layer.tar), with layers crafted entry by entry (see Fixtures/README.md). The output
        is byte-for-byte reproducible.

    make_fixtures.py demo BUSYBOX OUT.tar
        Writes the `demo-app` image (README's first command slims it) as a `docker save` archive
        with gzip layers: busybox as its one program, and what a naive Dockerfile leaves behind
        (apt lists and caches, a compiler, headers, docs, pip's cache, __pycache__, packages'
        tests), made of generated but real-looking content. Reproducible for a given busybox.

    make_fixtures.py docker25 LEGACY.tar OUT.tar
        Rewrites a Docker <= 24 `docker save` archive in the layout `docker save` writes since
        Docker 25: oci-layout, index.json, blobs/sha256/... (uncompressed layers, the config bytes
        unchanged), plus a manifest.json and a repositories file pointing into blobs/sha256/.

    make_fixtures.py dive-copy ARCHIVE.tar OUT.tar
        Writes a copy of a `docker save` archive that dive 0.13 reads: each layer gunzipped and
        its leading PAX global headers cut off, which changes no entry (the blobs keep their
        names, so their digests no longer match). dive refuses both in a docker-archive.

    make_fixtures.py describe ARCHIVE.tar
        Prints the members of an archive and of each layer in it (for eyeballing a fixture).
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import io
import json
import os
import platform
import struct
import sys
import tarfile

# ---------------------------------------------------------------------------------------------
# Tar writing


class Info(tarfile.TarInfo):
    """A TarInfo that can (1) leave the trailing '/' off a directory name and (2) write PAX
    values given as bytes raw, as Go's archive/tar does for SCHILY.xattr.* (no hdrcharset)."""

    no_slash = False

    def get_info(self):
        info = super().get_info()
        if self.no_slash:
            info["name"] = info["name"].rstrip("/")
        return info

    @classmethod
    def _create_pax_generic_header(cls, pax_headers, type, encoding):
        records = b""
        for keyword, value in pax_headers.items():
            key = keyword.encode("utf-8")
            val = value if isinstance(value, bytes) else value.encode("utf-8")
            length = len(key) + len(val) + 3  # ' ' '=' '\n'
            n = p = 0
            while True:
                n = length + len(str(p))
                if n == p:
                    break
                p = n
            records += str(p).encode("ascii") + b" " + key + b"=" + val + b"\n"
        info = {"name": "././@PaxHeader", "type": type, "size": len(records),
                "magic": tarfile.POSIX_MAGIC}
        return cls._create_header(info, tarfile.USTAR_FORMAT, "ascii", "replace") + \
            cls._create_payload(records)


class Layer:
    """Builds one layer tar in memory, entry by entry, in the order the calls are made."""

    def __init__(self, fmt=tarfile.PAX_FORMAT, prefix="", mtime=0, global_pax=None):
        self.buf = io.BytesIO()
        kwargs = {}
        if global_pax:
            kwargs["pax_headers"] = global_pax
        self.tar = tarfile.open(fileobj=self.buf, mode="w", format=fmt, tarinfo=Info,
                                encoding="utf-8", **kwargs)
        self.prefix = prefix
        self.mtime = mtime
        self.files: dict[str, Info] = {}

    def _info(self, name, kind, mode, uid=0, gid=0, mtime=None, xattrs=None):
        info = Info(self.prefix + name)
        info.type = kind
        info.mode = mode
        info.uid, info.gid = uid, gid
        info.uname = info.gname = ""
        info.mtime = self.mtime if mtime is None else mtime
        if xattrs:
            info.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in xattrs.items()}
        return info

    def dir(self, name, mode=0o755, no_slash=False, **kw):
        info = self._info(name, tarfile.DIRTYPE, mode, **kw)
        info.no_slash = no_slash
        self.tar.addfile(info)

    def file(self, name, data, mode=0o644, kind=tarfile.REGTYPE, **kw):
        if isinstance(data, str):
            data = data.encode("utf-8")
        info = self._info(name, kind, mode, **kw)
        info.size = len(data)
        self.tar.addfile(info, io.BytesIO(data))
        self.files[name] = info

    def hardlink(self, name, target, like=None):
        """A link to `target`, an earlier member of this tar or (with `like`, the file's TarInfo
        there) a file of a lower layer. The link header carries the attributes of the file, as
        tar and Go's archive/tar write them: Docker applies a link header's mode, owner and
        mtime to the shared inode."""
        source = like or self.files.get(target)
        info = self._info(name, tarfile.LNKTYPE, source.mode if source else 0o644,
                          uid=source.uid if source else 0, gid=source.gid if source else 0,
                          mtime=source.mtime if source else None)
        info.linkname = self.prefix + target
        self.tar.addfile(info)

    def symlink(self, name, target, **kw):
        info = self._info(name, tarfile.SYMTYPE, 0o777, **kw)
        info.linkname = target
        self.tar.addfile(info)

    def chardev(self, name, major, minor, mode=0o666, **kw):
        info = self._info(name, tarfile.CHRTYPE, mode, **kw)
        info.devmajor, info.devminor = major, minor
        self.tar.addfile(info)

    def fifo(self, name, mode=0o644, **kw):
        self.tar.addfile(self._info(name, tarfile.FIFOTYPE, mode, **kw))

    def whiteout(self, name):
        """`dir/.wh.base`, which deletes `dir/base` of the lower layers."""
        head, _, base = name.rpartition("/")
        path = (head + "/" if head else "") + ".wh." + base
        self.tar.addfile(self._info(path, tarfile.REGTYPE, 0o644))

    def opaque(self, directory):
        """`directory/.wh..wh..opq`, which hides every lower child of `directory`."""
        self.tar.addfile(self._info(directory.rstrip("/") + "/.wh..wh..opq", tarfile.REGTYPE, 0o644))

    def finish(self) -> bytes:
        self.tar.close()
        return self.buf.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def gzip_bytes(data: bytes) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9, mtime=0) as gz:
        gz.write(data)
    return out.getvalue()


def write_outer(path: str, members: list[tuple[str, bytes | None]], mtime: int) -> None:
    """An uncompressed ustar archive of (name, bytes) pairs (None: a directory), in that order."""
    tmp = path + ".tmp"
    with tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.mtime = mtime
            info.uname = info.gname = ""
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.mode = 0o644
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    os.replace(tmp, path)


def canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode("utf-8")


def go_arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
            "s390x": "s390x", "riscv64": "riscv64"}.get(machine, machine)


# ---------------------------------------------------------------------------------------------
# The corners image

T1 = 981173106    # 2001-02-03T04:05:06Z
T2 = 1234567890   # 2009-02-13T23:31:30Z
T3 = 1500000000   # 2017-07-14T02:40:00Z

# A VFS_CAP_REVISION_2 blob with the effective flag, permitting cap_setuid (7) and
# cap_net_bind_service (10): `setcap cap_setuid,cap_net_bind_service+ep`. Its second byte is
# 0x80, so the value is not valid UTF-8.
CAPABILITY = struct.pack("<IIIII", 0x02000000 | 0x1, (1 << 7) | (1 << 10), 0, 0, 0)
USER_XATTR = b"raw \xff\xfe\x00 bytes"

LONG_NAME_PAX = "pax-long-name-" + "abcdefghij" * 12 + ".txt"            # 138 bytes
LONG_NAME_GNU = "gnu-long-name-" + "0123456789" * 15 + ".txt"            # 168 bytes
DEEP_DIRS = ["deep", "d1-" + "a" * 80, "d2-" + "b" * 80, "d3-" + "c" * 80]
DEEP_FILE = "/".join(["names"] + DEEP_DIRS + ["file-at-the-bottom-of-a-long-path.txt"])  # > 255
UNICODE_NAME = "ünïcødé-名前-😀.txt"


def corners_layers() -> list[tuple[bytes, bool, str]]:
    """(uncompressed tar, compress with gzip?, history created_by) for each layer."""
    layers = []

    # Layer 1: PAX format, every name with a './' prefix (as `tar -C dir .` writes), a PAX
    # global header first, the root entry './'. The lower state the other layers change.
    l1 = Layer(tarfile.PAX_FORMAT, prefix="./", mtime=T1,
               global_pax={"comment": "whittle corners fixture, layer 1"})
    l1.dir("")  # './': the root directory
    l1.dir("attrs/")
    l1.file("attrs/keep", "attrs/keep: stays when layer 2 changes attrs/\n")
    for top in ("opq1", "opq2"):
        l1.dir(f"{top}/")
        l1.file(f"{top}/a", f"{top}/a: lower child, hidden by the opaque marker\n")
        l1.file(f"{top}/b", f"{top}/b: lower child, hidden by the opaque marker\n")
        l1.dir(f"{top}/sub/")
        l1.file(f"{top}/sub/x", f"{top}/sub/x: lower grandchild, hidden by the opaque marker\n")
    l1.dir("wh/")
    l1.file("wh/file-gone", "wh/file-gone: whited out by layer 2\n")
    l1.dir("wh/dir-gone/")
    l1.dir("wh/dir-gone/inner/")
    l1.file("wh/dir-gone/inner/f", "wh/dir-gone/inner/f: whited out with its directory\n")
    l1.file("wh/keep", "wh/keep: stays\n")
    l1.dir("wh/redo/")
    l1.file("wh/redo/old", "wh/redo/old: whited out by layer 3, which re-creates wh/redo\n")
    l1.dir("hl/")
    l1.file("hl/a-target", "hl/a-target: original content, kept by hl/b-link\n", mtime=T1 + 1)
    l1.hardlink("hl/b-link", "hl/a-target")
    l1.file("hl/c-target", "hl/c-target: original content, kept by hl/d-link\n", mtime=T1 + 2)
    l1.hardlink("hl/d-link", "hl/c-target")
    l1.file("hl/base", "hl/base: named by a hardlink in layer 2\n", mode=0o640, uid=7, gid=8)
    l1.dir("swap/")
    l1.file("swap/f2d", "swap/f2d: a file that layer 3 replaces by a directory\n")
    l1.dir("swap/d2f/")
    l1.dir("swap/d2f/sub/")
    l1.file("swap/d2f/sub/f", "swap/d2f/sub/f: goes when layer 3 replaces swap/d2f by a file\n")
    l1.dir("swap/d2l/")
    l1.file("swap/d2l/f", "swap/d2l/f: goes when layer 3 replaces swap/d2l by a symlink\n")
    l1.symlink("swap/l2d", "../target-dir")
    l1.dir("target-dir/")
    l1.file("target-dir/t", "target-dir/t: must not gain swap/l2d's children\n")
    l1.dir("special/")
    l1.chardev("special/null", 1, 3, mode=0o666)
    l1.fifo("special/fifo", mode=0o640, uid=1234, gid=5678)
    l1.file("special/suid", "#!/bin/sh\necho setuid\n", mode=0o4755, uid=0, gid=0)
    l1.file("special/sgid", "#!/bin/sh\necho setgid\n", mode=0o2711, uid=1234, gid=5678)
    l1.file("special/suid-user", "setuid and not root-owned\n", mode=0o6750, uid=1234, gid=5678)
    l1.dir("special/sticky/", mode=0o1777)
    l1.dir("special/owned/", mode=0o750, uid=1234, gid=5678)
    l1.file("special/owned/f", "owned by 1234:5678\n", mode=0o600, uid=1234, gid=5678)
    l1.file("special/areg", "a regular file with the old type flag '\\0'\n", kind=tarfile.AREGTYPE)
    l1.file("special/empty", "")
    l1.dir("xattr/")
    l1.file("xattr/cap", "a file with security.capability and a user. xattr\n", mode=0o755,
            xattrs={"security.capability": CAPABILITY, "user.whittle": USER_XATTR})
    l1.dir("names/")
    l1.file(f"names/{LONG_NAME_PAX}", "a name longer than 100 bytes (PAX path)\n")
    path = "names"
    for part in DEEP_DIRS:
        path += "/" + part
        l1.dir(path + "/")
    l1.file(DEEP_FILE, "a path longer than 255 bytes\n")
    l1.file(f"names/{UNICODE_NAME}", "a non-ASCII name\n")
    l1.dir("names/dir-no-slash", no_slash=True, mode=0o700)
    l1.file("names/dir-no-slash/child", "in a directory whose entry has no trailing slash\n")
    l1.dir("links/")
    l1.symlink("links/rel", "../hl/base")
    l1.symlink("links/abs", "/hl/base")
    l1.symlink("links/dangling", "/does/not/exist")
    l1.symlink("links/dir-rel", "../target-dir")
    l1.symlink("links/unicode", f"../names/{UNICODE_NAME}")
    layers.append((l1.finish(), False, "whittle corners: layer 1 (PAX, ./ names, lower state)"))

    # Layer 2: GNU format (././@LongLink 'L' and 'K' entries, base-256 ids). Opaque marker of
    # opq1 is the first member, the one of opq2 the last.
    l2 = Layer(tarfile.GNU_FORMAT, mtime=T2)
    l2.opaque("opq1")
    l2.dir("opq1/", mode=0o750)
    l2.file("opq1/new", "opq1/new: same layer as the opaque marker, stays\n")
    l2.dir("opq1/sub/")
    l2.file("opq1/sub/y", "opq1/sub/y: same layer as the opaque marker, stays\n")
    l2.dir("opq2/", mode=0o750)
    l2.file("opq2/new", "opq2/new: same layer as the opaque marker, stays\n")
    l2.dir("opq2/sub/")
    l2.file("opq2/sub/y", "opq2/sub/y: same layer as the opaque marker, stays\n")
    l2.dir("wh/")
    l2.whiteout("wh/dir-gone")
    l2.whiteout("wh/file-gone")
    l2.dir("hl/")
    l2.hardlink("hl/e-cross-link", "hl/base", like=l1.files["hl/base"])  # hl/base: layer 1
    l2.dir("attrs/", mode=0o700, uid=11, gid=12)
    l2.dir("names/")
    l2.file(f"names/{LONG_NAME_GNU}", "a name longer than 100 bytes (GNU longname)\n")
    l2.symlink("names/gnu-long-target", "/".join(DEEP_DIRS[:3]))  # > 100 bytes: 'K'
    l2.dir("special/")
    l2.file("special/bigid", "uid and gid above 2097151: base-256 numbers\n", uid=3000000,
            gid=3000001)
    l2.file(".wh..wh.aufs", "AUFS metadata: skipped\n")
    l2.opaque("opq2")
    layers.append((l2.finish(), False, "whittle corners: layer 2 (GNU, opaque dirs, whiteouts)"))

    # Layer 3: PAX, stored gzip-compressed as <id>/layer.tar.
    l3 = Layer(tarfile.PAX_FORMAT, mtime=T3)
    l3.dir("attrs/", mode=0o711, uid=21, gid=22,
           xattrs={"user.whittle-dir": b"dir xattr", "trusted.overlay.opaque": b"y"})
    l3.dir("hl/")
    l3.whiteout("hl/c-target")
    l3.file("hl/a-target", "hl/a-target: replaced by layer 3\n")
    l3.dir("swap/")
    l3.file("swap/d2f", "swap/d2f: now a file\n", mode=0o600)
    l3.symlink("swap/d2l", "../target-dir")
    l3.dir("swap/f2d/", mode=0o700)
    l3.file("swap/f2d/child", "swap/f2d/child: in the directory that replaced a file\n")
    l3.dir("swap/l2d/")
    l3.file("swap/l2d/child", "swap/l2d/child: in the directory that replaced a symlink\n")
    l3.dir("wh/")
    l3.whiteout("wh/redo")
    l3.dir("wh/redo/", mode=0o700)
    l3.file("wh/redo/new", "wh/redo/new: re-created in the layer that whites out wh/redo\n")
    l3.dir("xattr/")
    l3.file("xattr/cap-upper", "security.capability set in the gzip layer\n", mode=0o755,
            xattrs={"security.capability": CAPABILITY})
    layers.append((l3.finish(), True, "whittle corners: layer 3 (gzip, replacements)"))
    return layers


def make_corners(out: str) -> None:
    layers = corners_layers()
    diff_ids = ["sha256:" + sha256(data) for data, _, _ in layers]
    history = []
    for i, (_, _, created_by) in enumerate(layers):
        history.append({"created": "2001-02-03T04:05:06Z", "created_by": created_by})
        if i == 1:
            history.append({"created": "2001-02-03T04:05:06Z",
                            "created_by": "whittle corners: LABEL (no layer)", "empty_layer": True})
    config = {
        "architecture": go_arch(),
        "os": "linux",
        "created": "2001-02-03T04:05:06Z",
        "author": "whittle fixtures",
        "config": {
            "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "FIXTURE=corners"],
            "Cmd": ["/x"],
            "WorkingDir": "/",
            "Labels": {"com.example.whittle.fixture": "corners"},
        },
        "history": history,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "x-whittle-unknown-key": {"kept": True, "note": "an unknown top-level key"},
    }
    config_bytes = canonical(config)
    config_name = sha256(config_bytes) + ".json"

    members: list[tuple[str, bytes | None]] = []
    layer_paths = []
    parent = ""
    for (data, compress, _), diff_id in zip(layers, diff_ids):
        layer_id = sha256((parent + "\n" + diff_id).encode())
        v1 = {"id": layer_id, "created": "2001-02-03T04:05:06Z", "os": "linux"}
        if parent:
            v1["parent"] = parent
        blob = gzip_bytes(data) if compress else data
        members += [(f"{layer_id}/", None), (f"{layer_id}/VERSION", b"1.0"),
                    (f"{layer_id}/json", canonical(v1)), (f"{layer_id}/layer.tar", blob)]
        layer_paths.append(f"{layer_id}/layer.tar")
        parent = layer_id
    repo, tag = "whittle-fixture/corners", "1"
    manifest = [{"Config": config_name, "RepoTags": [f"{repo}:{tag}"], "Layers": layer_paths}]
    members.append((config_name, config_bytes))
    members.append(("manifest.json", canonical(manifest)))
    members.append(("repositories", canonical({repo: {tag: parent}})))
    # docker save lists the members sorted by name.
    members.sort(key=lambda m: m[0])
    write_outer(out, members, T1)


# ---------------------------------------------------------------------------------------------
# The demo image: what a naive Dockerfile leaves behind (README's first command slims it)

DEMO_REF = ("whittle-fixture/demo-app", "1")
DEMO_MESSAGE = "demo-app: serving /app/site (3 pages)\n"

DEMO_WORDS = (
    "request response session cookie header parser adapter transport buffer stream encode "
    "decode charset timeout retry proxy redirect certificate verify socket connection pool "
    "manager context config value option default handler registry plugin loader module "
    "package import export format render template string bytes length index offset token"
).split()


def demo_text(rng, words: int, line: int = 12) -> str:
    out = []
    for i in range(0, words, line):
        out.append(" ".join(rng.choice(DEMO_WORDS) for _ in range(min(line, words - i))))
    return "\n".join(out) + "\n"


def demo_python(rng, name: str, functions: int) -> str:
    """A module that reads like Python: imports, a class, functions with docstrings."""
    lines = [f'"""{name}: {demo_text(rng, 10).strip()}."""', "", "import os", "import re", ""]
    for i in range(functions):
        a, b = rng.choice(DEMO_WORDS), rng.choice(DEMO_WORDS)
        lines += [f"def {a}_{b}_{i}({a}, {b}=None):",
                  f'    """{demo_text(rng, 14).strip()}."""',
                  f"    if {b} is None:",
                  f"        {b} = {rng.randint(0, 4096)}",
                  f"    return [{a}, {b}, {rng.random():.6f}]", ""]
    return "\n".join(lines) + "\n"


def demo_binary(rng, size: int, marker: str) -> bytes:
    """An ELF-headed blob that compresses about as well as real code (3-4x), not a real program."""
    header = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + marker.encode()
    chunks = [bytes(rng.randrange(256) for _ in range(64)) for _ in range(48)]
    out = bytearray(header)
    while len(out) < size:
        chunk = bytearray(rng.choice(chunks))
        if rng.random() < 0.3:
            chunk[rng.randrange(64)] = rng.randrange(256)
        out += chunk
    return bytes(out[:size])


def demo_packages_list(rng, count: int) -> str:
    """An apt list in the format of deb.debian.org's Packages files."""
    stanzas = []
    for i in range(count):
        name = f"{rng.choice(DEMO_WORDS)}-{rng.choice(DEMO_WORDS)}{i}"
        version = f"{rng.randint(0, 9)}.{rng.randint(0, 40)}-{rng.randint(1, 9)}"
        stanzas.append("\n".join([
            f"Package: {name}", f"Version: {version}", "Architecture: amd64",
            "Maintainer: Debian Developers <debian-devel@lists.debian.org>",
            f"Installed-Size: {rng.randint(20, 20000)}",
            f"Depends: libc6 (>= 2.34), lib{rng.choice(DEMO_WORDS)}{rng.randint(1, 9)}",
            "Priority: optional", f"Section: {rng.choice(['libs', 'utils', 'devel', 'python', 'net'])}",
            f"Filename: pool/main/{name[0]}/{name}/{name}_{version}_amd64.deb",
            f"Size: {rng.randint(2000, 4000000)}",
            f"SHA256: {rng.getrandbits(256):064x}",
            f"Description: {demo_text(rng, 8).strip()}",
        ]))
    return "\n\n".join(stanzas) + "\n"


def demo_layers(busybox: bytes) -> list[tuple[bytes, str]]:
    import random
    rng = random.Random(20261129)
    dpkg: dict[str, list[str]] = {}

    def owned(layer, package, path, data, mode=0o644):
        layer.file(path, data, mode=mode)
        dpkg.setdefault(package, []).append("/" + path)

    def dirs(layer, *paths):
        for path in paths:
            layer.dir(path)

    # 1. The base: busybox as the only program, users, and an OS with docs.
    base = Layer(mtime=T2)
    dirs(base, "bin", "etc", "root", "tmp", "usr", "usr/bin", "usr/share", "usr/share/doc", "usr/share/man",
         "usr/share/man/man1", "var", "var/lib", "var/lib/dpkg", "var/lib/dpkg/info")
    base.file("bin/busybox", busybox, mode=0o755)
    for applet in ["sh", "cat", "echo", "ls", "wc", "head", "sed", "sha256sum", "grep", "httpd"]:
        base.symlink(f"bin/{applet}", "busybox")
    base.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/app:/bin/sh\n")
    base.file("etc/group", "root:x:0:\napp:x:1000:\n")
    base.file("etc/os-release", 'PRETTY_NAME="whittle demo (Debian-like)"\nID=debian\n')
    for package in ["busybox-static", "libc6", "coreutils", "tar", "gzip"]:
        dirs(base, f"usr/share/doc/{package}")
        owned(base, package, f"usr/share/doc/{package}/copyright", f"{package}: licence text\n" + demo_text(rng, 60))
        owned(base, package, f"usr/share/doc/{package}/changelog.Debian.gz",
              gzip_bytes(demo_text(rng, 9000).encode()))
        owned(base, package, f"usr/share/man/man1/{package}.1.gz", gzip_bytes(demo_text(rng, 3000).encode()))

    # 2. RUN apt-get update && apt-get install -y build-essential python3-pip (no clean-up).
    apt = Layer(mtime=T3)
    dirs(apt, "usr", "usr/bin", "usr/lib", "usr/lib/gcc", "usr/lib/gcc/x86_64-linux-gnu",
         "usr/lib/gcc/x86_64-linux-gnu/12", "usr/include", "usr/share", "usr/share/doc", "var", "var/lib",
         "var/lib/apt", "var/lib/apt/lists", "var/cache", "var/cache/apt", "var/cache/apt/archives",
         "var/lib/dpkg", "var/lib/dpkg/info")
    for suite, count in [("bookworm_main", 3600), ("bookworm-updates_main", 200), ("bookworm-security_main", 600)]:
        apt.file(f"var/lib/apt/lists/deb.debian.org_debian_dists_{suite}_binary-amd64_Packages",
                 demo_packages_list(rng, count))
    apt.file("var/cache/apt/pkgcache.bin", demo_binary(rng, 900_000, "apt pkgcache"))
    apt.file("var/cache/apt/srcpkgcache.bin", demo_binary(rng, 800_000, "apt srcpkgcache"))
    for deb in ["gcc-12_12.2.0-14_amd64.deb", "cpp-12_12.2.0-14_amd64.deb", "python3-pip_23.0.1_all.deb"]:
        apt.file(f"var/cache/apt/archives/{deb}", gzip_bytes(demo_text(rng, 12000).encode()))
    owned(apt, "gcc-12", "usr/bin/gcc-12", demo_binary(rng, 1_000_000, "gcc-12 driver"), mode=0o755)
    apt.symlink("usr/bin/gcc", "gcc-12")
    owned(apt, "cpp-12", "usr/lib/gcc/x86_64-linux-gnu/12/cc1", demo_binary(rng, 2_600_000, "cc1"), mode=0o755)
    owned(apt, "gcc-12", "usr/lib/gcc/x86_64-linux-gnu/12/collect2", demo_binary(rng, 300_000, "collect2"),
          mode=0o755)
    for header in ["stdio.h", "stdlib.h", "string.h", "unistd.h", "pthread.h", "math.h"]:
        owned(apt, "libc6-dev", f"usr/include/{header}",
              "\n".join(f"extern int {rng.choice(DEMO_WORDS)}_{i}(void *, unsigned long);" for i in range(900)))
    for package in ["gcc-12", "cpp-12", "libc6-dev", "python3-pip"]:
        dirs(apt, f"usr/share/doc/{package}")
        owned(apt, package, f"usr/share/doc/{package}/copyright", f"{package}: licence text\n")
        owned(apt, package, f"usr/share/doc/{package}/changelog.Debian.gz", gzip_bytes(demo_text(rng, 20000).encode()))
    for package, paths in sorted(dpkg.items()):
        apt.file(f"var/lib/dpkg/info/{package}.list", "\n".join(sorted(paths)) + "\n")
    apt.file("var/lib/dpkg/status", "".join(
        f"Package: {p}\nStatus: install ok installed\nVersion: 1.0\nArchitecture: amd64\n\n" for p in sorted(dpkg)))

    # 3. RUN pip install requests (with pip's cache, bytecode, and the packages' own tests).
    pip = Layer(mtime=T3)
    site = "usr/local/lib/python3.11/site-packages"
    dirs(pip, "usr", "usr/local", "usr/local/lib", "usr/local/lib/python3.11", site, "root", "root/.cache",
         "root/.cache/pip", "root/.cache/pip/http", "root/.cache/pip/http/a", "root/.cache/pip/wheels")
    for package, modules in [("requests", 18), ("urllib3", 24), ("charset_normalizer", 12), ("idna", 8)]:
        dirs(pip, f"{site}/{package}", f"{site}/{package}/__pycache__", f"{site}/{package}/tests",
             f"{site}/{package}-1.0.dist-info")
        pip.file(f"{site}/{package}-1.0.dist-info/METADATA", f"Name: {package}\nVersion: 1.0\n")
        for i in range(modules):
            source = demo_python(rng, f"{package}.m{i}", 30)
            pip.file(f"{site}/{package}/m{i}.py", source)
            pip.file(f"{site}/{package}/__pycache__/m{i}.cpython-311.pyc",
                     b"\xa7\r\r\n" + b"\0" * 12 + gzip_bytes(source.encode()) + source.encode()[::-1])
            pip.file(f"{site}/{package}/tests/test_m{i}.py", demo_python(rng, f"test {package}.m{i}", 20))
    for i in range(24):
        pip.file(f"root/.cache/pip/http/a/{rng.getrandbits(96):024x}", demo_binary(rng, 60_000, "pip http cache"))
    pip.file("root/.cache/pip/wheels/charset_normalizer-3.1.0-cp311-linux_x86_64.whl",
             demo_binary(rng, 400_000, "wheel"))

    # 4. COPY app /app
    app = Layer(mtime=T3)
    dirs(app, "app", "app/site")
    for page in ["index", "about", "contact"]:
        app.file(f"app/site/{page}.html", f"<html><body><h1>{page}</h1>\n{demo_text(rng, 40)}</body></html>\n")
    app.file("app/run.sh", """#!/bin/sh
# The demo's whole app: it lists what it serves and checks its pages, with busybox alone.
set -e
cd /app/site
echo "demo-app: serving /app/site ($(ls | wc -l) pages)"
""", mode=0o755)
    return [(base.finish(), "COPY busybox, users, an OS with its docs"),
            (apt.finish(), "RUN apt-get update && apt-get install -y build-essential python3-pip"),
            (pip.finish(), "RUN pip install requests"),
            (app.finish(), "COPY app /app")]


def make_demo(busybox_path: str, out: str) -> None:
    """A `docker save` archive (Docker <= 24 layout, gzip layers to keep it small)."""
    with open(busybox_path, "rb") as f:
        layers = demo_layers(f.read())
    diff_ids = ["sha256:" + sha256(data) for data, _ in layers]
    config = {
        "architecture": go_arch(), "os": "linux", "created": "2009-02-13T23:31:30Z",
        "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "Entrypoint": ["/bin/sh", "/app/run.sh"],
                   "WorkingDir": "/app"},
        "history": [{"created": "2009-02-13T23:31:30Z", "created_by": created_by} for _, created_by in layers],
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    config_bytes = canonical(config)
    config_name = sha256(config_bytes) + ".json"
    members: list[tuple[str, bytes | None]] = []
    layer_paths, parent = [], ""
    for (data, _), diff_id in zip(layers, diff_ids):
        layer_id = sha256((parent + "\n" + diff_id).encode())
        v1 = {"id": layer_id, "created": "2009-02-13T23:31:30Z", "os": "linux"}
        if parent:
            v1["parent"] = parent
        members += [(f"{layer_id}/", None), (f"{layer_id}/VERSION", b"1.0"),
                    (f"{layer_id}/json", canonical(v1)), (f"{layer_id}/layer.tar", gzip_bytes(data))]
        layer_paths.append(f"{layer_id}/layer.tar")
        parent = layer_id
    repo, tag = DEMO_REF
    members.append((config_name, config_bytes))
    members.append(("manifest.json", canonical([{"Config": config_name, "RepoTags": [f"{repo}:{tag}"],
                                                 "Layers": layer_paths}])))
    members.append(("repositories", canonical({repo: {tag: parent}})))
    members.sort(key=lambda m: m[0])
    write_outer(out, members, T2)


# ---------------------------------------------------------------------------------------------
# Docker 25+ layout from a Docker <= 24 `docker save` archive


def make_docker25(legacy: str, out: str) -> None:
    """Rewrites a legacy `docker save` archive as Docker 25 (moby image/tarexport/save.go) writes
    it: the config bytes unchanged (so the image ID stays), each layer uncompressed as
    blobs/sha256/<diff_id>, each layer's legacy v1 JSON as a blob too, an OCI manifest whose
    layers are application/vnd.oci.image.layer.v1.tar, index.json with the image name
    annotations and the platform, manifest.json and repositories pointing into blobs/sha256/,
    and oci-layout. Members are in the order Docker writes them (sorted by name)."""
    with tarfile.open(legacy) as tar:
        def read(name: str) -> bytes:
            return tar.extractfile(name).read()

        manifest = json.loads(read("manifest.json"))
        if len(manifest) != 1:
            sys.exit(f"make_fixtures: {legacy} must hold one image")
        item = manifest[0]
        config_bytes = read(item["Config"])
        config = json.loads(config_bytes)
        diff_ids = config["rootfs"]["diff_ids"]
        if len(diff_ids) != len(item["Layers"]):
            sys.exit(f"make_fixtures: {legacy}: layers and diff_ids differ in number")
        blobs: dict[str, bytes] = {}
        layers = []
        for path, diff_id in zip(item["Layers"], diff_ids):
            data = read(path)
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            if "sha256:" + sha256(data) != diff_id:
                sys.exit(f"make_fixtures: {path} does not match diff_id {diff_id}")
            blobs[sha256(data)] = data
            layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar",
                           "digest": diff_id, "size": len(data)})
            v1 = read(path.rsplit("/", 1)[0] + "/json")
            blobs[sha256(v1)] = v1
        repo_tag = item["RepoTags"][0]

    platform_ = {"architecture": config["architecture"], "os": config["os"]}
    config_digest = "sha256:" + sha256(config_bytes)
    blobs[sha256(config_bytes)] = config_bytes
    oci_manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
                   "size": len(config_bytes), "platform": platform_},
        "layers": layers,
    }
    manifest_bytes = json.dumps(oci_manifest, separators=(",", ":")).encode()
    blobs[sha256(manifest_bytes)] = manifest_bytes

    repo, _, tag = repo_tag.rpartition(":")
    first = repo.split("/")[0]
    full = repo if ("." in first or ":" in first or first == "localhost") and "/" in repo \
        else "docker.io/" + (repo if "/" in repo else "library/" + repo)
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": "sha256:" + sha256(manifest_bytes),
            "size": len(manifest_bytes),
            "annotations": {"io.containerd.image.name": f"{full}:{tag}",
                            "org.opencontainers.image.ref.name": tag},
            "platform": platform_,
        }],
    }
    docker_manifest = [{
        "Config": "blobs/sha256/" + config_digest.split(":", 1)[1],
        "RepoTags": [repo_tag],
        "Layers": ["blobs/sha256/" + layer["digest"].split(":", 1)[1] for layer in layers],
    }]
    members: list[tuple[str, bytes | None]] = [("blobs/", None), ("blobs/sha256/", None)]
    members += [("blobs/sha256/" + digest, data) for digest, data in sorted(blobs.items())]
    members.append(("index.json", json.dumps(index, separators=(",", ":")).encode()))
    members.append(("manifest.json", json.dumps(docker_manifest, separators=(",", ":")).encode() + b"\n"))
    members.append(("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'))
    members.append(("repositories", json.dumps(
        {repo: {tag: layers[-1]["digest"].split(":", 1)[1]}}, separators=(",", ":")).encode() + b"\n"))
    created = config.get("created", "1970-01-01T00:00:00Z")
    mtime = int(datetime.datetime.fromisoformat(created[:19]).replace(
        tzinfo=datetime.timezone.utc).timestamp())
    write_outer(out, members, mtime)


# ---------------------------------------------------------------------------------------------
# A copy for dive


def without_global_headers(layer: bytes) -> bytes:
    """The layer tar less its leading PAX global headers (type 'g'), cut out block by block."""
    while len(layer) >= 512 and layer[156:157] == b"g":
        size = int(layer[124:136].rstrip(b"\0 ") or b"0", 8)
        layer = layer[512 + (size + 511) // 512 * 512:]
    return layer


def make_dive_copy(archive: str, out: str) -> None:
    with tarfile.open(archive) as tar:
        layer_paths = {path for item in json.loads(tar.extractfile("manifest.json").read())
                       for path in item["Layers"]}
        members: list[tuple[tarfile.TarInfo, bytes | None]] = []
        for member in tar.getmembers():
            data = tar.extractfile(member).read() if member.isfile() else None
            if data is not None and member.name in layer_paths:
                if data[:2] == b"\x1f\x8b":
                    data = gzip.decompress(data)
                data = without_global_headers(data)
                member.size = len(data)
            members.append((member, data))
    tmp = out + ".tmp"
    with tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as copy:
        for member, data in members:
            copy.addfile(member, io.BytesIO(data) if data is not None else None)
    os.replace(tmp, out)


# ---------------------------------------------------------------------------------------------
# describe


def describe(path: str) -> None:
    with tarfile.open(path) as outer:
        names = outer.getnames()
        print(f"{path}: {len(names)} members")
        for member in outer.getmembers():
            print(f"  {member.name} ({member.size} bytes)")
        for member in outer.getmembers():
            if not member.isfile():
                continue
            data = outer.extractfile(member).read()
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            try:
                inner = tarfile.open(fileobj=io.BytesIO(data))
                entries = inner.getmembers()
            except tarfile.TarError:
                continue
            if not entries:
                continue
            print(f"== layer {member.name}")
            for e in entries:
                extra = f" -> {e.linkname}" if e.linkname else ""
                pax = {k: (v.encode('utf-8', 'surrogateescape').hex() if k.startswith("SCHILY") else v)
                       for k, v in e.pax_headers.items() if k not in ("path", "linkpath")}
                print(f"  {e.type!r:6} {e.mode:06o} {e.uid}:{e.gid} {e.mtime} {e.name}{extra}"
                      + (f" {pax}" if pax else ""))


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "corners":
        make_corners(argv[1])
    elif len(argv) == 3 and argv[0] == "demo":
        make_demo(argv[1], argv[2])
    elif len(argv) == 3 and argv[0] == "docker25":
        make_docker25(argv[1], argv[2])
    elif len(argv) == 3 and argv[0] == "dive-copy":
        make_dive_copy(argv[1], argv[2])
    elif len(argv) == 2 and argv[0] == "describe":
        describe(argv[1])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
