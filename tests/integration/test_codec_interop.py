"""Codec interop: rn_codec (through tests/helpers/codec_tool) against independent
implementations — Debian's gzip, lz4 and zstd programs, python3-snappy (raw snappy; the
xerial framing is assembled here by hand from raw blocks), python3-lz4 (lz4.frame) and
python3-zstandard. Streams made by them must decode with ours and streams made by ours
must decode with them. Prints TAP; exits non-zero on any failure."""
import gzip as pygzip
import os
import random
import struct
import subprocess
import sys

import lz4.frame
import snappy
import zstandard

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rn_testlib import BUILD, Counter  # noqa: E402

TOOL = os.path.join(BUILD, "tests", "codec_tool")
XERIAL_MAGIC = b"\x82SNAPPY\x00"

T = Counter(detail_chars=500)
ok = T.ok


def run(argv, data):
    p = subprocess.run(argv, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, p.stdout, p.stderr


def ours(op, codec, data, extra=()):
    rc, out, err = run([TOOL, op, codec, *extra], data)
    if rc != 0:
        raise RuntimeError("codec_tool %s %s: rc %d: %s" % (op, codec, rc, err.decode()))
    return out


def program(argv, data):
    rc, out, err = run(argv, data)
    if rc != 0:
        raise RuntimeError("%s: rc %d: %s" % (" ".join(argv), rc, err.decode()))
    return out


def xerial_encode(data, block=32 * 1024):
    # snappy-java's framing: magic, version 1, compatible version 1, then big-endian
    # int32 length + raw snappy per block.
    out = [XERIAL_MAGIC, struct.pack(">ii", 1, 1)]
    for i in range(0, len(data), block):
        chunk = snappy.compress(data[i:i + block])
        out.append(struct.pack(">i", len(chunk)))
        out.append(chunk)
    return b"".join(out)


def xerial_decode(data):
    if not data.startswith(XERIAL_MAGIC):
        raise ValueError("no xerial magic")
    version, compat = struct.unpack(">ii", data[8:16])
    if (version, compat) != (1, 1):
        raise ValueError("xerial versions %d %d" % (version, compat))
    pos, out = 16, []
    while pos < len(data):
        (n,) = struct.unpack(">i", data[pos:pos + 4])
        pos += 4
        if n > 32 * 1024 + 32 * 1024 // 6 + 32 or pos + n > len(data):
            raise ValueError("bad xerial block length %d" % n)
        out.append(snappy.uncompress(data[pos:pos + n]))
        pos += n
    return b"".join(out)


def payloads():
    rnd = random.Random(20240611)
    text = b"".join(b"offset %d partition %d key-%d value %s\n" %
                    (i, i % 7, i % 113, b"x" * (i % 50)) for i in range(30000))
    yield "empty", b""
    yield "1 byte", b"k"
    yield "1000 text", text[:1000]
    yield "100000 random", bytes(rnd.getrandbits(8) for _ in range(100000))
    yield "1 MiB text", text[:1 << 20].ljust(1 << 20, b"z")


# Each entry: name, how ours compresses (codec arg), how ours decompresses, their
# compressor, their decompressor. Empty input is skipped for formats whose programs or
# libraries cannot represent it.
def their_gzip_c(d):
    return program(["gzip", "-c", "-n"], d)


def their_gzip_d(d):
    return program(["gzip", "-dc"], d)


def their_lz4_c(d):
    return program(["lz4", "-c", "-q"], d)


def their_lz4_d(d):
    return program(["lz4", "-dc", "-q"], d)


def their_zstd_c(d):
    return program(["zstd", "-c", "-q"], d)


def their_zstd_d(d):
    return program(["zstd", "-dc", "-q"], d)


def zstd_stream_c(d):
    # Streaming compression writes no content size in the frame header.
    cobj = zstandard.ZstdCompressor(level=3).compressobj()
    return cobj.compress(d) + cobj.flush()


def zstd_lib_d(d):
    return zstandard.ZstdDecompressor().decompressobj().decompress(d)


CASES = [
    ("gzip program", "gzip", their_gzip_c, their_gzip_d),
    ("python gzip module", "gzip", lambda d: pygzip.compress(d, mtime=0), pygzip.decompress),
    ("lz4 program", "lz4", their_lz4_c, their_lz4_d),
    ("python lz4.frame (linked blocks, checksums)", "lz4",
     lambda d: lz4.frame.compress(d, block_linked=True, content_checksum=True,
                                  block_checksum=True), lz4.frame.decompress),
    ("python lz4.frame (independent 64 KiB blocks)", "lz4",
     lambda d: lz4.frame.compress(d, block_linked=False,
                                  block_size=lz4.frame.BLOCKSIZE_MAX64KB),
     lz4.frame.decompress),
    ("zstd program", "zstd", their_zstd_c, their_zstd_d),
    ("python zstandard (content size)", "zstd",
     lambda d: zstandard.ZstdCompressor(level=3, write_checksum=True).compress(d), zstd_lib_d),
    ("python zstandard (streaming, no content size)", "zstd", zstd_stream_c, zstd_lib_d),
    ("python snappy raw", "snappy", snappy.compress, snappy.uncompress),
    ("xerial framing over python snappy", "snappy-xerial", xerial_encode, xerial_decode),
]


def check_case(name, codec, their_c, their_d):
    for pname, data in payloads():
        # theirs -> ours
        try:
            z = their_c(data)
            back = ours("decompress", codec, z)
            ok(back == data, "%s -> ours: %s (%d -> %d bytes)" % (name, pname, len(data), len(z)),
               "got %d bytes" % len(back))
        except Exception as e:  # a crash of the tool or theirs is a failure, with detail
            ok(False, "%s -> ours: %s" % (name, pname), e)
        # ours -> theirs
        try:
            z = ours("compress", codec, data)
            back = their_d(z)
            ok(back == data, "ours -> %s: %s (%d -> %d bytes)" % (name, pname, len(data), len(z)),
               "got %d bytes" % len(back))
        except Exception as e:
            ok(False, "ours -> %s: %s" % (name, pname), e)


def check_extras():
    data = b"first member;" * 100
    more = b"second member" * 50
    z = their_gzip_c(data) + their_gzip_c(more)
    ok(ours("decompress", "gzip", z) == data + more, "two concatenated gzip(1) members")

    # Raw snappy from ours does not carry the xerial magic; xerial from ours does.
    raw = ours("compress", "snappy", data)
    ok(not raw.startswith(XERIAL_MAGIC) and snappy.uncompress(raw) == data,
       "ours 'snappy' is raw snappy (what librdkafka sends)")
    x = ours("compress", "snappy-xerial", data)
    ok(x.startswith(XERIAL_MAGIC + b"\x00\x00\x00\x01\x00\x00\x00\x01"),
       "ours 'snappy-xerial' has magic and versions 1, 1")
    ok(ours("decompress", "snappy", xerial_encode(data)) == data,
       "'snappy' decompression detects xerial framing")

    # Bomb caps hold with foreign streams too.
    zeros = b"\0" * (8 << 20)
    for codec, comp in (("gzip", their_gzip_c), ("lz4", their_lz4_c), ("zstd", their_zstd_c),
                        ("snappy", xerial_encode)):
        rc, out, err = run([TOOL, "decompress", codec, str(1 << 20)], comp(zeros))
        ok(rc == 1 and b"too large" in err,
           "%s: 8 MiB of zeros with a 1 MiB cap is refused" % codec, err.decode())

    # Truncated foreign streams are corrupt, not crashes.
    for codec, comp in (("gzip", their_gzip_c), ("lz4", their_lz4_c), ("zstd", their_zstd_c),
                        ("snappy", snappy.compress)):
        z = comp(data)
        rc, out, err = run([TOOL, "decompress", codec], z[:len(z) // 2])
        ok(rc == 1 and b"corrupt" in err,
           "%s: a stream cut in half is corrupt (rc %d)" % (codec, rc), err.decode())


def main():
    if not os.access(TOOL, os.X_OK):
        print("1..0 # SKIP codec_tool not built at %s" % TOOL)
        return 1
    for case in CASES:
        check_case(*case)
    check_extras()
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
