"""runnel-dump end to end: segments built with rn_batch_build (tests/helpers/codec_tool)
and with kafka-python's independent batch builder, every codec, headers, control batches,
damaged and truncated files, indexes with --verify, the text files of a data directory,
a directory argument, the hex dump checked against xxd, and the exit codes. Prints TAP."""
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile

from kafka.record._crc32c import crc as crc32c
from kafka.record.default_records import DefaultRecordBatchBuilder

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rn_testlib import BUILD, Counter  # noqa: E402

TOOL = os.path.join(BUILD, "tests", "codec_tool")
DUMP = os.path.join(BUILD, "tools", "runnel-dump")

T = Counter(detail_chars=1500)
ok = T.ok


def field(b):
    return "-" if b is None else "x" + b.hex()


def build(codec, recs, *extra):
    lines = []
    for ts, key, value, headers in recs:
        parts = [str(ts), field(key), field(value)]
        parts += ["%s=%s" % (field(k), field(v)) for k, v in headers]
        lines.append(" ".join(parts) + "\n")
    p = subprocess.run([TOOL, "build", codec, *extra], input="".join(lines).encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.decode())
    return p.stdout


def dump(*args):
    p = subprocess.run([DUMP, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def batch_lines(out):
    return [line for line in out.splitlines() if line.startswith("baseOffset: ")]


def record_lines(out):
    return [line for line in out.splitlines() if line.startswith("| offset: ")]


CODECS = ["none", "gzip", "snappy", "snappy-xerial", "lz4", "zstd"]
TS = 1700000000000


def make_segment(d, base=0):
    """Six batches (one per codec, three records each) and a commit marker, back to back.
    Returns the segment bytes and the start position of every batch."""
    data, positions, offset = b"", [], base
    for i, codec in enumerate(CODECS):
        recs = [(TS + 10 * i + j, b"key-%d-%d" % (i, j) if j != 1 else None,
                 (b"value %s %d " % (codec.encode(), j)) * (1 + 30 * j),
                 [(b"trace", b"t%d" % j), (b"nil", None)] if j == 2 else [])
                for j in range(3)]
        positions.append(len(data))
        data += build(codec, recs, "--base-offset", str(offset))
        offset += 3
    positions.append(len(data))
    data += build("none", [(TS + 100, b"\x00\x00\x00\x01", b"\x00\x00\x00\x00\x00\x07", [])],
                  "--base-offset", str(offset), "--transactional", "--control",
                  "--producer", "42", "1", "-1")
    positions.append(len(data))
    data += build("none", [(TS + 101, b"\x00\x00\x00\x00", b"\x00\x00\x00\x00\x00\x03", [])],
                  "--base-offset", str(offset + 1), "--transactional", "--control",
                  "--producer", "43", "0", "-1")
    return data, positions


def check_segment(d):
    data, positions = make_segment(d)
    seg = os.path.join(d, "00000000000000000000.log")
    open(seg, "wb").write(data)

    rc, out, err = dump(seg)
    lines = batch_lines(out)
    ok(rc == 0 and len(lines) == 8, "8 batches listed, exit 0", out + err)
    want_codecs = ["none", "gzip", "snappy", "snappy", "lz4", "zstd", "none", "none"]
    got = [re.search(r"compresscodec: (\w+)", l).group(1) for l in lines]
    ok(got == want_codecs, "compresscodec per batch", got)
    got_pos = [int(re.search(r"position: (\d+)", l).group(1)) for l in lines]
    ok(got_pos == positions, "positions are the batch starts", (got_pos, positions))
    ok(all("isvalid: true" in l for l in lines), "every batch valid")
    ok("baseOffset: 3 lastOffset: 5 count: 3" in lines[1] and
       "CreateTime: %d size: " % (TS + 12) in lines[1], "offsets, count, maxTimestamp", lines[1])
    ok("isTransactional: true isControl: true" in lines[6] and "producerId: 42" in lines[6],
       "control batch flags and producer", lines[6])
    ok("summary: 8 batches, 20 records, last offset 19" in out, "summary line", out[-300:])

    rc, out, err = dump("--records", seg)
    recs = record_lines(out)
    ok(rc == 0 and len(recs) == 20, "--records prints 20 records", out[-500:])
    for i, codec in enumerate(CODECS):
        r0, r1, r2 = recs[3 * i:3 * i + 3]
        want0 = "| offset: %d CreateTime: %d keySize: 7 valueSize: %d sequence: -1 headers: [] " \
                "key: key-%d-0 payload: value %s 0 " % (3 * i, TS + 10 * i,
                                                       len("value %s 0 " % codec), i, codec)
        ok(r0 == want0, "%s: record 0 decoded" % codec, (r0, want0))
        ok("keySize: -1" in r1 and "key: null" in r1 and
           ("payload: " + ("value %s 1 " % codec) * 31) in r1, "%s: null key, long value" % codec,
           r1)
        ok("headers: [trace=t2, nil=null]" in r2, "%s: headers with a null value" % codec, r2)
    ok(recs[18].endswith("endTxnMarker: COMMIT coordinatorEpoch: 7"), "commit marker decoded",
       recs[18])
    ok(recs[19].endswith("endTxnMarker: ABORT coordinatorEpoch: 3"), "abort marker decoded",
       recs[19])

    rc, out, err = dump("--records", "--values", "hex", seg)
    ok(("payload: " + ("value none 0 ".encode().hex())) in record_lines(out)[0],
       "--values hex prints payloads in hex", record_lines(out)[0])

    # --hex: the hex lines are exactly xxd's, and carets sit under the right bytes.
    rc, out, err = dump("--hex", seg)
    ours = [l for l in out.splitlines() if re.match(r"^[0-9a-f]{8}: ", l)]
    first = positions[1]  # hex of the uncompressed batch 0 covers bytes 0..first-1
    xxd = subprocess.run(["xxd", "-g", "2", "-l", str(first), seg], stdout=subprocess.PIPE)
    ok(xxd.returncode == 0 and "\n".join(ours[:(first + 15) // 16]) ==
       xxd.stdout.decode().rstrip("\n"), "hex lines of batch 0 match xxd -g 2",
       "\n".join(ours[:3]) + "\n--\n" + xxd.stdout.decode()[:300])
    crc = struct.unpack(">I", data[17:21])[0]
    m = re.search(r"^( *)\^ crc=0x%08x \(CRC-32C of bytes 21..end: valid\)$" % crc, out, re.M)
    # byte 17 is on line 0x10, column 1: 10 + 0 * 5 + 1 * 2 = 12
    ok(m is not None and len(m.group(1)) == 12, "crc annotated under byte 17", out[:1500])
    ok(re.search(r"\^ record 0 value \(\d+ bytes\): value none 0 ", out) is not None,
       "record value annotated")
    ok("gzip-compressed" in out and "decompressed records of the batch at position %d" %
       positions[1] in out, "compressed batch: header annotated, records shown decompressed")
    ok(re.search(r"\^ attributes=0x0030 \(none, CreateTime, transactional, control\)", out),
       "attributes explained")


def check_damage(d):
    data, positions = make_segment(d)
    # A flipped byte inside batch 2 (snappy): CRC mismatch reported, later batches listed.
    bad = bytearray(data)
    bad[positions[2] + 70] ^= 0x01
    path = os.path.join(d, "00000000000000000000.log")
    open(path, "wb").write(bad)
    rc, out, err = dump(path)
    stored = struct.unpack(">I", bad[positions[2] + 17:positions[2] + 21])[0]
    m = re.search(r"^error: batch at position %d: CRC mismatch \(stored 0x%08x, computed "
                  r"0x[0-9a-f]{8}\)$" % (positions[2], stored), out, re.M)
    ok(rc == 1 and m, "flipped byte: CRC mismatch at its batch's position, exit 1", out)
    ok(len(batch_lines(out)) == 8 and "isvalid: false" in batch_lines(out)[2],
       "the dump continues after the damaged batch")
    rc, out, err = dump("--records", path)
    ok(rc == 1 and len(record_lines(out)) >= 17, "--records on the damaged file still lists")

    # Truncated in the middle of batch 5.
    cut = positions[5] + 30
    open(path, "wb").write(data[:cut])
    need = positions[6] - positions[5]
    rc, out, err = dump(path)
    ok(rc == 1 and "error: truncated batch at position %d: needs %d bytes, file has 30" %
       (positions[5], need) in out and len(batch_lines(out)) == 5,
       "truncated file: position, needed and available bytes", out)
    open(path, "wb").write(data[:positions[1] + 10])
    rc, out, err = dump(path)
    ok(rc == 1 and "error: truncated batch at position %d: needs 61 bytes, file has 10" %
       positions[1] in out, "truncated inside the length field", out)

    # An impossible length stops the dump cleanly.
    bad = bytearray(data)
    struct.pack_into(">i", bad, positions[3] + 8, 20)
    open(path, "wb").write(bad)
    rc, out, err = dump("--hex", path)
    ok(rc == 1 and "error: batch at position %d: length 20 is below the 49-byte minimum: "
       "cannot find the next batch; stopping" % positions[3] in out and
       len(batch_lines(out)) == 3, "insane length: reported, dump stops", out[-800:])
    bad = bytearray(data)
    bad[positions[4] + 16] = 7
    open(path, "wb").write(bad)
    rc, out, err = dump(path)
    ok(rc == 1 and "magic 7 is not a record batch" in out, "bad magic reported", out[-400:])

    # Preallocated zeros after the last batch are a note, not an error.
    open(path, "wb").write(data + b"\0" * 5000)
    rc, out, err = dump(path)
    ok(rc == 0 and "note: 5000 zero bytes from position %d" % len(data) in out,
       "zero tail is preallocated space", out[-300:])
    open(path, "wb").write(data + b"\0" * 100 + b"\x01\x02")
    rc, out, err = dump(path)
    ok(rc == 1 and "then non-zero data" in out, "zeros followed by data is an error")

    # Corrupt compressed records (CRC fixed up so only decompression can notice).
    bad = bytearray(data)
    start, end = positions[5], positions[6]
    for k in range(start + 61 + 6, end - 2):
        bad[k] = 0x5a
    struct.pack_into(">I", bad, start + 17, crc32c(bytes(bad[start + 21:end])))
    open(path, "wb").write(bytes(bad))
    rc, out, err = dump("--records", path)
    ok(rc == 1 and "isvalid: true" in batch_lines(out)[5] and
       "error: batch at position %d: cannot read its zstd records: corrupt data" % start in out,
       "garbage zstd records (valid CRC) reported", out[-600:])

    # Random bytes never crash the tool.
    rnd = random.Random(7)
    crashes = 0
    for i in range(30):
        blob = bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 400)))
        if i % 3 == 0:
            blob = data[:rnd.randrange(len(data))] + blob
        open(path, "wb").write(blob)
        rc, out, err = dump("--records", "--hex", path)
        crashes += rc not in (0, 1)
    ok(crashes == 0, "30 random files: exit 0 or 1, never a crash")


def check_indexes(d):
    data, positions = make_segment(d, 100)
    seg = os.path.join(d, "00000000000000000100.log")
    open(seg, "wb").write(data)
    # Entries for batches 2 and 4 (last offsets of those batches), preallocated tail.
    idx = struct.pack(">II", 8, positions[2]) + struct.pack(">II", 14, positions[4])
    open(os.path.join(d, "00000000000000000100.index"), "wb").write(idx + b"\0" * 800)
    tidx = struct.pack(">qI", TS + 22, 8) + struct.pack(">qI", TS + 42, 14)
    open(os.path.join(d, "00000000000000000100.timeindex"), "wb").write(tidx + b"\0" * 120)
    rc, out, err = dump("--verify", os.path.join(d, "00000000000000000100.index"),
                        os.path.join(d, "00000000000000000100.timeindex"))
    ok(rc == 0 and "offset: 108 position: %d (relative offset 8)" % positions[2] in out and
       "timestamp: %d offset: 114 (relative offset 14)" % (TS + 42) in out and
       "entries 2 to 101 are zero" in out, "index and time index listed and verified", out)

    idx = struct.pack(">II", 8, positions[2] + 1) + struct.pack(">II", 2, positions[4])
    open(os.path.join(d, "00000000000000000100.index"), "wb").write(idx)
    tidx = struct.pack(">qI", TS + 23, 8)
    open(os.path.join(d, "00000000000000000100.timeindex"), "wb").write(tidx)
    rc, out, err = dump("--verify", os.path.join(d, "00000000000000000100.index"),
                        os.path.join(d, "00000000000000000100.timeindex"))
    ok(rc == 1 and "no batch starts at position %d" % (positions[2] + 1) in out and
       "does not increase" in out and
       "(offset 102 position %d): the batch at that position holds offsets 112..114" %
       positions[4] in out,
       "bad index entries reported", out)
    ok("has maxTimestamp %d" % (TS + 22) in out, "time index timestamp mismatch reported", out)
    rc, out, err = dump(os.path.join(d, "00000000000000000100.index"))
    ok(rc == 1 and "no batch starts" not in out, "without --verify only the order is checked")


def check_text_files(d):
    files = {
        "recovery-point-offset-checkpoint": "0\n2\norders 0 20\norders 1 7\n",
        "replication-offset-checkpoint": "0\n1\norders 0 20\n",
        "meta.properties": "#\n#Thu Nov 23 10:00:00 UTC 2023\nnode.id=1\nversion=1\n"
                           "cluster.id=MkU3OEVBNTcwNTJENDM2Qg\n",
    }
    os.makedirs(os.path.join(d, "orders-0"))
    part = {
        "leader-epoch-checkpoint": "0\n2\n0 0\n4 12\n",
        "partition.metadata": "version: 0\ntopic_id: MkU3OEVBNTcwNTJENDM2Qg",
    }
    for name, text in files.items():
        open(os.path.join(d, name), "w").write(text)
    for name, text in part.items():
        open(os.path.join(d, "orders-0", name), "w").write(text)
    data, _ = make_segment(d)
    open(os.path.join(d, "orders-0", "00000000000000000000.log"), "wb").write(data)
    # A producer state snapshot (version 1, CRC-32C over everything after the crc field).
    body = struct.pack(">i", 1) + struct.pack(">qhiqiqiq", 42, 1, 9, 18, 0, TS + 100, 3, -1)
    snap = struct.pack(">h", 1) + struct.pack(">I", crc32c(body)) + body
    open(os.path.join(d, "orders-0", "00000000000000000020.snapshot"), "wb").write(snap)
    rc, out, err = dump(d)
    ok(rc == 0, "a whole data directory dumps with exit 0", out + err)
    dumped = re.findall(r"^Dumping (.*)$", out, re.M)
    ok(len(dumped) == 7 and dumped[0].endswith("meta.properties"),
       "every file dumped, in name order", dumped)
    ok("producerId: 42 producerEpoch: 1 coordinatorEpoch: 3 currentTxnFirstOffset: -1 "
       "lastSequence: 9 lastOffset: 18" in out, "producer snapshot decoded", out)
    ok("recovery-point-offset-checkpoint: recovery point per partition" in out and
       "  orders-1: 7" in out, "checkpoint explained")
    ok("  epoch 4 starts at offset 12" in out, "leader epochs")
    ok("topic id: MkU3OEVBNTcwNTJENDM2Qg (32453738-4541-3537-3035-324434333642)" in out,
       "partition.metadata topic id with its UUID form")
    ok("version: 1 (KRaft)" in out and "node.id: 1" in out, "meta.properties explained")

    open(os.path.join(d, "replication-offset-checkpoint"), "w").write("0\n3\norders 0 20\n")
    open(os.path.join(d, "orders-0", "leader-epoch-checkpoint"), "w").write("0\n2\n5 0\n4 12\n")
    open(os.path.join(d, "orders-0", "partition.metadata"), "w").write("version: 0\ntopic: x")
    snap = bytearray(snap)
    snap[-1] ^= 1
    open(os.path.join(d, "orders-0", "00000000000000000020.snapshot"), "wb").write(snap)
    open(os.path.join(d, "meta.properties"), "w").write("version=0\nbroker.id=1\n")
    rc, out, err = dump(d)
    errors = re.findall(r"^error: .*$", out, re.M)
    ok(rc == 1 and re.search(r"^error: .*replication-offset-checkpoint", out, re.M) and
       "epochs must increase" in out, "bad checkpoint and leader epochs reported", out)
    ok(any("partition.metadata" in e for e in errors), "bad partition.metadata reported", errors)
    ok(any("snapshot" in e for e in errors), "snapshot CRC mismatch reported", errors)
    ok(any("meta.properties" in e and "does not open" in e for e in errors),
       "ZooKeeper-era meta.properties reported", errors)


def check_kafka_python_segment(d):
    # A segment of batches from kafka-python's own builder, base offsets set as a broker does.
    data = b""
    for i, codec_id in enumerate((0, 1, 2, 3, 4)):
        b = DefaultRecordBatchBuilder(magic=2, compression_type=codec_id, is_transactional=False,
                                      producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                      batch_size=1 << 20)
        for j in range(5):
            b.append(j, timestamp=TS + j, key=b"k%d" % j, value=b"kafka-python %d %d " % (i, j) * 20,
                     headers=[("h", b"v")])
        batch = bytearray(b.build())
        struct.pack_into(">q", batch, 0, 5 * i)  # baseOffset is outside the CRC
        data += bytes(batch)
    path = os.path.join(d, "00000000000000000000.log")
    open(path, "wb").write(data)
    rc, out, err = dump("--records", path)
    recs = record_lines(out)
    ok(rc == 0 and len(recs) == 25 and
       all(("key: k%d payload: " % (n % 5)) + "kafka-python %d %d " % (n // 5, n % 5) in r and
           "offset: %d " % n in r and "headers: [h=v]" in r for n, r in enumerate(recs)),
       "kafka-python segment (all codecs) dumps record by record", out[-800:])


def check_usage(d):
    rc, out, err = dump("--help")
    ok(rc == 0 and out.startswith("usage: runnel-dump") and "--verify" in out and
       "exit status" in out, "--help")
    rc, out, err = dump()
    ok(rc == 2 and "no file" in err, "no arguments: exit 2")
    rc, out, err = dump("--bogus", d)
    ok(rc == 2, "unknown option: exit 2")
    rc, out, err = dump("--values", "octal", d)
    ok(rc == 2 and "--values" in err, "bad --values: exit 2")
    rc, out, err = dump(os.path.join(d, "missing.log"))
    ok(rc == 2 and "cannot read" in err, "missing file: exit 2")


def main():
    for prog in (TOOL, DUMP):
        if not os.access(prog, os.X_OK):
            print("1..0 # SKIP %s not built" % prog)
            return 1
    for check in (check_segment, check_damage, check_indexes, check_text_files,
                  check_kafka_python_segment, check_usage):
        d = tempfile.mkdtemp(prefix="rn-dump-")
        try:
            check(d)
        except Exception as e:
            import traceback
            ok(False, check.__name__, traceback.format_exc())
        finally:
            shutil.rmtree(d)
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
