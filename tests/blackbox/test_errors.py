"""test_errors - error counting of issue 6 (README "Limits" under "Replies",
the limits paragraph): max_errors counts protocol errors only and starts again
after every accepted message; rejected recipients (550 5.1.1, 550 5.1.3,
550 5.7.1, 452 4.5.3) go to their own per-session counter, also reset by
an accepted message, with a growing delay from the
(rcpt_reject_delay_after + 1)-th rejection on (250 ms * (rejections - N),
capped at 5 s) and 421 + close at max_rcpt_rejects.

The real-world case of the issue: one message to 50 recipients of which
45 are stale must be accepted with the default settings (it used to get
421 at the 10th "User unknown").
"""

import signal
import smtplib
import time

from harness import (R_ADDR_TOO_LONG, R_BAD_DOMAIN, R_BAD_RCPT, R_BAD_SENDER, R_HELLO_FIRST,
                     R_HOPS, R_INVALID_ARGS, R_MAILBOX_NAME, R_NEED_MAIL, R_NESTED_MAIL,
                     R_NOOP, R_NUL, R_QUIT, R_RCPT_OK, R_RELAY, R_RSET, R_SENDER_OK, R_SHUTDOWN,
                     R_SIZE, R_TOO_LONG, R_TOO_MANY_ERRORS, R_TOO_MANY_RCPTS, R_UNKNOWN,
                     R_UNKNOWN_PARAM, R_USER_UNKNOWN, R_UTF8, Client, MailportTest, message)
from tlsutil import (ALICE, R_AUTH_FAILED, R_NEED_AUTH, auth_plain, plain, tls_server)

USERS = ["alice@example.test", "bob@example.test", "carol@example.test", "dave@example.test",
         "erin@example.test"]
LOCALS = [u.split("@")[0] for u in USERS]

FAST = 0.2   # a reply that must not be delayed (the first delay step is 0.25 s)
SLOW_MAX = 3.0  # upper bound for one delayed reply of a few steps (loaded CI host)


def mixed_rcpts(tag=""):
    """mixed_rcpts - 50 recipients: the 5 users at positions 0, 10, 20, 30,
    40, and 45 unknown addresses of the same domain in between"""
    out = []
    for i in range(50):
        if i % 10 == 0:
            out.append(USERS[i // 10])
        else:
            out.append("gone%s%d@example.test" % (tag, i))
    return out


def timed(c, line, timeout=15):
    """timed - (reply, seconds) of one command"""
    t0 = time.monotonic()
    r = c.cmd(line, timeout)
    return r, time.monotonic() - t0


class RealWorldTests(MailportTest):
    """the issue's report: stale recipient lists with the default limits"""

    def assert_delivered_once(self, s, locals_=LOCALS):
        s.wait_queue_empty(timeout=60)
        time.sleep(0.3)  # a duplicate delivery would show up by now
        self.assertEqual(s.mailboxes(), {("example.test", l): 1 for l in locals_})
        self.assertEqual(s.queue_files(), [])

    def test_smtplib_50_recipients_45_unknown(self):
        """smtplib.sendmail (one RCPT at a time) to 50 recipients, 45 of
        them unknown: accepted, the 5 users get it once, no 421, and the
        session stays usable (default max_errors = 10)"""
        s = self.server(users=USERS)
        rcpts = mixed_rcpts()
        smtp = smtplib.SMTP("127.0.0.1", s.port, local_hostname="client.test", timeout=30)
        try:
            t0 = time.monotonic()
            refused = smtp.sendmail("sender@client.test", rcpts, message("stale list"))
            elapsed = time.monotonic() - t0
            self.assertEqual(sorted(refused), sorted(r for r in rcpts if r not in USERS))
            for addr, rep in refused.items():
                self.assertEqual(rep, (550, R_USER_UNKNOWN.encode()), addr)
            # 45 rejections are below rcpt_reject_delay_after (100): no delay
            self.assertLess(elapsed, 10, "45 rejections were delayed")
            self.assertEqual(smtp.noop(), (250, R_NOOP.encode()))
            self.assertEqual(smtp.quit()[0], 221)
        finally:
            try:
                smtp.close()
            except Exception:  # noqa: BLE001
                pass
        self.assert_delivered_once(s)
        self.assertNotIn("Too many errors", s.log())

    def test_pipelined_mta_three_messages(self):
        """an MTA-like client pipelines MAIL, 50 RCPTs and DATA in one write,
        three messages on one connection (135 rejections in all, more than
        rcpt_reject_delay_after = 100: the count restarts after each accepted
        message, so none is delayed and none is cut)"""
        s = self.server(users=USERS)
        c = s.session(timeout=30)
        t0 = time.monotonic()
        for n in range(3):
            rcpts = mixed_rcpts("m%d-" % n)
            c.send(b"MAIL FROM:<sender@client.test>\r\n"
                   + b"".join(b"RCPT TO:<%s>\r\n" % r.encode() for r in rcpts) + b"DATA\r\n")
            self.assertReply(c.reply(), 250, R_SENDER_OK)
            for r in rcpts:
                if r in USERS:
                    self.assertReply(c.reply(), 250, R_RCPT_OK, msg=r)
                else:
                    self.assertReply(c.reply(), 550, R_USER_UNKNOWN, msg=r)
            self.assertEqual(c.reply().code, 354)
            c.send(message("pipelined %d" % n) + b".\r\n")
            self.assertQueued(c.reply(60), msg="message %d" % n)
        self.assertLess(time.monotonic() - t0, 20, "rejections were delayed")
        self.assertCmd(c, b"QUIT", 221, R_QUIT)
        self.assertClosed(c)
        s.wait_queue_empty(timeout=60)
        time.sleep(0.3)
        self.assertEqual(s.mailboxes(), {("example.test", l): 3 for l in LOCALS})

    def test_15_messages_one_unknown_each(self):
        """one connection, 15 messages, each with one unknown recipient:
        never cut (default limits: 15 > max_errors = 10)"""
        s = self.server(users=USERS)
        c = s.session()
        for i in range(15):
            self.assertCmd(c, b"MAIL FROM:<sender@client.test>", 250, R_SENDER_OK)
            self.assertCmd(c, b"RCPT TO:<stale%d@example.test>" % i, 550, R_USER_UNKNOWN)
            self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
            self.assertQueued(c.data(message("one of 15 #%d" % i)), msg="message %d" % i)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        self.assertCmd(c, b"QUIT", 221, R_QUIT)
        s.wait_queue_empty(timeout=60)
        self.assertEqual(s.count("alice"), 15)

    def test_reject_count_restarts_after_accepted_message(self):
        """max_rcpt_rejects = 3: 15 messages with 2 unknown recipients each
        (30 rejections on the connection) are never cut, because the count
        restarts after each accepted message"""
        s = self.server(users=USERS, max_rcpt_rejects=3)
        c = s.session()
        for i in range(15):
            self.assertCmd(c, b"MAIL FROM:<sender@client.test>", 250, R_SENDER_OK)
            self.assertCmd(c, b"RCPT TO:<stale%da@example.test>" % i, 550, R_USER_UNKNOWN)
            self.assertCmd(c, b"RCPT TO:<bob@example.test>", 250, R_RCPT_OK)
            self.assertCmd(c, b"RCPT TO:<stale%db@example.test>" % i, 550, R_USER_UNKNOWN)
            self.assertQueued(c.data(message("two stale #%d" % i)), msg="message %d" % i)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        self.assertTrue(c.quiet(0.3))
        s.wait_queue_empty(timeout=60)
        self.assertEqual(s.count("bob"), 15)


class ProtocolErrorTests(MailportTest):
    """max_errors: protocol errors only"""

    def test_protocol_error_kinds_count(self):
        """every kind the spec lists counts: unknown command, line too long,
        NUL, bad HELO, 501/555 syntax, bad sender/recipient syntax, address
        too long, 553 5.6.7, 503 sequence; the 12th is followed by 421"""
        s = self.server(users=USERS, max_errors=12)
        c = s.client()
        steps = [
            (b"MAIL FROM:<a@client.test>", 503, R_HELLO_FIRST),            # 1
            (b"EHLO -bad-", 501, R_BAD_DOMAIN),                            # 2
        ]
        for line, code, text in steps:
            self.assertCmd(c, line, code, text)
        c.ehlo()
        steps = [
            (b"XYZZY", 500, R_UNKNOWN),                                    # 3
            (b"NOOP " + b"a" * 600, 500, R_TOO_LONG),                      # 4
            (b"NOOP\x00", 500, R_NUL),                                     # 5
            (b"MAIL FROM:", 501, R_INVALID_ARGS),                          # 6
            (b"MAIL FROM:<a@client.test> FOO=BAR", 555, R_UNKNOWN_PARAM),  # 7
            (b"MAIL FROM:<a@@client.test>", 550, R_BAD_SENDER),            # 8
            (b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK),
            (b"RCPT TO:<a@@example.test>", 501, R_BAD_RCPT),               # 9
            (b"RCPT TO:<" + b"b" * 65 + b"@example.test>", 501, R_ADDR_TOO_LONG),  # 10
            ("RCPT TO:<ü@example.test>".encode(), 553, R_UTF8),            # 11
        ]
        for line, code, text in steps:
            self.assertCmd(c, line, code, text)
        self.assertTrue(c.quiet(0.3), "closed before max_errors")
        self.assertCmd(c, b"MAIL FROM:<b@client.test>", 503, R_NESTED_MAIL)  # 12
        self.assertReply(c.reply(), 421, R_TOO_MANY_ERRORS)
        self.assertClosed(c)

    def test_count_restarts_after_accepted_message(self):
        """max_errors = 3: 2 errors, a message accepted, 2 errors, still
        open; then the 3rd error since the message gets 421"""
        s = self.server(max_errors=3)
        c = s.session()
        self.assertCmd(c, b"FOO", 500, R_UNKNOWN)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 503, R_NEED_MAIL)
        self.assertQueued(c.mail_to("a@client.test", ["alice@example.test"], message("reset 1")))
        self.assertCmd(c, b"BAR", 500, R_UNKNOWN)
        self.assertCmd(c, b"DATA", 503, R_NEED_MAIL)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        self.assertTrue(c.quiet(0.3))
        self.assertQueued(c.mail_to("a@client.test", ["alice@example.test"], message("reset 2")))
        self.assertCmd(c, b"FOO", 500, R_UNKNOWN)
        self.assertCmd(c, b"MAIL FROM:", 501, R_INVALID_ARGS)
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        # a message sent by BDAT restarts the count as well
        body = message("reset 3")
        c.send(b"BDAT %d LAST\r\n" % len(body) + body)
        self.assertQueued(c.reply(60))
        self.assertCmd(c, b"FOO", 500, R_UNKNOWN)
        self.assertCmd(c, b"FOO", 500, R_UNKNOWN)
        self.assertTrue(c.quiet(0.3))
        self.assertCmd(c, b"FOO", 500, R_UNKNOWN)
        self.assertReply(c.reply(), 421, R_TOO_MANY_ERRORS)
        self.assertClosed(c)
        s.wait_queue_empty()
        self.assertEqual(s.count("alice"), 3)

    def test_no_restart_without_accepted_message(self):
        """a transaction that ends without an accepted message (RSET, a
        message refused at the end of data) does not restart the count,
        and the refusal itself (552) is no protocol error"""
        s = self.server(max_errors=3, max_message_size=1000)
        c = s.session()
        self.assertCmd(c, b"FOO", 500, R_UNKNOWN)
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        self.assertCmd(c, b"RSET", 250, R_RSET)
        self.assertCmd(c, b"BAR", 500, R_UNKNOWN)
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        self.assertReply(c.data(message("too big", body=b"x" * 3000 + b"\r\n")), 552, R_SIZE)
        self.assertTrue(c.quiet(0.3), "the 552 counted as a protocol error")
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        self.assertCmd(c, b"BAZ", 500, R_UNKNOWN)
        self.assertReply(c.reply(), 421, R_TOO_MANY_ERRORS)
        self.assertClosed(c)
        self.assertNothingDelivered(s, 0.5)

    def test_pipelined_errors_stop_at_421(self):
        """max_errors = 3 in one write after an accepted message: exactly
        three 500s, the 421, then nothing"""
        s = self.server(max_errors=3)
        c = s.session()
        self.assertCmd(c, b"FOO", 500, R_UNKNOWN)
        self.assertCmd(c, b"FOO", 500, R_UNKNOWN)
        self.assertQueued(c.mail_to("a@client.test", ["alice@example.test"], message("then burst")))
        got, _ = c.flood([b"FOO\r\n" * 50])
        lines = got.split(b"\r\n")
        self.assertEqual(lines, [b"500 " + R_UNKNOWN.encode()] * 3
                         + [b"421 " + R_TOO_MANY_ERRORS.encode(), b""])


class RejectedRecipientTests(MailportTest):
    """rejected recipients: not protocol errors; max_rcpt_rejects"""

    def test_rejections_do_not_count_as_errors(self):
        """max_errors = 2 and 60 rejected recipients of every kind (user
        unknown, mailbox name, relay denied, too many recipients): the
        session stays open, a message is accepted; protocol errors still
        count (the 2nd gets 421)"""
        s = self.server(users=USERS, networks="", max_errors=2, max_recipients=3)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        for i in range(15):
            self.assertCmd(c, b"RCPT TO:<nobody%d@example.test>" % i, 550, R_USER_UNKNOWN)
            self.assertCmd(c, b'RCPT TO:<"a/../../b%d"@example.test>' % i, 550, R_MAILBOX_NAME)
            self.assertCmd(c, b"RCPT TO:<x%d@foreign.test>" % i, 550, R_RELAY)
        for u in USERS[:3]:
            self.assertCmd(c, b"RCPT TO:<%s>" % u.encode(), 250, R_RCPT_OK)
        for i in range(15):
            self.assertCmd(c, b"RCPT TO:<%s>" % USERS[3 + i % 2].encode(), 452, R_TOO_MANY_RCPTS)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        self.assertTrue(c.quiet(0.3))
        self.assertQueued(c.data(message("60 rejections")))
        self.assertCmd(c, b"FOO", 500, R_UNKNOWN)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        self.assertTrue(c.quiet(0.3), "closed after one protocol error (max_errors = 2)")
        self.assertCmd(c, b"FOO", 500, R_UNKNOWN)
        self.assertReply(c.reply(), 421, R_TOO_MANY_ERRORS)
        self.assertClosed(c)
        s.wait_queue_empty()
        self.assertEqual(s.mailboxes(), {("example.test", l): 1 for l in LOCALS[:3]})

    def test_max_rcpt_rejects(self):
        """max_rcpt_rejects = 5: the 5th rejection is answered, then 421 and
        close; nothing is queued"""
        s = self.server(users=USERS, max_rcpt_rejects=5)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        for i in range(4):
            self.assertCmd(c, b"RCPT TO:<nobody%d@example.test>" % i, 550, R_USER_UNKNOWN)
        self.assertCmd(c, b"RCPT TO:<bob@example.test>", 250, R_RCPT_OK)
        self.assertTrue(c.quiet(0.3), "closed before max_rcpt_rejects")
        self.assertCmd(c, b"RCPT TO:<nobody4@example.test>", 550, R_USER_UNKNOWN)
        self.assertReply(c.reply(), 421, R_TOO_MANY_ERRORS)
        self.assertClosed(c)
        self.assertNothingDelivered(s, 1.0)
        self.assertEqual(s.incoming_files(), [])

    def test_max_rcpt_rejects_mixed_kinds(self):
        """every kind of recipient rejection counts toward max_rcpt_rejects"""
        s = self.server(users=USERS, networks="", max_rcpt_rejects=4, max_recipients=1)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<nobody@example.test>", 550, R_USER_UNKNOWN)
        self.assertCmd(c, b'RCPT TO:<"a/../../b"@example.test>', 550, R_MAILBOX_NAME)
        self.assertCmd(c, b"RCPT TO:<x@foreign.test>", 550, R_RELAY)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        self.assertTrue(c.quiet(0.3))
        self.assertCmd(c, b"RCPT TO:<bob@example.test>", 452, R_TOO_MANY_RCPTS)
        self.assertReply(c.reply(), 421, R_TOO_MANY_ERRORS)
        self.assertClosed(c)
        self.assertNothingDelivered(s, 1.0)

    def test_max_rcpt_rejects_pipelined(self):
        """20 pipelined unknown recipients with max_rcpt_rejects = 5: five
        550s, the 421, then nothing"""
        s = self.server(users=USERS, max_rcpt_rejects=5)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        got, _ = c.flood([b"".join(b"RCPT TO:<nobody%d@example.test>\r\n" % i
                                   for i in range(20)) + b"DATA\r\n"])
        lines = got.split(b"\r\n")
        self.assertEqual(lines, [b"550 " + R_USER_UNKNOWN.encode()] * 5
                         + [b"421 " + R_TOO_MANY_ERRORS.encode(), b""])
        self.assertNothingDelivered(s, 1.0)

    def test_reject_count_survives_rset_restarts_after_message(self):
        """the count is per session: RSET or a new transaction does not
        restart it, an accepted message does"""
        s = self.server(users=USERS, max_rcpt_rejects=5)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        for i in range(4):
            self.assertCmd(c, b"RCPT TO:<nobody%d@example.test>" % i, 550, R_USER_UNKNOWN)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        self.assertQueued(c.data(message("after 4 rejections")))
        # counting starts again: 4 more, then RSET and a new transaction
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        for i in range(4):
            self.assertCmd(c, b"RCPT TO:<again%d@example.test>" % i, 550, R_USER_UNKNOWN)
        self.assertCmd(c, b"RSET", 250, R_RSET)
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertTrue(c.quiet(0.3))
        self.assertCmd(c, b"RCPT TO:<last@example.test>", 550, R_USER_UNKNOWN)
        self.assertReply(c.reply(), 421, R_TOO_MANY_ERRORS)
        self.assertClosed(c)
        s.wait_queue_empty()
        self.assertEqual(s.mailboxes(), {("example.test", "alice"): 1})

    def test_default_200_rejects_bounded(self):
        """defaults: no delay up to 100 rejections; a client that keeps on
        is cut at 200 at the latest.  Checked with the delay disabled so
        the test stays short: max_rcpt_rejects defaults to 200"""
        s = self.server(users=USERS, rcpt_reject_delay_after=100000)
        c = s.session(timeout=30)
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        got, _ = c.flood([b"".join(b"RCPT TO:<n%d@example.test>\r\n" % i for i in range(300))])
        lines = got.split(b"\r\n")[:-1]
        want = [b"550 " + R_USER_UNKNOWN.encode()] * 200 + [b"421 " + R_TOO_MANY_ERRORS.encode()]
        self.assertGreater(len(lines), 100)
        # a prefix: the kernel may drop replies when the server resets the
        # connection with our unread input
        self.assertEqual(lines, want[:len(lines)])


class RejectDelayTests(MailportTest):
    """rcpt_reject_delay_after = N: the (N+k)-th rejection waits k * 250 ms"""

    def test_delay_grows_after_threshold(self):
        s = self.server(users=USERS, rcpt_reject_delay_after=2)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        times = []
        for i in range(5):
            r, dt = timed(c, b"RCPT TO:<nobody%d@example.test>" % i)
            self.assertReply(r, 550, R_USER_UNKNOWN)
            times.append(dt)
        self.assertLess(times[0], FAST, times)
        self.assertLess(times[1], FAST, times)
        self.assertGreaterEqual(times[2], 0.2, times)   # 0.25 s
        self.assertLess(times[2], SLOW_MAX, times)
        self.assertGreaterEqual(times[3], 0.45, times)  # 0.5 s
        self.assertLess(times[3], SLOW_MAX, times)
        self.assertGreaterEqual(times[4], 0.7, times)   # 0.75 s
        self.assertLess(times[4], SLOW_MAX, times)
        # accepted recipients and other commands are not delayed
        r, dt = timed(c, b"RCPT TO:<alice@example.test>")
        self.assertReply(r, 250, R_RCPT_OK)
        self.assertLess(dt, FAST)
        r, dt = timed(c, b"NOOP")
        self.assertReply(r, 250, R_NOOP)
        self.assertLess(dt, FAST)

    def test_relay_denied_counts_like_user_unknown(self):
        """relay denials and unknown users share one count"""
        s = self.server(users=USERS, networks="", rcpt_reject_delay_after=2)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        r, dt1 = timed(c, b"RCPT TO:<x1@foreign.test>")
        self.assertReply(r, 550, R_RELAY)
        r, dt2 = timed(c, b"RCPT TO:<nobody@example.test>")
        self.assertReply(r, 550, R_USER_UNKNOWN)
        r, dt3 = timed(c, b"RCPT TO:<x3@foreign.test>")
        self.assertReply(r, 550, R_RELAY)
        r, dt4 = timed(c, b"RCPT TO:<x4@foreign.test>")
        self.assertReply(r, 550, R_RELAY)
        times = [dt1, dt2, dt3, dt4]
        self.assertLess(dt1, FAST, times)
        self.assertLess(dt2, FAST, times)
        self.assertGreaterEqual(dt3, 0.2, times)
        self.assertGreaterEqual(dt4, 0.45, times)
        self.assertLess(max(times), SLOW_MAX, times)

    def test_delay_restarts_after_accepted_message(self):
        s = self.server(users=USERS, rcpt_reject_delay_after=1)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        r, dt1 = timed(c, b"RCPT TO:<nobody1@example.test>")
        self.assertReply(r, 550, R_USER_UNKNOWN)
        r, dt2 = timed(c, b"RCPT TO:<nobody2@example.test>")
        self.assertReply(r, 550, R_USER_UNKNOWN)
        self.assertLess(dt1, FAST)
        self.assertGreaterEqual(dt2, 0.2)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        self.assertQueued(c.data(message("delay reset")))
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        r, dt3 = timed(c, b"RCPT TO:<nobody3@example.test>")
        self.assertReply(r, 550, R_USER_UNKNOWN)
        self.assertLess(dt3, FAST, "the count did not restart after the accepted message")
        r, dt4 = timed(c, b"RCPT TO:<nobody4@example.test>")
        self.assertReply(r, 550, R_USER_UNKNOWN)
        self.assertGreaterEqual(dt4, 0.2)
        self.assertLess(dt4, SLOW_MAX)

    def test_pipelined_delayed_replies_in_order(self):
        """pipelined recipients past the threshold: every reply comes, in
        order, after at least the sum of the delays"""
        s = self.server(users=USERS, rcpt_reject_delay_after=0)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        t0 = time.monotonic()
        c.send(b"RCPT TO:<n1@example.test>\r\nRCPT TO:<alice@example.test>\r\n"
               b"RCPT TO:<n2@example.test>\r\nRCPT TO:<n3@example.test>\r\nNOOP\r\n")
        self.assertReply(c.reply(), 550, R_USER_UNKNOWN)
        self.assertReply(c.reply(), 250, R_RCPT_OK)
        self.assertReply(c.reply(), 550, R_USER_UNKNOWN)
        self.assertReply(c.reply(), 550, R_USER_UNKNOWN)
        self.assertReply(c.reply(), 250, R_NOOP)
        # 0.25 + 0.5 + 0.75 s
        self.assertGreaterEqual(time.monotonic() - t0, 1.4)
        self.assertTrue(c.quiet(0.3))

    def test_delay_does_not_block_other_sessions(self):
        """a delayed rejection is a timer, not a sleep: another session is
        served meanwhile"""
        s = self.server(users=USERS, rcpt_reject_delay_after=0)
        slow = s.session()
        other = s.session()
        self.assertCmd(slow, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        for i in range(3):   # 0.25 + 0.5 + 0.75 s
            self.assertCmd(slow, b"RCPT TO:<n%d@example.test>" % i, 550, R_USER_UNKNOWN)
        t0 = time.monotonic()
        slow.line(b"RCPT TO:<n9@example.test>")  # 1.0 s
        time.sleep(0.1)
        r, dt = timed(other, b"NOOP")
        self.assertReply(r, 250, R_NOOP)
        self.assertLess(dt, 0.5, "another session waited for the delayed reply")
        self.assertReply(slow.reply(), 550, R_USER_UNKNOWN)
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)


class TooManyRecipientsTests(MailportTest):
    """452 4.5.3 counts as a rejected recipient"""

    def test_452_counts_toward_max_rcpt_rejects(self):
        s = self.server(max_recipients=2, max_rcpt_rejects=5, max_errors=2)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        for i in range(2):
            self.assertCmd(c, b"RCPT TO:<u%d@example.test>" % i, 250, R_RCPT_OK)
        for i in range(4):
            self.assertCmd(c, b"RCPT TO:<v%d@example.test>" % i, 452, R_TOO_MANY_RCPTS)
        self.assertTrue(c.quiet(0.3), "452 counted as a protocol error")
        self.assertCmd(c, b"RCPT TO:<v4@example.test>", 452, R_TOO_MANY_RCPTS)
        self.assertReply(c.reply(), 421, R_TOO_MANY_ERRORS)
        self.assertClosed(c)
        self.assertNothingDelivered(s, 1.0)

    def test_452_is_delayed_like_other_rejections(self):
        s = self.server(max_recipients=1, rcpt_reject_delay_after=1)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<u0@example.test>", 250, R_RCPT_OK)
        r, dt1 = timed(c, b"RCPT TO:<u1@example.test>")
        self.assertReply(r, 452, R_TOO_MANY_RCPTS)
        r, dt2 = timed(c, b"RCPT TO:<u2@example.test>")
        self.assertReply(r, 452, R_TOO_MANY_RCPTS)
        self.assertLess(dt1, FAST)
        self.assertGreaterEqual(dt2, 0.2)
        self.assertLess(dt2, SLOW_MAX)

    def test_recipient_flood_bounded_by_rejects(self):
        """5,000 pipelined RCPTs with max_recipients = 5 and the default
        max_rcpt_rejects (200, delay off for speed): 5 x 250, 200 x 452,
        421, the rest discarded; max_errors (3) plays no part; the server
        stays fine"""
        s = self.server(max_recipients=5, max_errors=3, rcpt_reject_delay_after=100000)
        c = s.session(timeout=30)
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        got, _ = c.flood([b"".join(b"RCPT TO:<u%d@example.test>\r\n" % i for i in range(5000))])
        want = ([b"250 " + R_RCPT_OK.encode()] * 5 + [b"452 " + R_TOO_MANY_RCPTS.encode()] * 200
                + [b"421 " + R_TOO_MANY_ERRORS.encode()])
        lines = got.split(b"\r\n")[:-1]
        self.assertGreater(len(lines), 5)
        self.assertEqual(lines, want[:len(lines)])
        self.assertQueued(s.send_mail())
        s.wait_messages("alice")

    def test_flood_with_default_delay_is_slowed(self):
        """defaults (delay after 100): a pipelined flood of 102 recipients
        past max_recipients gets its first 100 452s at once, then slows
        down (rejection 101 waits 0.25 s, 102 0.5 s)"""
        s = self.server(max_recipients=1)
        c = s.session(timeout=30)
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        t0 = time.monotonic()
        c.send(b"".join(b"RCPT TO:<u%d@example.test>\r\n" % i for i in range(103)))
        self.assertReply(c.reply(), 250, R_RCPT_OK)
        for _ in range(100):
            self.assertReply(c.reply(), 452, R_TOO_MANY_RCPTS)
        t100 = time.monotonic() - t0
        self.assertReply(c.reply(), 452, R_TOO_MANY_RCPTS)
        self.assertReply(c.reply(), 452, R_TOO_MANY_RCPTS)
        t102 = time.monotonic() - t0
        self.assertLess(t100, 5, "the first 100 rejections were delayed")
        self.assertGreaterEqual(t102 - t100, 0.7)  # 0.25 + 0.5 s
        self.assertCmd(c, b"QUIT", 221, R_QUIT)


class OtherRejectionTests(MailportTest):
    """spec: other 4xx/5xx (552 size, 554 hops, 530 need TLS/auth, AUTH
    failures) are no protocol errors and do not count toward max_errors.
    Each test: max_errors = 1, the refusal, the session still open, then
    one protocol error gets the 421."""

    def assert_open_then_421(self, c, what):
        self.assertTrue(c.quiet(0.3), "%s counted as a protocol error" % what)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        self.assertCmd(c, b"FOO", 500, R_UNKNOWN)
        self.assertReply(c.reply(), 421, R_TOO_MANY_ERRORS)
        self.assertClosed(c)

    def test_size_param_counts(self):
        """552 for MAIL SIZE= over the limit is a bad parameter: it counts
        (README "Limits"), unlike the 552 at the end of data"""
        s = self.server(max_errors=2, max_message_size=5000)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test> SIZE=999999", 552, R_SIZE)
        self.assertTrue(c.quiet(0.3), "closed after the first error")
        self.assertCmd(c, b"MAIL FROM:<a@client.test> SIZE=999999", 552, R_SIZE)
        self.assertReply(c.reply(), 421, R_TOO_MANY_ERRORS)
        self.assertClosed(c)

    def test_size_at_end_of_data_does_not_count(self):
        s = self.server(max_errors=1, max_message_size=5000)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        self.assertReply(c.data(message("big", body=b"b" * 6000 + b"\r\n")), 552, R_SIZE)
        self.assert_open_then_421(c, "552 at the end of data")
        self.assertNothingDelivered(s, 0.5)

    def test_hops_do_not_count(self):
        s = self.server(max_errors=1)
        c = s.session()
        hops = [b"Received: from h%d.test by h%d.test; Mon, 3 Nov 2025 10:00:00 +0000" % (i, i)
                for i in range(100)]
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        self.assertReply(c.data(message("loop", headers=hops)), 554, R_HOPS)
        self.assert_open_then_421(c, "554 too many hops")
        self.assertNothingDelivered(s, 0.5)

    def sub_client(self, **kw):
        kw.setdefault("max_errors", 1)
        s = tls_server(self, tls=False, submission=True, allow_plaintext_auth="yes", **kw)
        c = Client(s.sub_port)
        self.on_teardown(c.close)
        c.ehlo()
        return s, c

    def test_need_auth_counts(self):
        """submission port: MAIL before AUTH gets 530, a sequence error that
        counts (README "Limits"), so a client cannot loop on it; below the
        limit the session goes on and a message is accepted after AUTH"""
        s, c = self.sub_client(max_errors=2)
        self.assertCmd(c, b"MAIL FROM:<alice@example.test>", 530, R_NEED_AUTH)
        self.assertTrue(c.quiet(0.3), "closed after the first error")
        auth_plain(self, c)
        self.assertQueued(c.mail_to(ALICE, ["bob@example.test"], message("after 530")))
        s.wait_messages("bob")
        s2, c2 = self.sub_client(max_errors=2)
        self.assertCmd(c2, b"MAIL FROM:<alice@example.test>", 530, R_NEED_AUTH)
        self.assertCmd(c2, b"MAIL FROM:<alice@example.test>", 530, R_NEED_AUTH)
        self.assertReply(c2.reply(), 421, R_TOO_MANY_ERRORS)
        self.assertClosed(c2)

    def test_auth_failure_does_not_count(self):
        """a 535 below max_auth_failures leaves the session open"""
        s, c = self.sub_client(max_auth_failures=3)
        self.assertReply(c.cmd("AUTH PLAIN " + plain(ALICE, "wrong-password-1"), timeout=20),
                         535, R_AUTH_FAILED)
        self.assertTrue(c.quiet(0.3), "535 counted as a protocol error")
        auth_plain(self, c)
        self.assertQueued(c.mail_to(ALICE, ["bob@example.test"], message("after 535")))
        s.wait_messages("bob")


class DelayRobustnessTests(MailportTest):
    """a delayed rejection in flight when the client leaves, when the limit
    is reached, or at shutdown (the sanitizer build checks the rest)"""

    def test_client_gone_during_delay(self):
        s = self.server(users=USERS, rcpt_reject_delay_after=0)
        for how in ("close", "reset"):
            with self.subTest(how=how):
                c = s.session()
                self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
                c.send(b"RCPT TO:<n1@example.test>\r\nRCPT TO:<n2@example.test>\r\nNOOP\r\n")
                time.sleep(0.05)
                if how == "close":
                    c.close()
                else:
                    c.reset_close()
                time.sleep(1.0)  # past both delays
        self.assertQueued(s.send_mail())
        s.wait_messages("alice")
        self.assertEqual(s.stop(), 0)

    def test_limit_reached_on_delayed_rejection(self):
        """max_rcpt_rejects = 3 with delay after 1: the 3rd rejection waits
        0.5 s, is answered, then 421 and close"""
        s = self.server(users=USERS, rcpt_reject_delay_after=1, max_rcpt_rejects=3)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        t0 = time.monotonic()
        c.send(b"RCPT TO:<n1@example.test>\r\nRCPT TO:<n2@example.test>\r\n"
               b"RCPT TO:<n3@example.test>\r\nRCPT TO:<n4@example.test>\r\nNOOP\r\n")
        for _ in range(3):
            self.assertReply(c.reply(), 550, R_USER_UNKNOWN)
        self.assertReply(c.reply(), 421, R_TOO_MANY_ERRORS)
        self.assertGreaterEqual(time.monotonic() - t0, 0.7)  # 0.25 + 0.5 s
        self.assertEqual(self.assertClosed(c), b"")

    def test_sigterm_during_delay(self):
        """SIGTERM while a rejection is delayed: the session ends with the
        shutdown 421 (after its 550, or at once), the server exits 0"""
        s = self.server(users=USERS, rcpt_reject_delay_after=0)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        for i in range(3):   # 0.25 + 0.5 + 0.75 s
            self.assertCmd(c, b"RCPT TO:<n%d@example.test>" % i, 550, R_USER_UNKNOWN)
        c.line(b"RCPT TO:<n9@example.test>")  # 1.0 s
        time.sleep(0.2)
        s.signal(signal.SIGTERM)
        s.expect_exit = True
        r = c.reply(15)
        if r.code == 550:
            self.assertReply(r, 550, R_USER_UNKNOWN)
            r = c.reply(15)
        self.assertReply(r, 421, R_SHUTDOWN)
        self.assertClosed(c, 15)
        self.assertEqual(s.wait_exit(20), 0)
