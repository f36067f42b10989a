"""The Python tests' one Kafka wire codec: the differential test (tests/interop/differential.py)
and the integration tests that talk to runneld directly (tests/integration/datapath_common.py,
test_groups_wire.py, ...) all build requests and read answers here. Python 3 stdlib only.

A generic Kafka request encoder / response decoder driven by runnel's message definitions
(client/defs/*.def, parsed by client/gen_protocol.py), so that every API version we test is
described once, as data. Decoding Apache Kafka's answers with the same definitions checks the
definitions themselves: a field missing or misplaced in a .def makes Kafka's bytes fail to
decode (the decoder requires every response to be consumed exactly).

Decoded messages are dicts keyed by Kafka's field names (TopicId, ErrorCode, ...); uuids are
hex strings, bytes/records are Python bytes, arrays are lists (None when null). Tagged fields
absent from the wire are filled with their defaults so that "written at default" and "omitted"
compare equal.

Also here, once for all tests: CRC-32C, varints, record batches (magic 2) and legacy message
sets (magic 0/1), and the batch headers of record bytes (fetched or read from a segment).
"""

import gzip
import os
import socket
import struct
import sys
import zlib

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "client"))
import gen_protocol  # noqa: E402  (runnel's .def parser)


class DecodeError(Exception):
    pass


class BrokerClosed(Exception):
    """The broker closed the connection instead of answering (Kafka does so for requests it
    cannot parse)."""


def load_apis():
    """{api name: gen_protocol.Api} for every definition in client/defs."""
    defs = os.path.join(ROOT, "client", "defs")
    apis = {}
    for name in sorted(os.listdir(defs)):
        if name.endswith(".def"):
            api = gen_protocol.parse_file(os.path.join(defs, name))
            apis[api.name] = api
    return apis


APIS = load_apis()


def in_range(rng, v):
    return rng is not None and rng[0] <= v <= rng[1]


# ---- primitive writer / reader ---------------------------------------------------------------

def uvarint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def varint(v):
    return uvarint(((v << 1) ^ (v >> 63)) & 0xFFFFFFFFFFFFFFFF)


FMT = {"bool": ">?", "int8": ">b", "int16": ">h", "uint16": ">H", "int32": ">i",
       "uint32": ">I", "int64": ">q", "float64": ">d"}


class Reader:
    def __init__(self, data):
        self.d = data
        self.p = 0

    def take(self, n):
        if n < 0 or self.p + n > len(self.d):
            raise DecodeError("need %d bytes at offset %d of %d" % (n, self.p, len(self.d)))
        s = self.d[self.p:self.p + n]
        self.p += n
        return bytes(s)

    def fixed(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def uvarint(self):
        v = shift = 0
        while True:
            b = self.take(1)[0]
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return v
            if shift > 63:
                raise DecodeError("varint too long at offset %d" % self.p)

    def left(self):
        return len(self.d) - self.p


def default_value(f):
    """The value a field takes when absent: its declared default, else zero/empty."""
    d = f.default
    if f.is_array:
        return None if d == "null" else []
    if f.struct:
        return struct_defaults(f.struct)
    if d == "null":
        return None
    if f.elem == "bool":
        return d == "true"
    if f.elem in ("string",):
        return ""
    if f.elem in ("bytes", "records"):
        return b"" if d is None else None
    if f.elem == "uuid":
        return "0" * 32
    return int(d, 0) if d is not None else 0


def struct_defaults(s):
    return {f.name: default_value(f) for f in s.fields}


# ---- encoding --------------------------------------------------------------------------------

def _enc_len(out, n, flex, wide):
    """Length or count prefix; n = -1 for null."""
    if flex:
        out += uvarint(n + 1)
    else:
        out += struct.pack(">i" if wide else ">h", n)


def _enc_prim(out, elem, val, flex, where):
    if elem in FMT:
        out += struct.pack(FMT[elem], val)
    elif elem == "string":
        if val is None:
            _enc_len(out, -1, flex, False)
        else:
            e = val.encode()
            _enc_len(out, len(e), flex, False)
            out += e
    elif elem in ("bytes", "records"):
        if val is None:
            _enc_len(out, -1, flex, True)
        else:
            _enc_len(out, len(val), flex, True)
            out += val
    elif elem == "uuid":
        b = bytes.fromhex(val) if isinstance(val, str) else val
        if len(b) != 16:
            raise ValueError("%s: a uuid is 16 bytes" % where)
        out += b
    else:
        raise ValueError("%s: unknown type %s" % (where, elem))


def _enc_field(out, f, val, v, flex):
    where = f.name
    if val is None and not in_range(f.nullable, v) and (f.is_array or f.elem in (
            "string", "bytes", "records")):
        raise ValueError("%s is not nullable in v%d" % (where, v))
    if f.is_array:
        if val is None:
            _enc_len(out, -1, flex, True)
            return
        _enc_len(out, len(val), flex, True)
        for item in val:
            if f.struct:
                _enc_struct(out, f.struct, item, v, flex)
            else:
                _enc_prim(out, f.elem, item, flex, where)
    elif f.struct:
        _enc_struct(out, f.struct, val, v, flex)
    else:
        _enc_prim(out, f.elem, val, flex, where)


def _enc_struct(out, s, val, v, flex):
    unknown = set(val) - {f.name for f in s.fields}
    if unknown:
        raise ValueError("%s has no field(s) %s" % (s.name, ", ".join(sorted(unknown))))
    tagged = []
    for f in s.fields:
        if not in_range(f.versions, v):
            if f.name in val and val[f.name] != default_value(f):
                raise ValueError("%s is not in v%d" % (f.name, v))
            continue
        if f.tag is not None:
            if f.name in val:  # tagged fields are written only when given
                body = bytearray()
                _enc_field(body, f, val[f.name], v, flex)
                tagged.append((f.tag, bytes(body)))
            continue
        _enc_field(out, f, val.get(f.name, default_value(f)), v, flex)
    if flex:
        out += uvarint(len(tagged))
        for tag, body in sorted(tagged):
            out += uvarint(tag) + uvarint(len(body)) + body


def encode(api, kind, v, val):
    """The body (no header) of api's request or response at version v from a dict."""
    a = APIS[api]
    msg = a.request if kind == "request" else a.response
    if not a.lo <= v <= a.hi:
        raise ValueError("%s v%d is outside the definition (%d-%d)" % (api, v, a.lo, a.hi))
    out = bytearray()
    _enc_struct(out, msg.top, val, v, a.flex is not None and v >= a.flex)
    return bytes(out)


# ---- decoding --------------------------------------------------------------------------------

def _dec_len(r, flex, wide):
    if flex:
        return r.uvarint() - 1
    return r.fixed(">i" if wide else ">h")


def _dec_prim(r, elem, flex):
    if elem in FMT:
        return r.fixed(FMT[elem])
    if elem == "string":
        n = _dec_len(r, flex, False)
        return None if n < 0 else r.take(n).decode("utf-8", "replace")
    if elem in ("bytes", "records"):
        n = _dec_len(r, flex, True)
        return None if n < 0 else r.take(n)
    if elem == "uuid":
        return r.take(16).hex()
    raise DecodeError("unknown type %s" % elem)


def _dec_field(r, f, v, flex):
    if f.is_array:
        n = _dec_len(r, flex, True)
        if n < 0:
            return None
        if n > r.left():
            raise DecodeError("%s: %d elements in %d bytes" % (f.name, n, r.left()))
        if f.struct:
            return [_dec_struct(r, f.struct, v, flex) for _ in range(n)]
        return [_dec_prim(r, f.elem, flex) for _ in range(n)]
    if f.struct:
        return _dec_struct(r, f.struct, v, flex)
    return _dec_prim(r, f.elem, flex)


def _dec_struct(r, s, v, flex):
    out = {}
    for f in s.fields:
        if not in_range(f.versions, v):
            continue
        if f.tag is not None:
            out[f.name] = default_value(f)
            continue
        out[f.name] = _dec_field(r, f, v, flex)
    if flex:
        for _ in range(r.uvarint()):
            tag = r.uvarint()
            body = Reader(r.take(r.uvarint()))
            known = [f for f in s.fields if f.tag == tag and in_range(f.versions, v)]
            if known:
                out[known[0].name] = _dec_field(body, known[0], v, flex)
                if body.left():
                    raise DecodeError("%s: %d bytes left in tag %d" % (s.name, body.left(), tag))
            else:
                out["_tag%d" % tag] = body.d.hex()
    return out


def decode(api, kind, v, data):
    """A dict from the body of api's request or response at version v; the body must be
    consumed exactly."""
    a = APIS[api]
    msg = a.request if kind == "request" else a.response
    r = Reader(data)
    val = _dec_struct(r, msg.top, v, a.flex is not None and v >= a.flex)
    if r.left():
        raise DecodeError("%s %s v%d: %d bytes left after the body" % (api, kind, v, r.left()))
    return val


def is_flexible(api, v):
    a = APIS[api]
    return a.flex is not None and v >= a.flex


# ---- connection ------------------------------------------------------------------------------

class Conn:
    """One connection to a broker. call() sends a request and decodes its answer; send() and
    recv() split it for requests the broker parks (long polls, a JoinGroup waiting for the
    others) while the test does something else."""

    def __init__(self, host, port, timeout=30, client_id="differential"):
        self.addr = (host, port)
        self.timeout = timeout
        self.client_id = client_id
        self.s = None
        self.corr = 0

    def _connect(self):
        if self.s is None:
            self.s = socket.create_connection(self.addr, timeout=self.timeout)

    def close(self):
        if self.s is not None:
            self.s.close()
            self.s = None

    def send_raw(self, api_key, v, body, flex_header):
        """Send one request (header v1, or v2 when flex_header) and return its correlation id."""
        self._connect()
        self.corr += 1
        cid = self.client_id.encode()
        hdr = struct.pack(">hhih", api_key, v, self.corr, len(cid)) + cid
        if flex_header:
            hdr += b"\x00"
        msg = hdr + body
        self.s.sendall(struct.pack(">i", len(msg)) + msg)
        return self.corr

    def _read(self, n):
        buf = bytearray()
        while len(buf) < n:
            try:
                chunk = self.s.recv(n - len(buf))
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.close()
                raise BrokerClosed("connection closed by the broker")
            buf += chunk
        return bytes(buf)

    def recv_raw(self, corr, flex_header):
        """The response body for correlation id corr (header checked and stripped)."""
        size = struct.unpack(">i", self._read(4))[0]
        data = self._read(size)
        r = Reader(data)
        got = r.fixed(">i")
        if got != corr:
            raise DecodeError("correlation id %d, expected %d" % (got, corr))
        if flex_header:
            for _ in range(r.uvarint()):
                r.uvarint()
                r.take(r.uvarint())
        return data[r.p:]

    def send(self, api, v, req):
        """Send api request v (a dict, or bytes for a hand-made body); returns the
        correlation id for recv()."""
        body = req if isinstance(req, (bytes, bytearray)) else encode(api, "request", v, req)
        return self.send_raw(APIS[api].key, v, bytes(body), is_flexible(api, v))

    def recv(self, api, v, corr, resp_version=None):
        """The decoded answer to the request sent with correlation id corr. resp_version
        decodes it at another version (ApiVersions answers an unsupported version in the v0
        layout)."""
        rv = v if resp_version is None else resp_version
        # ApiVersions always answers with response header v0.
        flex_resp = is_flexible(api, rv) and api != "ApiVersions"
        return decode(api, "response", rv, self.recv_raw(corr, flex_resp))

    def call(self, api, v, req, answer=True, resp_version=None):
        """send() and recv(): the decoded response (None when answer is False, as for
        acks=0)."""
        corr = self.send(api, v, req)
        return self.recv(api, v, corr, resp_version) if answer else None


# ---- record batches --------------------------------------------------------------------------

def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC = _crc_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def batch(values, ts=1700000000000, ts_step=1, producer_id=-1, epoch=-1, base_seq=-1,
          attributes=0, gzipped=False, keys=None):
    """A magic-2 record batch, uncompressed or gzip; record i has timestamp ts + i*ts_step and
    key keys[i] (None: a null key, as for every record when keys is None)."""
    recs = bytearray()
    for i, val in enumerate(values):
        key = keys[i] if keys else None
        body = b"\x00" + varint(i * ts_step) + varint(i)
        body += varint(-1) if key is None else varint(len(key)) + key
        body += varint(len(val)) + val + varint(0)
        recs += varint(len(body)) + body
    if gzipped:
        recs = gzip.compress(bytes(recs), mtime=0)
        attributes |= 1
    last = ts + (len(values) - 1) * ts_step
    after_crc = struct.pack(">hiqqqhii", attributes, len(values) - 1, ts, last, producer_id,
                            epoch, base_seq, len(values)) + bytes(recs)
    body = struct.pack(">ibI", 0, 2, crc32c(after_crc)) + after_crc
    return struct.pack(">qi", 0, len(body)) + body


def with_record_count(data, count):
    """A magic-2 batch whose header announces count records, whatever follows, with its CRC
    made good again: no builder makes such a batch, so it is patched here for the tests of a
    broker refusing it."""
    out = bytearray(data)
    struct.pack_into(">i", out, 57, count)
    struct.pack_into(">I", out, 17, crc32c(bytes(out[21:])))
    return bytes(out)


def message_set(values, magic=1, ts=1700000000000):
    """A legacy magic 0/1 message set."""
    out = bytearray()
    for i, val in enumerate(values):
        body = struct.pack(">bb", magic, 0)
        if magic == 1:
            body += struct.pack(">q", ts)
        body += struct.pack(">ii", -1, len(val)) + val
        msg = struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF) + body
        out += struct.pack(">qi", i, len(msg)) + msg
    return bytes(out)


def batch_headers(data):
    """The header of every batch in record bytes (a Fetch answer's records, a segment file),
    in order, as dicts; magic-2 batches also carry crc_ok and the producer fields. A trailing
    partial batch (allowed by the protocol) ends the list as {"partial_bytes": n} or
    {"partial_batch_at": base offset}."""
    out = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < 17:
            out.append({"partial_bytes": len(data) - pos})
            break
        base, blen, epoch, magic = struct.unpack_from(">qiib", data, pos)
        if pos + 12 + blen > len(data):
            out.append({"partial_batch_at": base})
            break
        entry = {"base": base, "len": blen, "leader_epoch": epoch, "magic": magic}
        if magic == 2 and blen >= 49:
            crc = struct.unpack_from(">I", data, pos + 17)[0]
            attrs, lod, fts, mts, pid, pep, seq, cnt = struct.unpack_from(
                ">hiqqqhii", data, pos + 21)
            entry.update(crc_ok=crc32c(data[pos + 21:pos + 12 + blen]) == crc, attrs=attrs,
                         last_delta=lod, first_ts=fts, max_ts=mts, producer_id=pid,
                         producer_epoch=pep, base_seq=seq, count=cnt)
        out.append(entry)
        pos += 12 + blen
    return out


def summarize_records(data):
    """Fetched record bytes as batch headers: what a client takes from them. The producer id
    (which differs between brokers) is reduced to whether there is one."""
    if data is None:
        return None
    return [{("producer" if k == "producer_id" else k): (v >= 0 if k == "producer_id" else v)
             for k, v in h.items()} for h in batch_headers(data)]
