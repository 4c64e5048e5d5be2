"""The zip checker scripts/package-lambda relies on, tested on synthetic ELF
headers (no release build needed)."""

import stat
import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bootstrap_zip import ZipProblem, check, check_binary, make  # noqa: E402


def elf(machine, glibc=b"GLIBC_2.17\0GLIBC_2.34\0", e_type=3):
    header = bytearray(64)
    header[:4] = b"\x7fELF"
    header[4] = 2  # 64-bit
    header[5] = 1  # little-endian
    header[16:18] = e_type.to_bytes(2, "little")
    header[18:20] = machine.to_bytes(2, "little")
    return bytes(header) + b"\0" * 64 + glibc


def zip_with(tmp_path, data, name="bootstrap", mode=0o755):
    path = tmp_path / "bootstrap.zip"
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.create_system = 3
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(info, data)
    return path


@pytest.mark.parametrize("arch,machine", [("x86_64", 0x3E), ("arm64", 0xB7), ("aarch64", 0xB7)])
def test_accepts_an_executable_bootstrap_of_the_right_architecture(tmp_path, arch, machine):
    assert "bootstrap" in check(zip_with(tmp_path, elf(machine)), arch)


def test_make_writes_an_executable_bootstrap_that_check_accepts(tmp_path):
    binary = tmp_path / "tvault"
    binary.write_bytes(elf(0x3E))
    out = tmp_path / "out.zip"
    make(binary, out)
    assert "x86_64" in check(out, "x86_64")
    first = out.read_bytes()
    make(binary, out)
    assert out.read_bytes() == first, "the same binary must give the same zip bytes"


def test_rejects_the_other_architecture(tmp_path):
    with pytest.raises(ZipProblem, match="built for x86_64, not arm64"):
        check(zip_with(tmp_path, elf(0x3E)), "arm64")


def test_rejects_a_binary_not_named_bootstrap(tmp_path):
    with pytest.raises(ZipProblem, match="exactly `bootstrap`"):
        check(zip_with(tmp_path, elf(0x3E), name="tvault"), "x86_64")


def test_rejects_a_bootstrap_without_execute_bits(tmp_path):
    with pytest.raises(ZipProblem, match="not executable"):
        check(zip_with(tmp_path, elf(0x3E), mode=0o644), "x86_64")


def test_rejects_a_non_elf_bootstrap(tmp_path):
    with pytest.raises(ZipProblem, match="not an ELF"):
        check(zip_with(tmp_path, b"#!/bin/sh\necho hi\n"), "x86_64")


def test_rejects_a_binary_needing_a_newer_glibc_than_al2023(tmp_path):
    with pytest.raises(ZipProblem, match="GLIBC_2.36"):
        check(zip_with(tmp_path, elf(0x3E, glibc=b"GLIBC_2.34\0GLIBC_2.36\0")), "x86_64")


def test_accepts_a_static_binary_without_glibc_symbols(tmp_path):
    assert "static" in check(zip_with(tmp_path, elf(0x3E, glibc=b"")), "x86_64")


def binary_with(tmp_path, data, mode=0o755):
    path = tmp_path / "tvault"
    path.write_bytes(data)
    path.chmod(mode)
    return path


def test_check_binary_accepts_the_readers_tvault_within_the_glibc_floor(tmp_path):
    out = check_binary(binary_with(tmp_path, elf(0x3E)), "x86_64")
    assert "tvault: ELF x86_64" in out and "glibc <= 2.34" in out


def test_check_binary_rejects_a_tvault_needing_a_newer_glibc(tmp_path):
    with pytest.raises(ZipProblem, match="tvault needs GLIBC_2.36"):
        check_binary(binary_with(tmp_path, elf(0x3E, glibc=b"GLIBC_2.36\0")), "x86_64")


def test_check_binary_rejects_the_other_architecture_and_a_non_executable(tmp_path):
    with pytest.raises(ZipProblem, match="tvault is built for arm64, not x86_64"):
        check_binary(binary_with(tmp_path, elf(0xB7)), "x86_64")
    with pytest.raises(ZipProblem, match="not executable"):
        check_binary(binary_with(tmp_path, elf(0x3E), mode=0o644), "x86_64")
