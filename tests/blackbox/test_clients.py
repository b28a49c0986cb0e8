"""test_clients - real clients nobody here wrote: Python's smtplib, swaks,
curl, and Postfix's smtp-source for parallel load.  A test whose tool is
missing is skipped ("skipped: <why>").
"""

import email.message
import email.policy
import os
import smtplib
import subprocess
import time

from harness import MailportTest, have_ipv6, message, to_lf, wait_for

# smtp-source: 50 parallel sessions, MAILPORT_TEST_SOURCE_MSGS messages in
# total (default 2000).  If that is too slow on a sanitizer build, lower
# the count with the variable, but keep the 50 sessions.
SOURCE_MSGS = int(os.environ.get("MAILPORT_TEST_SOURCE_MSGS", "2000"))


def run(t, argv, timeout=60, stdin=None):
    r = subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout)
    out = (r.stdout + r.stderr).decode("utf-8", "replace")
    return r.returncode, out


class SmtplibTests(MailportTest):

    def smtp(self, s):
        c = smtplib.SMTP("127.0.0.1", s.port, local_hostname="client.test", timeout=20)
        self.on_teardown(lambda: _quiet_close(c))
        return c

    def test_sendmail_several_recipients(self):
        s = self.server()
        c = self.smtp(s)
        data = message("smtplib", body=b"Hello from smtplib.\r\n.leading dot\r\n")
        refused = c.sendmail("a@client.test", ["alice@example.test", "bob@example.net", "carol@example.test"],
                             data)
        self.assertEqual(refused, {})
        c.quit()
        s.wait_queue_empty()
        self.assertEqual(s.mailboxes(), {("example.test", "alice"): 1, ("example.net", "bob"): 1,
                                         ("example.test", "carol"): 1})
        self.assertTrue(s.messages("alice")[0].endswith(to_lf(data)))

    def test_sendmail_partially_refused(self):
        s = self.server(networks="", users=["alice@example.test"])
        c = self.smtp(s)
        refused = c.sendmail("a@client.test", ["alice@example.test", "nobody@example.test", "x@foreign.test"],
                             message("partial"))
        self.assertEqual(refused, {"nobody@example.test": (550, b"5.1.1 User unknown"),
                                   "x@foreign.test": (550, b"5.7.1 Unable to relay")})
        with self.assertRaises(smtplib.SMTPRecipientsRefused):
            c.sendmail("a@client.test", ["x@foreign.test"], message("none"))
        c.quit()
        s.wait_queue_empty()
        self.assertEqual(s.mailboxes(), {("example.test", "alice"): 1})

    def test_send_message_8bit(self):
        s = self.server()
        c = self.smtp(s)
        m = email.message.EmailMessage(policy=email.policy.SMTP)
        m["From"] = "a@client.test"
        m["To"] = "alice@example.test"
        m["Subject"] = "Grüße"
        m.set_content("Grüße aus Köln, ça va?\n", cte="8bit")
        c.send_message(m)
        c.quit()
        got = s.wait_messages("alice")[0]
        self.assertIn("Grüße aus Köln, ça va?\n".encode(), got)

    def test_send_message_smtputf8(self):
        s = self.server()
        c = self.smtp(s)
        c.ehlo("client.test")
        self.assertTrue(c.has_extn("smtputf8"))
        m = email.message.EmailMessage(policy=email.policy.SMTPUTF8)
        m["From"] = "jörg@clïent.test"
        m["To"] = "zoë@example.test"
        m["Subject"] = "ünïcödé"
        m.set_content("Hallo Zoë\n", cte="8bit")
        c.send_message(m)
        c.quit()
        got = s.wait_messages("zoë")[0]
        self.assertTrue(got.startswith("Return-Path: <jörg@clïent.test>\nDelivered-To: zoë@example.test\n"
                                       .encode()), got[:200])
        self.assertIn("Hallo Zoë\n".encode(), got)

    def test_other_commands(self):
        s = self.server()
        c = self.smtp(s)
        self.assertEqual(c.noop(), (250, b"2.0.0 OK"))
        self.assertEqual(c.verify("alice")[0], 252)
        self.assertEqual(c.rset(), (250, b"2.0.0 Resetting"))
        self.assertEqual(c.ehlo("client.test")[0], 250)
        self.assertEqual(c.esmtp_features.get("size"), "36700160")
        for ext in ("pipelining", "8bitmime", "enhancedstatuscodes", "dsn", "chunking", "smtputf8"):
            self.assertTrue(c.has_extn(ext), ext)
        self.assertEqual(c.quit()[0], 221)


def _quiet_close(c):
    try:
        c.close()
    except Exception:  # noqa: BLE001
        pass


class SwaksTests(MailportTest):

    def swaks(self, s, *args, timeout=60):
        tool = self.need_tool("swaks")
        return run(self, [tool, "--server", "127.0.0.1:%d" % s.port, "--helo", "client.test",
                          "--timeout", "20"] + list(args), timeout=timeout)

    def test_swaks_basic(self):
        s = self.server()
        rc, out = self.swaks(s, "--to", "alice@example.test", "--from", "a@client.test",
                             "--header", "Subject: swaks basic", "--body", "Hello from swaks\n..dots\n")
        self.assertEqual(rc, 0, out)
        m = s.wait_messages("alice")[0]
        self.assertIn(b"Subject: swaks basic\n", m)
        self.assertIn(b"Hello from swaks\n..dots\n", m)

    def test_swaks_pipeline(self):
        s = self.server()
        rc, out = self.swaks(s, "--pipeline", "--to", "alice@example.test,bob@example.net",
                             "--from", "a@client.test", "--header", "Subject: swaks pipeline")
        self.assertEqual(rc, 0, out)
        self.assertIn("PIPELINING", out)
        s.wait_queue_empty()
        self.assertEqual(s.mailboxes(), {("example.test", "alice"): 1, ("example.net", "bob"): 1})

    def test_swaks_helo_and_relay_denied(self):
        s = self.server(networks="")
        rc, out = self.swaks(s, "--protocol", "SMTP", "--to", "alice@example.test", "--from", "a@client.test")
        self.assertEqual(rc, 0, out)
        rc, out = self.swaks(s, "--to", "x@foreign.test", "--from", "a@client.test")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("550 5.7.1 Unable to relay", out)
        s.wait_queue_empty()
        self.assertEqual(s.mailboxes(), {("example.test", "alice"): 1})

    def test_swaks_ipv6(self):
        """swaks over [::1] (needs IO::Socket::INET6: libio-socket-inet6-perl)"""
        if not have_ipv6():
            self.skipTest("skipped: no IPv6 loopback")
        tool = self.need_tool("swaks")
        s = self.server(ipv6=True)
        rc, out = run(self, [tool, "-6", "--server", "::1", "--port", str(s.port), "--helo",
                             "client.test", "--timeout", "20", "--to", "alice@example.test",
                             "--from", "a@client.test", "--header", "Subject: swaks ipv6"])
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"250[- ]\S+ Hello \[(IPv6:)?::1\]")
        m = s.wait_messages("alice")[0]
        self.assertIn(b"Subject: swaks ipv6\n", m)

    def test_swaks_big_attachment(self):
        s = self.server()
        path = os.path.join(self.tmproot(), "attach.bin")
        with open(path, "wb") as f:
            f.write(os.urandom(3 << 20))
        rc, out = self.swaks(s, "--pipeline", "--to", "alice@example.test", "--from", "a@client.test",
                             "--attach", "@" + path, "--suppress-data", timeout=120)
        self.assertEqual(rc, 0, out[-2000:])
        m = s.wait_messages("alice", timeout=30)[0]
        self.assertGreater(len(m), 4 << 20)


class CurlTests(MailportTest):

    def test_curl_upload(self):
        tool = self.need_tool("curl")
        s = self.server()
        path = os.path.join(self.tmproot(), "mail.txt")
        data = message("curl", body=b"Hello from curl\r\n.leading dot\r\n..two\r\n.\r\nlast\r\n")
        with open(path, "wb") as f:
            f.write(data)
        rc, out = run(self, [tool, "-sS", "--max-time", "30", "--url", "smtp://127.0.0.1:%d/client.test" % s.port,
                             "--mail-from", "a@client.test", "--mail-rcpt", "alice@example.test",
                             "--mail-rcpt", "bob@example.net", "-T", path])
        self.assertEqual(rc, 0, out)
        s.wait_queue_empty()
        self.assertEqual(s.mailboxes(), {("example.test", "alice"): 1, ("example.net", "bob"): 1})
        self.assertTrue(s.messages("alice")[0].endswith(to_lf(data)), s.messages("alice")[0][-200:])

    def test_curl_refused_recipient(self):
        tool = self.need_tool("curl")
        s = self.server(networks="")
        path = os.path.join(self.tmproot(), "mail.txt")
        with open(path, "wb") as f:
            f.write(message("curl refused"))
        rc, out = run(self, [tool, "-sS", "--max-time", "30", "--url", "smtp://127.0.0.1:%d/client.test" % s.port,
                             "--mail-from", "a@client.test", "--mail-rcpt", "x@foreign.test", "-T", path])
        self.assertNotEqual(rc, 0, out)
        self.assertNothingDelivered(s, 0.5)


class SmtpSourceTests(MailportTest):

    def test_smtp_source_parallel_load(self):
        """smtp-source -s 50 -m N -c: every message delivered, queue empty
        (N = MAILPORT_TEST_SOURCE_MSGS, default 2000; must stay < 60 s)"""
        tool = self.need_tool("smtp-source")
        s = self.server()
        t0 = time.monotonic()
        rc, out = run(self, [tool, "-s", "50", "-m", str(SOURCE_MSGS), "-c", "-f", "sender@example.test",
                             "-t", "alice@example.test", "127.0.0.1:%d" % s.port], timeout=180)
        self.assertEqual(rc, 0, out[-3000:])
        ok = wait_for(lambda: s.count("alice") >= SOURCE_MSGS and not s.queue_files(), 120, 0.2)
        self.assertTrue(ok, "%d of %d delivered, %d queued after %.0fs"
                        % (s.count("alice"), SOURCE_MSGS, len(s.queue_files()), time.monotonic() - t0))
        time.sleep(0.5)
        self.assertEqual(s.count("alice"), SOURCE_MSGS)
        self.assertEqual(s.incoming_files(), [])

    def test_smtp_source_reused_connections(self):
        """-d: several messages per connection, larger bodies, several
        recipients"""
        tool = self.need_tool("smtp-source")
        s = self.server()
        rc, out = run(self, [tool, "-s", "10", "-m", "200", "-d", "-l", "20000", "-r", "3",
                             "-f", "sender@example.test", "-t", "user@example.test",
                             "127.0.0.1:%d" % s.port], timeout=120)
        self.assertEqual(rc, 0, out[-3000:])
        ok = wait_for(lambda: s.total_messages() >= 600 and not s.queue_files(), 120, 0.2)
        self.assertTrue(ok, (s.mailboxes(), len(s.queue_files())))
        self.assertEqual(sum(s.mailboxes().values()), 600)
