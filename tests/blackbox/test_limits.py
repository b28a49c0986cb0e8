"""test_limits - CHECKLIST C (resource exhaustion) and the session limits
of the README: recipients per message, max_errors, junk-command
spam, timeouts (idle, slowloris in a command, in DATA and in BDAT),
connections per address and in total, early talkers (greet_pause).
"""

import socket
import time

from harness import (R_DATA_OK, R_HELP, R_MAX_CONN, R_NOOP, R_PER_IP, R_RCPT_OK, R_RSET,
                     R_SENDER_OK, R_SYNC, R_TIMEOUT, R_TOO_MANY_ERRORS, R_TOO_MANY_RCPTS,
                     R_UNKNOWN, R_VRFY, Client, ConnectionClosed, MailportTest, message)


class RecipientLimitTests(MailportTest):

    def test_100_recipients_delivered(self):
        s = self.server()
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        c.send(b"".join(b"RCPT TO:<user%d@example.test>\r\n" % i for i in range(100)))
        for i in range(100):
            self.assertReply(c.reply(), 250, R_RCPT_OK)
        self.assertQueued(c.data(message("hundred")))
        s.wait_queue_empty(timeout=60)
        boxes = s.mailboxes()
        self.assertEqual(len(boxes), 100)
        self.assertEqual(set(boxes.values()), {1})
        m = s.messages("user42")[0]
        self.assertIn(b"Delivered-To: user42@example.test\n", m)
        # several recipients: no "for <...>" clause in Received:
        self.assertRegex(m.split(b"\n")[3].decode(), r"^\tby mx\.example\.test with ESMTP id \w+;")

    def test_over_max_recipients(self):
        s = self.server(max_recipients=5)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        for i in range(5):
            self.assertCmd(c, b"RCPT TO:<u%d@example.test>" % i, 250, R_RCPT_OK)
        self.assertCmd(c, b"RCPT TO:<u5@example.test>", 452, R_TOO_MANY_RCPTS)
        self.assertCmd(c, b"RCPT TO:<u6@example.test>", 452, R_TOO_MANY_RCPTS)
        self.assertQueued(c.data(message("five")))
        s.wait_queue_empty()
        self.assertEqual(sorted(m for _, m in s.mailboxes()), ["u0", "u1", "u2", "u3", "u4"])

    def test_default_limit_1000(self):
        s = self.server()
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        c.send(b"".join(b"RCPT TO:<u%d@example.test>\r\n" % i for i in range(1002)))
        for i in range(1000):
            self.assertReply(c.reply(), 250, R_RCPT_OK)
        self.assertReply(c.reply(), 452, R_TOO_MANY_RCPTS)
        self.assertReply(c.reply(), 452, R_TOO_MANY_RCPTS)
        self.assertSync(c)


    def test_recipient_flood_bounded(self):
        """20,000 pipelined RCPTs (CHECKLIST C asks for millions; the
        rejected-recipient limit ends any such flood): 452 beyond
        max_recipients, each one a rejected recipient (not a protocol error:
        max_errors = 3 plays no part), 421 at max_rcpt_rejects (1000; the
        delay is set beyond it so the test stays fast), the rest discarded;
        the server stays fine (README, "Replies" limits)"""
        s = self.server(max_recipients=5, max_errors=3, max_rcpt_rejects=1000,
                        rcpt_reject_delay_after=1000)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        got, _ = c.flood([b"".join(b"RCPT TO:<u%d@example.test>\r\n" % i for i in range(20000))])
        # What arrives is a prefix of the full answer: a server that closes
        # with unread input resets the connection, and the kernel may drop
        # replies it had not sent yet.
        want = ([b"250 " + R_RCPT_OK.encode()] * 5 + [b"452 " + R_TOO_MANY_RCPTS.encode()] * 1000
                + [b"421 " + R_TOO_MANY_ERRORS.encode()])
        lines = got.split(b"\r\n")[:-1]
        self.assertGreater(len(lines), 5)
        self.assertEqual(lines, want[:len(lines)])
        self.assertQueued(s.send_mail())
        s.wait_messages("alice")


class ErrorLimitTests(MailportTest):

    def test_max_errors(self):
        """the max_errors-th negative reply is followed by 421 and close"""
        s = self.server(max_errors=3)
        c = s.session()
        self.assertCmd(c, b"FOO", 500, R_UNKNOWN)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 503, "5.5.2 Need mail command")
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        self.assertCmd(c, b"BAR", 500, R_UNKNOWN)
        self.assertReply(c.reply(), 421, R_TOO_MANY_ERRORS)
        self.assertClosed(c)

    def test_default_max_errors_10(self):
        s = self.server()
        c = s.session()
        for i in range(9):
            self.assertCmd(c, b"FOO%d" % i, 500, R_UNKNOWN)
        self.assertTrue(c.quiet(0.3))
        self.assertCmd(c, b"FOO", 500, R_UNKNOWN)
        self.assertReply(c.reply(), 421, R_TOO_MANY_ERRORS)
        self.assertClosed(c)

    def test_protocol_errors_count(self):
        """README: max_errors counts protocol errors (500, 501, 555,
        503, ...); a rejected recipient (550 5.7.1) is not one"""
        s = self.server(max_errors=4, networks="")
        c = s.session()
        self.assertCmd(c, b"XYZZY", 500, R_UNKNOWN)
        self.assertCmd(c, b"MAIL FROM:", 501, "5.5.4 Invalid arguments")
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<x@foreign.test>", 550, "5.7.1 Unable to relay")
        self.assertCmd(c, b"RCPT TO:<alice@example.test> FOO=1", 555, "5.5.4 Unrecognized parameter")
        self.assertTrue(c.quiet(0.3), "the relay denial counted as an error")
        self.assertCmd(c, b"DATA", 503, "5.5.2 Need rcpt command")
        self.assertReply(c.reply(), 421, R_TOO_MANY_ERRORS)
        self.assertClosed(c)

    def test_errors_counted_per_session(self):
        s = self.server(max_errors=3)
        for _ in range(3):
            c = s.session()
            self.assertCmd(c, b"FOO", 500, R_UNKNOWN)
            self.assertCmd(c, b"FOO", 500, R_UNKNOWN)
            self.assertCmd(c, b"QUIT", 221, "2.0.0 Service closing transmission channel")

    def test_pipelined_errors(self):
        """a burst of bad commands in one write: replies stop at the 421"""
        s = self.server(max_errors=3)
        c = s.session()
        got, _ = c.flood([b"FOO\r\n" * 50])
        lines = got.split(b"\r\n")
        self.assertEqual(lines[:4], [b"500 5.3.3 Unrecognized command"] * 3 + [b"421 " + R_TOO_MANY_ERRORS.encode()])
        self.assertEqual(lines[4:], [b""])

    def test_noop_spam(self):
        """more than 100 NOOP/RSET/VRFY/HELP without a delivered message"""
        s = self.server()
        c = s.session()
        cmds = [(b"NOOP", 250, R_NOOP), (b"RSET", 250, R_RSET), (b"VRFY x", 252, R_VRFY),
                (b"HELP", 214, R_HELP)]
        for i in range(100):
            self.assertCmd(c, *cmds[i % 4])
        # the 101st: 421 (a 250 before it is tolerated)
        c.line(b"NOOP")
        r = c.reply()
        if r.code == 250:
            r = c.reply()
        self.assertReply(r, 421, R_TOO_MANY_ERRORS)
        self.assertClosed(c)

    def test_noop_count_resets_after_delivered_message(self):
        s = self.server()
        c = s.session()
        for _ in range(80):
            self.assertCmd(c, b"NOOP", 250, R_NOOP)
        self.assertQueued(c.mail_to("a@client.test", ["alice@example.test"], message("reset")))
        for _ in range(80):
            self.assertCmd(c, b"NOOP", 250, R_NOOP)


class TimeoutTests(MailportTest):
    """timeout = 2: a command must be complete within 2 s; in DATA/BDAT a
    1 KiB block must arrive within 2 s.  Bounds are generous (sanitizer
    builds, a loaded CI host)."""

    T = 2

    def expect_timeout(self, c, started, slow_bytes=b""):
        """wait for the 421 timeout reply, sending slow_bytes one byte per
        0.5 s meanwhile; checks it came neither too early nor too late"""
        deadline = started + self.T + 6
        r = None
        while r is None:
            try:
                r = c.reply(timeout=0.5)
            except socket.timeout:
                if time.monotonic() > deadline:
                    self.fail("no timeout reply within %ds" % (self.T + 6))
                if slow_bytes:
                    try:
                        c.send(slow_bytes[:1])
                    except OSError:
                        slow_bytes = b""
                    slow_bytes = slow_bytes[1:]
            except ConnectionClosed:
                self.fail("closed without a 421 timeout reply")
        elapsed = time.monotonic() - started
        self.assertReply(r, 421, R_TIMEOUT)
        self.assertGreaterEqual(elapsed, self.T - 0.5, "timed out too early")
        self.assertClosed(c)
        return elapsed

    def test_idle_after_banner(self):
        s = self.server(timeout=self.T)
        t0 = time.monotonic()
        c = s.client()
        self.expect_timeout(c, t0)

    def test_idle_after_ehlo(self):
        s = self.server(timeout=self.T)
        c = s.session()
        self.expect_timeout(c, time.monotonic())

    def test_active_client_not_timed_out(self):
        s = self.server(timeout=self.T)
        c = s.session()
        for _ in range(4):
            time.sleep(self.T / 2)
            self.assertCmd(c, b"NOOP", 250, R_NOOP)

    def test_slowloris_command(self):
        """one byte every 0.5 s: the command never completes in time"""
        s = self.server(timeout=self.T)
        c = s.session()
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.expect_timeout(c, time.monotonic(), slow_bytes=b"VRFY " + b"a" * 100 + b"\r\n")

    def test_idle_mid_data(self):
        s = self.server(timeout=self.T)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        self.assertCmd(c, b"DATA", 354, R_DATA_OK)
        c.send(message("idle")[:100])
        self.expect_timeout(c, time.monotonic())
        self.assertNothingDelivered(s, 0.5)
        self.assertEqual(s.incoming_files(), [])

    def test_slow_data(self):
        """a trickle in DATA (no 1 KiB block within the timeout)"""
        s = self.server(timeout=self.T)
        c = s.session()
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        self.assertCmd(c, b"DATA", 354, R_DATA_OK)
        self.expect_timeout(c, time.monotonic(), slow_bytes=message("slow", body=b"x" * 2000))
        self.assertNothingDelivered(s, 0.5)

    def test_slow_bdat(self):
        s = self.server(timeout=self.T)
        c = s.session()
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        c.send(b"BDAT 3000 LAST\r\n")
        self.expect_timeout(c, time.monotonic(), slow_bytes=b"y" * 3000)
        self.assertNothingDelivered(s, 0.5)

    def test_steady_slow_data_passes(self):
        """1 KiB blocks every second are a legitimate slow client"""
        s = self.server(timeout=self.T)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        self.assertCmd(c, b"DATA", 354, R_DATA_OK)
        c.send(message("steady", body=b""))
        for _ in range(4):
            time.sleep(1.0)
            c.send(b"s" * 1200 + b"\r\n")
        c.send(b".\r\n")
        self.assertQueued(c.reply())
        s.wait_messages("alice")


class ConnectionLimitTests(MailportTest):

    def test_per_ip_limit(self):
        s = self.server(max_connections_per_ip=3)
        held = [s.client() for _ in range(3)]
        for c in held:
            self.assertEqual(c.banner.code, 220)
        c4 = s.client()
        self.assertReply(c4.banner, 421, R_PER_IP)
        self.assertClosed(c4)
        held[0].cmd(b"QUIT")
        held[0].wait_closed()
        deadline = time.monotonic() + 5
        while True:
            c5 = s.client()
            if c5.banner.code == 220 or time.monotonic() > deadline:
                break
            c5.close()
            time.sleep(0.1)
        self.assertEqual(c5.banner.code, 220, "a slot did not free up")
        self.assertCmd(held[1], b"NOOP", 250, R_NOOP)

    def test_total_limit(self):
        s = self.server(max_connections=2)
        held = [s.client() for _ in range(2)]
        for c in held:
            self.assertEqual(c.banner.code, 220)
        c3 = s.client()
        self.assertReply(c3.banner, 421, R_MAX_CONN)
        self.assertClosed(c3)

    def test_connection_flood(self):
        """120 parallel connections from one address with the default
        per-address limit of 50"""
        s = self.server()
        conns = []
        try:
            for _ in range(120):
                conns.append(Client(s.port, read_banner=False, timeout=15))
            codes = []
            for c in conns:
                r = c.reply()
                codes.append(r.code)
                if r.code != 220:
                    self.assertReply(r, 421, R_PER_IP)
            self.assertEqual(codes.count(220), 50, codes)
            self.assertEqual(codes.count(421), 70)
        finally:
            for c in conns:
                c.close()
        deadline = time.monotonic() + 10
        while True:
            c = s.client()
            if c.banner.code == 220 or time.monotonic() > deadline:
                break
            c.close()
            time.sleep(0.2)
        self.assertEqual(c.banner.code, 220)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)


class EarlyTalkerTests(MailportTest):

    def test_early_talker_rejected(self):
        s = self.server(greet_pause=1000)
        c = Client(s.port, read_banner=False)
        c.send(b"EHLO early.test\r\n")
        r = c.reply(10)
        self.assertReply(r, 554, R_SYNC)
        self.assertClosed(c)

    def test_patient_client_greeted(self):
        s = self.server(greet_pause=1000)
        t0 = time.monotonic()
        c = Client(s.port, read_banner=False)
        r = c.reply(10)
        self.assertEqual(r.code, 220)
        self.assertGreaterEqual(time.monotonic() - t0, 0.8)
        c.ehlo()
        self.assertQueued(c.mail_to("a@client.test", ["alice@example.test"], message("patient")))
        s.wait_messages("alice")

    def test_no_pause_no_check(self):
        """greet_pause = 0: a client that talks first is served"""
        s = self.server()
        c = Client(s.port, read_banner=False)
        c.send(b"EHLO early.test\r\n")
        self.assertEqual(c.reply().code, 220)
        self.assertEqual(c.reply().code, 250)
