"""test_probe - `mailport probe TARGET [options]` (issue 8): the seeds'
telnet test of a mail server in one command, every reply explained.

The probe runs as a subprocess against servers on loopback:
  * mailport itself (harness Server; with TLS and AUTH via tlsutil and its
    test CA), for the whole session and the messages it delivers;
  * Postfix's smtp-sink (fakemx.Sink), a real server no one here wrote,
    misbehaving on request (-f/-r/-q/-Q/-P);
  * a scripted server (fakemx.FakeMX) for every exit status and the
    verdict line after each reply of the seeds;
  * a dnsmasq on 127.0.0.153 (dnsutil.Dnsmasq) for domain targets (the MX
    walk, NXDOMAIN, null MX, implicit MX) and the banner-name/PTR checks.
Every run gets "--dns" (NO_DNS when the test gives none), so no test ever
asks the machine's resolver.  Output assertions use LC_ALL=C (ASCII "x")
unless a test checks the UTF-8 mark.

The exit statuses (README, "Testing a mail server"): 0 ok, 2 usage, 3 DNS, 4 connect, 5 no
220, 6 EHLO+HELO refused, 7 TLS, 8 AUTH, 9 MAIL, 10 RCPT, 11 DATA, 12 open
relay (checks.c, not here), 13 protocol error.
"""

import json
import os
import pty
import re
import select
import subprocess
import time

from dnsutil import Dnsmasq
from fakemx import DROP, HANG, FakeMX, Sink, per_rcpt, server_ctx, wait_count
from harness import (HOST, NO_DNS, SAN_ENV, SAN_PATTERNS, MailportTest, binary,
                     header_fields, reserve_port, split_stored, wait_for)
from tlsutil import PASSWORDS, make_pki, tls_server

EXIT_OK, EXIT_USAGE, EXIT_DNS, EXIT_CONNECT, EXIT_BANNER, EXIT_EHLO = 0, 2, 3, 4, 5, 6
EXIT_TLS, EXIT_AUTH, EXIT_MAIL, EXIT_RCPT, EXIT_DATA, EXIT_PROTOCOL = 7, 8, 9, 10, 11, 13
ALICE = "alice@example.test"
SENDER = "sender@example.net"
RUN_TIMEOUT = 60


class Result:
    def __init__(self, rc, out, err):
        self.rc = rc
        self.out = out
        self.err = err
        self._doc = None

    @property
    def doc(self):
        if self._doc is None:
            self._doc = json.loads(self.out)
        return self._doc

    def steps(self, name=None):
        return [s for s in self.doc["steps"] if name is None or s["step"] == name]

    def names(self):
        return [s["step"] for s in self.doc["steps"]]

    def __repr__(self):
        return "exit %s\n--- stdout\n%s\n--- stderr\n%s" % (self.rc, self.out, self.err)


class ProbeTest(MailportTest):
    """ProbeTest - runs the probe; a port for the scripted servers"""

    def setUp(self):
        super().setUp()
        self.port, fd = reserve_port()
        self.addCleanup(os.close, fd)

    def env(self, extra=None):
        e = dict(os.environ)
        for k, v in SAN_ENV.items():
            e.setdefault(k, v)
        for k in ("MAILPORT_PROBE_PASSWORD", "NO_COLOR", "LANG", "LANGUAGE"):
            e.pop(k, None)
        e["LC_ALL"] = "C"
        e.update(extra or {})
        return e

    def probe(self, *args, stdin=None, env=None, timeout=RUN_TIMEOUT):
        """probe - run `mailport probe ARGS` (with --dns NO_DNS unless a
        --dns is given); fails the test on a sanitizer report"""
        argv = [binary(), "probe"] + [str(a) for a in args]
        if "--dns" not in args:
            argv += ["--dns", NO_DNS]
        if isinstance(stdin, str):
            stdin = stdin.encode()
        r = subprocess.run(argv, input=stdin if stdin is not None else b"",
                           capture_output=True, timeout=timeout, env=self.env(env))
        for p in SAN_PATTERNS:
            if p in r.stderr:
                self.fail("sanitizer report:\n%s" % r.stderr.decode(errors="replace"))
        return Result(r.returncode, r.stdout.decode("utf-8", "replace"),
                      r.stderr.decode("utf-8", "replace"))

    def jprobe(self, *args, **kw):
        r = self.probe("--json", *args, **kw)
        try:
            r.doc
        except ValueError as e:
            self.fail("not JSON (%s): %r" % (e, r))
        return r

    def assertExit(self, r, code):
        self.assertEqual(r.rc, code, r)

    def fake(self, addr="127.0.0.1", **kw):
        kw.setdefault("name", "fakemx.test")
        return FakeMX(self, addr, self.port, **kw)

    def target(self, addr="127.0.0.1", port=None):
        return "%s:%d" % (addr, port or self.port)

    def assertVerdictAfter(self, out, reply_line, cls):
        """assertVerdictAfter - the reply line is printed ("<- ...") and
        the verdict line right after the reply names the class"""
        lines = out.splitlines()
        for i, l in enumerate(lines):
            if l == "<- " + reply_line:
                j = i + 1
                while j < len(lines) and lines[j].startswith("<- "):
                    j += 1
                self.assertLess(j, len(lines), out)
                mark = {"ok": "=", "temporary": "!", "warning": "!"}.get(cls, "x")
                self.assertRegex(lines[j], r"^   %s %s: \S.*\[\d+(\.\d)? ms\]$"
                                 % (re.escape(mark), cls), out)
                return lines[j]
        self.fail("reply %r not in the transcript:\n%s" % (reply_line, out))


# ------------------------------------------------------------ against mailport

    def run_pty(self, argv):
        """run_pty - run argv on a pseudo-terminal: (exit status, output)"""
        master, slave = pty.openpty()
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                             env=self.env({"TERM": "xterm"}), close_fds=True)
        os.close(slave)
        out = b""
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.5)
            if r:
                try:
                    d = os.read(master, 65536)
                except OSError:
                    break
                if not d:
                    break
                out += d
            elif p.poll() is not None:
                break
        p.wait(10)
        os.close(master)
        return p.returncode, out.decode("utf-8", "replace")


class MailportTests(ProbeTest):
    """the probe against mailport itself"""

    def test_full_session_text(self):
        """the seeds' session in one command: connect, banner, EHLO, MAIL,
        RCPT, DATA with From/To/Subject/Date/Message-ID, the dot, QUIT;
        sent lines marked "->", replies "<-", a verdict after each"""
        s = self.server()
        r = self.probe(self.target(port=s.port), "--from", SENDER, "--to", ALICE,
                       "--helo", "client.test")
        self.assertExit(r, EXIT_OK)
        out = r.out
        self.assertIn("** Trying 127.0.0.1 port %d ..." % s.port, out)
        self.assertVerdictAfter(out, "220 %s ESMTP ready" % HOST, "ok")
        self.assertIn("-> EHLO client.test\n<- 250-%s Hello [127.0.0.1]" % HOST, out)
        self.assertIn("-> MAIL FROM:<%s>\n<- 250 2.1.0 Sender OK" % SENDER, out)
        self.assertVerdictAfter(out, "250 2.1.5 Recipient OK", "ok")
        self.assertIn("-> DATA\n<- 354 ", out)
        self.assertRegex(out, r"-> Subject: mailport probe test\n")
        self.assertRegex(out, r"\n-> \.\n<- 250 2\.6\.0 <\w+@%s> Queued mail for delivery\n"
                         % re.escape(HOST))
        self.assertVerdictAfter(out, "221 2.0.0 Service closing transmission channel", "ok")
        self.assertRegex(out, r"   \. SIZE 36700160: .+")
        self.assertRegex(out, r"\nSummary\n   server up +yes: 127\.0\.0\.1 port %d greets "
                         r"with 220" % s.port)
        self.assertRegex(out, r"would accept mail +yes, the message was accepted: 250 2\.6\.0")
        self.assertRegex(out, r"result +exit 0: success\n$")
        msgs = s.wait_messages("alice")
        fields = dict((n.lower(), v) for n, v in header_fields(msgs[0]) if n)
        self.assertEqual(fields["from"], b"<%s>" % SENDER.encode())
        self.assertEqual(fields["to"], b"<%s>" % ALICE.encode())
        self.assertEqual(fields["subject"], b"mailport probe test")
        self.assertIn("date", fields)
        self.assertRegex(fields["message-id"].decode(), r"^<[0-9a-f]{16}\.probe@client\.test>$")

    def test_json_document(self):
        """--json: one document with every step (command, reply lines,
        code, enhanced code, verdict, time), the extensions and the summary"""
        s = self.server()
        r = self.jprobe(self.target(port=s.port), "--from", SENDER, "--to", ALICE)
        self.assertExit(r, EXIT_OK)
        d = r.doc
        self.assertEqual(r.names(), ["connect", "banner", "ehlo", "mail", "rcpt", "data",
                                     "dot", "quit"])
        self.assertEqual(d["target"], self.target(port=s.port))
        self.assertEqual(d["kind"], "ip")
        self.assertEqual(d["address"], "127.0.0.1")
        self.assertEqual(d["port"], s.port)
        self.assertEqual(d["exit"], 0)
        self.assertIsNone(d["tls"])
        self.assertEqual(d["resolved"], [{"name": "127.0.0.1", "preference": None,
                                          "implicit": True, "addresses": ["127.0.0.1"]}])
        for st in d["steps"]:
            self.assertIsInstance(st["ms"], (int, float))
            self.assertGreaterEqual(st["ms"], 0)
            self.assertEqual(st["verdict"]["class"], "ok", st)
            self.assertTrue(st["verdict"]["text"], st)
        self.assertIsNone(r.steps("connect")[0]["command"])
        self.assertIsNone(r.steps("connect")[0]["reply"])
        mail = r.steps("mail")[0]
        self.assertEqual(mail["command"], "MAIL FROM:<%s>" % SENDER)
        self.assertEqual(mail["reply"], {"code": 250, "enhanced": "2.1.0",
                                         "lines": ["250 2.1.0 Sender OK"]})
        ehlo = r.steps("ehlo")[0]
        self.assertEqual(ehlo["reply"]["lines"][0], "250-%s Hello [127.0.0.1]" % HOST)
        self.assertEqual(r.steps("dot")[0]["command"], ".")
        self.assertGreater(r.steps("dot")[0]["sent_bytes"], 100)
        self.assertEqual(d["extensions"]["SIZE"], "36700160")
        self.assertEqual(d["extensions"]["PIPELINING"], "")
        self.assertIn("CHUNKING", d["extensions"])
        sm = d["summary"]
        self.assertTrue(sm["up"])
        self.assertFalse(sm["port_blocked"])
        self.assertTrue(sm["esmtp"])
        self.assertTrue(sm["would_accept"])
        self.assertTrue(sm["message_accepted"])
        self.assertTrue(sm["sender_accepted"])
        self.assertEqual(sm["recipients_accepted"], 1)
        self.assertEqual(sm["banner_name"], HOST)
        self.assertIsNone(sm["open_relay"])
        self.assertIn("SIZE", sm["supports"])
        s.wait_messages("alice")

    def test_quit_after(self):
        """--quit-after STAGE stops there (QUIT, or a plain close after
        connect; after DATA's 354 the connection is dropped), so nothing is
        delivered: "is it up?" and "would it take this recipient?" """
        s = self.server()
        want = {
            "connect": ["connect"],
            "banner": ["connect", "banner", "quit"],
            "ehlo": ["connect", "banner", "ehlo", "quit"],
            "tls": ["connect", "banner", "ehlo", "quit"],
            "auth": ["connect", "banner", "ehlo", "quit"],
            "mail": ["connect", "banner", "ehlo", "mail", "quit"],
            "rcpt": ["connect", "banner", "ehlo", "mail", "rcpt", "quit"],
            "data": ["connect", "banner", "ehlo", "mail", "rcpt", "data"],
        }
        for stage, names in want.items():
            with self.subTest(stage=stage):
                r = self.jprobe(self.target(port=s.port), "--to", ALICE, "--quit-after", stage)
                self.assertExit(r, EXIT_OK)
                self.assertEqual(r.names(), names)
                self.assertEqual(r.doc["summary"]["stopped_after"], stage)
        r = self.jprobe(self.target(port=s.port), "--to", ALICE, "--quit-after", "rcpt")
        self.assertTrue(r.doc["summary"]["would_accept"])
        self.assertIn("no message sent", r.doc["summary"]["answers"]["would_accept"])
        self.assertNothingDelivered(s)

    def test_is_it_up(self):
        """no --from/--to: connect, banner, EHLO, QUIT only"""
        s = self.server()
        r = self.jprobe(self.target(port=s.port))
        self.assertExit(r, EXIT_OK)
        self.assertEqual(r.names(), ["connect", "banner", "ehlo", "quit"])
        self.assertIsNone(r.doc["summary"]["would_accept"])

    def test_relay_refused(self):
        """a recipient elsewhere from a client that may not relay: the
        seed's "550 5.7.1 Unable to relay", exit 10, no DATA"""
        s = self.server(networks="")
        r = self.probe(self.target(port=s.port), "--from", SENDER, "--to",
                       "someone@elsewhere.example")
        self.assertExit(r, EXIT_RCPT)
        self.assertVerdictAfter(r.out, "550 5.7.1 Unable to relay", "permanent")
        self.assertNotIn("-> DATA", r.out)
        self.assertRegex(r.out, r"would accept mail +no: 1 of 1 recipients refused: 550 5\.7\.1")
        self.assertRegex(r.out, r"result +exit 10: RCPT refused \(stopped at: rcpt\)")

    def test_sender_refused(self):
        """a malformed sender: 550 5.1.7 Invalid address, exit 9"""
        s = self.server()
        r = self.probe(self.target(port=s.port), "--from", "a@@client.test", "--to", ALICE)
        self.assertExit(r, EXIT_MAIL)
        self.assertVerdictAfter(r.out, "550 5.1.7 Invalid address", "permanent")
        self.assertIn("-> QUIT", r.out)
        self.assertNothingDelivered(s)

    def test_data_file_dot_stuffing(self):
        """--data FILE: sent as it is (LF lines become CRLF), dot-stuffed by
        the probe, stored by mailport unchanged"""
        s = self.server()
        path = os.path.join(self.make_tmpdir("msg"), "m.eml")
        body = b"first\n.hidden\n..two\n.\nlast line\n"
        with open(path, "wb") as f:
            f.write(b"From: <%s>\nTo: <%s>\nSubject: dots\n\n" % (SENDER.encode(),
                                                                  ALICE.encode()) + body)
        r = self.probe(self.target(port=s.port), "--from", SENDER, "--to", ALICE, "--data", path)
        self.assertExit(r, EXIT_OK)
        self.assertIn("-> ..hidden\n-> ...two\n-> ..\n-> last line\n-> .\n", r.out)
        _, stored = split_stored(s.wait_messages("alice")[0])
        self.assertEqual(stored, body)

    def test_message_options(self):
        """--subject, --body, --header (added, or replacing a default field)"""
        s = self.server()
        r = self.probe(self.target(port=s.port), "--from", SENDER, "--to", ALICE,
                       "--subject", "Test from Contoso", "--body",
                       "This is a test message\n.\nend\n", "--header", "X-Probe: yes",
                       "--header", "From: \"John Smith\" <jsmith@example.net>")
        self.assertExit(r, EXIT_OK)
        msg = s.wait_messages("alice")[0]
        fields = header_fields(msg)
        names = [n.lower() for n, _ in fields if n]
        self.assertEqual(names.count("from"), 1)
        f = dict((n.lower(), v) for n, v in fields if n)
        self.assertEqual(f["from"], b"\"John Smith\" <jsmith@example.net>")
        self.assertEqual(f["subject"], b"Test from Contoso")
        self.assertEqual(f["x-probe"], b"yes")
        self.assertEqual(split_stored(msg)[1], b"This is a test message\n.\nend\n")

    def test_bdat(self):
        """--bdat: the message as one BDAT LAST chunk (RFC 3030)"""
        s = self.server()
        r = self.jprobe(self.target(port=s.port), "--from", SENDER, "--to", ALICE, "--bdat")
        self.assertExit(r, EXIT_OK)
        self.assertEqual(r.names(), ["connect", "banner", "ehlo", "mail", "rcpt", "bdat", "quit"])
        b = r.steps("bdat")[0]
        self.assertRegex(b["command"], r"^BDAT \d+ LAST$")
        self.assertEqual(b["reply"]["code"], 250)
        s.wait_messages("alice")

    def test_pipelining(self):
        """--pipelining: MAIL, both RCPTs and DATA in one group"""
        s = self.server()
        r = self.jprobe(self.target(port=s.port), "--from", SENDER, "--to", ALICE, "--to",
                        "bob@example.test", "--pipelining")
        self.assertExit(r, EXIT_OK)
        self.assertEqual(r.names(), ["connect", "banner", "ehlo", "mail", "rcpt", "rcpt", "data",
                                     "dot", "quit"])
        s.wait_messages("alice")
        s.wait_messages("bob")


class MailportTLSTests(ProbeTest):
    """STARTTLS, implicit TLS and AUTH against mailport"""

    def dns_for(self, name=HOST, addr="127.0.0.1"):
        return Dnsmasq(self, a={name: addr})

    def test_starttls_verified(self):
        """STARTTLS: protocol, cipher, subject, names, issuer, expiry; the
        chain verifies against --ca and the certificate names the host
        we asked for; the banner's name resolves to the peer"""
        s = tls_server(self)
        d = self.dns_for()
        r = self.jprobe("%s:%d" % (HOST, s.port), "--dns", d.servers, "--ca", s.pki.ca,
                        "--verify", "--quit-after", "tls")
        self.assertExit(r, EXIT_OK)
        self.assertEqual(r.names(), ["resolve", "connect", "banner", "ehlo", "starttls", "tls",
                                     "ehlo", "quit"])
        t = r.doc["tls"]
        self.assertTrue(t["protocol"].startswith("TLSv1."), t)
        self.assertTrue(t["cipher"])
        self.assertIn("CN=%s" % HOST, t["subject"])
        self.assertEqual(t["names"], [HOST])
        self.assertIn("CN=mailport test CA", t["issuer"])
        self.assertRegex(t["not_after"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertIn(t["days_left"], (1, 2))
        self.assertTrue(t["verified"])
        self.assertIsNone(t["verify_error"])
        self.assertTrue(t["name_matches"])
        self.assertEqual(t["checked_name"], HOST)
        self.assertEqual(r.steps("tls")[0]["verdict"]["class"], "ok")
        self.assertNotIn("STARTTLS", r.doc["extensions"])  # the EHLO after TLS
        self.assertEqual(r.doc["host"], HOST)
        sm = r.doc["summary"]
        self.assertTrue(sm["tls"])
        self.assertEqual(sm["banner_name"], HOST)
        self.assertTrue(sm["banner_name_resolves"])
        self.assertTrue(sm["name_matches_address"])

    def test_starttls_unverified_is_a_warning(self):
        """without --verify a certificate that does not verify (unknown CA,
        the IP is not its name) is reported, not fatal"""
        s = tls_server(self)
        r = self.probe(self.target(port=s.port), "--quit-after", "tls")
        self.assertExit(r, EXIT_OK)
        self.assertRegex(r.out, r"\n   ! warning: TLSv1\.\d \S+; the certificate does NOT "
                         r"verify \(.+\) and is NOT valid for 127\.0\.0\.1")
        self.assertIn("   . name: %s\n" % HOST, r.out)
        self.assertRegex(r.out, r"   \. issuer: .*CN=mailport test CA")
        self.assertRegex(r.out, r"   \. expires: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in (1 day|2 days)\)")

    def test_verify_fails(self):
        """--verify with the system CAs: the test CA is unknown: exit 7"""
        s = tls_server(self)
        r = self.jprobe(self.target(port=s.port), "--verify", "--to", ALICE)
        self.assertExit(r, EXIT_TLS)
        self.assertEqual(r.names()[-2:], ["tls", "quit"])
        self.assertEqual(r.steps("tls")[0]["verdict"]["class"], "error")
        self.assertFalse(r.doc["tls"]["verified"])
        self.assertTrue(r.doc["tls"]["verify_error"])
        self.assertEqual(r.doc["exit_stage"], "tls")
        self.assertNothingDelivered(s)

    def test_starttls_required_but_missing(self):
        s = self.server()
        r = self.jprobe(self.target(port=s.port), "--starttls")
        self.assertExit(r, EXIT_TLS)
        st = r.steps("starttls")[0]
        self.assertIsNone(st["command"])
        self.assertEqual(st["verdict"]["class"], "error")

    def test_no_starttls(self):
        s = tls_server(self)
        r = self.jprobe(self.target(port=s.port), "--no-starttls", "--quit-after", "tls")
        self.assertExit(r, EXIT_OK)
        self.assertNotIn("starttls", r.names())
        self.assertIn("STARTTLS", r.doc["extensions"])
        self.assertIn("--no-starttls", r.doc["summary"]["answers"]["tls"])

    def test_auth_plain_password_stdin(self):
        """AUTH PLAIN after STARTTLS; the password (from stdin) never shows"""
        s = tls_server(self, auth_on_mx="yes")
        pw = PASSWORDS[ALICE]
        r = self.jprobe(self.target(port=s.port), "--ca", s.pki.ca, "--auth", ALICE,
                        "--password-stdin", "--from", ALICE, "--to", ALICE, stdin=pw + "\n")
        self.assertExit(r, EXIT_OK)
        a = r.steps("auth")
        self.assertEqual(len(a), 1)
        self.assertEqual(a[0]["command"], "AUTH PLAIN <credentials hidden>")
        self.assertEqual(a[0]["reply"]["code"], 235)
        self.assertEqual(r.doc["summary"]["auth"], "ok")
        self.assertNotIn(pw, r.out + r.err)
        import base64
        self.assertNotIn(base64.b64encode(("\0%s\0%s" % (ALICE, pw)).encode()).decode(), r.out)
        s.wait_messages("alice")

    def test_auth_login_env(self):
        """AUTH LOGIN with the password from $MAILPORT_PROBE_PASSWORD"""
        s = tls_server(self, auth_on_mx="yes")
        pw = PASSWORDS[ALICE]
        r = self.probe(self.target(port=s.port), "--auth", ALICE, "--auth-mech", "LOGIN",
                       "--quit-after", "auth", env={"MAILPORT_PROBE_PASSWORD": pw})
        self.assertExit(r, EXIT_OK)
        self.assertIn("-> AUTH LOGIN\n<- 334 VXNlcm5hbWU6\n", r.out)
        self.assertIn("-> <password hidden>\n<- 235 2.7.0 Authentication successful\n", r.out)
        self.assertNotIn(pw, r.out + r.err)

    def test_auth_refused(self):
        s = tls_server(self, auth_on_mx="yes")
        r = self.probe(self.target(port=s.port), "--auth", ALICE, "--password-stdin", "--to",
                       ALICE, stdin="wrong-password\n")
        self.assertExit(r, EXIT_AUTH)
        self.assertVerdictAfter(r.out, "535 5.7.8 Authentication credentials invalid",
                                "permanent")
        self.assertNothingDelivered(s)

    def test_auth_not_offered(self):
        """the MX port offers no AUTH by default: exit 8, nothing sent"""
        s = tls_server(self)
        r = self.jprobe(self.target(port=s.port), "--auth", ALICE, "--password-stdin",
                        stdin="x\n")
        self.assertExit(r, EXIT_AUTH)
        a = r.steps("auth")[0]
        self.assertIsNone(a["command"])
        self.assertEqual(a["verdict"]["class"], "error")

    def test_implicit_tls(self):
        """--tls: the handshake first (RFC 8314), then the banner"""
        s = tls_server(self, submissions=True)
        r = self.jprobe(self.target(port=s.subs_port), "--tls", "--ca", s.pki.ca,
                        "--quit-after", "ehlo")
        self.assertExit(r, EXIT_OK)
        self.assertEqual(r.names(), ["connect", "tls", "banner", "ehlo", "quit"])
        self.assertTrue(r.doc["tls"]["verified"])
        self.assertFalse(r.doc["tls"]["name_matches"])  # 127.0.0.1 is not its name
        self.assertEqual(r.steps("tls")[0]["verdict"]["class"], "warning")

    def test_implicit_tls_on_plain_port(self):
        """--tls against a plaintext port: the handshake fails, exit 7"""
        s = self.server()
        r = self.jprobe(self.target(port=s.port), "--tls", "--timeout", "5")
        self.assertExit(r, EXIT_TLS)
        self.assertEqual(r.steps("tls")[0]["verdict"]["class"], "error")


# ------------------------------------------------------------ against smtp-sink

class SinkTests(ProbeTest):
    """Postfix's smtp-sink, a server no one here wrote"""

    def sink(self, *opts):
        return Sink(self, "127.0.0.1", self.port, opts)

    def test_accepts(self):
        k = self.sink()
        r = self.probe(self.target(), "--from", SENDER, "--to", ALICE, "--helo", "client.test")
        self.assertExit(r, EXIT_OK)
        self.assertVerdictAfter(r.out, "220 sink ESMTP", "ok")
        self.assertIn("   . XCLIENT", r.out)
        self.assertEqual(wait_count(k.count, 1, 10), 1)

    def test_pix_banner(self):
        """-P: the greeting of a Cisco PIX doing SMTP fixup (seed 002):
        asterisks, and no ESMTP: EHLO refused, HELO works"""
        self.sink("-P")
        r = self.jprobe(self.target(), "--from", SENDER, "--to", ALICE)
        self.assertExit(r, EXIT_OK)
        b = r.steps("banner")[0]
        self.assertIn("*", b["reply"]["lines"][0])
        self.assertTrue(any("PIX" in n for n in b["notes"]), b)
        self.assertEqual(r.names()[2:4], ["ehlo", "helo"])
        self.assertFalse(r.doc["summary"]["esmtp"])
        self.assertIn("HELO", r.doc["summary"]["answers"]["supports"])

    def test_hard_reject_rcpt(self):
        self.sink("-f", "rcpt")
        r = self.probe(self.target(), "--from", SENDER, "--to", ALICE)
        self.assertExit(r, EXIT_RCPT)
        self.assertRegex(r.out, r"<- 5\d\d .*\n   x permanent: ")

    def test_soft_reject_mail(self):
        self.sink("-r", "mail")
        r = self.probe(self.target(), "--from", SENDER, "--to", ALICE)
        self.assertExit(r, EXIT_MAIL)
        self.assertRegex(r.out, r"<- 4\d\d .*\n   ! temporary: ")

    def test_421_at_data(self):
        self.sink("-Q", "data")
        r = self.probe(self.target(), "--from", SENDER, "--to", ALICE)
        self.assertExit(r, EXIT_DATA)
        self.assertRegex(r.out, r"<- 421 .*\n   ! temporary: ")

    def test_disconnect_at_ehlo(self):
        self.sink("-q", "ehlo")
        r = self.jprobe(self.target())
        self.assertExit(r, EXIT_PROTOCOL)
        e = r.steps("ehlo")[0]
        self.assertIsNone(e["reply"])
        self.assertEqual(e["verdict"]["class"], "error")
        self.assertEqual(r.doc["exit_stage"], "ehlo")


# ------------------------------------------------------- scripted server

class ExitCodeTests(ProbeTest):
    """one scripted failure per exit status"""

    def test_usage(self):
        for args in ([], ["a", "b"], ["127.0.0.1", "--port", "0"], ["127.0.0.1", "--port", "x"],
                     ["127.0.0.1", "--quit-after", "lunch"], ["127.0.0.1", "--timeout", "0"],
                     ["127.0.0.1", "--quit-after", "rcpt"], ["127.0.0.1", "--bdat"],
                     ["127.0.0.1", "--to", "a@b.example\r\nRSET"], ["127.0.0.1", "--helo", "a\nb"],
                     ["127.0.0.1", "--header", "no colon", "--to", ALICE],
                     ["127.0.0.1", "--tls", "--starttls"], ["127.0.0.1", "--bogus"],
                     ["127.0.0.1", "--password-stdin"], ["[::1", "--to", ALICE],
                     ["127.0.0.1", "--to", ALICE, "--data", "/nonexistent/file"],
                     ["127.0.0.1", "--auth-mech", "CRAM-MD5"]):
            with self.subTest(args=args):
                r = self.probe(*args)
                self.assertExit(r, EXIT_USAGE)
                self.assertIn("mailport probe", r.err)
                self.assertEqual(r.out, "")

    def test_help(self):
        r = self.probe("--help")
        self.assertExit(r, EXIT_OK)
        for opt in ("--from", "--to", "--dns", "--port", "--helo", "--starttls", "--no-starttls",
                    "--tls", "--ca", "--auth", "--password-stdin", "--mail-param",
                    "--rcpt-param", "--bdat", "--pipelining", "--header", "--subject", "--body",
                    "--data", "--quit-after", "--timeout", "--json", "--no-color"):
            self.assertIn(opt, r.out)

    def test_connect_refused(self):
        """nothing listens: exit 4, explained (service down, wrong port)"""
        r = self.jprobe(self.target())
        self.assertExit(r, EXIT_CONNECT)
        c = r.steps("connect")[0]
        self.assertEqual(c["errno"], "ECONNREFUSED")
        self.assertEqual(c["verdict"]["class"], "error")
        self.assertIn("refused", c["verdict"]["text"])
        self.assertTrue(c["verdict"]["next"])
        sm = r.doc["summary"]
        self.assertFalse(sm["up"])
        self.assertFalse(sm["port_blocked"])
        self.assertIn("refused", sm["answers"]["port_blocked"])
        self.assertIsNone(r.doc["address"])

    def test_banner_failures(self):
        """no 220: a 554 or 421 greeting, a close, silence, not SMTP"""
        cases = [("554 5.7.1 go away", "permanent"),
                 ("421 4.3.2 busy, try later", "temporary"),
                 (DROP, None), (HANG, None), (b"SSH-2.0-OpenSSH_9.2\r\n", None)]
        for spec, cls in cases:
            with self.subTest(spec=spec):
                f = self.fake(replies={"CONNECT": spec}, hang_limit=10)
                r = self.jprobe(self.target(), "--timeout", "1")
                f.stop()
                self.assertExit(r, EXIT_BANNER)
                b = r.steps("banner")[0]
                self.assertEqual(b["verdict"]["class"], cls or "error")
                self.assertFalse(r.doc["summary"]["up"])
                if cls == "permanent":
                    self.assertEqual(r.names()[-1], "quit")  # RFC 5321 3.1
                if isinstance(spec, bytes):
                    self.assertEqual(b["reply"]["lines"], ["SSH-2.0-OpenSSH_9.2"])
                    self.assertIn("SSH-2.0", b["error"])

    def test_ehlo_and_helo_refused(self):
        """the seed's "501 5.5.4 Invalid domain name" to EHLO and HELO"""
        self.fake(replies={"EHLO": "501 5.5.4 Invalid domain name",
                           "HELO": "501 5.5.4 Invalid domain name"})
        r = self.probe(self.target(), "--helo", "bad_name")
        self.assertExit(r, EXIT_EHLO)
        self.assertIn("-> EHLO bad_name\n<- 501 5.5.4 Invalid domain name\n", r.out)
        self.assertIn("-> HELO bad_name\n<- 501 5.5.4 Invalid domain name\n", r.out)
        self.assertVerdictAfter(r.out, "501 5.5.4 Invalid domain name", "permanent")

    def test_helo_fallback(self):
        f = self.fake(esmtp=False)
        r = self.jprobe(self.target(), "--from", SENDER, "--to", ALICE)
        self.assertExit(r, EXIT_OK)
        self.assertEqual(r.names(), ["connect", "banner", "ehlo", "helo", "mail", "rcpt", "data",
                                     "dot", "quit"])
        self.assertEqual(r.doc["extensions"], {})
        self.assertEqual(len(f.accepted()), 1)

    def test_tls_failures(self):
        """STARTTLS refused when required; a handshake that fails"""
        f = self.fake(ext=("STARTTLS", "PIPELINING"),
                      replies={"STARTTLS": "454 4.7.0 TLS not available due to temporary reason"})
        r = self.jprobe(self.target(), "--starttls")
        self.assertExit(r, EXIT_TLS)
        self.assertEqual(r.steps("starttls")[0]["verdict"]["class"], "temporary")
        self.assertEqual(r.names()[-1], "quit")
        # offered but not required: refused STARTTLS is a finding, not a failure
        r = self.jprobe(self.target(), "--quit-after", "tls")
        self.assertExit(r, EXIT_OK)
        self.assertIn("refused", r.doc["summary"]["answers"]["tls"])
        f.stop()
        # 220 to STARTTLS, but no TLS behind it
        self.fake(ext=("STARTTLS",), replies={"STARTTLS": "220 2.0.0 go ahead"})
        r = self.jprobe(self.target(), "--timeout", "3")
        self.assertExit(r, EXIT_TLS)
        t = r.steps("tls")[0]
        self.assertEqual(t["verdict"]["class"], "error")
        self.assertTrue(t["error"])

    def test_auth_refused(self):
        f = self.fake(ext=("AUTH PLAIN LOGIN",),
                      replies={"UNKNOWN": "535 5.7.8 Authentication credentials invalid"})
        r = self.probe(self.target(), "--auth", "joe", "--password-stdin", stdin="s3cret\n")
        self.assertExit(r, EXIT_AUTH)
        self.assertIn("-> AUTH PLAIN <credentials hidden>\n", r.out)
        self.assertVerdictAfter(r.out, "535 5.7.8 Authentication credentials invalid",
                                "permanent")
        self.assertIn("without TLS", r.out)
        self.assertIn(b"AUTH PLAIN AGpvZQBzM2NyZXQ=", f.commands())  # \0joe\0s3cret
        self.assertNotIn("s3cret", r.out)
        self.assertNotIn("AGpvZQBzM2NyZXQ=", r.out)

    def test_mail_refused(self):
        """the seed's "530 5.7.1 Client was not authenticated" to MAIL"""
        self.fake(replies={"MAIL": "530 5.7.1 Client was not authenticated"})
        r = self.probe(self.target(), "--from", SENDER, "--to", ALICE)
        self.assertExit(r, EXIT_MAIL)
        line = self.assertVerdictAfter(r.out, "530 5.7.1 Client was not authenticated",
                                       "permanent")
        self.assertIn("authenticat", line.lower())
        self.assertNotIn("-> RCPT", r.out)

    def test_rcpt_refused_one_of_two(self):
        """one recipient refused: both RCPTs tried, no DATA, exit 10"""
        f = self.fake(replies={"RCPT": per_rcpt({"nobody@example.test":
                                                 "550 5.1.1 User unknown"})})
        r = self.jprobe(self.target(), "--from", SENDER, "--to", ALICE, "--to",
                        "nobody@example.test")
        self.assertExit(r, EXIT_RCPT)
        self.assertEqual(r.names(), ["connect", "banner", "ehlo", "mail", "rcpt", "rcpt", "quit"])
        sm = r.doc["summary"]
        self.assertEqual((sm["recipients_accepted"], sm["recipients_refused"]), (1, 1))
        self.assertFalse(sm["would_accept"])
        self.assertFalse(any(c.startswith(b"DATA") for c in f.commands()))

    def test_pipelined_refusal_abandons_data(self):
        """pipelined: a refused RCPT and DATA already answered 354: the
        probe drops the connection instead of sending a message"""
        f = self.fake(replies={"RCPT": per_rcpt({"nobody@example.test":
                                                 "550 5.1.1 User unknown"})})
        r = self.jprobe(self.target(), "--from", SENDER, "--to", ALICE, "--to",
                        "nobody@example.test", "--pipelining")
        self.assertExit(r, EXIT_RCPT)
        self.assertEqual(r.names(), ["connect", "banner", "ehlo", "mail", "rcpt", "rcpt", "data"])
        self.assertEqual(r.steps("data")[0]["reply"]["code"], 354)
        time.sleep(0.3)
        self.assertEqual(f.accepted(), [])

    def test_data_refused(self):
        for key, reply in (("DATA", "554 5.5.1 Error: no valid recipients"),
                           ("DOT", "552 5.3.4 Message size exceeds fixed limit"),
                           ("DATA", "451 4.3.0 Local error in processing")):
            with self.subTest(key=key, reply=reply):
                f = self.fake(replies={key: reply})
                r = self.jprobe(self.target(), "--from", SENDER, "--to", ALICE)
                f.stop()
                self.assertExit(r, EXIT_DATA)
                st = r.steps("dot" if key == "DOT" else "data")[0]
                self.assertEqual(st["reply"]["lines"], [reply])
                self.assertEqual(st["verdict"]["class"],
                                 "temporary" if reply[0] == "4" else "permanent")
                self.assertEqual(r.names()[-1], "quit")

    def test_bdat_without_chunking(self):
        """--bdat to a server without CHUNKING: nothing is sent, exit 11"""
        f = self.fake()
        r = self.jprobe(self.target(), "--from", SENDER, "--to", ALICE, "--bdat")
        self.assertExit(r, EXIT_DATA)
        b = r.steps("bdat")[0]
        self.assertIsNone(b["command"])
        self.assertIn("CHUNKING", b["verdict"]["text"])
        self.assertFalse(any(c.startswith(b"BDAT") for c in f.commands()))

    def test_protocol_errors(self):
        """no reply in time, a malformed reply, a close mid-session: 13"""
        cases = [("MAIL", HANG, "mail"),
                 ("MAIL", b"250-ok\r\n251 the code changed\r\n", "mail"),
                 ("RCPT", DROP, "rcpt"),
                 ("DOT", HANG, "dot")]
        for key, spec, stage in cases:
            with self.subTest(key=key, spec=spec):
                f = self.fake(replies={key: spec}, hang_limit=10)
                r = self.jprobe(self.target(), "--from", SENDER, "--to", ALICE, "--timeout", "1")
                f.stop()
                self.assertExit(r, EXIT_PROTOCOL)
                self.assertEqual(r.doc["exit_stage"], stage)
                st = r.steps(stage)[0]
                self.assertEqual(st["verdict"]["class"], "error")
                self.assertTrue(st["error"] or st["verdict"]["text"])
                if isinstance(spec, bytes):
                    self.assertIn("251 the code changed", st["error"])


class SeedReplyTests(ProbeTest):
    """the replies the seed guides list, each with its verdict line"""

    SEEDS = [
        # (command key, reply, class, exit status, words the verdict should hold)
        ("CONNECT", "220 mail.company.com Microsoft ESMTP MAIL Service, Version: 6.0.3790.3959 "
         "ready at  Sun, 5 Apr 2009 21:36:57 +0200", "ok", EXIT_OK, ()),
        ("CONNECT", "220 This is the example.com mailserver. How you doin'?", "ok", EXIT_OK, ()),
        ("MAIL", "250 2.1.0 Sender OK", "ok", EXIT_OK, ()),
        ("MAIL", "530 5.7.1 Client was not authenticated", "permanent", EXIT_MAIL,
         ("authenticat",)),
        ("MAIL", "550 5.1.7 Invalid address", "permanent", EXIT_MAIL, ("sender",)),
        ("MAIL", "503 5.5.2 Send hello first", "permanent", EXIT_MAIL, ()),
        ("MAIL", "500 5.3.3 Unrecognized command", "permanent", EXIT_MAIL, ()),
        ("MAIL", "421 4.7.0 Too many errors on this connection, closing transmission channel",
         "temporary", EXIT_MAIL, ()),
        ("RCPT", "250 2.1.5 Recipient OK", "ok", EXIT_OK, ()),
        ("RCPT", "550 5.1.1 User unknown", "permanent", EXIT_RCPT, ()),
        ("RCPT", "550 5.7.1 Unable to relay", "permanent", EXIT_RCPT, ("relay",)),
        ("RCPT", "501 5.5.4 Invalid arguments", "permanent", EXIT_RCPT, ()),
        ("RCPT", "501 5.5.4 Unrecognized parameter", "permanent", EXIT_RCPT, ()),
        ("RCPT", "503 5.5.2 Need mail command", "permanent", EXIT_RCPT, ()),
        ("DATA", "354 Start mail input; end with <CRLF>.<CRLF>", "ok", EXIT_OK, ()),
        ("DATA", "503 5.5.2 Need rcpt command", "permanent", EXIT_DATA, ()),
        ("DOT", "250 2.6.0 <GUID> Queued mail for delivery", "ok", EXIT_OK, ()),
        ("DOT", "250 Mail queued for delivery.", "ok", EXIT_OK, ()),
        ("QUIT", "221 2.0.0 Service closing transmission channel", "ok", EXIT_OK, ()),
        ("QUIT", "221 Closing connection. Good bye.", "ok", EXIT_OK, ()),
    ]

    def test_seed_replies(self):
        f = self.fake()
        for key, reply, cls, code, words in self.SEEDS:
            with self.subTest(reply=reply):
                f.replies = {key: reply}
                r = self.probe(self.target(), "--from", SENDER, "--to", ALICE,
                               "--rcpt-param", "NOTIFY=SUCCESS,FAILURE")
                self.assertExit(r, code)
                line = self.assertVerdictAfter(r.out, reply, cls)
                for w in words:
                    self.assertIn(w, line.lower())

    def test_banner_names(self):
        """the name a banner claims, or that it claims none"""
        f = self.fake()
        f.replies = {"CONNECT": self.SEEDS[1][1]}
        r = self.jprobe(self.target(), "--quit-after", "banner")
        self.assertIsNone(r.doc["summary"]["banner_name"])
        self.assertTrue(any("fully qualified" in n for n in r.steps("banner")[0]["notes"]))
        f.replies = {"CONNECT": self.SEEDS[0][1]}
        r = self.jprobe(self.target(), "--quit-after", "banner")
        self.assertEqual(r.doc["summary"]["banner_name"], "mail.company.com")

    def test_utf8_mark(self):
        """a UTF-8 locale gets the check mark, others an "x" """
        f = self.fake(replies={"RCPT": "550 5.1.1 User unknown"})
        r = self.probe(self.target(), "--to", ALICE, env={"LC_ALL": "C.UTF-8"})
        self.assertIn("\n   \u2717 permanent: ", r.out)
        f.replies = {"RCPT": "550 5.1.1 User unknown"}
        r = self.probe(self.target(), "--to", ALICE)
        self.assertIn("\n   x permanent: ", r.out)


class OptionTests(ProbeTest):
    """what the options put on the wire"""

    def test_params(self):
        """--mail-param and --rcpt-param: any ESMTP parameter, as given"""
        f = self.fake()
        r = self.probe(self.target(), "--from", SENDER, "--to", ALICE, "--mail-param", "SIZE=1000",
                       "--mail-param", "RET=HDRS", "--mail-param", "ENVID=probe1",
                       "--rcpt-param", "NOTIFY=SUCCESS,FAILURE",
                       "--rcpt-param", "ORCPT=rfc822;alice@example.test")
        self.assertExit(r, EXIT_OK)
        cmds = f.commands()
        self.assertIn(b"MAIL FROM:<%s> SIZE=1000 RET=HDRS ENVID=probe1" % SENDER.encode(), cmds)
        self.assertIn(b"RCPT TO:<%s> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;alice@example.test"
                      % ALICE.encode(), cmds)

    def test_xtext_params(self):
        """ENVID and ORCPT values are xtext-encoded unless they already are"""
        f = self.fake()
        r = self.probe(self.target(), "--from", SENDER, "--to", "a+b@example.test",
                       "--mail-param", "ENVID=id=1", "--rcpt-param", "ORCPT=rfc822;a+b@example.test",
                       "--quit-after", "rcpt")
        self.assertExit(r, EXIT_OK)
        cmds = f.commands()
        self.assertIn(b"MAIL FROM:<%s> ENVID=id+3D1" % SENDER.encode(), cmds)
        self.assertIn(b"RCPT TO:<a+b@example.test> ORCPT=rfc822;a+2Bb@example.test", cmds)
        r = self.probe(self.target(), "--to", ALICE, "--rcpt-param",
                       "ORCPT=rfc822;a+2Bb@example.test", "--quit-after", "rcpt")
        self.assertIn(b"RCPT TO:<%s> ORCPT=rfc822;a+2Bb@example.test" % ALICE.encode(),
                      f.commands())

    def test_null_sender(self):
        f = self.fake()
        r = self.probe(self.target(), "--from", "", "--to", ALICE)
        self.assertExit(r, EXIT_OK)
        self.assertIn(b"MAIL FROM:<>", f.commands())

    def test_pipelining_on_the_wire(self):
        f = self.fake(detect_pipelining=True)
        r = self.probe(self.target(), "--from", SENDER, "--to", ALICE, "--pipelining")
        self.assertExit(r, EXIT_OK)
        self.assertTrue(f.wait_sessions(1)[0].pipelined)
        f2 = FakeMX(self, "127.0.0.2", self.port, detect_pipelining=True)
        r = self.probe(self.target("127.0.0.2"), "--from", SENDER, "--to", ALICE)
        self.assertExit(r, EXIT_OK)
        self.assertFalse(f2.wait_sessions(1)[0].pipelined)

    def test_pipelining_not_offered(self):
        f = self.fake(ext=("SIZE 1000000",), detect_pipelining=True)
        r = self.probe(self.target(), "--from", SENDER, "--to", ALICE, "--pipelining")
        self.assertExit(r, EXIT_OK)
        self.assertIn("does not offer PIPELINING", r.out)
        self.assertFalse(f.wait_sessions(1)[0].pipelined)

    def test_data_on_the_wire(self):
        """dot-stuffing (RFC 5321 4.5.2) and CRLF line ends, as sent"""
        f = self.fake()
        r = self.probe(self.target(), "--from", SENDER, "--to", ALICE, "--data", "-",
                       stdin=b"Subject: x\n\n.a\nb\r\n.\n")
        self.assertExit(r, EXIT_OK)
        t = f.accepted()[0]
        self.assertEqual(t.data, b"Subject: x\r\n\r\n..a\r\nb\r\n..\r\n")

    def test_starttls_discards_injected_bytes(self):
        """bytes the server sends after its 220 to STARTTLS never count as
        a reply inside TLS (CVE-2011-0411, the client's side)"""
        pki = make_pki(self)
        self.fake(tls=server_ctx(pki.cert, pki.key),
                  replies={"STARTTLS": b"220 2.0.0 Ready to start TLS\r\n"
                                       b"250-injected\r\n250 injected\r\n"})
        r = self.jprobe(self.target(), "--ca", pki.ca, "--quit-after", "tls")
        self.assertExit(r, EXIT_OK)
        t = r.steps("tls")[0]
        self.assertTrue(any("discarded 28 bytes" in n for n in t["notes"]), t)
        ehlo2 = r.steps("ehlo")[1]
        self.assertEqual(ehlo2["reply"]["lines"][0], "250-fakemx.test")
        self.assertTrue(r.doc["tls"]["verified"])

    def test_color_on_a_terminal(self):
        """colours on a terminal (sent cyan, 2xx green, 5xx red), none
        with --no-color or when piped"""
        self.fake(replies={"RCPT": "550 5.1.1 User unknown"})
        _, out = self.run_pty([binary(), "probe", "--dns", NO_DNS, self.target(), "--to", ALICE])
        self.assertIn("\033[36m-> EHLO", out)
        self.assertIn("\033[32m<- 250", out)
        self.assertIn("\033[31m<- 550 5.1.1 User unknown", out)
        _, out = self.run_pty([binary(), "probe", "--dns", NO_DNS, self.target(), "--no-color"])
        self.assertNotIn("\033[", out)
        self.assertNotIn("\033[", self.probe(self.target()).out)


# ------------------------------------------------------------------- DNS

class DNSTests(ProbeTest):
    """domain targets through a dnsmasq on loopback"""

    def test_mx_walk(self):
        """MX hosts in preference order until one answers; the banner name
        and the PTR of the peer checked against each other"""
        d = Dnsmasq(self, mx={"walk.test": [(20, "mx2.walk.test"), (10, "mx1.walk.test")]},
                    a={"mx1.walk.test": "127.0.0.2", "mx2.walk.test": "127.0.0.3"})
        f = self.fake("127.0.0.3", name="mx2.walk.test")
        r = self.jprobe("walk.test", "--dns", d.servers, "--port", self.port, "--to", ALICE)
        self.assertExit(r, EXIT_OK)
        self.assertEqual(r.names()[:3], ["resolve", "connect", "connect"])
        c1, c2 = r.steps("connect")
        self.assertEqual(c1["errno"], "ECONNREFUSED")
        self.assertEqual(c2["verdict"]["class"], "ok")
        self.assertEqual([(h["name"], h["preference"], h["addresses"]) for h in r.doc["resolved"]],
                         [("mx1.walk.test", 10, ["127.0.0.2"]),
                          ("mx2.walk.test", 20, ["127.0.0.3"])])
        self.assertEqual(r.doc["kind"], "domain")
        self.assertEqual(r.doc["host"], "mx2.walk.test")
        self.assertEqual(r.doc["address"], "127.0.0.3")
        sm = r.doc["summary"]
        self.assertEqual(sm["banner_name"], "mx2.walk.test")
        self.assertTrue(sm["name_matches_address"])
        self.assertEqual(sm["ptr"], ["mx2.walk.test"])
        self.assertTrue(sm["ptr_matches_banner"])
        self.assertTrue(sm["fcrdns"])
        self.assertEqual(len(f.accepted()), 1)

    def test_banner_name_mismatch(self):
        d = Dnsmasq(self, a={"mx.other.test": "127.0.0.9", "real.walk.test": "127.0.0.4"})
        self.fake("127.0.0.4", name="mx.other.test")
        r = self.jprobe("127.0.0.4:%d" % self.port, "--dns", d.servers, "--quit-after", "banner")
        self.assertExit(r, EXIT_OK)
        sm = r.doc["summary"]
        self.assertEqual(sm["banner_name"], "mx.other.test")
        self.assertTrue(sm["banner_name_resolves"])
        self.assertFalse(sm["name_matches_address"])
        self.assertEqual(sm["ptr"], ["real.walk.test"])
        self.assertFalse(sm["ptr_matches_banner"])
        self.assertTrue(any("not to 127.0.0.4" in n for n in r.steps("banner")[0]["notes"]))

    def test_implicit_mx(self):
        """no MX: the domain's own address (RFC 5321 5.1)"""
        d = Dnsmasq(self, a={"plain.test": "127.0.0.5"})
        self.fake("127.0.0.5")
        r = self.jprobe("plain.test", "--dns", d.servers, "--port", self.port)
        self.assertExit(r, EXIT_OK)
        self.assertTrue(r.doc["resolved"][0]["implicit"])
        self.assertTrue(any("implicit MX" in n for n in r.steps("resolve")[0]["notes"]))

    def test_host_target_skips_mx(self):
        """host:port (or [host]) means that host: no MX lookup"""
        d = Dnsmasq(self, mx={"h.walk.test": [(10, "elsewhere.walk.test")]},
                    a={"h.walk.test": "127.0.0.6", "elsewhere.walk.test": "127.0.0.7"})
        self.fake("127.0.0.6")
        r = self.jprobe("h.walk.test:%d" % self.port, "--dns", d.servers)
        self.assertExit(r, EXIT_OK)
        self.assertEqual(r.doc["kind"], "host")
        self.assertEqual(r.doc["address"], "127.0.0.6")
        r = self.jprobe("[h.walk.test]", "--port", self.port, "--dns", d.servers)
        self.assertExit(r, EXIT_OK)
        self.assertEqual(r.doc["address"], "127.0.0.6")

    def test_dns_failures(self):
        """NXDOMAIN, null MX (RFC 7505), no address: exit 3, explained"""
        d = Dnsmasq(self, null_mx=["nullmx.test"], txt={"noaddr.test": "x"},
                    servfail={"broken.test": {}})
        for dom, status, cls in (("nosuch.test", "nxdomain", "permanent"),
                                 ("nullmx.test", "nullmx", "permanent"),
                                 ("noaddr.test", "noaddr", "permanent"),
                                 ("broken.test", "tempfail", "temporary")):
            with self.subTest(domain=dom):
                r = self.jprobe(dom, "--dns", d.servers, "--timeout", "5")
                self.assertExit(r, EXIT_DNS)
                self.assertEqual(r.doc["resolve_status"], status)
                self.assertEqual(r.names(), ["resolve"])
                st = r.steps("resolve")[0]
                self.assertEqual(st["verdict"]["class"], cls)
                self.assertTrue(st["verdict"]["text"])
                self.assertEqual(r.doc["resolved"], [])
                self.assertFalse(r.doc["summary"]["up"])

    def test_ipv6_target(self):
        from harness import have_ipv6
        if not have_ipv6():
            self.skipTest("skipped: no IPv6 on loopback")
        self.fake("::1")
        for t in ("[::1]:%d" % self.port, "::1"):
            with self.subTest(target=t):
                args = [t] if t.startswith("[") else [t, "--port", self.port]
                r = self.jprobe(*args, "--quit-after", "ehlo")
                self.assertExit(r, EXIT_OK)
                self.assertEqual(r.doc["address"], "::1")
