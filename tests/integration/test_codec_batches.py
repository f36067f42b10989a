"""Record-batch interop: batches built by rn_batch_build (tests/helpers/codec_tool build)
are read by kafka-python's pure-Python DefaultRecordBatch (CRC-32C, varints, every codec),
and batches built by kafka-python's DefaultRecordBatchBuilder are read by rn_records
(codec_tool records). Prints TAP; exits non-zero on any failure."""
import os
import struct
import subprocess
import sys

from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rn_testlib import BUILD, Counter  # noqa: E402

TOOL = os.path.join(BUILD, "tests", "codec_tool")
CODECS = {"none": 0, "gzip": 1, "snappy": 2, "snappy-xerial": 2, "lz4": 3, "zstd": 4}

T = Counter(detail_chars=800)
ok = T.ok


def make_records(n):
    recs = []
    for i in range(n):
        key = None if i % 4 == 0 else (b"" if i % 4 == 1 else b"key-%d" % (i % 10))
        value = None if i % 9 == 8 else b"value %d " % i + b"abc" * (i % 40)
        headers = [] if i % 3 else [("trace-id", b"%08x" % i), ("empty", b""), ("nil", None)]
        ts = 1700000000000 + (i * 37) % 500 - 200  # deltas go both ways
        recs.append((ts, key, value, headers))
    return recs


def field(b):
    return "-" if b is None else "x" + b.hex()


def unfield(s):
    return None if s == "-" else bytes.fromhex(s[1:])


def record_line(ts, key, value, headers):
    parts = [str(ts), field(key), field(value)]
    parts += ["%s=%s" % (field(k.encode()), field(v)) for k, v in headers]
    return " ".join(parts)


def ours_build(codec, recs, extra=()):
    text = "".join(record_line(*r) + "\n" for r in recs).encode()
    p = subprocess.run([TOOL, "build", codec, *extra], input=text, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.decode())
    return p.stdout


def ours_read(batch):
    p = subprocess.run([TOOL, "records"], input=batch, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.decode())
    batches = []
    for line in p.stdout.decode().splitlines():
        words = line.split()
        if words[0] == "batch":
            batches.append((dict(w.split("=", 1) for w in words[1:]), []))
        else:
            off, ts, key, value = int(words[1]), int(words[2]), unfield(words[3]), unfield(words[4])
            hdrs = []
            for w in words[5:]:
                k, v = w.split("=", 1)
                hdrs.append((unfield(k).decode(), unfield(v)))
            batches[-1][1].append((off, ts, key, value, hdrs))
    return batches


def theirs_build(codec_id, recs, transactional=False, pid=-1, epoch=-1, seq=-1):
    b = DefaultRecordBatchBuilder(magic=2, compression_type=codec_id,
                                  is_transactional=transactional, producer_id=pid,
                                  producer_epoch=epoch, base_sequence=seq,
                                  batch_size=1 << 30)
    for i, (ts, key, value, headers) in enumerate(recs):
        b.append(i, timestamp=ts, key=key, value=value, headers=headers)
    return bytes(b.build())


def check_ours_to_theirs(codec, recs):
    name = "rn_batch_build %s -> kafka-python" % codec
    try:
        batch = ours_build(codec, recs, ["--base-offset", "4000", "--producer", "77", "2", "10"])
        theirs = DefaultRecordBatch(bytearray(batch))
        ok(theirs.validate_crc(), name + ": CRC-32C valid")
        # kafka-python 2.0 exposes no producer fields: read them from their offsets.
        pid, epoch, seq, n = struct.unpack_from(">qhii", batch, 43)
        ok(theirs.compression_type == CODECS[codec] and theirs.base_offset == 4000 and
           theirs.last_offset_delta == len(recs) - 1 and pid == 77 and epoch == 2 and
           seq == 10 and n == len(recs) and theirs.first_timestamp == recs[0][0] and
           theirs.max_timestamp == max(r[0] for r in recs),
           name + ": header fields")
        got = [(r.offset, r.timestamp, r.key, r.value, [tuple(h) for h in r.headers])
               for r in theirs]
        want = [(4000 + i, ts, k, v, [(hk, hv) for hk, hv in h])
                for i, (ts, k, v, h) in enumerate(recs)]
        ok(got == want, name + ": %d records identical" % len(recs),
           next((("got", g, "want", w) for g, w in zip(got, want) if g != w), len(got)))
    except Exception as e:
        ok(False, name, repr(e))


def check_theirs_to_ours(codec, recs):
    name = "kafka-python %s -> rn_records" % codec
    try:
        batch = theirs_build(CODECS[codec], recs, transactional=True, pid=5, epoch=1, seq=0)
        attrs = int.from_bytes(batch[21:23], "big")
        ok(attrs & 7 == CODECS[codec], name + ": kafka-python compressed it (attrs %d)" % attrs)
        (hdr, got), = ours_read(batch)
        ok(hdr["count"] == str(len(recs)) and hdr["codec"] == codec.split("-")[0] and
           hdr["pid"] == "5" and int(hdr["attrs"]) & 0x10, name + ": header", hdr)
        want = [(i, ts, k, v, list(h)) for i, (ts, k, v, h) in enumerate(recs)]
        ok(got == want, name + ": %d records identical" % len(recs),
           next((("got", g, "want", w) for g, w in zip(got, want) if g != w), len(got)))
    except Exception as e:
        ok(False, name, repr(e))


def main():
    if not os.access(TOOL, os.X_OK):
        print("1..0 # SKIP codec_tool not built at %s" % TOOL)
        return 1
    for n in (1, 300):
        recs = make_records(n)
        for codec in CODECS:
            check_ours_to_theirs(codec, recs)
        for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
            if n > 1 or codec == "none":  # one record does not compress: kafka-python sends it plain
                check_theirs_to_ours(codec, recs)

    # Several batches back to back, as in a segment.
    a = ours_build("lz4", make_records(5), ["--base-offset", "0"])
    b = ours_build("zstd", make_records(7), ["--base-offset", "5"])
    batches = ours_read(a + b)
    ok(len(batches) == 2 and [r[0] for r in batches[1][1]] == list(range(5, 12)),
       "two batches back to back read with consecutive offsets")

    # A corrupted byte in the records is caught by both CRC checks.
    bad = bytearray(ours_build("none", make_records(3)))
    bad[-2] ^= 0x40
    ok(not DefaultRecordBatch(bad).validate_crc(), "kafka-python sees the CRC mismatch")
    p = subprocess.run([TOOL, "records"], input=bytes(bad), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    ok(p.returncode == 1 and b"corrupt" in p.stderr, "rn_batch_validate sees it too",
       p.stderr.decode())
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
