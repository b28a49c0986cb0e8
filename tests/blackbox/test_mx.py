"""test_mx - `mailport mx DOMAIN [--dns HOST:PORT] [--json] [--timeout S]`
(issue 8): the seeds' `nslookup -type=mx` and `-type=ptr`, done and
explained, against a dnsmasq on loopback (dnsutil.Dnsmasq; every run passes
--dns, so nothing but the loopback server is ever asked).

Covers: MX hosts by preference with each address's PTR and whether it
matches the host and resolves back (forward-confirmed), an address without
PTR, a host without address; equal preferences (listed by name, the note
says senders pick at random); the implicit MX; null MX (RFC 7505); NXDOMAIN;
no MX and no address; SERVFAIL; a server that never answers (exit 3 within
--timeout); PTR lookups that time out after the MX answered (partial
result, still exit 0); --json parsed with json and checked field by field
against the spec; usage errors (exit 2).  Exit codes: 0 can receive mail,
1 cannot, 2 usage, 3 temporary DNS failure.

While main.c does not dispatch `mx` yet (`mailport mx --help` does not
print its usage), the tests are skipped.
"""

import json
import os
import socket
import subprocess
import time

from dnsutil import Dnsmasq
from harness import SAN_ENV, SAN_PATTERNS, MailportTest, binary

RUN_TIMEOUT = 60  # seconds for one `mailport mx` run, whatever happens
_AVAILABLE = None


def mx_available():
    """mx_available - (True, "") or (False, why)"""
    global _AVAILABLE
    if _AVAILABLE is None:
        try:
            r = subprocess.run([binary(), "mx", "--help"], capture_output=True, timeout=30)
            out = (r.stdout + r.stderr).decode("utf-8", "replace")
            if "usage: mailport mx" in out:
                _AVAILABLE = (True, "")
            else:
                _AVAILABLE = (False, "`mailport mx` not dispatched by main.c yet")
        except subprocess.TimeoutExpired:
            _AVAILABLE = (True, "")
        except OSError as e:
            _AVAILABLE = (False, "cannot run %s: %s" % (binary(), e))
    return _AVAILABLE


def ptr_rr(addr, name):
    """ptr_rr - a dnsmasq --ptr-record for an IPv4 address"""
    return "--ptr-record=%s.in-addr.arpa,%s" % (".".join(reversed(addr.split("."))), name)


def a_rr(host, addr):
    """a_rr - an A record without the PTR --host-record would add"""
    return "--dns-rr=%s,1,%s" % (host, socket.inet_aton(addr).hex())


def aaaa_rr(host, addr):
    """aaaa_rr - an AAAA record without a PTR"""
    return "--dns-rr=%s,28,%s" % (host, socket.inet_pton(socket.AF_INET6, addr).hex())


# Unlisted reverse names are NXDOMAIN ("no PTR"), never forwarded.
LOCAL_REVERSE = ["--local=/127.in-addr.arpa/", "--local=/8.b.d.0.1.0.0.2.ip6.arpa/"]


class MxTest(MailportTest):
    def setUp(self):
        super().setUp()
        ok, why = mx_available()
        if not ok:
            self.skipTest("skipped: " + why)

    def mx(self, dns, *args, timeout=RUN_TIMEOUT):
        """mx - run `mailport mx ARGS --dns DNS`: (exit, stdout, stderr,
        seconds); a sanitizer report fails the test"""
        cmd = [binary(), "mx"] + list(args) + ["--dns", dns]
        t0 = time.monotonic()
        r = subprocess.run(cmd, capture_output=True, timeout=timeout,
                           env=dict(os.environ, **SAN_ENV), stdin=subprocess.DEVNULL)
        took = time.monotonic() - t0
        for p in SAN_PATTERNS:
            if p in r.stderr:
                self.fail("sanitizer report:\n" + r.stderr.decode("utf-8", "replace"))
        return (r.returncode, r.stdout.decode("utf-8", "replace"),
                r.stderr.decode("utf-8", "replace"), took)

    def mx_json(self, dns, *args, **kw):
        """mx_json - run with --json: (exit, document); stdout must be one
        JSON document whose "exit" is the exit status"""
        rc, out, err, _ = self.mx(dns, "--json", *args, **kw)
        try:
            doc = json.loads(out)
        except ValueError as e:
            self.fail("not JSON (%s): %r\nstderr: %s" % (e, out, err))
        self.assertEqual(doc["exit"], rc, doc)
        for k in ("domain", "status", "explanation", "hosts"):
            self.assertIn(k, doc)
        return rc, doc

    def assertLines(self, out, expected):
        lines = out.rstrip("\n").split("\n")
        self.assertEqual(lines, expected, "\n" + out)

    # ------------------------------------------------------------ the list

    def dns_example(self):
        """the spec's example, on loopback: a matching PTR, an address
        without PTR, a PTR that names another host (which does resolve
        back), a PTR that does not resolve back, a host without address"""
        return Dnsmasq(self,
                       mx={"ex.test": [(20, "mx2.ex.test"), (10, "mx1.ex.test"),
                                       (30, "mx3.ex.test"), (40, "mx4.ex.test")]},
                       a={"mx1.ex.test": "127.0.0.11", "other.test": "127.0.0.20",
                          "liar.test": "127.0.0.99"},
                       extra=LOCAL_REVERSE + [
                           aaaa_rr("mx1.ex.test", "2001:db8::11"),
                           a_rr("mx2.ex.test", "127.0.0.20"),
                           a_rr("mx3.ex.test", "127.0.0.30"), ptr_rr("127.0.0.30", "liar.test"),
                       ])

    def test_mx_list_with_ptr(self):
        d = self.dns_example()
        rc, out, err, _ = self.mx(d.servers, "ex.test")
        self.assertEqual(rc, 0, out + err)
        lines = out.rstrip("\n").split("\n")
        self.assertEqual(lines[0], "ex.test: 4 MX hosts")
        self.assertEqual(lines[1], "  10 mx1.ex.test  127.0.0.11 (PTR mx1.ex.test, matches)"
                                   "  2001:db8::11 (no PTR)")
        self.assertEqual(lines[2], "  20 mx2.ex.test  127.0.0.20 (PTR other.test, "
                                   "does not match mx2.ex.test)")
        self.assertEqual(lines[3], "  30 mx3.ex.test  127.0.0.30 (PTR liar.test, does not "
                                   "match mx3.ex.test; liar.test does not resolve back to it)")
        self.assertEqual(lines[4], "  40 mx4.ex.test  no address (NXDOMAIN)")
        self.assertIn("  note: mx4.ex.test has no address: senders skip it", lines)
        self.assertTrue(any(l.startswith("  note: a missing or mismatched PTR") for l in lines),
                        out)
        self.assertEqual(lines[-1], "ex.test can receive mail: try mx1.ex.test first.")
        self.assertEqual(err, "")

    def test_mx_list_json(self):
        d = self.dns_example()
        rc, doc = self.mx_json(d.servers, "ex.test")
        self.assertEqual(rc, 0)
        self.assertEqual(doc["domain"], "ex.test")
        self.assertEqual(doc["status"], "ok")
        self.assertEqual(doc["explanation"], "ex.test can receive mail: try mx1.ex.test first.")
        self.assertEqual([(h["name"], h["preference"], h["implicit"]) for h in doc["hosts"]],
                         [("mx1.ex.test", 10, False), ("mx2.ex.test", 20, False),
                          ("mx3.ex.test", 30, False), ("mx4.ex.test", 40, False)])
        h1, h2, h3, h4 = doc["hosts"]
        self.assertEqual(h1["addresses"], [
            {"address": "127.0.0.11", "ptr": ["mx1.ex.test"], "ptr_status": "ok",
             "fcrdns": True, "matches_host": True},
            {"address": "2001:db8::11", "ptr": [], "ptr_status": "nxdomain",
             "fcrdns": False, "matches_host": False}])
        self.assertIsNone(h1["error"])
        self.assertEqual(h2["addresses"], [
            {"address": "127.0.0.20", "ptr": ["other.test"], "ptr_status": "ok",
             "fcrdns": True, "matches_host": False}])
        self.assertEqual(h3["addresses"], [
            {"address": "127.0.0.30", "ptr": ["liar.test"], "ptr_status": "ok",
             "fcrdns": False, "matches_host": False}])
        self.assertEqual(h4["addresses"], [])
        self.assertEqual(h4["error"], "NXDOMAIN")
        self.assertIn("mx4.ex.test has no address: senders skip it", doc["notes"])

    def test_first_host_without_address(self):
        d = Dnsmasq(self, mx={"fb.test": [(10, "dead.fb.test"), (20, "live.fb.test")]},
                    a={"live.fb.test": "127.0.0.21"}, extra=LOCAL_REVERSE)
        rc, out, err, _ = self.mx(d.servers, "fb.test")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("  10 dead.fb.test  no address (NXDOMAIN)\n", out)
        self.assertTrue(out.endswith("fb.test can receive mail: try live.fb.test first.\n"), out)

    def test_equal_preferences(self):
        d = Dnsmasq(self, mx={"eq.test": [(5, "b.eq.test"), (10, "c.eq.test"),
                                          (5, "a.eq.test")]},
                    a={"a.eq.test": "127.0.0.41", "b.eq.test": "127.0.0.42",
                       "c.eq.test": "127.0.0.43"},
                    extra=LOCAL_REVERSE)
        for _ in range(3):  # listed by name every time: the note tells the order
            rc, out, err, _ = self.mx(d.servers, "eq.test")
            self.assertEqual(rc, 0, out + err)
            self.assertLines(out, [
                "eq.test: 3 MX hosts",
                "  5 a.eq.test  127.0.0.41 (PTR a.eq.test, matches)",
                "  5 b.eq.test  127.0.0.42 (PTR b.eq.test, matches)",
                "  10 c.eq.test  127.0.0.43 (PTR c.eq.test, matches)",
                "  note: a.eq.test and b.eq.test share preference 5: senders pick among them"
                " at random (RFC 5321 5.1)",
                "eq.test can receive mail: try a.eq.test or b.eq.test first (same preference:"
                " senders pick at random).",
            ])
        rc, doc = self.mx_json(d.servers, "eq.test")
        self.assertEqual([(h["name"], h["preference"]) for h in doc["hosts"]],
                         [("a.eq.test", 5), ("b.eq.test", 5), ("c.eq.test", 10)])

    # ------------------------------------------------ the one-line cases

    def test_implicit_mx(self):
        d = Dnsmasq(self, a={"implicit.test": "127.0.0.30"}, extra=LOCAL_REVERSE)
        rc, out, err, _ = self.mx(d.servers, "implicit.test")
        self.assertEqual(rc, 0, out + err)
        self.assertLines(out, [
            "implicit.test: no MX record, so the domain itself is the implicit MX",
            "  (implicit) implicit.test  127.0.0.30 (PTR implicit.test, matches)",
            "implicit.test can receive mail: it has no MX record, so senders use its own"
            " address (implicit MX, RFC 5321 5.1).",
        ])
        rc, doc = self.mx_json(d.servers, "implicit.test")
        self.assertEqual(rc, 0)
        self.assertEqual(doc["status"], "implicit")
        self.assertEqual(len(doc["hosts"]), 1)
        h = doc["hosts"][0]
        self.assertEqual((h["name"], h["preference"], h["implicit"]), ("implicit.test", 0, True))
        self.assertEqual([a["address"] for a in h["addresses"]], ["127.0.0.30"])

    def test_null_mx(self):
        d = Dnsmasq(self, null_mx=["null.test"], a={"null.test": "127.0.0.31"})
        rc, out, err, _ = self.mx(d.servers, "null.test")
        self.assertEqual(rc, 1, out + err)
        self.assertLines(out, [
            'null.test cannot receive mail: it publishes a null MX ("0 .", RFC 7505), which'
            " says it accepts no mail; senders bounce at once."])
        rc, doc = self.mx_json(d.servers, "null.test")
        self.assertEqual((rc, doc["status"], doc["hosts"]), (1, "nullmx", []))
        self.assertIn("null MX", doc["explanation"])

    def test_nxdomain(self):
        d = Dnsmasq(self, a={"exists.test": "127.0.0.32"})
        rc, out, err, _ = self.mx(d.servers, "nope.test")
        self.assertEqual(rc, 1, out + err)
        self.assertLines(out, ["nope.test cannot receive mail: the domain does not exist"
                               " (NXDOMAIN); check the spelling."])
        rc, doc = self.mx_json(d.servers, "NOPE.test.")  # case and final dot normalised
        self.assertEqual((rc, doc["status"], doc["domain"], doc["hosts"]),
                         (1, "nxdomain", "nope.test", []))

    def test_no_mx_no_address(self):
        d = Dnsmasq(self, txt={"bare.test": "exists"},
                    mx={"dangling.test": [(10, "gone1.test"), (20, "gone2.test")]})
        rc, out, err, _ = self.mx(d.servers, "bare.test")
        self.assertEqual(rc, 1, out + err)
        self.assertTrue(out.endswith("bare.test cannot receive mail: it has no MX record and no"
                                     " A/AAAA address, so there is nowhere to deliver.\n"), out)
        rc, doc = self.mx_json(d.servers, "bare.test")
        self.assertEqual((rc, doc["status"]), (1, "noaddr"))
        rc, out, err, _ = self.mx(d.servers, "dangling.test")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("  10 gone1.test  no address (NXDOMAIN)\n", out)
        self.assertTrue(out.endswith("dangling.test cannot receive mail: none of its MX hosts"
                                     " has an address; fix the MX records or the hosts'"
                                     " A/AAAA records.\n"), out)
        rc, doc = self.mx_json(d.servers, "dangling.test")
        self.assertEqual((rc, doc["status"]), (1, "noaddr"))
        self.assertEqual([h["error"] for h in doc["hosts"]], ["NXDOMAIN", "NXDOMAIN"])

    def test_servfail(self):
        d = Dnsmasq(self, servfail={"broken.test": {}})
        rc, out, err, _ = self.mx(d.servers, "broken.test")
        self.assertEqual(rc, 3, out + err)
        self.assertEqual(out.count("\n"), 1, out)
        self.assertIn("broken.test: the MX lookup failed (", out)
        self.assertIn("a temporary DNS failure", out)
        rc, doc = self.mx_json(d.servers, "broken.test")
        self.assertEqual((rc, doc["status"], doc["hosts"]), (3, "tempfail", []))

    def test_server_never_answers(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))  # bound, never read: no ICMP, no answer
        self.addCleanup(s.close)
        silent = "127.0.0.1:%d" % s.getsockname()[1]
        rc, out, err, took = self.mx(silent, "ex.test", "--timeout", "1")
        self.assertEqual(rc, 3, out + err)
        self.assertLess(took, 10, "--timeout 1 not honoured")
        self.assertLines(out, [
            "ex.test: the MX lookup failed (no answer within 1 s), a temporary DNS failure:"
            " senders keep the mail and retry; check the domain's name servers and your DNS"
            " server (--dns)."])
        rc, doc = self.mx_json(silent, "ex.test", "--timeout", "1")
        self.assertEqual((rc, doc["status"], doc["hosts"]), (3, "tempfail", []))

    def test_ptr_lookups_time_out(self):
        # the MX and A answers come, the reverse zone hangs: a partial
        # result that still says the domain can receive mail
        d = Dnsmasq(self, mx={"slowptr.test": [(10, "mx.slowptr.test")]},
                    timeout=["10.in-addr.arpa"], extra=[a_rr("mx.slowptr.test", "10.0.0.1")])
        rc, out, err, took = self.mx(d.servers, "slowptr.test", "--timeout", "2")
        self.assertEqual(rc, 0, out + err)
        self.assertLess(took, 15)
        self.assertIn("  10 mx.slowptr.test  10.0.0.1 (PTR lookup failed: no answer within 2 s)",
                      out)
        self.assertIn("  note: some lookups got no answer within 2 s\n", out)
        self.assertTrue(out.endswith("slowptr.test can receive mail: try mx.slowptr.test"
                                     " first.\n"), out)
        rc, doc = self.mx_json(d.servers, "slowptr.test", "--timeout", "2")
        self.assertEqual(doc["hosts"][0]["addresses"][0]["ptr_status"], "tempfail")

    # --------------------------------------------------------------- usage

    def test_usage(self):
        dns = "127.0.0.1:9"  # nothing is asked: every case fails before DNS
        for args in ([], ["a.test", "b.test"], ["--bogus", "a.test"], ["a.test", "--timeout", "0"],
                     ["a.test", "--timeout", "x"], ["a.test", "--timeout"]):
            rc, out, err, _ = self.mx(dns, *args)
            self.assertEqual(rc, 2, "%r: %s%s" % (args, out, err))
            self.assertIn("usage: mailport mx", err)
            self.assertEqual(out, "")
        rc, out, err, _ = self.mx(dns, "bad_name!")
        self.assertEqual(rc, 2)
        self.assertIn("not a valid domain name", err)
        rc, doc = self.mx_json(dns, "bad_name!")
        self.assertEqual((rc, doc["status"]), (2, "badname"))
        rc, out, err, _ = self._raw(["a.test", "--dns", "not-an-address"])
        self.assertEqual(rc, 2)
        self.assertIn("--dns", err)
        rc, out, err, _ = self._raw(["--help"])
        self.assertEqual((rc, err), (0, ""))
        self.assertIn("usage: mailport mx DOMAIN", out)

    def _raw(self, args):
        """_raw - run `mailport mx ARGS` without adding --dns (only for
        cases that never reach DNS)"""
        r = subprocess.run([binary(), "mx"] + args, capture_output=True, timeout=RUN_TIMEOUT,
                           env=dict(os.environ, **SAN_ENV), stdin=subprocess.DEVNULL)
        for p in SAN_PATTERNS:
            if p in r.stderr:
                self.fail("sanitizer report:\n" + r.stderr.decode("utf-8", "replace"))
        return r.returncode, r.stdout.decode(), r.stderr.decode(), 0
