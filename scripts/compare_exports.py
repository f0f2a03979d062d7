#!/usr/bin/env python3
"""Compare two `docker export` tarballs entry by entry.

    scripts/compare_exports.py A.tar B.tar      # exit 0: identical, 1: differences, 2: usage/read error
    scripts/compare_exports.py --dump A.tar     # print the normalized tree of A.tar as JSON
    scripts/compare_exports.py --removed LIST.json A.tar B.tar
                                                # B must be A minus a whittle dry-run's removals

Each path (normalized: no leading "./" or "/", no trailing "/") is compared on:
type, mode (permission bits with setuid/setgid/sticky), uid, gid, content (sha256 and size of
regular files), symlink target, device numbers, xattrs (PAX SCHILY.xattr.* as raw bytes,
LIBARCHIVE.xattr.* too), mtime (whole seconds) and hardlink grouping.

Hardlinks: which name of a group is stored as the regular file and which as links depends on the
writer, so a hardlink entry takes the attributes and content of the file it resolves to, and each
entry of a group records the other names of its group ("links"). A pair that a later layer split
therefore shows up as a difference, while a swapped file/link role does not.

Entries Docker 20.10 adds to every container export are left out: `.dockerenv`, `etc/hostname`,
`etc/hosts`, `etc/resolv.conf`, `etc/mtab`, `dev/console` (the init layer, daemon/initlayer).
The directories it creates or touches for them (`etc`, `dev`, `dev/pts`, `dev/shm`, `proc`,
`sys`) are compared without their mtime, and are ignored when they are missing on one side and
hold nothing but ignored entries on the other.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import stat
import sys
import tarfile
import urllib.parse

# Files and links Docker's init layer puts into every container (moby daemon/initlayer).
DOCKER_ADDED = {
    ".dockerenv",
    "etc/hostname",
    "etc/hosts",
    "etc/resolv.conf",
    "etc/mtab",
    "dev/console",
}
# Directories Docker creates (or whose mtime it changes by adding the files above).
DOCKER_DIRS = {"etc", "dev", "dev/pts", "dev/shm", "proc", "sys"}

TYPE_NAMES = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.CONTTYPE: "file",
    tarfile.LNKTYPE: "hardlink",
    tarfile.SYMTYPE: "symlink",
    tarfile.CHRTYPE: "char",
    tarfile.BLKTYPE: "block",
    tarfile.DIRTYPE: "dir",
    tarfile.FIFOTYPE: "fifo",
}


def normalize(name: str) -> str:
    """The path of a member, without leading './' or '/' and without a trailing '/'."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    return "/".join(parts)


def raw(value: str) -> bytes:
    """PAX values as read by tarfile (utf-8 with surrogateescape) back to their bytes."""
    return value.encode("utf-8", "surrogateescape")


def xattrs_of(member: tarfile.TarInfo) -> dict[str, str]:
    """xattrs of a member, name -> hex of the raw value."""
    found: dict[str, bytes] = {}
    for key, value in member.pax_headers.items():
        if key.startswith("LIBARCHIVE.xattr."):
            name = urllib.parse.unquote_to_bytes(key[len("LIBARCHIVE.xattr."):])
            try:
                found[name.decode("utf-8", "surrogateescape")] = base64.b64decode(raw(value) + b"==")
            except ValueError:
                found[name.decode("utf-8", "surrogateescape")] = raw(value)
    # SCHILY wins where both are present: it carries the raw value.
    for key, value in member.pax_headers.items():
        if key.startswith("SCHILY.xattr."):
            found[key[len("SCHILY.xattr."):]] = raw(value)
    return {k: v.hex() for k, v in sorted(found.items())}


class ReadError(Exception):
    pass


def load(path: str) -> dict[str, dict]:
    """Reads a tarball into {path: attributes}, resolving hardlinks."""
    entries: dict[str, dict] = {}
    hardlinks: list[tuple[str, str]] = []  # (name, target), in archive order
    try:
        tar = tarfile.open(path, "r:*")
    except (OSError, tarfile.TarError) as error:
        raise ReadError(f"{path}: cannot open: {error}") from error
    with tar:
        try:
            for member in tar:
                if member.type in (tarfile.XGLTYPE, tarfile.XHDTYPE):
                    continue
                name = normalize(member.name)
                if name == "":
                    continue  # the root directory
                kind = TYPE_NAMES.get(member.type, f"type-{member.type!r}")
                entry = {
                    "type": kind,
                    "mode": f"{member.mode & 0o7777:04o}",
                    "uid": member.uid,
                    "gid": member.gid,
                    "mtime": int(member.mtime),
                    "xattrs": xattrs_of(member),
                }
                if kind == "file":
                    digest = hashlib.sha256()
                    handle = tar.extractfile(member)
                    if handle is not None:
                        for chunk in iter(lambda: handle.read(1 << 20), b""):
                            digest.update(chunk)
                    entry["size"] = member.size
                    entry["sha256"] = digest.hexdigest()
                elif kind == "symlink":
                    entry["target"] = member.linkname
                elif kind in ("char", "block"):
                    entry["dev"] = f"{member.devmajor},{member.devminor}"
                elif kind == "hardlink":
                    hardlinks.append((name, normalize(member.linkname)))
                entries[name] = entry
        except (OSError, tarfile.TarError, EOFError) as error:
            raise ReadError(f"{path}: cannot read: {error}") from error

    # A hardlink is the inode it names: give it that file's attributes and content.
    link_of = dict(hardlinks)
    groups: dict[str, set[str]] = {}
    for name, target in hardlinks:
        seen = {name}
        while target in link_of and target not in seen:  # a link to a link
            seen.add(target)
            target = link_of[target]
        resolved = entries.get(target)
        if resolved is None or resolved["type"] == "hardlink":
            entries[name] = dict(entries[name], target=target,
                                 problem="hardlink to a name that is not a file in the archive")
            continue
        groups.setdefault(target, {target}).add(name)
    for target, group in groups.items():
        for name in group:
            entries[name] = dict(entries[target], links=sorted(group - {name}))
    return entries


def drop_docker_entries(entries: dict[str, dict]) -> None:
    for name in DOCKER_ADDED:
        entries.pop(name, None)


def only_ignored_below(entries: dict[str, dict], name: str) -> bool:
    prefix = name + "/"
    return all(other in DOCKER_ADDED or other in DOCKER_DIRS
               for other in entries if other.startswith(prefix))


def describe(entry: dict) -> str:
    kind = entry["type"]
    extra = ""
    if kind == "symlink":
        extra = f" -> {entry['target']}"
    elif kind == "file":
        extra = f" ({entry['size']} bytes)"
    return f"{kind}{extra}"


FIELDS = ("type", "mode", "uid", "gid", "size", "sha256", "target", "dev", "xattrs", "links", "mtime",
          "problem")


def removed_paths(listing_path: str) -> list[str]:
    """The paths of a `whittle slim --dry-run --format json` listing, normalized."""
    with open(listing_path, encoding="utf-8") as handle:
        listing = json.load(handle)
    return [item["path"].strip("/") for item in listing["removals"]]


def compare(a_path: str, b_path: str, ignore_mtime: bool, removed: list[str] | None = None) -> int:
    a = load(a_path)
    b = load(b_path)
    raw_a, raw_b = dict(a), dict(b)
    drop_docker_entries(a)
    drop_docker_entries(b)
    differences: list[str] = []
    # With a removal list, B must equal A minus exactly those paths and their subtrees.
    for path in removed or []:
        if path not in a:
            differences.append(f"listed as removed but not in A: {path}")
        for name in [n for n in a if n == path or n.startswith(path + "/")]:
            del a[name]
    if removed:
        # A hardlink group loses its removed names; the names left keep the content.
        for entry in a.values():
            if entry.get("links"):
                entry["links"] = [n for n in entry["links"] if n in a]
                if not entry["links"]:
                    del entry["links"]
    only_a = only_b = skipped = 0
    for name in sorted(set(a) | set(b)):
        if name not in b or name not in a:
            side, entries, everything = ("A", a, raw_a) if name not in b else ("B", b, raw_b)
            if name in DOCKER_DIRS and only_ignored_below(everything, name):
                skipped += 1  # a directory Docker made for its own entries
                continue
            if side == "A":
                only_a += 1
            else:
                only_b += 1
            differences.append(f"only in {side}: {name} [{describe(entries[name])}]")
            continue
        ea, eb = a[name], b[name]
        for field in FIELDS:
            if field == "mtime" and (ignore_mtime or name in DOCKER_DIRS):
                continue
            va, vb = ea.get(field), eb.get(field)
            if va != vb:
                differences.append(f"{name}: {field}: A={fmt(va)} B={fmt(vb)}")
    for line in differences:
        print(line)
    paths = len(set(a) | set(b)) - skipped
    details = [f"{n} {what}" for n, what in ((only_a, "only in A"), (only_b, "only in B")) if n]
    print(f"{paths} entries compared, {len(differences)} differences"
          + (f" ({', '.join(details)})" if details else ""))
    return 1 if differences else 0


def fmt(value) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def dump(path: str) -> int:
    """The normalized tree as a JSON array sorted by path: the Docker-added entries are dropped,
    Docker-made directories that hold nothing else are dropped, and the mtime of the ones kept is
    null (Docker changes it)."""
    entries = load(path)
    everything = dict(entries)
    drop_docker_entries(entries)
    out = []
    for name in sorted(entries):
        entry = dict(entries[name])
        if name in DOCKER_DIRS:
            if only_ignored_below(everything, name) and entry["type"] == "dir":
                continue
            entry["mtime"] = None
        if not entry.get("xattrs"):
            entry.pop("xattrs", None)
        out.append({"path": name, **{k: entry[k] for k in FIELDS if k in entry}})
    # One entry per line: easy to diff, easy to decode.
    lines = [json.dumps(item, ensure_ascii=False) for item in out]
    sys.stdout.write("[\n" + ",\n".join(lines) + "\n]\n")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description="Compare two `docker export` tarballs entry by entry (exit 1 on differences).")
    parser.add_argument("--dump", action="store_true",
                        help="print the normalized tree of one tarball as JSON instead of comparing")
    parser.add_argument("--ignore-mtime", action="store_true", help="do not compare mtimes")
    parser.add_argument("--removed", metavar="LISTING.json",
                        help="a `whittle slim --dry-run --format json` listing: B must be A without those paths")
    parser.add_argument("tarballs", nargs="+", metavar="TAR")
    args = parser.parse_args(argv)
    try:
        if args.dump:
            if len(args.tarballs) != 1:
                parser.error("--dump takes one tarball")
            return dump(args.tarballs[0])
        if len(args.tarballs) != 2:
            parser.error("give two tarballs: A.tar B.tar")
        removed = removed_paths(args.removed) if args.removed else None
        return compare(args.tarballs[0], args.tarballs[1], args.ignore_mtime, removed)
    except ReadError as error:
        print(f"compare_exports: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
