"""SASL on the wire for the tests (test_sasl.py, test_sasl_cluster.py): a SCRAM and a PLAIN
login over a diffwire connection, and the salted password an AlterUserScramCredentials
upsertion carries. Python 3 stdlib only. Not a test itself."""

import base64
import hashlib
import hmac
import os

MECH_IDS = {"SCRAM-SHA-256": 1, "SCRAM-SHA-512": 2}


def _hash(mech):
    return hashlib.sha512 if mech.endswith("512") else hashlib.sha256


def scram_login(c, user, password, mech="SCRAM-SHA-512", version=2, salted_cache=None):
    """Handshake and the two SCRAM rounds on c: the last SaslAuthenticate answer (or the first
    one with an error). salted_cache keeps Hi() per (password, salt) to time the server."""
    h = _hash(mech)
    r = c.call("SaslHandshake", 1, {"Mechanism": mech})
    if r["ErrorCode"]:
        return r
    cnonce = base64.b64encode(os.urandom(18)).decode()
    bare = "n=%s,r=%s" % (user, cnonce)
    r = c.call("SaslAuthenticate", version, {"AuthBytes": ("n,," + bare).encode()})
    if r["ErrorCode"]:
        return r
    first = r["AuthBytes"].decode()
    attrs = dict(kv.split("=", 1) for kv in first.split(","))
    key = (password, attrs["s"], attrs["i"])
    salted = salted_cache.get(key) if salted_cache is not None else None
    if salted is None:
        salted = hashlib.pbkdf2_hmac(h().name, password.encode(), base64.b64decode(attrs["s"]),
                                     int(attrs["i"]))
        if salted_cache is not None:
            salted_cache[key] = salted
    client_key = hmac.new(salted, b"Client Key", h).digest()
    stored = h(client_key).digest()
    without_proof = "c=biws,r=" + attrs["r"]
    auth_msg = ",".join([bare, first, without_proof]).encode()
    proof = bytes(a ^ b for a, b in zip(client_key, hmac.new(stored, auth_msg, h).digest()))
    r = c.call("SaslAuthenticate", version,
               {"AuthBytes": (without_proof + ",p=" + base64.b64encode(proof).decode()).encode()})
    if r["ErrorCode"] == 0:
        server_key = hmac.new(salted, b"Server Key", h).digest()
        want = "v=" + base64.b64encode(hmac.new(server_key, auth_msg, h).digest()).decode()
        r["server_proved"] = r["AuthBytes"].decode() == want
    return r


def plain_login(c, user, password, version=2):
    c.call("SaslHandshake", 1, {"Mechanism": "PLAIN"})
    return c.call("SaslAuthenticate", version,
                  {"AuthBytes": b"\0" + user.encode() + b"\0" + password.encode()})


def upsertion(user, password, mech="SCRAM-SHA-512", iterations=4096):
    """An AlterUserScramCredentials upsertion for user, salted here as a client does."""
    salt = os.urandom(32)
    salted = hashlib.pbkdf2_hmac(_hash(mech)().name, password.encode(), salt, iterations)
    return {"Name": user, "Mechanism": MECH_IDS[mech], "Iterations": iterations, "Salt": salt,
            "SaltedPassword": salted}
