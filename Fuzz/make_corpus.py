#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz harness into Fuzz/corpus/<harness>/.

Seeds come from the fixtures (documents, small layers and archives of Fixtures/*.tar), the
shipped profiles, a Debian root for real ELF files and an ld.so.cache (bench/work/
bookworm-base.tar when present, else this machine's own files), and a few small inputs made
here for forms the fixtures lack (32-bit and big-endian ELF, a legacy ld.so.cache, whiteouts,
hardlinks and symlink chains). The FuzzImageDocuments harness writes the documents that name
its own blobs, and FuzzPackages one seed for each file of its sound image (`--write-seeds`);
the package seeds also come from the package-graph test fixtures. Run through
Fuzz/make-corpus.sh, which builds those two harnesses.
"""
import hashlib
import io
import os
import shutil
import struct
import subprocess
import sys
import tarfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "Fuzz", "corpus")
FIXTURES = os.path.join(ROOT, "Fixtures")
DEBIAN_ROOT = os.path.join(ROOT, "bench", "work", "bookworm-base.tar")
SMALL = 16 << 10


def write(harness, name, data):
    directory = os.path.join(CORPUS, harness)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as out:
        out.write(data)


def short(data):
    return hashlib.sha256(data).hexdigest()[:12]


def fixture_members():
    """(fixture name, member name, bytes) of every regular member of the fixture archives."""
    for fixture in sorted(os.listdir(FIXTURES)):
        if not fixture.endswith(".tar"):
            continue
        with tarfile.open(os.path.join(FIXTURES, fixture)) as archive:
            for member in archive.getmembers():
                if member.isfile():
                    yield fixture, member.name, archive.extractfile(member).read()


def layer_compression(data):
    if data[:2] == b"\x1f\x8b":
        return "gzip"
    if data[:4] == b"\x28\xb5\x2f\xfd":
        return "zstd"
    if len(data) >= 512 and data[257:262] == b"ustar":
        return "tar"
    return None


def fixture_seeds():
    seen = set()
    for fixture, name, data in fixture_members():
        digest = short(data)
        if digest in seen:
            continue
        seen.add(digest)
        stem = fixture.replace(".tar", "")
        if data[:1] in (b"{", b"[") and len(data) <= SMALL:
            write("FuzzImageDocuments", f"{stem}-{os.path.basename(name)[:16]}-{digest}.json", data)
        elif layer_compression(data) and len(data) <= 64 << 10:
            write("FuzzLayer", f"{stem}-{layer_compression(data)}-{digest}", data)
    # Whole archives as `docker save` and skopeo write them: only the small ones.
    for fixture in ("corners.oci.tar", "corners.oci-zstd.tar"):
        with open(os.path.join(FIXTURES, fixture), "rb") as archive:
            write("FuzzImageDocuments", "archive-" + fixture, archive.read())


def debian_file(path, limit=SMALL):
    """A file of a Debian root: from bookworm-base.tar when built, else this machine."""
    if os.path.exists(DEBIAN_ROOT):
        with tarfile.open(DEBIAN_ROOT) as archive:
            try:
                member = archive.getmember("./" + path)
            except KeyError:
                return None
            return archive.extractfile(member).read() if member.isfile() and member.size <= limit else None
    host = "/" + path
    return open(host, "rb").read() if os.path.isfile(host) and os.path.getsize(host) <= limit else None


def tiny_elf(wide, big_endian, machine, interpreter=b"/lib/ld-musl-x86_64.so.1", needed=(b"libc.so",)):
    """A minimal ELF: header, PT_INTERP, PT_DYNAMIC (DT_NEEDED, DT_RUNPATH) and a string table."""
    order = ">" if big_endian else "<"
    header_size, phentsize = (64, 56) if wide else (52, 32)
    strings = b"\0" + b"\0".join(needed) + b"\0$ORIGIN/../lib\0"
    runpath = strings.index(b"$ORIGIN")
    dyn_entries = [(1, 1 + sum(len(n) + 1 for n in needed[:i])) for i in range(len(needed))]
    dyn_entries += [(29, runpath), (5, 0), (10, len(strings)), (0, 0)]  # RUNPATH, STRTAB, STRSZ, NULL
    phoff = header_size
    interp_off = phoff + 3 * phentsize
    strtab_off = interp_off + len(interpreter) + 1
    dyn_off = strtab_off + len(strings)
    dyn_entries[-3] = (5, strtab_off)  # STRTAB as an address, mapped 1:1 by the PT_LOAD below
    word = "Q" if wide else "I"
    dynamic = b"".join(struct.pack(order + word * 2, tag, value) for tag, value in dyn_entries)
    total = dyn_off + len(dynamic)
    ident = b"\x7fELF" + bytes([2 if wide else 1, 2 if big_endian else 1, 1, 0]) + b"\0" * 8
    if wide:
        head = struct.pack(order + "HHIQQQIHHHHHH", 3, machine, 1, 0, phoff, 0, 0, header_size, phentsize, 3, 0, 0, 0)
    else:
        head = struct.pack(order + "HHIIIIIHHHHHH", 3, machine, 1, 0, phoff, 0, 0, header_size, phentsize, 3, 0, 0, 0)

    def segment(kind, offset, size):
        if wide:
            return struct.pack(order + "IIQQQQQQ", kind, 4, offset, offset, offset, size, size, 8)
        return struct.pack(order + "IIIIIIII", kind, offset, offset, offset, size, size, 4, 4)

    table = segment(1, 0, total) + segment(3, interp_off, len(interpreter) + 1) + segment(2, dyn_off, len(dynamic))
    return ident + head + table + interpreter + b"\0" + strings + dynamic


def legacy_cache():
    """An `ld.so-1.7.0` cache with two entries, as old glibc wrote it."""
    strings = b"libc.so.6\0/lib/libc.so.6\0libm.so.6\0/lib/libm.so.6\0"
    entries = struct.pack("<iII", 0x0303, 0, 10) + struct.pack("<iII", 0x0303, 25, 35)
    return b"ld.so-1.7.0\0" + struct.pack("<I", 2) + entries + strings


def elf_seeds():
    for path in ("usr/bin/clear", "usr/lib/x86_64-linux-gnu/libdl.so.2", "etc/ld.so.cache"):
        data = debian_file(path)
        if data:
            write("FuzzELF", os.path.basename(path), data)
    write("FuzzELF", "tiny-elf64-le", tiny_elf(True, False, 62))
    write("FuzzELF", "tiny-elf32-le", tiny_elf(False, False, 3, b"/lib/ld-linux.so.2", (b"libc.so.6", b"libm.so.6")))
    write("FuzzELF", "tiny-elf64-be", tiny_elf(True, True, 22, b"/lib/ld64.so.1"))
    write("FuzzELF", "tiny-elf32-be", tiny_elf(False, True, 8, b"/lib/ld.so.1"))
    write("FuzzELF", "legacy-ld.so.cache", legacy_cache())
    write("FuzzELF", "script-env", b"#!/usr/bin/env python3\nprint('hi')\n")
    write("FuzzELF", "script-sh", b"#! /bin/sh -e\nexit 0\n")


def tar_layer(entries):
    """A layer from (name, kind, payload) tuples: kind is file, dir, symlink or hardlink."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, kind, payload in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 981173106
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                archive.addfile(info)
            elif kind in ("symlink", "hardlink"):
                info.type = tarfile.SYMTYPE if kind == "symlink" else tarfile.LNKTYPE
                info.linkname = payload
                archive.addfile(info)
            else:
                info.size, info.mode = len(payload), 0o755
                archive.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def layer_seeds():
    program = debian_file("usr/bin/clear") or tiny_elf(True, False, 62)
    cache = debian_file("etc/ld.so.cache") or legacy_cache()
    write("FuzzLayer", "made-program", tar_layer([
        ("bin", "dir", None), ("bin/sh", "file", tiny_elf(True, False, 62, b"/lib64/ld-linux-x86-64.so.2")),
        ("usr/bin/clear", "file", program), ("etc/ld.so.cache", "file", cache),
        ("lib", "symlink", "usr/lib"), ("usr/lib/libc.so", "file", b"not really"),
        ("usr/bin/app", "file", b"#!/usr/bin/env sh\n"),
    ]))
    write("FuzzLayer", "made-whiteouts", tar_layer([
        ("a", "dir", None), ("a/.wh..wh..opq", "file", b""), ("a/b", "file", b"b"), ("a/.wh.c", "file", b""),
        ("d/e", "file", b"e"), ("d/f", "hardlink", "d/e"), ("d/.wh.e", "file", b""), ("g", "symlink", "d"),
        ("g/h", "file", b"through a link"),
    ]))
    write("FuzzLayer", "made-links", tar_layer([
        ("x", "symlink", "y"), ("y", "symlink", "/x"), ("z", "symlink", "../../etc/passwd"),
        ("etc/passwd", "file", b"root:x:0:0::/root:/bin/sh\n"), ("h1", "hardlink", "etc/passwd"),
        ("deep/" + "/".join("d%d" % i for i in range(40)) + "/leaf", "file", b"deep"),
    ]))


def finding_seeds():
    """Inputs that once crashed a harness (Fuzz/findings/) stay in its corpus, but for those
    over 64 KiB: libFuzzer takes its largest seed as the longest input to try, and long
    inputs slow every run (the regression tests still replay them)."""
    directory = os.path.join(ROOT, "Fuzz", "findings")
    for name in sorted(os.listdir(directory)):
        if os.path.getsize(os.path.join(directory, name)) > 64 << 10:
            continue
        harness = {"layer": "FuzzLayer", "image": "FuzzImageDocuments", "elf": "FuzzELF",
                   "profile": "FuzzProfile", "trace": "FuzzTrace", "packages": "FuzzPackages"}[name.split("-")[0]]
        with open(os.path.join(directory, name), "rb") as finding:
            write(harness, "finding-" + name, finding.read())


def profile_seeds():
    directory = os.path.join(ROOT, "Profiles")
    for name in sorted(os.listdir(directory)):
        if name.endswith(".yaml"):
            with open(os.path.join(directory, name), "rb") as profile:
                write("FuzzProfile", name, profile.read())
    write("FuzzProfile", "glob", b"usr/**/share/*.m?")


def trace_seeds():
    write("FuzzTrace", "minimal.json",
          b'{"version":1,"image":"app.tar","command":["/bin/app"],"entries":['
          b'{"path":"/etc/passwd","operations":["openat"],"existed":true}]}')
    write("FuzzTrace", "full.json", b"""{
  "chainID" : "sha256:0d3c4a2c8b1e5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c",
  "command" : ["/usr/bin/python3", "app.py"],
  "commandResult" : {"exitCode" : 0, "stdoutDigest" : "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
  "entries" : [
    {"existed" : true, "operations" : ["execve", "resolved"], "path" : "/usr/bin/python3.11"},
    {"existed" : true, "operations" : ["symlink"], "path" : "/usr/bin/python3"},
    {"existed" : false, "operations" : ["mkdir", "openat"], "path" : "/tmp/cache"}
  ],
  "environment" : ["PORT=8080"],
  "image" : "app.tar",
  "network" : "none",
  "probes" : [
    {"digest" : "sha256:00", "kind" : "http", "status" : 200, "target" : "http://127.0.0.1:8080/"},
    {"kind" : "tcp", "target" : "127.0.0.1:5432"},
    {"kind" : "exec", "status" : 1, "target" : "app --check"}
  ],
  "runs" : [
    {"chainID" : "sha256:aa", "command" : ["/bin/a"], "image" : "a.tar"},
    {"command" : ["/bin/b"], "image" : "b.tar"}
  ],
  "timeout" : 12.5,
  "version" : 1
}
""")


PACKAGE_FIXTURES = os.path.join(ROOT, "Tests", "WhittlePackageGraphTests", "PackageGraphFixtures")
# The slots of Fuzz/Packages/PackagesFuzzer.swift (`Skeleton.slots`): an input's first byte.
PACKAGE_SLOTS = {"status": 0, "list": 1, "md5sums": 2, "conffiles": 3, "extended_states": 4, "apk": 5,
                 "METADATA": 6, "RECORD": 7, "PKG-INFO": 9, "installed-files.txt": 10, "entries": 13,
                 "relations": 14}


def package_seed(name, slot, data):
    write("FuzzPackages", name, bytes([PACKAGE_SLOTS[slot]]) + data)


def first_paragraphs(text, limit=4096):
    """Whole blank-line-separated paragraphs of `text`, as many as fit in `limit` bytes."""
    out = b""
    for paragraph in text.split(b"\n\n"):
        if len(out) + len(paragraph) + 2 > limit:
            break
        out += paragraph + b"\n\n"
    return out


def package_seeds(tool):
    """The harness's own seeds (one a slot, from its sound image), the package-graph test
    fixtures (dpkg status, extended_states, Python metadata), a few info files of a Debian
    root, and an apk record and a Python file list with the forms the sound image lacks."""
    directory = os.path.join(CORPUS, "FuzzPackages")
    os.makedirs(directory, exist_ok=True)
    subprocess.run([tool, "--write-seeds", directory], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(PACKAGE_FIXTURES, "dpkg-status"), "rb") as status:
        status = status.read()
    package_seed("fixture-dpkg-status", "status", first_paragraphs(status))
    # Relation fields and versions alone, one a line, for the parsers.
    fields = (b"Depends: ", b"Pre-Depends: ", b"Recommends: ", b"Provides: ", b"Version: ")
    values = [line.split(b": ", 1)[1] for line in status.split(b"\n") if line.startswith(fields)]
    package_seed("fixture-dpkg-relations", "relations", b"\n".join(values)[:4000] + b"\n")
    with open(os.path.join(PACKAGE_FIXTURES, "extended_states"), "rb") as states:
        package_seed("fixture-extended_states", "extended_states", first_paragraphs(states.read()))
    # The fixture's distributions with the most Requires-Dist lines, each as a METADATA.
    with open(os.path.join(PACKAGE_FIXTURES, "pypi-metadata"), "rb") as metadata:
        blocks = [b for b in metadata.read().split(b"\n\n") if b.strip()]
    requirements = [line.split(b": ", 1)[1] for block in blocks for line in block.split(b"\n")
                    if line.startswith(b"Requires-Dist: ")]
    package_seed("fixture-requirements", "relations", b"\n".join(requirements)[:4000] + b"\n")
    blocks.sort(key=lambda block: (-block.count(b"Requires-Dist:"), block))
    for block in blocks[:4]:
        lines = [line for line in block.split(b"\n") if line and not line.startswith(b"#")]
        text = b"Metadata-Version: 2.1\n" + b"\n".join(lines)[:4000] + b"\n\nDescription.\n"
        package_seed("fixture-METADATA-" + short(text), "METADATA", text)
    for path, slot in (("var/lib/dpkg/info/gzip.list", "list"), ("var/lib/dpkg/info/gzip.md5sums", "md5sums"),
                       ("var/lib/dpkg/info/base-files.conffiles", "conffiles"),
                       ("var/lib/dpkg/info/gcc-12-base:amd64.list", "list")):
        data = debian_file(path, limit=4096)
        if data:
            package_seed("debian-" + os.path.basename(path), slot, data)
    package_seed("made-apk-installed", "apk", b"""C:Q1abcdefghijklmnopqrstuvwxyz01=
P:py3-pip
V:23.1.2-r0
A:noarch
S:2433128
I:11665408
T:Tool for installing and managing Python packages
U:https://pip.pypa.io
L:MIT
o:py3-pip
m:Natanael Copa <ncopa@alpinelinux.org>
t:1686230400
c:5b2b1e8cbdbd
D:python3~3.11 py3-setuptools so:libc.musl-x86_64.so.1 !py3-pip-doc
p:cmd:pip3=23.1.2-r0 cmd:pip=23.1.2-r0 py3.11:pip=23.1.2-r0
r:py3-pip-compat
F:usr
F:usr/bin
R:pip
a:0:0:755
Z:Q1ltrPIAlmB3BGmB9+SCDLzTkv6Eo=
R:pip3
a:0:0:755
F:usr/lib/python3.11/site-packages/pip
M:0:0:755
R:__init__.py
Z:Q1qd1c1GYm7xD+KXG3Pj1sNQmd6Xs=

""")
    package_seed("made-markers", "relations", b"""python_version >= "3.8" and (platform_system != 'Windows' or extra == 'all')
implementation_name == "cpython" and python_full_version < '3.12.0rc1'
os.name == "posix" and sys_platform not in 'win32 cygwin' and platform.machine ~= "x86_64"
python_version === "3.11" or platform_python_implementation == "PyPy"
requests[security, socks] >=2.8.1, ==2.8.* ; python_version < "2.7"
name@ file:///tmp/x.whl;extra=="x"
1:2.36-9+deb12u4
2.36-9+deb12u4~bpo11+1
1.0~~a
1.0+really0.9-1
busybox~1.36 so:libcrypto.so.3>=3.1 cmd:sh=1.36.1-r5 !apk-tools-doc
deb:lib*-dev
pypi:Zope.Interface
""")
    package_seed("made-RECORD", "RECORD", b"""pandas/__init__.py,sha256=jbdFrtyr7vNZq6PPYbi9UnS9WplMkXXYQ6NSkKvdsuM,9043
pandas/_libs/lib.cpython-311-x86_64-linux-gnu.so,sha256=AAAA,1234
"pandas/tests/io/data/a,b.csv",sha256=BBBB,10
../../../bin/pandas-tool,sha256=CCCC,200
/usr/share/man/man1/pandas.1,,
pandas-2.1.0.dist-info/METADATA,sha256=DDDD,3000
pandas-2.1.0.dist-info/RECORD,,
pandas-2.1.0.dist-info/entry_points.txt,sha256=EEEE,60
""")
    package_seed("made-installed-files", "installed-files.txt", b"../six.py\n../__pycache__/six.cpython-311.pyc\n"
                 b"../../../../bin/six-run\ndependency_links.txt\nPKG-INFO\nSOURCES.txt\ntop_level.txt\n")
    package_seed("made-PKG-INFO", "PKG-INFO", b"Metadata-Version: 1.0\nName: six\nVersion: 1.16.0\n"
                 b"Summary: Python 2 and 3 compatibility utilities\nRequires-Dist: idna (>=2.5,<4)\n"
                 b"Requires-Dist: PySocks!=1.5.7,>=1.5.6; extra == 'socks'\nClassifier: License :: OSI\n")


def harness_seeds(tool):
    """Documents that name the FuzzImageDocuments harness's own blobs, written by it."""
    directory = os.path.join(CORPUS, "FuzzImageDocuments")
    os.makedirs(directory, exist_ok=True)
    subprocess.run([tool, "--write-seeds", directory], check=True, stdout=subprocess.DEVNULL)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: make_corpus.py PATH-TO-FuzzImageDocuments PATH-TO-FuzzPackages")
    shutil.rmtree(CORPUS, ignore_errors=True)
    fixture_seeds()
    elf_seeds()
    layer_seeds()
    profile_seeds()
    trace_seeds()
    package_seeds(sys.argv[2])
    finding_seeds()
    harness_seeds(sys.argv[1])
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(CORPUS) for f in files)
    print(f"wrote the seed corpus into {CORPUS}: {total} bytes")


if __name__ == "__main__":
    main()
