"""test_probe_interactive - `mailport probe -i TARGET` (issue 8,
src/probe/interactive.c): the telnet session, humane.

Through a pseudo-terminal (Python's pty, the way a person types): line
editing (a typo fixed with backspace) and history (the up arrow), EHLO,
MAIL, RCPT, DATA typed line by line with the dot-stuffing done by the
probe, ".", QUIT, every reply explained, and the message delivered by
mailport; STARTTLS upgrading the session in place against a TLS server
(tlsutil.tls_server) with the certificate shown, then the AUTH PLAIN
helper asking for the password without echoing it; Ctrl-D; help.
With stdin not a terminal (a pipe): the same session line by line, AUTH
LOGIN with the base64 done for us, a typed answer to a 334 hidden, the end
of input inside a message (nothing delivered), the server dropping the
connection (exit 13), and -i with --json refused (exit 2).
"""

import base64
import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time

from fakemx import DROP
from harness import HOST, NO_DNS, SAN_PATTERNS, binary, split_stored
from test_probe import ProbeTest
from tlsutil import PASSWORDS, tls_server

ALICE = "alice@example.test"
SENDER = "sender@example.net"
WAIT = 30.0
UP = "\x1b[A"      # the up arrow (xterm)
ERASE = "\x7f"     # the terminal's erase character (DEL)


class Pty:
    """Pty - the probe on a pseudo-terminal: type into it, wait for what
    it prints (its output with CRLF made LF)"""

    def __init__(self, tc, argv, env):
        self.tc = tc
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
        self.p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                  close_fds=True, start_new_session=True)
        os.close(slave)
        self.raw = b""
        self.pos = 0
        tc.addCleanup(self.close)

    @property
    def out(self):
        return self.raw.replace(b"\r\n", b"\n").decode("utf-8", "replace")

    def _read(self, timeout):
        r, _, _ = select.select([self.master], [], [], timeout)
        if not r:
            return False
        try:
            d = os.read(self.master, 65536)
        except OSError:
            d = b""
        if not d:
            return None
        self.raw += d
        return True

    def expect(self, pattern, timeout=WAIT):
        """expect - wait until pattern (a regex) shows after the last match"""
        deadline = time.monotonic() + timeout
        while True:
            m = re.compile(pattern).search(self.out, self.pos)
            if m:
                self.pos = m.end()
                return m
            left = deadline - time.monotonic()
            if left <= 0 or self._read(min(left, 0.5)) is None:
                self.tc.fail("%r not seen; output:\n%s" % (pattern, self.out))

    def ready(self, secret=False, timeout=WAIT):
        """ready - wait until the probe reads the terminal: libedit's raw
        mode (ICANON off), or echo off for a password.  Keys typed before
        that would be echoed by the terminal and a Ctrl-D taken as the
        end of a cooked line, as when a person types ahead."""
        bit = termios.ECHO if secret else termios.ICANON
        deadline = time.monotonic() + timeout
        while termios.tcgetattr(self.master)[3] & bit:
            if time.monotonic() > deadline:
                self.tc.fail("the terminal never left %s mode" % ("echo" if secret else
                                                                   "cooked"))
            time.sleep(0.01)

    def type(self, text, secret=False):
        self.ready(secret)
        os.write(self.master, text.encode())

    def line(self, text, then=r"smtp(/tls)?> $", secret=False):
        """line - type text and Enter, wait for the next prompt"""
        self.type(text + "\r", secret)
        return self.expect(then)

    def finish(self, timeout=WAIT):
        """finish - the exit status once the probe ends"""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._read(0.2) is not None:
            if self.p.poll() is not None and not self._read(0.1):
                break
        rc = self.p.wait(max(1, deadline - time.monotonic()))
        for pat in SAN_PATTERNS:
            self.tc.assertNotIn(pat.decode(), self.out)
        return rc

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(5)
        try:
            os.close(self.master)
        except OSError:
            pass


class InteractiveTest(ProbeTest):

    def tty(self, target, *args):
        argv = [binary(), "probe", "-i", target, "--dns", NO_DNS, "--no-color"] + list(args)
        t = Pty(self, argv, self.env({"TERM": "xterm", "HOME": self.make_tmpdir("home")}))
        t.expect(r"smtp> $")
        return t

    def piped(self, target, text, *args):
        r = self.probe("-i", target, *args, stdin=text)
        return r


class TerminalTests(InteractiveTest):

    def test_session_by_hand(self):
        """the seeds' telnet session typed through a terminal: a typo
        fixed with backspace, a line recalled with the up arrow, the
        message typed line by line (dot-stuffed for us), every reply shown
        and explained, QUIT; mailport delivers the message"""
        s = self.server()
        t = self.tty(self.target(port=s.port))
        self.assertIn("<- 220 %s ESMTP ready\n   = ok: " % HOST, t.out)
        t.line("EHLO client.tesX" + ERASE + "t")
        self.assertIn("-> EHLO client.test\n<- 250-%s Hello" % HOST, t.out)
        self.assertRegex(t.out, r"   \. SIZE 36700160: .+")
        t.line("NOOP")
        t.line(UP)
        self.assertEqual(t.out.count("-> NOOP\n<- 250"), 2, t.out)
        t.line("MAIL FROM:<%s>" % SENDER)
        self.assertIn("<- 250 2.1.0 Sender OK\n   = ok: the server accepts this sender", t.out)
        t.line("RCPT TO:<%s>" % ALICE)
        t.line("DATA", then=r"data> $")
        self.assertIn("<- 354 ", t.out)
        for l in ("Subject: typed by hand", "", "Hello from the terminal.", ".hidden dot", ".."):
            t.line(l, then=r"data> $")
        t.line(".")
        self.assertIn("data> .hidden dot\n-> ..hidden dot\ndata> ..\n-> ...\ndata> .\n-> .\n"
                      "<- 250 2.6.0 <", t.out)
        self.assertRegex(t.out, r"Queued mail for delivery\n   = ok: the message was accepted")
        t.type("QUIT\r")
        t.expect(r"<- 221 2\.0\.0 .*\n   = ok: ")
        self.assertEqual(t.finish(), 0, t.out)
        _, body = split_stored(s.wait_messages("alice")[0])
        self.assertEqual(body, b"Hello from the terminal.\n.hidden dot\n..\n")
        self.assertIn(b"Subject: typed by hand", s.messages("alice")[0])

    def test_ctrl_d_and_help(self):
        """? prints the help (nothing sent); Ctrl-D sends QUIT and ends"""
        f = self.fake()
        t = self.tty(self.target())
        t.line("?")
        self.assertIn("STARTTLS  upgrades this session", t.out)
        t.type("\x04")
        t.expect(r"-> QUIT\n<- 221 ")
        self.assertEqual(t.finish(), 0, t.out)
        self.assertEqual([c for c in f.commands()], [b"QUIT"])
        self.assertEqual(f.sessions[0].closed, "quit")

    def test_starttls_in_place_and_auth_plain(self):
        """STARTTLS upgrades the session (the certificate shown), EHLO
        again, then AUTH PLAIN asks for the user and the password, which is
        not echoed and never shown"""
        s = tls_server(self, auth_on_mx="yes")
        pw = PASSWORDS[ALICE]
        t = self.tty(self.target(port=s.port), "--ca", s.pki.ca)
        t.line("EHLO client.test")
        self.assertIn("   . STARTTLS: ", t.out)
        t.line("STARTTLS", then=r"smtp/tls> $")
        out = t.out
        self.assertIn("-> STARTTLS\n<- 220 2.0.0 Ready to start TLS\n", out)
        self.assertRegex(out, r"   \. subject: .*CN=%s" % re.escape(HOST))
        self.assertIn("   . name: %s\n" % HOST, out)
        self.assertRegex(out, r"   \. issuer: .*CN=mailport test CA")
        self.assertRegex(out, r"   \. expires: \d{4}-\d\d-\d\dT")
        self.assertIn("   . chain: verified against %s" % s.pki.ca, out)
        self.assertRegex(out, r"\*\* TLS is on \(TLSv1\.\d, \S+\)\. Say EHLO again")
        mark = len(out)
        t.line("EHLO client.test")
        after = t.out[mark:]
        self.assertNotIn("STARTTLS:", after)
        self.assertIn("   . AUTH PLAIN LOGIN: ", after)
        t.line("AUTH PLAIN", then=r"Username: $")
        t.line(ALICE, then=r"Password: $")
        t.line(pw, then=r"smtp/tls> $", secret=True)
        self.assertIn("-> AUTH PLAIN <credentials hidden>\n<- 235 2.7.0 Authentication "
                      "successful\n", t.out)
        t.line("QUIT", then=r"<- 221 ")
        self.assertEqual(t.finish(), 0, t.out)
        self.assertNotIn(pw, t.out)
        self.assertNotIn(base64.b64encode(("\0%s\0%s" % (ALICE, pw)).encode()).decode(), t.out)


class PipedTests(InteractiveTest):

    def test_session_from_a_pipe(self):
        """stdin not a terminal: the lines one by one, no prompts"""
        s = self.server()
        r = self.piped(self.target(port=s.port),
                       "EHLO client.test\nMAIL FROM:<%s>\nRCPT TO:<%s>\nDATA\nSubject: piped\n"
                       "\n.leading\nlast\n.\nQUIT\n" % (SENDER, ALICE))
        self.assertExit(r, 0)
        self.assertNotIn("smtp> ", r.out)
        self.assertIn("-> DATA\n<- 354 ", r.out)
        self.assertIn("-> Subject: piped\n-> \n-> ..leading\n-> last\n-> .\n<- 250 2.6.0 ", r.out)
        self.assertIn("-> QUIT\n<- 221 ", r.out)
        _, body = split_stored(s.wait_messages("alice")[0])
        self.assertEqual(body, b".leading\nlast\n")

    def test_end_of_input_quits(self):
        """the end of the input is Ctrl-D: QUIT"""
        f = self.fake()
        r = self.piped(self.target(), "EHLO client.test\n")
        self.assertExit(r, 0)
        self.assertEqual(f.commands(), [b"EHLO client.test", b"QUIT"])

    def test_auth_login_helper(self):
        """AUTH LOGIN: the 334 challenges decoded, the user name and the
        password sent in base64, the password hidden"""
        s = tls_server(self, auth_on_mx="yes")
        pw = PASSWORDS[ALICE]
        r = self.piped(self.target(port=s.port), "EHLO client.test\nSTARTTLS\nEHLO client.test\n"
                       "AUTH LOGIN\n%s\n%s\nQUIT\n" % (ALICE, pw))
        self.assertExit(r, 0)
        self.assertIn("-> AUTH LOGIN\n<- 334 VXNlcm5hbWU6\n", r.out)
        self.assertIn('   . the challenge is base64 for "Username:"', r.out)
        self.assertIn("-> %s\n<- 334 UGFzc3dvcmQ6\n" % base64.b64encode(ALICE.encode()).decode(),
                      r.out)
        self.assertIn("-> <password hidden>\n<- 235 2.7.0 Authentication successful\n", r.out)
        self.assertNotIn(pw, r.out + r.err)
        self.assertNotIn(base64.b64encode(pw.encode()).decode(), r.out)

    def test_typed_sasl_answer_is_hidden(self):
        """AUTH LOGIN with an initial response typed by hand: the line
        answering the 334 is sent as typed but shown hidden"""
        s = tls_server(self, auth_on_mx="yes")
        pw = PASSWORDS[ALICE]
        b64pw = base64.b64encode(pw.encode()).decode()
        r = self.piped(self.target(port=s.port), "EHLO c.test\nSTARTTLS\nEHLO c.test\n"
                       "AUTH LOGIN %s\n%s\nQUIT\n" % (base64.b64encode(ALICE.encode()).decode(),
                                                     b64pw))
        self.assertExit(r, 0)
        self.assertIn("-> AUTH LOGIN <credentials hidden>\n<- 334 UGFzc3dvcmQ6\n", r.out)
        self.assertIn("-> <response hidden>\n<- 235 ", r.out)
        self.assertNotIn(b64pw, r.out)

    def test_end_of_input_inside_data(self):
        """the input ends inside a message: the connection is dropped, the
        server discards the message"""
        f = self.fake()
        r = self.piped(self.target(), "EHLO client.test\nMAIL FROM:<%s>\nRCPT TO:<%s>\nDATA\n"
                       "Subject: never sent\n" % (SENDER, ALICE))
        self.assertExit(r, 0)
        self.assertIn("** end of input inside the message: closing the connection", r.out)
        f.wait_sessions(1)
        time.sleep(0.3)
        self.assertEqual(f.accepted(), [])
        self.assertEqual(f.sessions[0].closed, "eof")

    def test_server_drops_the_connection(self):
        f = self.fake(replies={"NOOP": DROP})
        r = self.piped(self.target(), "NOOP\nQUIT\n")
        self.assertExit(r, 13)
        self.assertIn("** the server closed the connection", r.out)
        self.assertNotIn(b"QUIT", f.commands())

    def test_bdat_refused_locally(self):
        f = self.fake()
        r = self.piped(self.target(), "BDAT 5 LAST\nQUIT\n")
        self.assertExit(r, 0)
        self.assertIn("BDAT wants its chunk's bytes", r.out)
        self.assertEqual(f.commands(), [b"QUIT"])

    def test_usage(self):
        for args in (["--json"], ["--relay-test"], ["--to", ALICE], ["--auth", ALICE]):
            with self.subTest(args=args):
                r = self.probe("-i", self.target(), *args)
                self.assertExit(r, 2)
                self.assertIn("-i is a session you type", r.err)
