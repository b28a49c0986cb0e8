"""dnsutil - DNS fixtures for the remote-delivery tests (Python 3 stdlib only).

What it gives the test modules:
  Dnsmasq(tc, ...)  a dnsmasq on 127.0.0.153 (a free high port) that answers
                    for the zone "test" only: MX, A, AAAA, TXT and raw
                    records from the arguments, NXDOMAIN for every other
                    name under .test, and, per domain, a SERVFAIL or a
                    timeout (via a stub upstream on loopback).  It never
                    has an upstream outside the machine (--no-resolv, and
                    no --server except our stubs on 127.x).  .servers is
                    the "[dns] servers" value for the daemon.
  StubDNS(tc, fn)   a scripted UDP DNS responder on 127.0.0.153 (port
                    chosen by the kernel): fn(qname, qtype, packet) returns
                    the reply bytes or None (no answer).  Used as the
                    SERVFAIL upstream of dnsmasq and, on its own, to hand
                    the daemon crafted (hostile) answers.
  query()           one UDP query (rcode, answer count), for self-checks
  build_reply(), rr_a(), rr_mx(), name() - a tiny DNS message builder

Every wait is bounded; processes and sockets are closed by the test's
cleanups (after its servers are stopped).
"""

import atexit
import os
import random
import socket
import struct
import subprocess
import threading

from harness import reserve_port, which, wait_for

DNS_ADDR = "127.0.0.153"
T_A, T_NS, T_CNAME, T_SOA, T_MX, T_TXT, T_AAAA = 1, 2, 5, 6, 15, 16, 28
RCODE_OK, RCODE_FORMERR, RCODE_SERVFAIL, RCODE_NXDOMAIN = 0, 1, 2, 3


# ------------------------------------------------------------ message builder

def name(n):
    """name - a domain name in wire form (no compression)"""
    n = n.rstrip(".")
    if not n:
        return b"\0"
    return b"".join(bytes([len(p)]) + p.encode() for p in n.split(".")) + b"\0"


def parse_question(pkt):
    """parse_question - (id, flags, qname, qtype, end of question) of a query"""
    qid, flags, qd = struct.unpack(">HHH", pkt[:6])
    i = 12
    labels = []
    while i < len(pkt):
        ln = pkt[i]
        i += 1
        if ln == 0:
            break
        labels.append(pkt[i:i + ln].decode("latin-1"))
        i += ln
    qtype, = struct.unpack(">H", pkt[i:i + 2])
    return qid, flags, ".".join(labels).lower(), qtype, i + 4


def rr(owner, rtype, rdata, ttl=0):
    return name(owner) + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata


def rr_a(owner, addr, ttl=0):
    return rr(owner, T_A, socket.inet_aton(addr), ttl)


def rr_mx(owner, pref, host, ttl=0):
    return rr(owner, T_MX, struct.pack(">H", pref) + name(host), ttl)


def build_reply(query, rcode=RCODE_OK, answers=(), tc=False, raw_tail=b"", ancount=None):
    """build_reply - a response to query (bytes) with these answer records
    (wire bytes); ancount overrides the count (for crafted packets)"""
    qid, flags, _, _, qend = parse_question(query)
    fl = 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | rcode  # QR AA RD RA
    if tc:
        fl |= 0x0200
    n = len(answers) if ancount is None else ancount
    return (struct.pack(">HHHHHH", qid, fl, 1, n, 0, 0) + query[12:qend]
            + b"".join(answers) + raw_tail)


def query(server, qname, qtype, timeout=2.0):
    """query - one UDP query to (host, port): (rcode, ancount), or None on
    timeout"""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        qid = random.randrange(65536)
        s.sendto(struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + name(qname)
                 + struct.pack(">HH", qtype, 1), server)
        while True:
            d, _ = s.recvfrom(65536)
            if len(d) >= 12 and struct.unpack(">H", d[:2])[0] == qid:
                fl, _, an = struct.unpack(">HHH", d[2:8])
                return fl & 15, an
    except socket.timeout:
        return None
    finally:
        s.close()


# ------------------------------------------------------------- stub server

class StubDNS:
    """StubDNS - a scripted UDP DNS responder on DNS_ADDR:<kernel port>.
    fn(qname, qtype, packet) -> reply bytes, or None (stay silent).
    .queries lists (qname, qtype) in arrival order."""

    def __init__(self, tc, fn, addr=DNS_ADDR):
        self.fn = fn
        self.queries = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((addr, 0))
        self.sock.settimeout(0.2)
        self.addr = self.sock.getsockname()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        tc.addCleanup(self.stop)

    @property
    def server(self):
        return "%s:%d" % self.addr

    def _run(self):
        while not self.stopping:
            try:
                pkt, peer = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                _, _, qn, qt, _ = parse_question(pkt)
            except (struct.error, IndexError):
                continue
            self.queries.append((qn, qt))
            try:
                out = self.fn(qn, qt, pkt)
            except Exception:  # noqa: BLE001 - a broken script answers nothing
                out = None
            if out:
                try:
                    self.sock.sendto(out, peer)
                except OSError:
                    pass

    def stop(self):
        self.stopping = True
        self.thread.join(2)
        self.sock.close()


def servfail_fn(answers=None):
    """servfail_fn - a StubDNS script: SERVFAIL for every query except the
    (qname, qtype) pairs in answers ({(qname, qtype): [rr bytes]})"""
    answers = answers or {}

    def fn(qn, qt, pkt):
        if (qn, qt) in answers:
            return build_reply(pkt, RCODE_OK, answers[(qn, qt)])
        return build_reply(pkt, RCODE_SERVFAIL)
    return fn


# ----------------------------------------------------------------- dnsmasq

_LIVE = set()  # dnsmasq processes not yet stopped


def _kill_live():
    """_kill_live - at interpreter exit (an interrupted run that skipped
    the cleanups), kill the dnsmasq processes still running"""
    for p in list(_LIVE):
        try:
            if p.poll() is None:
                p.kill()
                p.wait(5)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
    _LIVE.clear()


atexit.register(_kill_live)

class Dnsmasq:
    """Dnsmasq - the zone "test" on DNS_ADDR:<port>.

    mx:       {domain: [(pref, host), ...]}
    a, aaaa:  {host: addr or [addrs]}
    null_mx:  [domain]           MX 0 .  (RFC 7505)
    txt:      {name: text}       (a name that exists without MX or address)
    servfail: {domain: {(qname, qtype): [rr bytes]}}  the domain (and its
              subdomains) is forwarded to a StubDNS that answers SERVFAIL
              except for the listed questions
    timeout:  [domain]           forwarded to a bound UDP socket that never
              answers (the lookup times out)
    ttl:      TTL of the local records (dnsmasq --local-ttl)
    """

    def __init__(self, tc, mx=None, a=None, aaaa=None, null_mx=(), txt=None, servfail=None,
                 timeout=(), ttl=0, extra=()):
        self.tc = tc
        self.tool = which("dnsmasq")
        if not self.tool:
            tc.skipTest("skipped: dnsmasq not installed")
        self.mx = mx or {}
        self.a = a or {}
        self.aaaa = aaaa or {}
        self.null_mx = list(null_mx)
        self.txt = txt or {}
        self.servfail = servfail or {}
        self.timeout = list(timeout)
        self.ttl = ttl
        self.extra = list(extra)
        self.dir = tc.make_tmpdir("dnsmasq")
        self.log_path = os.path.join(self.dir, "dnsmasq.log")
        self.proc = None
        self.port = None
        self._fd = None
        self.stubs = []
        self._silent = []
        tc.addCleanup(self.stop)
        self.start()

    @property
    def servers(self):
        """servers - the "[dns] servers" value"""
        return "%s:%d" % (DNS_ADDR, self.port)

    def _args(self):
        args = [self.tool, "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
                "--keep-in-foreground", "--bind-interfaces", "--listen-address=" + DNS_ADDR,
                "--port=%d" % self.port, "--user=root", "--group=root", "--local=/test/",
                "--log-queries", "--log-facility=" + self.log_path, "--cache-size=0",
                "--local-ttl=%d" % self.ttl, "--pid-file="]
        for dom, hosts in self.mx.items():
            for pref, host in hosts:
                args.append("--mx-host=%s,%s,%d" % (dom, host, pref))
        for dom in self.null_mx:
            # MX 0 . as a raw record: preference 0, the root name
            args.append("--dns-rr=%s,%d,000000" % (dom, T_MX))
        for host, addrs in self.a.items():
            for ad in ([addrs] if isinstance(addrs, str) else addrs):
                args.append("--host-record=%s,%s" % (host, ad))
        for host, addrs in self.aaaa.items():
            for ad in ([addrs] if isinstance(addrs, str) else addrs):
                args.append("--host-record=%s,%s" % (host, ad))
        for n, t in self.txt.items():
            args.append("--txt-record=%s,%s" % (n, t))
        for dom, answers in self.servfail.items():
            stub = StubDNS(self.tc, servfail_fn(answers), addr="127.0.0.1")
            self.stubs.append(stub)
            args.append("--server=/%s/%s#%d" % (dom, stub.addr[0], stub.addr[1]))
        for dom in self.timeout:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))  # bound (no ICMP), never read
            self._silent.append(s)
            args.append("--server=/%s/127.0.0.1#%d" % (dom, s.getsockname()[1]))
        return args + self.extra

    def start(self):
        for _ in range(5):
            self.port, self._fd = reserve_port()
            log = open(os.path.join(self.dir, "stderr.log"), "ab")
            self.proc = subprocess.Popen(self._args(), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, start_new_session=True)
            _LIVE.add(self.proc)
            log.close()
            ok = wait_for(lambda: self.proc.poll() is not None
                          or query((DNS_ADDR, self.port), "ready-probe.test", T_A, 0.2)
                          is not None, 10)
            if ok and self.proc.poll() is None:
                return
            self.stop()
        raise RuntimeError("dnsmasq did not start:\n%s" % self.stderr())

    def reconfigure(self, **kw):
        """reconfigure - restart dnsmasq on the same port with some of the
        constructor's record arguments replaced (mx=, a=, ...)"""
        for k, v in kw.items():
            if k not in ("mx", "a", "aaaa", "null_mx", "txt", "ttl"):
                raise ValueError(k)
            setattr(self, k, v)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        _LIVE.discard(self.proc)
        log = open(os.path.join(self.dir, "stderr.log"), "ab")
        self.proc = subprocess.Popen(self._args(), stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=log, start_new_session=True)
        _LIVE.add(self.proc)
        log.close()
        if not wait_for(lambda: self.proc.poll() is not None
                        or query((DNS_ADDR, self.port), "ready-probe.test", T_A, 0.2)
                        is not None, 10) or self.proc.poll() is not None:
            raise RuntimeError("dnsmasq did not restart:\n%s" % self.stderr())

    def stderr(self):
        try:
            with open(os.path.join(self.dir, "stderr.log"), "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        _LIVE.discard(self.proc)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        for s in self._silent:
            s.close()
        self._silent = []

