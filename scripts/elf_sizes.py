#!/usr/bin/env python3
"""Print the sizes of the allocated sections of an ELF file (32- or 64-bit, little-endian),
and with `--words SYMBOL` the 32-bit words a data symbol holds.

Used by scripts/footprint.sh so the measurement needs no cross binutils.
"""
import struct
import sys


def sections(path):
    data = open(path, "rb").read()
    if data[:4] != b"\x7fELF":
        sys.exit(f"{path}: not an ELF file")
    is64 = data[4] == 2
    if is64:
        shoff, = struct.unpack_from("<Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    else:
        shoff, = struct.unpack_from("<I", data, 0x20)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x2E)
    headers = []
    for i in range(shnum):
        off = shoff + i * shentsize
        if is64:
            name, typ, flags, _addr, _off, size = struct.unpack_from("<IIQQQQ", data, off)
        else:
            name, typ, flags, _addr, _off, size = struct.unpack_from("<IIIIII", data, off)
        headers.append((name, typ, flags, size))
    strtab_off = shoff + shstrndx * shentsize
    if is64:
        str_base, = struct.unpack_from("<Q", data, strtab_off + 0x18)
    else:
        str_base, = struct.unpack_from("<I", data, strtab_off + 0x10)
    for name, typ, flags, size in headers:
        end = data.index(b"\0", str_base + name)
        yield data[str_base + name:end].decode(), typ, flags, size


def words(path, symbol):
    """The little-endian 32-bit words of `symbol` (32-bit ELF)."""
    data = open(path, "rb").read()
    shoff, = struct.unpack_from("<I", data, 0x20)
    shentsize, shnum, _ = struct.unpack_from("<HHH", data, 0x2E)
    shdrs = [struct.unpack_from("<IIIIIIIIII", data, shoff + i * shentsize) for i in range(shnum)]
    for _name, typ, _f, _a, off, size, link, _i, _al, entsize in shdrs:
        if typ != 2:  # SHT_SYMTAB
            continue
        strtab = shdrs[link][4]
        for k in range(size // entsize):
            st_name, value, st_size, _info, _other, shndx = struct.unpack_from(
                "<IIIBBH", data, off + k * entsize)
            end = data.index(b"\0", strtab + st_name)
            if data[strtab + st_name:end].decode() != symbol:
                continue
            sec = shdrs[shndx]
            at = sec[4] + value - sec[3]
            return list(struct.unpack_from(f"<{st_size // 4}I", data, at))
    sys.exit(f"{path}: no symbol {symbol}")


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--words":
        print(" ".join(str(w) for w in words(sys.argv[3], sys.argv[2])))
        return
    for path in sys.argv[1:]:
        alloc = [(n, s) for n, t, f, s in sections(path) if f & 0x2 and s]
        for name, size in alloc:
            print(f"{name:24} {size:8}")


if __name__ == "__main__":
    main()
