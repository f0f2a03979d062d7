#!/usr/bin/env python3
"""Writes the package-graph test fixtures from a saved image (docker save format).

Usage: make_fixtures.py IMAGE.tar OUTPUT_DIR

Reads the image's layers in order (later layers win; whiteouts are not needed for these
files) and writes three small files, trimmed so that they stay a few kilobytes:

- dpkg-status: the stanzas of /var/lib/dpkg/status for a few packages (python3-pip,
  curl, openssl, apt), what they need through Depends and Pre-Depends, and what they
  recommend, with only the fields the graph reads
  (Package, Status, Essential, Architecture, Version, Provides, Pre-Depends, Depends,
  Recommends), verbatim.
- extended_states: the /var/lib/apt/extended_states stanzas of those packages.
- pypi-metadata: for every *.dist-info below usr/local/lib/python3*/dist-packages, a
  '# dist-info: DIR' line, '# REQUESTED' and '# INSTALLER: X' lines when those files exist,
  then the METADATA header lines Name, Version and Requires-Dist, verbatim. A Requires-Dist
  line whose marker names an extra is kept only when some distribution of the image asks
  for that extra, or the distribution is pandas (whose lines the tests quote); the others
  could never apply.

The tests were written against the output for bench/work/batch-naive.tar (Debian 12,
python3-pip, pandas, scikit-learn, jupyterlab, matplotlib).
"""
import io
import json
import re
import sys
import tarfile

ROOTS = ["python3-pip", "curl", "openssl", "apt"]
FIELDS = ["Package", "Status", "Essential", "Architecture", "Version", "Provides", "Pre-Depends", "Depends",
          "Recommends"]


def image_files(path):
    """Path -> bytes of the wanted files, applying layers in order."""
    wanted = re.compile(r"^(var/lib/dpkg/status|var/lib/apt/extended_states|"
                        r"usr/local/lib/python3[^/]*/dist-packages/[^/]+\.dist-info/(METADATA|REQUESTED|INSTALLER))$")
    files = {}
    with tarfile.open(path) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))
        for layer in manifest[0]["Layers"]:
            with tarfile.open(fileobj=outer.extractfile(layer), mode="r|*") as inner:
                for member in inner:
                    name = member.name[2:] if member.name.startswith("./") else member.name
                    if member.isfile() and wanted.match(name):
                        files[name] = inner.extractfile(member).read()
    return files


def stanzas(text):
    result = []
    for block in text.strip().split("\n\n"):
        fields, key = {}, None
        for line in block.split("\n"):
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        result.append(fields)
    return result


def closure(packages):
    """The roots, what they need through Depends and Pre-Depends, and what the roots
    recommend (but not what those need in turn)."""
    by_name, providers = {}, {}
    for fields in packages:
        by_name[fields["Package"]] = fields
        for item in fields.get("Provides", "").split(","):
            if item.strip():
                providers.setdefault(item.split()[0].split(":")[0], []).append(fields["Package"])
    def targets(name, keys):
        result = []
        for key in keys:
            for alternative in re.split(r"[,|]", by_name.get(name, {}).get(key, "")):
                if alternative.strip():
                    target = alternative.split()[0].split(":")[0]
                    result += [target] + providers.get(target, [])
        return result

    seen, todo = set(), list(ROOTS)
    while todo:
        name = todo.pop()
        if name in seen or name not in by_name:
            continue
        seen.add(name)
        todo += targets(name, ("Pre-Depends", "Depends"))
    seen |= {name for root in ROOTS for name in targets(root, ("Recommends",)) if name in by_name}
    return [fields for fields in packages if fields["Package"] in seen]


def write_dpkg(files, output):
    kept = closure(stanzas(files["var/lib/dpkg/status"].decode()))
    with open(f"{output}/dpkg-status", "w") as out:
        out.write("\n".join("".join(f"{key}: {fields[key]}\n" for key in FIELDS if key in fields) for fields in kept))
    names = {fields["Package"] for fields in kept}
    states = [s for s in stanzas(files["var/lib/apt/extended_states"].decode()) if s.get("Package") in names]
    with open(f"{output}/extended_states", "w") as out:
        out.write("\n".join("".join(f"{k}: {v}\n" for k, v in s.items()) for s in states))


def write_pypi(files, output):
    dists = {}
    for path, data in files.items():
        directory, _, leaf = path.rpartition("/")
        if not directory.endswith(".dist-info"):
            continue
        dists.setdefault(directory, {})[leaf] = data.decode()
    requested_extras = set()
    for files_of in dists.values():
        for line in files_of.get("METADATA", "").split("\n"):
            match = re.match(r"Requires-Dist:\s*([A-Za-z0-9._-]+)\s*\[([^\]]*)\]", line)
            if match:
                for extra in match.group(2).split(","):
                    requested_extras.add((norm(match.group(1)), norm(extra)))
    with open(f"{output}/pypi-metadata", "w") as out:
        for directory in sorted(dists):
            files_of = dists[directory]
            headers = files_of["METADATA"].split("\n\n")[0].split("\n")
            name = norm(next(line.split(":", 1)[1] for line in headers if line.startswith("Name:")))
            out.write(f"# dist-info: {directory.rpartition('/')[2]}\n")
            if "REQUESTED" in files_of:
                out.write("# REQUESTED\n")
            if "INSTALLER" in files_of:
                out.write(f"# INSTALLER: {files_of['INSTALLER'].strip()}\n")
            for line in headers:
                if not line.startswith(("Name:", "Version:", "Requires-Dist:")):
                    continue
                extra = re.search(r"extra\s*==\s*[\"']([^\"']+)[\"']", line)
                if extra and name != "pandas" and (name, norm(extra.group(1))) not in requested_extras:
                    continue
                out.write(line + "\n")
            out.write("\n")


def norm(name):
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def main():
    image, output = sys.argv[1], sys.argv[2]
    files = image_files(image)
    write_dpkg(files, output)
    write_pypi(files, output)


if __name__ == "__main__":
    main()
