#!/usr/bin/env python3
"""Checks a kitbag archive against the archive format (formats/archive-v1.md) without kitbag.

    python3 formats/check-archive.py ARCHIVE_OR_FOLDER

ARCHIVE is any container bsdtar reads (tar, tar.gz, tar.zst, zip); a folder is an extracted archive or a
folder archive. Checked: kitbag.json and manifest.json against formats/schemas/*.schema.json (JSON Schema
2020-12) and their canonical layout (§3); every entry other than manifest.json listed once with its size and
SHA-256, in archive order, kitbag.json first and manifest.json last (§1, §3); every JSON Lines entry one
compact JSON value per LF-terminated line, its count in the manifest and the manifest's counts their sums (§4).
Needs python3 with jsonschema (Debian: python3-jsonschema) and, for archive files, bsdtar.
Prints one line per problem and exits 1, or prints a summary and exits 0.
"""

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
STRING = re.compile(r'"(?:\\.|[^"\\])*"')


def load_schema(name):
    with open(os.path.join(HERE, "schemas", name), encoding="utf-8") as f:
        return json.load(f)


def canonical(value):
    """The layout kitbag writes its two records in: sorted keys, two-space indent, ` : `, trailing LF."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, separators=(",", " : ")) + "\n"


def check_record(root, name, schema, problems):
    path = os.path.join(root, name)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError:
        problems.append(f"{name}: missing")
        return None
    try:
        text = raw.decode("utf-8")
        value = json.loads(text)
    except (UnicodeDecodeError, ValueError) as error:
        problems.append(f"{name}: not UTF-8 JSON ({error})")
        return None
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    for error in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path) or "(top)"
        problems.append(f"{name}: {where}: {error.message}")
    if text != canonical(value):
        problems.append(f"{name}: not in the canonical layout (sorted keys, two-space indent, trailing LF)")
    return value


def check_json_lines(path, name, problems):
    """Returns the number of lines, or None when the entry is not valid JSON Lines."""
    with open(path, "rb") as f:
        raw = f.read()
    if not raw:
        return 0
    if raw.startswith(b"\xef\xbb\xbf"):
        problems.append(f"{name}: starts with a byte-order mark")
    if not raw.endswith(b"\n"):
        problems.append(f"{name}: the last line has no LF")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        problems.append(f"{name}: not UTF-8 ({error})")
        return None
    lines = text[:-1].split("\n") if text.endswith("\n") else text.split("\n")
    for number, line in enumerate(lines, 1):
        if not line:
            problems.append(f"{name}:{number}: blank line")
            continue
        try:
            json.loads(line)
        except ValueError as error:
            problems.append(f"{name}:{number}: not JSON ({error})")
            continue
        if re.search(r"\s", STRING.sub('""', line)):
            problems.append(f"{name}:{number}: not compact (whitespace outside strings)")
    return len(lines)


def files_under(root):
    out = []
    for folder, _, names in os.walk(root):
        for n in names:
            out.append(os.path.relpath(os.path.join(folder, n), root).replace(os.sep, "/"))
    return out


def check(root, order):
    problems = []
    record = check_record(root, "kitbag.json", load_schema("kitbag.schema.json"), problems)
    manifest = check_record(root, "manifest.json", load_schema("manifest.schema.json"), problems)
    if record is None or manifest is None:
        return problems, 0, 0
    if record.get("service") != manifest.get("service"):
        problems.append(f"kitbag.json says {record.get('service')}, manifest.json says {manifest.get('service')}")

    entries = manifest.get("entries", [])
    listed = [e.get("path") for e in entries]
    present = order if order is not None else files_under(root)
    if order is not None:
        if order[:1] != ["kitbag.json"]:
            problems.append("kitbag.json is not the first entry")
        if order[-1:] != ["manifest.json"]:
            problems.append("manifest.json is not the last entry")
        if listed != [p for p in order if p != "manifest.json"]:
            problems.append("manifest entries are not every other entry in archive order")
    else:
        missing = sorted(set(present) - set(listed) - {"manifest.json"})
        for path in missing:
            problems.append(f"{path}: present but not in the manifest")
    if len(set(listed)) != len(listed):
        problems.append("an entry is listed twice in the manifest")

    sums = {}
    lines_total = 0
    for entry in entries:
        path = entry.get("path", "")
        full = os.path.join(root, path)
        if not os.path.isfile(full):
            problems.append(f"{path}: listed in the manifest but absent")
            continue
        with open(full, "rb") as f:
            data = f.read()
        if len(data) != entry.get("size"):
            problems.append(f"{path}: {len(data)} bytes, the manifest says {entry.get('size')}")
        if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
            problems.append(f"{path}: SHA-256 differs from the manifest")
        if path.endswith(".jsonl"):
            if "kind" not in entry:
                problems.append(f"{path}: a JSON Lines entry without kind and count")
            count = check_json_lines(full, path, problems)
            if count is not None:
                lines_total += count
                if "count" in entry and count != entry["count"]:
                    problems.append(f"{path}: {count} lines, the manifest says {entry['count']}")
        if "kind" in entry:
            sums[entry["kind"]] = sums.get(entry["kind"], 0) + entry.get("count", 0)
    if sums != manifest.get("counts"):
        problems.append(f"counts {manifest.get('counts')} are not the sums of the entries' counts {sums}")
    return problems, len(entries), lines_total


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    target = argv[1]
    if os.path.isdir(target):
        problems, entries, lines = check(target, None)
    else:
        try:
            listing = subprocess.run(["bsdtar", "-tf", target], check=True, capture_output=True, text=True).stdout
        except (OSError, subprocess.CalledProcessError) as error:
            print(f"{target}: cannot be listed with bsdtar ({error})", file=sys.stderr)
            return 1
        order = [line for line in listing.split("\n") if line and not line.endswith("/")]
        with tempfile.TemporaryDirectory() as work:
            subprocess.run(["bsdtar", "-xf", target, "-C", work], check=True)
            problems, entries, lines = check(work, order)
    for problem in problems:
        print(f"{target}: {problem}")
    if problems:
        return 1
    print(f"{target}: format v1, {entries} entries, {lines} JSON lines: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
