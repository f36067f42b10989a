"""runneld's web console (console.enable) in a real headless browser: Debian's chromium driven
through chromedriver's WebDriver HTTP API (no client library), against one runneld.

Checks:
  - every page (overview, topics, topic, messages, groups, group, segments, cluster) loads and
    the browser's console shows no error;
  - the message browser shows a record kcat produced (key, JSON value, header);
  - a consumer group's lag appears on its page and drops to 0 once its consumer
    (confluent-kafka) catches up and commits; the group's status is shown;
  - the hex view of a batch is exactly what `runnel-dump --hex` prints for that batch;
  - the API refuses writes on a read-only console (403), answers 404 with the console off,
    and the write actions (create topic, produce) work when enabled.
Screenshots of each page go to $RN_BUILD_DIR/console-screenshots/<page>.png; with
RN_CONSOLE_SCREENSHOTS=docs they replace the committed ones in docs/console/ (README),
with RN_CONSOLE_SCREENSHOTS=0 none are taken.
Skipped (exit 0 with a "skip" plan) when chromium or chromedriver is not installed."""

import base64
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from datapath_common import BUILD, Broker, Tap, free_port  # noqa: E402
from rn_testlib import SRC  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
KCAT = shutil.which("kcat") or shutil.which("kafkacat")
DUMP = os.path.join(BUILD, "tools", "runnel-dump")
SHOTS_ENV = os.environ.get("RN_CONSOLE_SCREENSHOTS", "")
SHOTS = (os.path.join(SRC, "docs", "console") if SHOTS_ENV == "docs"
         else os.path.join(BUILD, "console-screenshots"))


def http(method, url, body=None, timeout=30, headers=None):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method,
                                 headers=dict({"Content-Type": "application/json"},
                                              **(headers or {})))
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Browser:
    """One chromedriver and one headless chromium session, through WebDriver's HTTP API."""

    def __init__(self):
        self.port = free_port()
        self.log = open(os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                     "rn-chromedriver-%d.log" % self.port), "wb")
        self.proc = subprocess.Popen([DRIVER, "--port=%d" % self.port], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.base = "http://127.0.0.1:%d" % self.port
        deadline = time.monotonic() + 30
        while True:
            try:
                if http("GET", self.base + "/status", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("chromedriver did not start")
            time.sleep(0.1)
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1000,640", "--force-device-scale-factor=1",
                "--no-first-run", "--disable-extensions"]},
            "goog:loggingPrefs": {"browser": "ALL"}}}}
        status, body = http("POST", self.base + "/session", caps, timeout=60)
        if status != 200:
            raise RuntimeError("no session: %s" % body[:500])
        self.sid = json.loads(body)["value"]["sessionId"]

    def cmd(self, method, path, body=None):
        status, raw = http(method, "%s/session/%s%s" % (self.base, self.sid, path), body)
        value = json.loads(raw)["value"] if raw else None
        if status != 200:
            raise RuntimeError("%s %s: %s" % (method, path, value))
        return value

    def go(self, url):
        self.cmd("POST", "/url", {"url": url})

    def js(self, script, *args):
        return self.cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def wait(self, script, timeout=20, *args):
        """Poll the script until it returns something true; returns it (None at timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = self.js(script, *args)
            if v:
                return v
            time.sleep(0.2)
        return None

    def console_errors(self):
        """Browser console entries at SEVERE since the last call."""
        entries = self.cmd("POST", "/se/log", {"type": "browser"})
        return [e for e in entries if e.get("level") == "SEVERE"]

    def screenshot(self, path):
        png = base64.b64decode(self.cmd("GET", "/screenshot"))
        with open(path, "wb") as f:
            f.write(png)
        return len(png)

    def close(self):
        try:
            http("DELETE", "%s/session/%s" % (self.base, self.sid), timeout=10)
        except Exception:  # noqa: BLE001
            pass
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def kcat_produce(bootstrap, topic, lines, key_sep=None, headers=()):
    args = [KCAT, "-P", "-b", bootstrap, "-t", topic, "-p", "0"]
    if key_sep:
        args += ["-K", key_sep]
    for hd in headers:
        args += ["-H", hd]
    subprocess.run(args, input=("\n".join(lines) + "\n").encode(), check=True, timeout=60)


def main():
    t = Tap("test_console", timeout_s=600)
    if not (CHROMIUM and DRIVER and KCAT):
        print("1..0 # skip chromium, chromedriver or kcat not installed")
        return
    mport = free_port()
    broker = Broker(["--metrics.listen", "127.0.0.1:%d" % mport, "--console.enable", "true",
                     "--console.write.enable", "true"])
    t.cleanups.append(broker.stop)
    web = "http://127.0.0.1:%d" % mport
    shots = SHOTS_ENV != "0"
    if shots:
        os.makedirs(SHOTS, exist_ok=True)

    # Data for the pages: a kcat record with a key, a JSON value and a header; a topic the
    # group consumes.
    kcat_produce(broker.bootstrap, "orders", ['order-17|{"id":17,"item":"kettle","qty":2}'],
                 key_sep="|", headers=["source=kcat"])
    kcat_produce(broker.bootstrap, "events", ["event %d" % i for i in range(200)])

    status, body = http("GET", web + "/api/overview")
    t.ok(status == 200 and json.loads(body)["topics"] >= 2, "GET /api/overview answers JSON",
         body[:300])

    browser = t.step("chromium starts", Browser)
    if browser is None:
        t.done()
    t.cleanups.insert(0, browser.close)
    browser.console_errors()

    def shoot(name):
        if shots:
            n = browser.screenshot(os.path.join(SHOTS, name + ".png"))
            t.diag("%s.png: %d bytes" % (name, n))

    def page(name, hash_, ready_js, what, shot=True):
        browser.go(web + "/console/" + hash_)
        ok = browser.wait(ready_js)
        t.ok(ok, "%s page shows %s" % (name, what))
        time.sleep(0.3)
        errs = browser.console_errors()
        t.ok(not errs, "%s page: no console errors" % name, json.dumps(errs, indent=1))
        if shot:
            shoot(name)
        return ok

    page("overview", "#/overview",
         "const c = document.getElementById('ov-topics'); return c && c.textContent === '2';",
         "the two topics", shot=False)
    # Traffic while the overview is shown, for its live charts.
    import threading
    from confluent_kafka import Producer

    def traffic():
        p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
        for i in range(40):
            for k in range(25 + i * 5):
                p.produce("traffic", value=b"x" * 100)
            p.flush(5)
            time.sleep(0.2)
    th = threading.Thread(target=traffic, daemon=True)
    th.start()
    t.ok(browser.wait("const r = document.getElementById('ov-rate'); "
                      "return r && parseFloat(r.textContent) > 0 && "
                      "document.querySelector('svg polyline').getAttribute('points');", 30),
         "the overview's live charts draw the produce rate")
    time.sleep(4)
    th.join(30)
    errs = browser.console_errors()
    t.ok(not errs, "overview charts: no console errors", json.dumps(errs, indent=1))
    shoot("overview")
    page("topics", "#/topics",
         "return [...document.querySelectorAll('#topics td a')].some(a => a.textContent === 'orders');",
         "the topic list")
    page("topic", "#/topic?name=orders",
         "return document.querySelectorAll('#partitions tbody tr').length === 1 && "
         "document.querySelectorAll('#configs tbody tr').length > 10;",
         "partitions and configs")

    # The message browser shows kcat's record.
    ok = page("messages", "#/messages?topic=orders&partition=0&from=earliest&format=json",
              "const r = document.querySelectorAll('#m-table tbody tr'); return r.length === 1 && "
              "r[0].textContent;", "a record")
    row = browser.js("const r = document.querySelector('#m-table tbody tr'); "
                     "return r ? [...r.children].map(c => c.textContent) : null;") or []
    t.ok(ok and len(row) == 6 and row[2] == "order-17" and '"item": "kettle"' in row[3] and
         row[4] == "source=kcat", "the browser shows kcat's key, pretty JSON value and header",
         repr(row))

    # Live follow: a record produced while following appears without reloading.
    browser.js("document.getElementById('m-follow').click();")
    kcat_produce(broker.bootstrap, "orders", ['order-18|{"id":18}'], key_sep="|")
    t.ok(browser.wait("return document.querySelectorAll('#m-table tbody tr').length === 2;"),
         "follow: a new record appears live")

    # A group with lag: the consumer reads 50 of 200 and commits, then catches up.
    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "billing",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest",
                         "session.timeout.ms": 10000})
    t.cleanups.insert(0, consumer.close)
    consumer.subscribe(["events"])

    def consume(n):
        got = 0
        deadline = time.monotonic() + 60
        while got < n and time.monotonic() < deadline:
            for m in consumer.consume(num_messages=n - got, timeout=1.0):
                if not m.error():
                    got += 1
        return got

    t.eq(consume(50), 50, "the consumer reads 50 records")
    consumer.commit(offsets=[TopicPartition("events", 0, 50)], asynchronous=False)
    page("groups", "#/groups",
         "return [...document.querySelectorAll('#groups td a')].some(a => a.textContent === 'billing');",
         "the group")
    lag = browser.wait("return [...document.querySelectorAll('#groups tbody tr')]"
                       ".filter(r => r.cells[0].textContent === 'billing')"
                       ".map(r => r.cells[5].textContent)[0] === '150';")
    t.ok(lag, "the group list shows lag 150")
    ok = page("group", "#/group?id=billing",
              "const l = document.getElementById('g-lag'); return l && l.textContent === '150';",
              "lag 150", shot=False)
    status_text = browser.js("const s = document.querySelector('#offsets .status'); "
                             "return s && s.textContent;")
    t.ok(status_text in ("OK", "WARN", "STALL", "STOP", "ERR"), "a Burrow-style status is shown",
         repr(status_text))
    def sampled(lag):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            hist = json.loads(http("GET", web + "/api/group?id=billing")[1]).get("history", [])
            if any(p[1] == lag for p in hist):
                return True
            time.sleep(0.5)
        return False
    t.ok(sampled(150), "the lag sampler recorded lag 150 in the group's history")
    t.eq(consume(150), 150, "the consumer catches up")
    consumer.commit(offsets=[TopicPartition("events", 0, 200)], asynchronous=False)
    t.ok(browser.wait("const l = document.getElementById('g-lag'); "
                      "return l && l.textContent === '0';", 20),
         "the group's lag drops to 0 once it committed")
    t.ok(browser.wait("const s = document.querySelector('#offsets .status'); "
                      "return s && s.textContent === 'OK';", 10), "and its status is OK")
    t.ok(sampled(0), "and the sampler recorded the drop to 0")
    time.sleep(2.5)  # the page's next poll draws it
    shoot("group")
    consumer.close()
    t.cleanups.remove(consumer.close)

    # The hex view of a batch is runnel-dump --hex's text for that batch.
    page("segments", "#/segments?topic=orders&partition=0&offset=0",
         "const p = document.getElementById('hex'); return p && p.textContent.length > 100;",
         "the hex view")
    hexview = browser.js("return document.getElementById('hex').textContent;") or ""
    seg = os.path.join(broker.data, "orders-0", "%020d.log" % 0)
    dump = subprocess.run([DUMP, "--hex", seg], capture_output=True, text=True, timeout=60).stdout
    t.ok(hexview.startswith("baseOffset: 0 ") and hexview in dump and "record 0 value" in hexview,
         "the hex view of batch 0 is exactly runnel-dump --hex's (%d chars)" % len(hexview),
         "view:\n%s\ndump:\n%s" % (hexview[:1500], dump[:1500]))
    # The browser's link from a record leads to its batch.
    browser.go(web + "/console/#/messages?topic=orders&partition=0&from=earliest")
    browser.wait("return document.querySelectorAll('#m-table tbody tr').length === 2;")
    browser.js("document.querySelectorAll('#m-table tbody tr')[1].querySelector('a').click();")
    t.ok(browser.wait("const p = document.getElementById('hex'); "
                      "return p && p.textContent.startsWith('baseOffset: 1 ');"),
         "the record's hex link opens its batch's hex view")

    page("cluster", "#/cluster",
         "return document.querySelectorAll('table').length >= 2;", "voters and brokers")

    # Writes through the broker's own handlers, from the console's own pages only.
    status, body = http("POST", web + "/api/topics/create?name=made-here&partitions=3", b"")
    t.eq(status, 403, "a write without the console's header (another site's form) is refused")
    status, body = http("GET", web + "/api/overview", headers={"Host": "evil.example:80"})
    t.eq(status, 403, "a Host that is not loopback (DNS rebinding) is refused")
    W = {"X-Runnel-Console": "1"}
    status, body = http("POST", web + "/api/topics/create?name=made-here&partitions=3", b"",
                        headers=W)
    t.ok(status == 200 and json.loads(body)["ok"], "POST /api/topics/create creates a topic",
         body[:300])
    status, body = http("POST", web + "/api/produce?topic=made-here&partition=2&key=k", b"hello",
                        headers=W)
    t.ok(status == 200 and json.loads(body).get("offset") == 0,
         "POST /api/produce appends a test record", body[:300])
    status, body = http("GET", web + "/api/messages?topic=made-here&partition=2")
    recs = json.loads(body).get("records", [])
    t.ok(len(recs) == 1 and recs[0]["value"] == "hello" and recs[0]["key"] == "k",
         "and the browser API reads it back", body[:300])
    status, body = http("POST", web + "/api/topics/partitions?name=made-here&count=4", b"",
                        headers=W)
    t.ok(status == 200 and json.loads(body)["ok"], "POST /api/topics/partitions grows a topic",
         body[:300])
    status, body = http("POST", web + "/api/topics/config?name=made-here&key=retention.ms"
                        "&value=3600000", b"", headers=W)
    t.ok(status == 200 and json.loads(body)["ok"], "POST /api/topics/config alters a config",
         body[:300])
    topic = json.loads(http("GET", web + "/api/topic?name=made-here")[1])
    conf = {c["name"]: c for c in topic.get("configs", [])}
    t.ok(len(topic.get("partitions", [])) == 4 and
         conf.get("retention.ms", {}).get("value") == "3600000" and
         conf["retention.ms"]["source"] == "topic", "both show on the topic",
         json.dumps(topic)[:400])
    status, body = http("POST", web + "/api/groups/reset?group=billing&topic=events&partition=0"
                        "&offset=10", b"", headers=W)
    t.ok(status == 200 and json.loads(body)["ok"], "POST /api/groups/reset moves the idle "
         "group's offset", body[:300])
    group = json.loads(http("GET", web + "/api/group?id=billing")[1])
    t.eq(group.get("lag"), 190, "and its lag follows")
    status, body = http("GET", web + "/api/messages?topic=events&partition=0&limit=100000")
    t.eq(status, 400, "a page larger than the bound is refused")
    status, _ = http("GET", web + "/api/produce?topic=made-here")
    t.eq(status, 405, "a write action by GET is refused")
    status, body = http("GET", web + "/metrics")
    t.ok(status == 200 and b"runnel_up" in body or b"runnel_broker_info" in body,
         "/metrics is still served on the same listener")

    # Read-only by default; no console unless enabled.
    ro_port = free_port()
    ro = Broker(["--metrics.listen", "127.0.0.1:%d" % ro_port, "--console.enable", "true"])
    t.cleanups.append(ro.stop)
    status, body = http("POST", "http://127.0.0.1:%d/api/topics/create?name=x" % ro_port, b"")
    t.ok(status in (403, 405, 501), "a read-only console refuses writes (%d)" % status, body[:200])
    ro.stop()
    off_port = free_port()
    off = Broker(["--metrics.listen", "127.0.0.1:%d" % off_port])
    t.cleanups.append(off.stop)
    status, _ = http("GET", "http://127.0.0.1:%d/api/overview" % off_port)
    t.eq(status, 404, "without console.enable there is no API")
    off.stop()
    t.done()


if __name__ == "__main__":
    main()
