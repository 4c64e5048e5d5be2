#!/usr/bin/env python3
"""Make and check the Lambda deployment zip of the `bootstrap` binary.

    bootstrap_zip.py make BINARY ZIP           write ZIP holding BINARY as `bootstrap`
    bootstrap_zip.py check ZIP --arch ARCH     check ZIP is deployable on provided.al2023/ARCH
    bootstrap_zip.py check-binary FILE --arch ARCH
                                               the same ELF and glibc checks on a bare binary
                                               (scripts/release: the reader's tvault)

`check` requires: exactly one entry, `bootstrap`, at the root; Unix mode with
the execute bits; a 64-bit little-endian ELF executable whose e_machine is
the architecture's (0x3E x86_64, 0xB7 aarch64); and no glibc symbol version
newer than the one in Amazon Linux 2023 (2.34), since a binary linked on a
newer distribution can ask for symbols that Lambda's libc does not have.
Uses only the standard library, so it runs before any tool is installed.
"""

import argparse
import re
import stat
import sys
import zipfile
from pathlib import Path

E_MACHINE = {"x86_64": 0x3E, "arm64": 0xB7}
ARCH_ALIASES = {"x86_64": "x86_64", "amd64": "x86_64", "arm64": "arm64", "aarch64": "arm64"}
# glibc of the provided.al2023 runtime.
MAX_GLIBC = (2, 34)
# A fixed timestamp makes the zip byte-identical for an identical binary, so
# `sam deploy` does not upload a new version when nothing changed.
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


class ZipProblem(Exception):
    pass


def make(binary_path, zip_path):
    with open(binary_path, "rb") as f:
        data = f.read()
    info = zipfile.ZipInfo("bootstrap", date_time=FIXED_TIME)
    info.external_attr = (stat.S_IFREG | 0o755) << 16
    info.create_system = 3  # Unix, so the mode above is honoured on extraction
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(zip_path, "w") as z:
        z.writestr(info, data, compresslevel=9)


def elf_machine(data, name="bootstrap"):
    if data[:4] != b"\x7fELF":
        raise ZipProblem(f"{name} is not an ELF binary")
    if data[4] != 2:
        raise ZipProblem(f"{name} is not a 64-bit ELF")
    if data[5] != 1:
        raise ZipProblem(f"{name} is not little-endian")
    e_type = int.from_bytes(data[16:18], "little")
    if e_type not in (2, 3):  # ET_EXEC, ET_DYN (position-independent executable)
        raise ZipProblem(f"{name} is not an executable (e_type {e_type})")
    return int.from_bytes(data[18:20], "little")


def newest_glibc(data):
    versions = {(int(a), int(b)) for a, b in re.findall(rb"GLIBC_(\d+)\.(\d+)(?![\d.])", data)}
    return max(versions) if versions else None


def check(zip_path, arch):
    """Return a one-line description of a good zip; raise ZipProblem otherwise."""
    arch = ARCH_ALIASES[arch]
    try:
        z = zipfile.ZipFile(zip_path)
    except (OSError, zipfile.BadZipFile) as err:
        raise ZipProblem(f"{zip_path}: not a readable zip ({err})") from err
    with z:
        names = z.namelist()
        if names != ["bootstrap"]:
            raise ZipProblem(f"the zip must hold exactly `bootstrap` at its root, holds {names}")
        info = z.getinfo("bootstrap")
        mode = info.external_attr >> 16
        if not mode & 0o111:
            raise ZipProblem(f"bootstrap is not executable (mode {oct(mode)})")
        data = z.read("bootstrap")
    elf = check_elf(data, arch)
    return f"{zip_path}: bootstrap, {elf}, mode {oct(mode & 0o777)}, {len(data) / 2**20:.1f} MiB unpacked"


def check_elf(data, arch, name="bootstrap"):
    """The architecture and glibc floor checks shared by the Lambda zip and
    the reader's tarball: one floor, provided.al2023's glibc 2.34, so the
    `tvault` an officer unpacks runs wherever the Lambda does (and on any
    distribution from about 2021 on). Returns a description; raises ZipProblem."""
    arch = ARCH_ALIASES[arch]
    machine = elf_machine(data, name)
    if machine != E_MACHINE[arch]:
        found = {v: k for k, v in E_MACHINE.items()}.get(machine, hex(machine))
        raise ZipProblem(f"{name} is built for {found}, not {arch} (ELF e_machine {hex(machine)})")
    glibc = newest_glibc(data)
    if glibc and glibc > MAX_GLIBC:
        raise ZipProblem(
            f"{name} needs GLIBC_{glibc[0]}.{glibc[1]}, newer than provided.al2023's "
            f"{MAX_GLIBC[0]}.{MAX_GLIBC[1]}; build on an older glibc, for musl, or with cargo-lambda (zig)"
        )
    libc = f"glibc <= {glibc[0]}.{glibc[1]}" if glibc else "no glibc symbols (static)"
    return f"ELF {arch} (e_machine {hex(machine)}), {libc}"


def check_binary(path, arch):
    """check_elf on a file; raise ZipProblem when unreadable or not executable."""
    path = Path(path)
    try:
        data = path.read_bytes()
        mode = path.stat().st_mode
    except OSError as err:
        raise ZipProblem(f"{path}: not readable ({err})") from err
    if not mode & 0o111:
        raise ZipProblem(f"{path.name} is not executable (mode {oct(mode & 0o777)})")
    return f"{path}: {check_elf(data, arch, path.name)}, {len(data) / 2**20:.1f} MiB"


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("binary")
    m.add_argument("zip")
    c = sub.add_parser("check")
    c.add_argument("zip")
    c.add_argument("--arch", required=True, choices=sorted(ARCH_ALIASES))
    b = sub.add_parser("check-binary")
    b.add_argument("binary")
    b.add_argument("--arch", required=True, choices=sorted(ARCH_ALIASES))
    args = parser.parse_args(argv)
    if args.cmd == "make":
        make(args.binary, args.zip)
        return 0
    try:
        if args.cmd == "check-binary":
            print(check_binary(args.binary, args.arch))
        else:
            print(check(args.zip, args.arch))
    except ZipProblem as err:
        what = "binary" if args.cmd == "check-binary" else "bootstrap zip"
        print(f"{what} check failed: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
