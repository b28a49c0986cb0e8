"""test_probe_checks - `mailport probe --relay-test / --smuggling-test /
--starttls-injection` (issue 8, src/probe/checks.c).

Against mailport itself (harness Server; TLS via tlsutil): it must pass
all three checks (no open relay from outside its networks, no smuggling,
no STARTTLS injection), and show the open relay it is for its own relay
networks.  Against scripted servers (fakemx.FakeMX and the misbehaving
subclass below) for every finding and every exit status:
  * an open relay (direct), a relay only through the % hack, a catch-all
    domain (accepted routing tricks that are not a finding), a server that
    drops the connection after two refusals;
  * a server that takes <LF>.<LF> (and so <CR><LF>.<LF>) as the end of
    data: it answers the smuggled MAIL/RCPT/DATA;
  * a server that runs the NOOP pipelined with STARTTLS after the
    handshake, at once or only when more input comes (CVE-2011-0411).
Exit statuses: 0 nothing found, 2 usage, 7 TLS (no STARTTLS to test), 9 MAIL
refused, 12 a finding.  Every run gets --dns NO_DNS (test_probe.ProbeTest).
"""

import time

from fakemx import DROP, FakeMX, _Conn, server_ctx
from harness import NO_DNS, binary
from test_probe import ProbeTest
from tlsutil import make_pki, tls_server

EXIT_OK, EXIT_USAGE, EXIT_TLS, EXIT_MAIL, EXIT_FOUND = 0, 2, 7, 9, 12
ALICE = "alice@example.test"
SENDER = "sender@example.net"
FAKE = "fakemx.test"
OUTSIDE = "relaytest@example.com"
VARIANTS = ["<LF>.<LF>", "<CR><LF>.<LF>", "<LF>.<CR><LF>", "<CR>.<CR>", "<CR>.<LF>", "<LF>.<CR>",
            "<CR><LF>.<CR>", "<CR>.<CR><LF>", "<CR><LF>.<CR><CR><LF>", "<CR><LF><NUL>.<CR><LF>",
            "<CR><LF>.<NUL><CR><LF>", "<CR><LF><SP>.<CR><LF>"]
KINDS = ["direct", "local_sender", "null_sender", "percent", "bang", "quoted", "source_route",
         "double_at"]


# ------------------------------------------------------------ a worse fake

class _SplitConn(_Conn):
    """_SplitConn - a session that ends DATA at the first of the real end
    or any of the fake's fake_ends (a smuggling-vulnerable server), and,
    with inject=True, runs what followed STARTTLS in the same packet after
    the handshake (CVE-2011-0411); lazy: only once more input arrived"""

    def read_data(self):
        while True:
            if self.buf.startswith(b".\r\n"):
                self.buf = self.buf[3:]
                return b""
            best = None
            for end in (b"\r\n.\r\n",) + tuple(self.f.fake_ends):
                i = self.buf.find(end)
                if i >= 0 and (best is None or i < best[0]):
                    best = (i, end)
            if best:
                i, end = best
                data, self.buf = self.buf[:i], self.buf[i + len(end):]
                return data
            self._recv()

    def read_line(self):
        if self.f.inject and self.s.tls and self.s.after_starttls and not getattr(
                self, "restored", False):
            self.restored = True
            if self.f.lazy:
                self._recv()
            self.buf = self.s.after_starttls + self.buf
        return super().read_line()


class BadMX(FakeMX):
    """BadMX - FakeMX with the misbehaviours of _SplitConn"""

    def __init__(self, tc, addr, port, fake_ends=(), inject=False, lazy=False, **kw):
        self.fake_ends = fake_ends
        self.inject = inject
        self.lazy = lazy
        super().__init__(tc, addr, port, **kw)

    def make_conn(self, sock, sess):
        return _SplitConn(self, sock, sess)


def rcpt_by(fn):
    """rcpt_by - a RCPT reply function from fn(address) -> reply"""
    def reply(arg, session):
        a = arg.strip()
        a = a[3:].strip() if a[:3].upper() == "TO:" else a
        return fn(a[1:a.rindex(">")] if a.startswith("<") and ">" in a else a)
    return reply


class ChecksTest(ProbeTest):

    def cmds(self, f):
        return [c.decode("latin-1") for c in f.commands()]

    def assertNoData(self, f):
        """the relay test never sends DATA and ends every transaction"""
        cmds = [c.upper() for c in self.cmds(f)]
        self.assertNotIn("DATA", cmds)
        mails = sum(1 for c in cmds if c.startswith("MAIL FROM:"))
        rsets = cmds.count("RSET")
        self.assertEqual(mails, rsets, cmds)


# ------------------------------------------------------------- relay test

class RelayTests(ChecksTest):

    def test_open_relay(self):
        """a server that takes every recipient: OPEN RELAY, loudly, exit
        12; each attempt its own transaction, never DATA"""
        f = self.fake()
        r = self.probe(self.target(), "--relay-test", "--relay-domain", FAKE)
        self.assertExit(r, EXIT_FOUND)
        self.assertIn("\n!!! OPEN RELAY: 127.0.0.1 accepted mail for an outside recipient from "
                      "an unauthenticated client (direct relay, spoofed local sender, null "
                      "sender) !!!\n", r.out)
        self.assertRegex(r.out, r"-> RCPT TO:<relaytest@example\.com>\n<- 250 2\.1\.5 Ok\n"
                         r"   = ok: .*\n   x error: OPEN RELAY: direct relay: "
                         r"<relaytest@example\.com> accepted from an unauthenticated client")
        self.assertRegex(r.out, r"open relay +YES: 3 of 8 attempts accepted")
        self.assertRegex(r.out, r"result +exit 12: open relay")
        cmds = self.cmds(f)
        for rcpt in ("relaytest%example.com@fakemx.test", "example.com!relaytest@fakemx.test",
                     "\"relaytest@example.com\"@fakemx.test", "@fakemx.test:relaytest@example.com",
                     "relaytest@example.com@fakemx.test"):
            self.assertIn("RCPT TO:<%s>" % rcpt, cmds)
        self.assertIn("MAIL FROM:<postmaster@fakemx.test>", cmds)
        self.assertIn("MAIL FROM:<>", cmds)
        self.assertNoData(f)
        self.assertEqual(cmds[-1], "QUIT")
        self.assertEqual(f.txns()[-1].data, None)

    def test_open_relay_json(self):
        f = self.fake()
        r = self.jprobe(self.target(), "--relay-test", "--relay-domain", FAKE)
        self.assertExit(r, EXIT_FOUND)
        rt = r.doc["checks"]["relay_test"]
        self.assertTrue(rt["found"])
        self.assertEqual(rt["exit"], EXIT_FOUND)
        self.assertEqual(rt["domain"], FAKE)
        self.assertEqual(rt["outside"], OUTSIDE)
        self.assertTrue(rt["catch_all"])
        self.assertEqual([a["kind"] for a in rt["attempts"]], KINDS)
        self.assertEqual([a["relayed"] for a in rt["attempts"]], [True] * 3 + [False] * 5)
        self.assertTrue(all(a["accepted"] and a["rcpt_code"] == 250 for a in rt["attempts"]))
        self.assertTrue(any(s["step"] == "rset" for s in rt["steps"]))
        self.assertEqual(r.doc["summary"]["open_relay"], True)
        self.assertIsNone(r.doc["summary"]["smuggling"])
        self.assertEqual(r.doc["exit"], EXIT_FOUND)
        self.assertEqual(r.doc["exit_stage"], "relay")
        self.assertNotIn("!!!", r.out)
        self.assertNoData(f)

    def test_closed_relay(self):
        """every attempt refused: passes, exit 0"""
        f = self.fake(replies={"RCPT": "554 5.7.1 Relay access denied"})
        r = self.probe(self.target(), "--relay-test", "--relay-domain", FAKE)
        self.assertExit(r, EXIT_OK)
        self.assertIn("** Relay test passed: no open relay (all 8 attempts refused)", r.out)
        self.assertEqual(r.out.count("   = ok: direct relay: refused: 554 5.7.1") +
                         r.out.count("   = ok: percent hack: refused: 554 5.7.1"), 2)
        self.assertRegex(r.out, r"open relay +no: all 8 attempts refused\n")
        self.assertNotIn("OPEN RELAY", r.out)
        self.assertNoData(f)

    def test_percent_hack_relay(self):
        """only the % hack gets through, and the domain refuses made-up
        local parts: that is relaying"""
        def rcpt(a):
            return "250 2.1.5 Ok" if "%" in a else "550 5.1.1 User unknown"
        self.fake(replies={"RCPT": rcpt_by(rcpt)})
        r = self.jprobe(self.target(), "--relay-test", "--relay-domain", FAKE)
        self.assertExit(r, EXIT_FOUND)
        rt = r.doc["checks"]["relay_test"]
        self.assertIs(rt["catch_all"], False)
        self.assertEqual(rt["control_code"], 550)
        self.assertEqual([a["kind"] for a in rt["attempts"] if a["relayed"]], ["percent"])
        self.assertIn("percent hack", rt["text"])
        bad = [s for s in rt["steps"] if s["step"] == "relay" and s["verdict"]["class"] == "error"]
        self.assertEqual(len(bad), 1)
        self.assertIn("OPEN RELAY: percent hack", bad[0]["verdict"]["text"])

    def test_catch_all_is_not_a_relay(self):
        """a domain that takes any local part accepts the routing tricks
        as local mailboxes: warnings, not a finding (exit 0)"""
        def rcpt(a):
            return "250 2.1.5 Ok" if a.lower().endswith("@" + FAKE) else "554 5.7.1 Relay denied"
        f = self.fake(replies={"RCPT": rcpt_by(rcpt)})
        r = self.probe(self.target(), "--relay-test", "--relay-domain", FAKE)
        self.assertExit(r, EXIT_OK)
        self.assertIn("   ! warning: fakemx.test accepts a made-up local part (a catch-all)", r.out)
        self.assertIn("   ! warning: percent hack: accepted, but fakemx.test takes any local "
                      "part", r.out)
        self.assertIn("   = ok: source route: refused: 554 5.7.1 Relay denied", r.out)
        self.assertRegex(r.out, r"open relay +no: 4 attempts refused, 4 routing tricks "
                         r"accepted by a catch-all domain")
        self.assertNoData(f)

    def test_outside_recipient_from_to(self):
        """--to outside D is the recipient of the attempts; one inside D is not"""
        f = self.fake(replies={"RCPT": "550 5.7.1 Unable to relay"})
        r = self.jprobe(self.target(), "--relay-test", "--relay-domain", FAKE,
                        "--to", "bob@" + FAKE, "--to", "someone@elsewhere.test")
        self.assertExit(r, EXIT_OK)
        rt = r.doc["checks"]["relay_test"]
        self.assertEqual(rt["outside"], "someone@elsewhere.test")
        cmds = self.cmds(f)
        self.assertIn("RCPT TO:<someone%elsewhere.test@fakemx.test>", cmds)
        self.assertIn("RCPT TO:<elsewhere.test!someone@fakemx.test>", cmds)
        self.assertNotIn("RCPT TO:<bob@fakemx.test>", cmds)
        # the normal steps stop before MAIL: no mail of their own
        self.assertEqual(r.doc["summary"]["stopped_after"], "auth")

    def test_no_domain_no_tricks(self):
        """an IP target whose banner names no host: only the direct
        attempts (our sender and the null sender)"""
        self.fake(replies={"CONNECT": "220 ESMTP ready", "RCPT": "554 5.7.1 Relay denied"})
        r = self.jprobe(self.target(), "--relay-test", "--from", SENDER)
        self.assertExit(r, EXIT_OK)
        rt = r.doc["checks"]["relay_test"]
        self.assertIsNone(rt["domain"])
        self.assertEqual([(a["kind"], a["sender"]) for a in rt["attempts"]],
                         [("direct", SENDER), ("null_sender", "")])

    def test_banner_name_is_the_domain(self):
        """without --relay-domain the banner's name is D"""
        f = self.fake(replies={"RCPT": "554 5.7.1 Relay denied"})
        r = self.jprobe(self.target(), "--relay-test")
        self.assertExit(r, EXIT_OK)
        self.assertEqual(r.doc["checks"]["relay_test"]["domain"], FAKE)
        self.assertIn("RCPT TO:<relaytest%example.com@fakemx.test>", self.cmds(f))

    def test_reconnects_when_dropped(self):
        """a server that closes after two refusals (421): the test
        reconnects and finishes every attempt"""
        def rcpt(arg, session):
            if sum(len(t.rejected) for t in session.txns) >= 2:
                return (b"421 4.7.0 Too many errors\r\n", DROP)
            return "554 5.7.1 Relay denied"
        f = self.fake(replies={"RCPT": rcpt})
        r = self.jprobe(self.target(), "--relay-test", "--relay-domain", FAKE)
        self.assertExit(r, EXIT_OK)
        rt = r.doc["checks"]["relay_test"]
        self.assertEqual([a["rcpt_code"] for a in rt["attempts"]], [554] * 8)
        self.assertGreaterEqual(len(f.sessions), 5)

    def test_sender_refused(self):
        """every MAIL refused: nothing decided, exit 9"""
        self.fake(replies={"MAIL": "553 5.7.1 Sender rejected"})
        r = self.jprobe(self.target(), "--relay-test", "--relay-domain", FAKE)
        self.assertExit(r, EXIT_MAIL)
        rt = r.doc["checks"]["relay_test"]
        self.assertIsNone(rt["found"])
        self.assertIsNone(r.doc["summary"]["open_relay"])
        self.assertTrue(all(a["mail_code"] == 553 and a["rcpt_code"] is None
                            for a in rt["attempts"]))

    def test_red_on_a_terminal(self):
        self.fake()
        rc, out = self.run_pty([binary(), "probe", "--dns", NO_DNS, self.target(), "--relay-test"])
        self.assertEqual(rc, EXIT_FOUND, out)
        self.assertIn("\033[1;31m!!! OPEN RELAY: ", out)
        self.assertIn("\033[31m   x error: OPEN RELAY: direct relay", out)

    def test_mailport_outside_its_networks(self):
        """mailport with a users file, from outside its relay networks:
        everything refused (relay denied, user unknown, 501 for the double
        at-sign), exit 0, nothing queued"""
        s = self.server(networks="", users=[ALICE])
        r = self.jprobe(self.target(port=s.port), "--relay-test", "--relay-domain",
                        "example.test")
        self.assertExit(r, EXIT_OK)
        rt = r.doc["checks"]["relay_test"]
        self.assertFalse(rt["found"])
        self.assertIs(rt["catch_all"], False)
        codes = dict((a["kind"], a["rcpt_code"]) for a in rt["attempts"])
        self.assertEqual(codes, {"direct": 550, "local_sender": 550, "null_sender": 550,
                                 "percent": 550, "bang": 550, "quoted": 550,
                                 "source_route": 550, "double_at": 501})
        self.assertFalse(r.doc["summary"]["open_relay"])
        self.assertNothingDelivered(s, 0.5)

    def test_mailport_catch_all(self):
        """mailport without a users file takes any local part of its
        domain, the routing forms as local mailboxes (CHECKLIST F): no
        relay, the tricks reported as a catch-all"""
        s = self.server(networks="")
        r = self.jprobe(self.target(port=s.port), "--relay-test", "--relay-domain",
                        "example.test")
        self.assertExit(r, EXIT_OK)
        rt = r.doc["checks"]["relay_test"]
        self.assertIs(rt["found"], False)
        self.assertIs(rt["catch_all"], True)
        self.assertEqual([a["kind"] for a in rt["attempts"] if a["accepted"]],
                         ["percent", "bang", "quoted"])
        self.assertNothingDelivered(s, 0.5)

    def test_mailport_inside_its_networks(self):
        """from inside mailport's relay networks (loopback by default) it
        does relay: the probe says so"""
        s = self.server()
        r = self.jprobe(self.target(port=s.port), "--relay-test", "--relay-domain",
                        "example.test")
        self.assertExit(r, EXIT_FOUND)
        self.assertTrue(r.doc["checks"]["relay_test"]["attempts"][0]["relayed"])
        self.assertNothingDelivered(s, 0.5)


# --------------------------------------------------------- smuggling test

class SmugglingTests(ChecksTest):

    def test_usage(self):
        for args in (["--smuggling-test"], ["--smuggling-test", "--to", ALICE],
                     ["--smuggling-test", "--from", SENDER]):
            with self.subTest(args=args):
                r = self.probe(self.target(), *args)
                self.assertExit(r, EXIT_USAGE)
                self.assertIn("--smuggling-test needs --from and --to", r.err)

    def test_mailport_is_not_vulnerable(self):
        """mailport: every fake end stays message text: one message per
        variant, each with the smuggled lines inside, exit 0"""
        s = self.server()
        r = self.jprobe(self.target(port=s.port), "--smuggling-test", "--from", SENDER,
                        "--to", ALICE, timeout=240)
        self.assertExit(r, EXIT_OK)
        st = r.doc["checks"]["smuggling_test"]
        self.assertIs(st["found"], False)
        self.assertEqual([v["end"] for v in st["variants"]], VARIANTS)
        for v in st["variants"]:
            self.assertEqual((v["first"], v["extra"], v["smuggling"]), (250, [], False), v)
        self.assertIs(r.doc["summary"]["smuggling"], False)
        s.wait_queue_empty()
        msgs = s.wait_messages("alice", len(VARIANTS))
        time.sleep(0.5)
        self.assertEqual(s.mailboxes(), {("example.test", "alice"): len(VARIANTS)})
        for m in msgs:
            self.assertIn(b"Subject: mailport smuggling test", m)
            self.assertIn(b"SMUGGLED: the server took", m)
            self.assertNotIn(b"\nSubject: mailport SMUGGLED", m.split(b"\n\n", 1)[0])

    def test_strict_fake_passes(self):
        """FakeMX ends DATA only at <CRLF>.<CRLF>: exit 0, transcript"""
        f = self.fake()
        r = self.probe(self.target(), "--smuggling-test", "--from", SENDER, "--to", ALICE)
        self.assertExit(r, EXIT_OK)
        self.assertIn("-> The fake end follows:<LF>.<LF>MAIL FROM:<%s>\n" % SENDER, r.out)
        self.assertIn("-> The fake end follows:<CR>.<CR>MAIL FROM:<%s>\n" % SENDER, r.out)
        self.assertIn("   = ok: <LF>.<LF> is not an end of data here: one message", r.out)
        self.assertIn("** Smuggling test passed", r.out)
        self.assertRegex(r.out, r"SMTP smuggling +no: each of the 12 fake ends")
        self.assertEqual(len(f.accepted()), len(VARIANTS))
        self.assertTrue(all(s.closed == "quit" for s in f.sessions))

    def test_vulnerable_server(self):
        """a server that ends DATA at <LF>.<LF>: the smuggled MAIL, RCPT,
        DATA are answered: SMUGGLING POSSIBLE for the two variants that
        hold <LF>.<LF>, exit 12; no transaction left open"""
        f = BadMX(self, "127.0.0.1", self.port, name=FAKE, fake_ends=(b"\n.\n",))
        r = self.probe(self.target(), "--smuggling-test", "--from", SENDER, "--to", ALICE)
        self.assertExit(r, EXIT_FOUND)
        self.assertIn("!!! SMUGGLING POSSIBLE: 127.0.0.1 answered smuggled commands after "
                      "<LF>.<LF> <CR><LF>.<LF> !!!", r.out)
        self.assertIn("   x error: SMUGGLING POSSIBLE: the server took <LF>.<LF> as the end of "
                      "data and answered the smuggled commands (250, then 250, 250, 354, 250)",
                      r.out)
        self.assertRegex(r.out, r"SMTP smuggling +YES: 2 of 12 fake ends of data ended the message")
        smuggled = [t for t in f.accepted() if b"Subject: mailport SMUGGLED" in (t.data or b"")
                    and t.data.startswith(b"From:") and b"fake end follows" not in t.data]
        self.assertEqual(len(smuggled), 2)
        self.assertTrue(all(s.closed == "quit" for s in f.sessions), f.sessions)

    def test_vulnerable_json(self):
        BadMX(self, "127.0.0.1", self.port, name=FAKE, fake_ends=(b"\r.\r",))
        r = self.jprobe(self.target(), "--smuggling-test", "--from", SENDER, "--to", ALICE)
        self.assertExit(r, EXIT_FOUND)
        st = r.doc["checks"]["smuggling_test"]
        self.assertTrue(st["found"])
        found = [v["end"] for v in st["variants"] if v["smuggling"]]
        self.assertEqual(found, ["<CR>.<CR>", "<CR>.<CR><LF>"])  # both hold <CR>.<CR>
        v = st["variants"][VARIANTS.index("<CR>.<CR>")]
        self.assertEqual((v["first"], v["extra"]), (250, [250, 250, 354, 250]))
        self.assertTrue(r.doc["summary"]["smuggling"])
        self.assertEqual(r.doc["exit_stage"], "smuggling")
        self.assertIn("smuggled", [s["step"] for s in st["steps"]])

    def test_refused_messages_pass(self):
        """a server that refuses such messages at the dot is strict: exit 0"""
        self.fake(replies={"DOT": "554 5.6.11 Bare LF or CR not allowed"})
        r = self.jprobe(self.target(), "--smuggling-test", "--from", SENDER, "--to", ALICE)
        self.assertExit(r, EXIT_OK)
        st = r.doc["checks"]["smuggling_test"]
        self.assertTrue(all(v["first"] == 554 and not v["smuggling"] for v in st["variants"]))

    def test_sender_refused(self):
        """MAIL refused: exit 9 after the first variant"""
        f = self.fake(replies={"MAIL": "550 5.7.1 Sender rejected"})
        r = self.jprobe(self.target(), "--smuggling-test", "--from", SENDER, "--to", ALICE)
        self.assertExit(r, EXIT_MAIL)
        self.assertIsNone(r.doc["checks"]["smuggling_test"]["found"])
        self.assertEqual(sum(1 for c in self.cmds(f) if c.startswith("MAIL")), 1)


# ------------------------------------------------------- injection test

class InjectionTests(ChecksTest):

    def tls_fake(self, cls=FakeMX, **kw):
        pki = make_pki(self)
        return cls(self, "127.0.0.1", self.port, name=FAKE, tls=server_ctx(pki.cert, pki.key),
                   **kw)

    def test_mailport_discards(self):
        s = tls_server(self)
        r = self.probe(self.target(port=s.port), "--starttls-injection")
        self.assertExit(r, EXIT_OK)
        self.assertIn("-> STARTTLS<CRLF>NOOP (one write)\n<- 220 2.0.0 Ready to start TLS\n", r.out)
        self.assertIn("   = ok: no reply to the injected NOOP: the server discarded", r.out)
        self.assertRegex(r.out, r"STARTTLS injection +no: the NOOP sent with STARTTLS got no reply")

    def test_fake_discards(self):
        """FakeMX drops what followed STARTTLS: exit 0; both went in one write"""
        f = self.tls_fake()
        r = self.jprobe(self.target(), "--starttls-injection")
        self.assertExit(r, EXIT_OK)
        inj = r.doc["checks"]["starttls_injection"]
        self.assertIs(inj["vulnerable"], False)
        self.assertIs(r.doc["summary"]["starttls_injection"], False)
        self.assertEqual(f.sessions[-1].after_starttls, b"NOOP\r\n")
        self.assertTrue(f.sessions[-1].tls)

    def test_vulnerable(self):
        """the NOOP answered inside TLS right after the handshake: exit 12"""
        self.tls_fake(cls=BadMX, inject=True)
        r = self.probe(self.target(), "--starttls-injection")
        self.assertExit(r, EXIT_FOUND)
        self.assertIn("\n<- 250 2.0.0 Ok\n", r.out)
        self.assertIn("   x error: VULNERABLE: the server answered, inside TLS, the NOOP", r.out)
        self.assertIn("!!! STARTTLS INJECTION: 127.0.0.1 runs commands sent before the TLS "
                      "handshake (CVE-2011-0411) !!!", r.out)
        self.assertRegex(r.out, r"STARTTLS injection +YES")

    def test_vulnerable_lazy(self):
        """a server that runs the buffered NOOP only when more input
        comes: two replies to one EHLO, exit 12"""
        self.tls_fake(cls=BadMX, inject=True, lazy=True)
        r = self.jprobe(self.target(), "--starttls-injection")
        self.assertExit(r, EXIT_FOUND)
        inj = r.doc["checks"]["starttls_injection"]
        self.assertTrue(inj["vulnerable"])
        names = [s["step"] for s in inj["steps"]]
        self.assertEqual(names[names.index("tls") + 1:], ["ehlo", "injected", "injection",
                                                          "quit"])

    def test_not_offered(self):
        self.fake()
        r = self.jprobe(self.target(), "--starttls-injection")
        self.assertExit(r, EXIT_TLS)
        inj = r.doc["checks"]["starttls_injection"]
        self.assertIsNone(inj["found"])
        self.assertIn("not tested: STARTTLS is not offered", inj["text"])
        self.assertEqual(r.doc["summary"]["answers"]["tls"], "not offered: mail to this server "
                         "travels unencrypted")

    def test_refused(self):
        self.tls_fake(replies={"STARTTLS": "454 4.7.0 TLS not available due to temporary reason"})
        r = self.jprobe(self.target(), "--starttls-injection", "--no-starttls")
        self.assertExit(r, EXIT_TLS)
        self.assertEqual(r.doc["exit_stage"], "starttls")


# ------------------------------------------------------------ together

class AllChecksTests(ChecksTest):

    def test_mailport_passes_all_three(self):
        """mailport, from outside its relay networks, with TLS: no open
        relay, no smuggling, no injection: exit 0 and one JSON document"""
        s = tls_server(self, networks="")
        r = self.jprobe(self.target(port=s.port), "--relay-test", "--relay-domain",
                        "example.test", "--smuggling-test", "--from", SENDER, "--to", ALICE,
                        "--starttls-injection", timeout=300)
        self.assertExit(r, EXIT_OK)
        c = r.doc["checks"]
        self.assertEqual(sorted(c), ["relay_test", "smuggling_test", "starttls_injection"])
        for k in c:
            self.assertIs(c[k]["found"], False, c[k]["text"])
            self.assertEqual(c[k]["exit"], 0)
        sm = r.doc["summary"]
        self.assertEqual((sm["open_relay"], sm["smuggling"], sm["starttls_injection"]),
                         (False, False, False))
        # the smuggling messages went over TLS like the probe's own steps
        self.assertTrue(any(st["step"] == "tls" for st in c["smuggling_test"]["steps"]))
        s.wait_messages("alice", len(VARIANTS))

    def test_bad_server_fails_all_three(self):
        pki = make_pki(self)
        BadMX(self, "127.0.0.1", self.port, name=FAKE, tls=server_ctx(pki.cert, pki.key),
              fake_ends=(b"\n.\n",), inject=True)
        r = self.jprobe(self.target(), "--relay-test", "--smuggling-test", "--from", SENDER,
                        "--to", ALICE, "--starttls-injection")
        self.assertExit(r, EXIT_FOUND)
        sm = r.doc["summary"]
        self.assertEqual((sm["open_relay"], sm["smuggling"], sm["starttls_injection"]),
                         (True, True, True))
        self.assertEqual(r.doc["exit_stage"], "relay")

    def test_no_checks_no_document(self):
        """without a check: "checks" is null and the summary says not tested"""
        self.fake()
        r = self.jprobe(self.target())
        self.assertExit(r, EXIT_OK)
        self.assertIsNone(r.doc["checks"])
        self.assertEqual(r.doc["summary"]["answers"]["open_relay"], "not tested (--relay-test)")
