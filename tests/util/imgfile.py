#!/usr/bin/env python3
"""tests/util/imgfile.py — what the CLI tests read from written images, without Pillow:
  imgfile.py pixels FILE.png      sha256 of the decompressed IDAT stream (the pixels and their
                                  filter bytes: equal for equal pixels from the same writer)
  imgfile.py text FILE KEY        a PNG tEXt/iTXt value, or for a JPEG the COM segment (KEY ignored)
Exit 1 when the file or the key is missing."""
import hashlib, struct, sys, zlib


def png_chunks(data):
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit("not a PNG")
    pos = 8
    while pos + 8 <= len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        yield kind, data[pos + 8:pos + 8 + n]
        pos += 12 + n


def png_text(data, key):
    for kind, body in png_chunks(data):
        if kind == b"tEXt":
            k, _, v = body.partition(b"\0")
            if k.decode("latin-1") == key:
                return v.decode("latin-1")
        elif kind == b"iTXt":
            k, _, rest = body.partition(b"\0")
            flag, _method, rest = rest[0], rest[1], rest[2:]
            _lang, _, rest = rest.partition(b"\0")
            _tkey, _, v = rest.partition(b"\0")
            if k.decode("latin-1") == key:
                return (zlib.decompress(v) if flag else v).decode("utf-8")
    return None


def jpeg_comment(data):
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker, n = data[pos + 1], struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if marker == 0xFE:
            return data[pos + 4:pos + 2 + n].decode("utf-8")
        if marker == 0xDA:
            break
        pos += 2 + n
    return None


def main():
    what, path = sys.argv[1], sys.argv[2]
    data = open(path, "rb").read()
    if what == "pixels":
        idat = b"".join(body for kind, body in png_chunks(data) if kind == b"IDAT")
        print(hashlib.sha256(zlib.decompress(idat)).hexdigest())
        return 0
    value = jpeg_comment(data) if data[:2] == b"\xff\xd8" else png_text(data, sys.argv[3])
    if value is None:
        return 1
    sys.stdout.write(value + "\n")
    return 0


sys.exit(main())
