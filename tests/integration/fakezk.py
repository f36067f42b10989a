"""A minimal in-memory ZooKeeper server for tests of tools that insist on one (Burrow 1.2 keeps
its root path and notifier lock there, and will not start without a reachable ensemble).

One thread per connection; the tree is shared. Serves the requests such tools send: the
session handshake, ping, create (sequential too), delete, exists, getData, setData,
getChildren/getChildren2, sync and close; others answer ZUNIMPLEMENTED. No watches fire and
ephemeral nodes outlive their session: enough for a short test, nothing more.
"""

import socket
import struct
import threading

OK, UNIMPLEMENTED, NO_NODE, NODE_EXISTS, NOT_EMPTY = 0, -6, -101, -110, -111
CREATE, DELETE, EXISTS, GET_DATA, SET_DATA = 1, 2, 3, 4, 5
GET_CHILDREN, SYNC, PING, GET_CHILDREN2, CLOSE = 8, 9, 11, 12, -11


class Reader:
    def __init__(self, data):
        self.d, self.p = data, 0

    def i32(self):
        self.p += 4
        return struct.unpack_from(">i", self.d, self.p - 4)[0]

    def i64(self):
        self.p += 8
        return struct.unpack_from(">q", self.d, self.p - 8)[0]

    def buf(self):
        n = self.i32()
        if n < 0:
            return None
        self.p += n
        return self.d[self.p - n:self.p]

    def string(self):
        b = self.buf()
        return None if b is None else b.decode()


def _string(s):
    b = s.encode()
    return struct.pack(">i", len(b)) + b


def _stat(node):
    # czxid mzxid ctime mtime version cversion aversion ephemeralOwner dataLength numChildren
    # pzxid
    return struct.pack(">qqqqiiiqiiq", 1, 1, 0, 0, node["version"], 0, 0, 0,
                       len(node["data"]), len(node["children"]), 1)


class FakeZooKeeper:
    def __init__(self):
        self.nodes = {"/": {"data": b"", "children": set(), "version": 0}}
        self.seq = 0
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.sock.close()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _recv(conn):
        head = b""
        while len(head) < 4:
            chunk = conn.recv(4 - len(head))
            if not chunk:
                return None
            head += chunk
        n = struct.unpack(">i", head)[0]
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def _serve(self, conn):
        with conn:
            hello = self._recv(conn)
            if hello is None:
                return
            r = Reader(hello)
            r.i32(), r.i64()
            timeout = r.i32()
            body = struct.pack(">iiq", 0, timeout, 0x1234) + struct.pack(">i", 16) + b"\0" * 16
            conn.sendall(struct.pack(">i", len(body)) + body)
            while True:
                data = self._recv(conn)
                if data is None:
                    return
                r = Reader(data)
                xid, op = r.i32(), r.i32()
                with self.lock:
                    err, out = self._op(op, r)
                body = struct.pack(">iqi", xid, 1, err) + (out if err == OK else b"")
                conn.sendall(struct.pack(">i", len(body)) + body)
                if op == CLOSE:
                    return

    def _op(self, op, r):
        if op in (PING, SYNC, CLOSE):
            return OK, _string(r.string()) if op == SYNC else b""
        if op not in (CREATE, DELETE, EXISTS, GET_DATA, SET_DATA, GET_CHILDREN, GET_CHILDREN2):
            return UNIMPLEMENTED, b""
        path = r.string()
        node = self.nodes.get(path)
        if op == CREATE:
            data = r.buf() or b""
            for _ in range(r.i32()):  # ACLs: perms, scheme, id
                r.i32(), r.string(), r.string()
            flags = r.i32()
            if flags & 2:  # sequential
                self.seq += 1
                path += "%010d" % self.seq
            parent = path.rsplit("/", 1)[0] or "/"
            if path in self.nodes:
                return NODE_EXISTS, b""
            if parent not in self.nodes:
                return NO_NODE, b""
            self.nodes[path] = {"data": data, "children": set(), "version": 0}
            self.nodes[parent]["children"].add(path.rsplit("/", 1)[1])
            return OK, _string(path)
        if node is None:
            return NO_NODE, b""
        if op == DELETE:
            if node["children"]:
                return NOT_EMPTY, b""
            del self.nodes[path]
            parent = path.rsplit("/", 1)[0] or "/"
            self.nodes[parent]["children"].discard(path.rsplit("/", 1)[1])
            return OK, b""
        if op == EXISTS:
            return OK, _stat(node)
        if op == GET_DATA:
            return OK, struct.pack(">i", len(node["data"])) + node["data"] + _stat(node)
        if op == SET_DATA:
            node["data"] = r.buf() or b""
            node["version"] += 1
            return OK, _stat(node)
        kids = sorted(node["children"])
        out = struct.pack(">i", len(kids)) + b"".join(_string(k) for k in kids)
        return OK, out + (_stat(node) if op == GET_CHILDREN2 else b"")
