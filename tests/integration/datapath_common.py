"""Shared helpers for the data-path integration tests (test_datapath_*.py).

Starts $RN_BUILD_DIR/broker/runneld on a free loopback port with a temporary data dir,
prints TAP, and offers a minimal Kafka wire client (classic and flexible encodings, a record
batch builder with CRC-32C) for checks no client library exposes (error codes, duplicate
acknowledgements, sequence errors, DeleteRecords, OffsetForLeaderEpoch).
"""

import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rn_testlib import BUILD, Tap, free_port  # noqa: E402,F401 - re-exported to the tests

RUNNELD = os.path.join(BUILD, "broker", "runneld")


def _die_with_parent():
    """In the child before exec: get SIGKILL when the test process dies, however it dies
    (watchdog, ctest timeout, crash), so no runneld outlives its test."""
    import ctypes
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Broker:
    """One runneld process; restart() keeps the data dir and port."""

    def __init__(self, extra_args=None):
        self.dir = tempfile.mkdtemp(prefix="rn-datapath-")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.extra = extra_args or []
        self.proc = None
        self.log = None
        self.start()

    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        self.log = open(os.path.join(self.dir, "runneld.log"), "ab")
        self.proc = subprocess.Popen(
            [RUNNELD, "--node-id", "1", "--listen", self.bootstrap, "--data-dir", self.data]
            + self.extra, stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("runneld exited with %d; log:\n%s" % (self.proc.returncode,
                                                                          self.log_text()))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop(kill=True)
        raise RuntimeError("runneld did not listen on %s within 60 s; log:\n%s"
                           % (self.bootstrap, self.log_text()))

    def stop(self, kill=False):
        """Stop runneld (SIGTERM: a clean shutdown; kill: SIGKILL); returns its exit status."""
        rc = None
        if self.proc:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
                try:
                    self.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            rc = self.proc.returncode
        self.proc = None
        if self.log:
            self.log.close()
            self.log = None
        return rc

    def restart(self, kill=False):
        self.stop(kill=kill)
        self.start()

    def log_text(self):
        try:
            with open(os.path.join(self.dir, "runneld.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")[-4000:]
        except OSError:
            return ""

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def finish(self, t):
        """End of a test: runneld must still run and then stop cleanly (exit 0; under the
        sanitizers that also means no leak and no error report)."""
        alive = self.proc is not None and self.proc.poll() is None
        t.ok(alive, "runneld still running", None if alive else self.log_text())
        rc = self.stop()
        t.ok(rc == 0, "runneld stops cleanly on SIGTERM (exit %r)" % rc,
             None if rc == 0 else self.log_text())


# ---- CRC-32C and record batches -------------------------------------------------------------

def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def zigzag(v):
    return (v << 1) ^ (v >> 63)


def varint(v):
    v = zigzag(v) & 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def uvarint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def record_batch(values, producer_id=-1, epoch=-1, base_seq=-1, timestamp=None, attributes=0,
                 keys=None):
    """A magic-2 uncompressed batch of the given values (bytes)."""
    ts = int(time.time() * 1000) if timestamp is None else timestamp
    recs = bytearray()
    for i, v in enumerate(values):
        k = keys[i] if keys else None
        body = bytearray()
        body += b"\x00"  # attributes
        body += varint(0)  # timestamp delta
        body += varint(i)  # offset delta
        if k is None:
            body += varint(-1)
        else:
            body += varint(len(k)) + k
        body += varint(len(v)) + v
        body += varint(0)  # headers
        recs += varint(len(body)) + body
    after_crc = struct.pack(">hiqqqhii", attributes, len(values) - 1, ts, ts, producer_id, epoch,
                            base_seq, len(values)) + bytes(recs)
    crc = crc32c(after_crc)
    body = struct.pack(">ibI", 0, 2, crc) + after_crc  # leader epoch, magic, crc
    return struct.pack(">qi", 0, len(body)) + body


def legacy_message_set(values, magic=1):
    """A magic 0/1 message set (what Produce v0-v2 clients of old sent)."""
    import zlib
    out = bytearray()
    for i, v in enumerate(values):
        body = struct.pack(">bb", magic, 0)
        if magic == 1:
            body += struct.pack(">q", int(time.time() * 1000))
        body += struct.pack(">i", -1) + struct.pack(">i", len(v)) + v
        msg = struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF) + body
        out += struct.pack(">qi", i, len(msg)) + msg
    return bytes(out)


def parse_batches(data):
    """(base_offset, last_offset_delta, producer_id, epoch, base_seq, count, attrs) per batch."""
    out = []
    pos = 0
    while pos + 61 <= len(data):
        base, blen = struct.unpack_from(">qi", data, pos)
        if pos + 12 + blen > len(data):
            break
        attrs, lod, _bts, _mts, pid, ep, seq, cnt = struct.unpack_from(">hiqqqhii", data, pos + 21)
        out.append((base, lod, pid, ep, seq, cnt, attrs))
        pos += 12 + blen
    return out


def segment_batches(data_dir, topic, partition=0):
    """Every batch header in the partition's .log files, in file order."""
    d = os.path.join(data_dir, "%s-%d" % (topic, partition))
    out = []
    for name in sorted(os.listdir(d)):
        if name.endswith(".log"):
            with open(os.path.join(d, name), "rb") as f:
                out += parse_batches(f.read())
    return out


# ---- a minimal wire client ------------------------------------------------------------------

class Writer:
    def __init__(self, flexible=False):
        self.b = bytearray()
        self.flex = flexible

    def i8(self, v):
        self.b += struct.pack(">b", v)
        return self

    def i16(self, v):
        self.b += struct.pack(">h", v)
        return self

    def i32(self, v):
        self.b += struct.pack(">i", v)
        return self

    def i64(self, v):
        self.b += struct.pack(">q", v)
        return self

    def string(self, s):
        if s is None:
            self.b += uvarint(0) if self.flex else struct.pack(">h", -1)
        else:
            e = s.encode()
            self.b += (uvarint(len(e) + 1) if self.flex else struct.pack(">h", len(e))) + e
        return self

    def bytes_(self, v):
        if v is None:
            self.b += uvarint(0) if self.flex else struct.pack(">i", -1)
        else:
            self.b += (uvarint(len(v) + 1) if self.flex else struct.pack(">i", len(v))) + v
        return self

    def array(self, n):
        self.b += uvarint(n + 1) if self.flex else struct.pack(">i", n)
        return self

    def uuid(self, u):
        self.b += u
        return self

    def tags(self):
        if self.flex:
            self.b += b"\x00"
        return self


class Reader:
    def __init__(self, data, flexible=False):
        self.d = data
        self.p = 0
        self.flex = flexible

    def _u(self, fmt):
        v = struct.unpack_from(fmt, self.d, self.p)[0]
        self.p += struct.calcsize(fmt)
        return v

    def i8(self):
        return self._u(">b")

    def i16(self):
        return self._u(">h")

    def i32(self):
        return self._u(">i")

    def i64(self):
        return self._u(">q")

    def uvarint(self):
        v = shift = 0
        while True:
            b = self.d[self.p]
            self.p += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return v

    def string(self):
        n = self.uvarint() - 1 if self.flex else self.i16()
        if n < 0:
            return None
        s = self.d[self.p:self.p + n].decode()
        self.p += n
        return s

    def bytes_(self):
        n = self.uvarint() - 1 if self.flex else self.i32()
        if n < 0:
            return None
        s = self.d[self.p:self.p + n]
        self.p += n
        return bytes(s)

    def array(self):
        return self.uvarint() - 1 if self.flex else self.i32()

    def uuid(self):
        u = self.d[self.p:self.p + 16]
        self.p += 16
        return bytes(u)

    def tags(self):
        if self.flex:
            for _ in range(self.uvarint()):
                self.uvarint()
                n = self.uvarint()
                self.p += n


class Conn:
    """One connection; request() sends a body and returns a Reader over the response body."""

    def __init__(self, bootstrap, timeout=15):
        host, port = bootstrap.split(":")
        self.s = socket.create_connection((host, int(port)), timeout=timeout)
        self.corr = 0

    def send(self, key, version, body, flexible=False):
        self.corr += 1
        hdr = struct.pack(">hhi", key, version, self.corr) + struct.pack(">h", 4) + b"test"
        if flexible:
            hdr += b"\x00"
        msg = hdr + bytes(body)
        self.s.sendall(struct.pack(">i", len(msg)) + msg)
        return self.corr

    def recv(self, flexible=False, corr=None):
        size = struct.unpack(">i", self._read(4))[0]
        data = self._read(size)
        got = struct.unpack_from(">i", data, 0)[0]
        if corr is not None and got != corr:
            raise RuntimeError("correlation id %d, expected %d" % (got, corr))
        r = Reader(data, flexible)
        r.p = 4
        if flexible:
            r.tags()
        return r

    def request(self, key, version, body, flexible=False):
        corr = self.send(key, version, body, flexible)
        return self.recv(flexible, corr)

    def _read(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("connection closed by the broker")
            buf += chunk
        return bytes(buf)

    def close(self):
        self.s.close()


def metadata_create(conn, topic, tries=50):
    """Metadata v4 with auto-creation until the topic has a leader; returns the partition count."""
    for _ in range(tries):
        w = Writer().array(1).string(topic).i8(1)
        r = conn.request(3, 4, w.b)
        r.i32()  # throttle
        for _ in range(r.array()):  # brokers
            r.i32()
            r.string()
            r.i32()
            r.string()
        r.string()  # cluster id
        r.i32()  # controller
        parts = 0
        err = None
        for _ in range(r.array()):
            err = r.i16()
            r.string()
            r.i8()
            n = r.array()
            for _ in range(n):
                perr = r.i16()
                r.i32()
                leader = r.i32()
                for _ in range(2):  # replicas, isr (offline replicas only from v5)
                    for _ in range(r.array()):
                        r.i32()
                if perr == 0 and leader >= 0:
                    parts += 1
        if err == 0 and parts > 0:
            return parts
        time.sleep(0.1)
    raise RuntimeError("topic %s never got a leader (last error %r)" % (topic, err))


def produce(conn, topic, batch, version=7, acks=-1, partition=0, transactional_id=None):
    """Produce one batch; returns (error, base_offset, log_append_time, log_start_offset,
    record_errors, error_message) for the partition (acks=0: None)."""
    flex = version >= 9
    w = Writer(flex)
    if version >= 3:
        w.string(transactional_id)
    w.i16(acks).i32(5000)
    w.array(1).string(topic).array(1).i32(partition).bytes_(batch).tags().tags().tags()
    if acks == 0:
        conn.send(0, version, w.b, flex)
        return None
    r = conn.request(0, version, w.b, flex)
    res = None
    for _ in range(r.array()):
        r.string()
        for _ in range(r.array()):
            r.i32()
            err = r.i16()
            base = r.i64()
            lat = r.i64() if version >= 2 else None
            lso = r.i64() if version >= 5 else None
            rec_errs, msg = [], None
            if version >= 8:
                for _ in range(r.array()):
                    rec_errs.append((r.i32(), r.string()))
                    r.tags()
                msg = r.string()
            r.tags()
            res = (err, base, lat, lso, rec_errs, msg)
        r.tags()
    return res


def fetch(conn, topic, offset, version=11, max_wait=0, min_bytes=1, max_bytes=1 << 20,
          part_max=1 << 20, partition=0, isolation=0, session_id=0, session_epoch=-1,
          topic_id=None):
    """Fetch one partition; returns dict with top error, session id and the partition fields."""
    flex = version >= 12
    w = Writer(flex)
    w.i32(-1).i32(max_wait).i32(min_bytes).i32(max_bytes).i8(isolation)
    if version >= 7:
        w.i32(session_id).i32(session_epoch)
    w.array(1)
    if version >= 13:
        w.uuid(topic_id)
    else:
        w.string(topic)
    w.array(1).i32(partition)
    if version >= 9:
        w.i32(-1)  # current leader epoch
    w.i64(offset)
    if version >= 12:
        w.i32(-1)  # last fetched epoch
    if version >= 5:
        w.i64(-1)  # log start offset
    w.i32(part_max).tags().tags()
    if version >= 7:
        w.array(0)  # forgotten topics
    if version >= 11:
        w.string("")
    w.tags()
    r = conn.request(1, version, w.b, flex)
    out = {"throttle": r.i32()}
    if version >= 7:
        out["error"] = r.i16()
        out["session"] = r.i32()
    for _ in range(r.array()):
        if version >= 13:
            out["topic_id"] = r.uuid()
        else:
            out["topic"] = r.string()
        for _ in range(r.array()):
            out["partition"] = r.i32()
            out["perror"] = r.i16()
            out["hw"] = r.i64()
            out["lso"] = r.i64()
            out["log_start"] = r.i64() if version >= 5 else None
            n = r.array()
            out["aborted"] = None if n < 0 else n
            for _ in range(max(n, 0)):
                r.i64()
                r.i64()
                r.tags()
            out["preferred"] = r.i32() if version >= 11 else None
            out["records"] = r.bytes_()
            r.tags()
        r.tags()
    r.tags()
    return out


def list_offsets(conn, topic, timestamp, version=5, partition=0, isolation=0):
    """(error, timestamp, offset, leader epoch or None) of one partition (v1+)."""
    flex = version >= 6
    w = Writer(flex).i32(-1)
    if version >= 2:
        w.i8(isolation)
    w.array(1).string(topic).array(1).i32(partition)
    if version >= 4:
        w.i32(-1)
    w.i64(timestamp).tags().tags().tags()
    r = conn.request(2, version, w.b, flex)
    if version >= 2:
        r.i32()
    for _ in range(r.array()):
        r.string()
        for _ in range(r.array()):
            r.i32()
            err = r.i16()
            ts = r.i64()
            off = r.i64()
            epoch = r.i32() if version >= 4 else None
            r.tags()
            return err, ts, off, epoch
    return None


def delete_records(conn, topic, offset, version=1, partition=0):
    flex = version >= 2
    w = Writer(flex).array(1).string(topic).array(1).i32(partition).i64(offset).tags().tags()
    w.i32(5000).tags()
    r = conn.request(21, version, w.b, flex)
    r.i32()
    for _ in range(r.array()):
        r.string()
        for _ in range(r.array()):
            r.i32()
            low = r.i64()
            err = r.i16()
            return err, low
    return None


def offset_for_leader_epoch(conn, topic, epoch, version=3, partition=0, current_epoch=-1):
    flex = version >= 4
    w = Writer(flex)
    if version >= 3:
        w.i32(-1)  # replica id
    w.array(1).string(topic).array(1).i32(partition).i32(current_epoch)
    w.i32(epoch).tags().tags().tags()
    r = conn.request(23, version, w.b, flex)
    r.i32()
    for _ in range(r.array()):
        r.string()
        for _ in range(r.array()):
            err = r.i16()
            r.i32()
            ep = r.i32()
            end = r.i64()
            return err, ep, end
    return None


def init_producer_id(conn, transactional_id=None, version=1):
    flex = version >= 2
    w = Writer(flex).string(transactional_id).i32(60000)
    if version >= 3:
        w.i64(-1).i16(-1)
    w.tags()
    r = conn.request(22, version, w.b, flex)
    r.i32()
    err = r.i16()
    pid = r.i64()
    epoch = r.i16()
    return err, pid, epoch
