"""test_sendmail - the local submission path: the Unix socket
<spool>/sendmail.sock (SMTP for local users, relay allowed, Received: "from
<helo> (uid N)") and the `mailport sendmail` command (also as a symlink named
sendmail) with -t, -i, -f, -F, $MAILPORT_CONFIG, and its sysexits.h exit
codes (0, 64 usage, 67 recipient rejected, 69 other 5xx, 75 temporary or no
daemon).  While `mailport sendmail` is not built in yet ("unknown command"),
its tests are skipped.
"""

import os
import re
import subprocess

from harness import (R_RCPT_OK, R_SENDER_OK, SAN_PATTERNS, MailportTest, binary, header_fields,
                     message, split_stored, wait_for)
from tlsutil import (ALICE, PASSWORDS, R_AUTH_UNAVAILABLE, ehlo_keywords, plain, tls_server,
                     unix_client)

_AVAILABLE = None


def sendmail_available():
    """sendmail_available - (True, "") or (False, why)"""
    global _AVAILABLE
    if _AVAILABLE is None:
        env = dict(os.environ, MAILPORT_CONFIG="/nonexistent/mailport.conf")
        try:
            r = subprocess.run([binary(), "sendmail"], input=b"", capture_output=True,
                               env=env, timeout=30)
            out = (r.stdout + r.stderr).decode("utf-8", "replace")
            if "unknown command" in out:
                _AVAILABLE = (False, "`mailport sendmail` not implemented yet (unknown command)")
            else:
                _AVAILABLE = (True, "")
        except subprocess.TimeoutExpired:
            _AVAILABLE = (True, "")  # it exists; the tests will show what hangs
        except OSError as e:
            _AVAILABLE = (False, "cannot run %s: %s" % (binary(), e))
    return _AVAILABLE


class LocalSocketTests(MailportTest):
    """the socket itself, spoken to directly"""

    def sock_path(self, s):
        return os.path.join(s.spool, "sendmail.sock")

    def test_socket_session_relays_and_records_uid(self):
        s = self.server(networks="")
        c = unix_client(self.sock_path(s))
        self.on_teardown(c.close)
        self.assertEqual(c.banner.code, 220, c.banner)
        c.ehlo("localclient")
        self.assertCmd(c, b"MAIL FROM:<root@example.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<carol@foreign.test>", 250, R_RCPT_OK)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        qid = self.assertQueued(c.data(message("local socket")))
        c.cmd(b"QUIT")
        m = s.wait_messages("alice")[0]
        self.assertRegex(m, rb"\nReceived: from localclient \(uid %d\)" % os.getuid())
        self.assertIn(qid, s.queue_files(), "the relayed recipient must stay queued")

    def test_no_auth_on_local_socket(self):
        s = tls_server(self, allow_plaintext_auth="yes")
        c = unix_client(self.sock_path(s))
        self.on_teardown(c.close)
        r = c.ehlo("localclient")
        self.assertFalse(any(k.startswith("AUTH") for k in ehlo_keywords(r)), r)
        self.assertCmd(c, "AUTH PLAIN " + plain(ALICE, PASSWORDS[ALICE]), 503, R_AUTH_UNAVAILABLE)
        self.assertCmd(c, b"NOOP", 250, "2.0.0 OK")


class SendmailTests(MailportTest):

    def setUp(self):
        super().setUp()
        ok, why = sendmail_available()
        if not ok:
            self.skipTest("skipped: " + why)

    def sendmail(self, s, args, stdin, argv0=None, config=None, timeout=60):
        """sendmail - run `mailport sendmail ARGS` (or argv0 ARGS) with the
        message on stdin and MAILPORT_CONFIG set; returns (rc, stdout+stderr)"""
        env = s.env()
        env["MAILPORT_CONFIG"] = config or s.conf_path
        argv = ([argv0] if argv0 else [binary(), "sendmail"]) + list(args)
        if isinstance(stdin, str):
            stdin = stdin.encode()
        r = subprocess.run(argv, input=stdin, capture_output=True, env=env, timeout=timeout,
                           cwd=self.tmproot())
        out = r.stdout + r.stderr
        for p in SAN_PATTERNS:
            self.assertNotIn(p, out, "sanitizer report from sendmail:\n%s"
                             % out.decode("utf-8", "replace"))
        return r.returncode, out.decode("utf-8", "replace")

    def fields(self, m, name):
        return [v for n, v in header_fields(m) if n and n.lower() == name.lower()]

    def test_basic(self):
        s = self.server()
        rc, out = self.sendmail(s, ["alice@example.test"], "Subject: x\n\nbody\n")
        self.assertEqual(rc, 0, out)
        m = s.wait_messages("alice")[0]
        self.assertTrue(m.startswith(b"Return-Path: <"), m[:200])
        self.assertRegex(m, rb"\nReceived: from \S+ \(uid %d\)" % os.getuid())
        self.assertEqual(self.fields(m, "Subject"), [b"x"])
        self.assertEqual(split_stored(m)[1], b"body\n")
        self.assertEqual(len(self.fields(m, "Message-ID")), 1)
        self.assertEqual(len(self.fields(m, "Date")), 1)

    def test_crlf_input_and_several_recipients(self):
        s = self.server()
        rc, out = self.sendmail(s, ["alice@example.test", "bob@example.net"],
                                b"Subject: crlf\r\n\r\nline one\r\n..two dots\r\n")
        self.assertEqual(rc, 0, out)
        s.wait_queue_empty()
        self.assertEqual(s.mailboxes(), {("example.test", "alice"): 1, ("example.net", "bob"): 1})
        self.assertEqual(split_stored(s.messages("alice")[0])[1], b"line one\n..two dots\n")

    def test_t_reads_recipients_and_drops_bcc(self):
        s = self.server()
        msg = ("From: Sender <sender@example.test>\n"
               "To: Alice <alice@example.test>,\n"
               "  bob@example.test\n"
               "Cc: carol@example.test\n"
               "Bcc: dave@example.test, \"Erin E.\" <erin@example.net>\n"
               "Subject: t\n"
               "\n"
               "hello\n")
        rc, out = self.sendmail(s, ["-t"], msg)
        self.assertEqual(rc, 0, out)
        s.wait_queue_empty()
        self.assertEqual(s.mailboxes(), {("example.test", "alice"): 1, ("example.test", "bob"): 1,
                                         ("example.test", "carol"): 1, ("example.test", "dave"): 1,
                                         ("example.net", "erin"): 1})
        for box, dom in (("alice", "example.test"), ("dave", "example.test"),
                         ("erin", "example.net")):
            with self.subTest(mailbox=box):
                m = s.messages(box, dom)[0]
                self.assertEqual(self.fields(m, "Bcc"), [], "Bcc: kept in %s's copy" % box)
                for n, v in header_fields(m):
                    if n not in ("Delivered-To", "Received"):
                        self.assertNotIn(b"dave@", v, "Bcc address leaked in %s:" % n)
                        self.assertNotIn(b"erin@", v, "Bcc address leaked in %s:" % n)
                self.assertEqual(len(self.fields(m, "To")), 1)
                self.assertEqual(self.fields(m, "Cc"), [b"carol@example.test"])
                self.assertEqual(split_stored(m)[1], b"hello\n")

    def test_f_sets_return_path(self):
        s = self.server()
        for form in (["-f", "bounce@example.net"], ["-fbounce@example.net"]):
            with self.subTest(form=form):
                rc, out = self.sendmail(s, form + ["alice@example.test"], "Subject: f\n\nx\n")
                self.assertEqual(rc, 0, out)
        msgs = s.wait_messages("alice", 2)
        for m in msgs:
            self.assertTrue(m.startswith(b"Return-Path: <bounce@example.net>\n"), m[:100])

    def test_F_adds_from(self):
        s = self.server()
        rc, out = self.sendmail(s, ["-F", "Test Person", "-f", "tp@example.test", "alice@example.test"],
                                "Subject: F\n\nx\n")
        self.assertEqual(rc, 0, out)
        m = s.wait_messages("alice")[0]
        froms = self.fields(m, "From")
        self.assertEqual(len(froms), 1, froms)
        self.assertIn(b"Test Person", froms[0])

    def test_F_keeps_existing_from(self):
        s = self.server()
        rc, out = self.sendmail(s, ["-F", "Other Name", "alice@example.test"],
                                "From: Real <real@example.test>\nSubject: F2\n\nx\n")
        self.assertEqual(rc, 0, out)
        m = s.wait_messages("alice")[0]
        self.assertEqual(len(self.fields(m, "From")), 1, m[:400])

    def test_lone_dot_ends_input(self):
        s = self.server()
        rc, out = self.sendmail(s, ["alice@example.test"],
                                "Subject: dot\n\nline1\n.hidden\n.\nline2\n")
        self.assertEqual(rc, 0, out)
        m = s.wait_messages("alice")[0]
        self.assertEqual(split_stored(m)[1], b"line1\n.hidden\n")

    def test_i_keeps_dot_lines(self):
        s = self.server()
        rc, out = self.sendmail(s, ["-i", "alice@example.test"],
                                "Subject: dot-i\n\nline1\n.\nline2\n..\n")
        self.assertEqual(rc, 0, out)
        m = s.wait_messages("alice")[0]
        self.assertEqual(split_stored(m)[1], b"line1\n.\nline2\n..\n")

    def test_exit_67_recipient_rejected(self):
        s = self.server(users=["alice@example.test"])
        rc, out = self.sendmail(s, ["nobody@example.test"], "Subject: 67\n\nx\n")
        self.assertEqual(rc, 67, out)
        self.assertNothingDelivered(s, 0.5)

    def test_exit_69_other_permanent(self):
        s = self.server(max_message_size=1000)
        rc, out = self.sendmail(s, ["alice@example.test"], "Subject: big\n\n" + ("y" * 70 + "\n") * 80)
        self.assertEqual(rc, 69, out)
        self.assertNothingDelivered(s, 0.5)

    def test_exit_64_usage(self):
        s = self.server()
        rc, out = self.sendmail(s, [], "Subject: none\n\nx\n")
        self.assertEqual(rc, 64, out)
        self.assertNothingDelivered(s, 0.3)

    def test_exit_75_daemon_down(self):
        s = self.server(start=False)
        rc, out = self.sendmail(s, ["alice@example.test"], "Subject: down\n\nx\n")
        self.assertEqual(rc, 75, out)
        s.start()
        s.stop()
        rc, out = self.sendmail(s, ["alice@example.test"], "Subject: down2\n\nx\n")
        self.assertEqual(rc, 75, out)

    def test_symlink_named_sendmail(self):
        s = self.server()
        link = os.path.join(self.make_tmpdir("bin"), "sendmail")
        os.symlink(binary(), link)
        rc, out = self.sendmail(s, ["-i", "alice@example.test"], "Subject: link\n\nvia symlink\n",
                                argv0=link)
        self.assertEqual(rc, 0, out)
        m = s.wait_messages("alice")[0]
        self.assertEqual(split_stored(m)[1], b"via symlink\n")

    def test_config_from_environment(self):
        """MAILPORT_CONFIG decides which daemon gets the message"""
        a = self.server(name="a")
        b = self.server(name="b")
        rc, out = self.sendmail(a, ["alice@example.test"], "Subject: to b\n\nx\n", config=b.conf_path)
        self.assertEqual(rc, 0, out)
        b.wait_messages("alice")
        self.assertEqual(a.mailboxes(), {})

    def test_fallback_to_listen_address(self):
        s = self.server()
        sock = os.path.join(s.spool, "sendmail.sock")
        self.assertTrue(wait_for(lambda: os.path.exists(sock), 5), "no %s" % sock)
        try:
            os.unlink(sock)
        except OSError as e:
            self.skipTest("skipped: cannot remove the socket: %s" % e)
        rc, out = self.sendmail(s, ["alice@example.test"], "Subject: tcp\n\nx\n")
        self.assertEqual(rc, 0, out)
        m = s.wait_messages("alice")[0]
        self.assertRegex(m, rb"\nReceived: from \S+ \(\[127\.0\.0\.1\]\)")

    def test_bad_sender_option(self):
        """-f with a broken address: the server refuses MAIL (5xx) -> 69"""
        s = self.server()
        rc, out = self.sendmail(s, ["-f", "a@b@c", "alice@example.test"], "Subject: bad\n\nx\n")
        self.assertIn(rc, (64, 69), out)
        self.assertNothingDelivered(s, 0.3)

    def test_no_shell_expansion(self):
        """recipients and -f are data, never run through a shell"""
        s = self.server(max_errors=100)
        canary = os.path.join(self.tmproot(), "canary")
        evil = "$(touch %s)@example.test" % canary
        rc, out = self.sendmail(s, ["-f", "`touch %s`@example.test" % canary, evil],
                                "Subject: shell\n\nx\n")
        self.assertFalse(os.path.exists(canary), "a shell ran")
        self.assertTrue(re.match(r"^(0|64|67|69)$", str(rc)), out)
