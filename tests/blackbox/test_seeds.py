"""test_seeds - the telnet sessions of the seed how-to documents replayed verbatim
(raw bytes, CRLF as telnet sends them), addresses adapted to the local
domains, checked against the README reply table and the Maildir.
"""

import re

from harness import (HOST, REPLY_QUEUED_RE, R_BAD_DOMAIN, R_BAD_SENDER, R_DATA_OK, R_HELLO,
                     R_HELLO_FIRST, R_INVALID_ARGS, R_NEED_MAIL, R_NEED_RCPT, R_NOOP, R_QUIT,
                     R_RCPT_OK, R_RELAY, R_RSET, R_SENDER_OK, R_TOO_MANY_ERRORS, R_UNKNOWN,
                     R_UNKNOWN_PARAM, R_USER_UNKNOWN, R_VRFY, MailportTest, header_fields)


class SeedTests(MailportTest):

    def test_seed000_two_recipients_then_body_without_headers(self):
        """000 (WinDeveloper): EHLO, MAIL, two RCPTs, DATA with From/To/
        Subject, then a second message "starting straight from the MAIL
        command" whose data is just the body text, then QUIT"""
        s = self.server()
        c = s.client()
        self.assertReply(c.banner, 220, "%s ESMTP ready" % HOST)
        r = c.cmd(b"EHLO client.example.org")
        self.assertEqual(r.code, 250)
        self.assertCmd(c, b"MAIL FROM:<sender@example.net>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        self.assertCmd(c, b"RCPT TO:<bob@example.test>", 250, R_RCPT_OK)
        self.assertCmd(c, b"DATA", 354, R_DATA_OK)
        c.send(b"From: Sender <sender@example.net>\r\n"
               b"To: <alice@example.test>, <bob@example.test>\r\n"
               b"Subject: Telnet Port 25\r\n"
               b"\r\n"
               b"This is a test email\r\n"
               b".\r\n")
        q1 = self.assertQueued(c.reply())
        # "We could now submit another email starting straight from the MAIL command."
        self.assertCmd(c, b"MAIL FROM:<sender@example.net>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        self.assertCmd(c, b"RCPT TO:<bob@example.test>", 250, R_RCPT_OK)
        self.assertCmd(c, b"DATA", 354, R_DATA_OK)
        c.send(b"This is a test email\r\n.\r\n")
        q2 = self.assertQueued(c.reply())
        self.assertNotEqual(q1, q2)
        self.assertCmd(c, b"QUIT", 221, R_QUIT)
        self.assertClosed(c)
        for who in ("alice", "bob"):
            msgs = s.wait_messages(who, 2)
            self.assertEqual(len(msgs), 2)
            with_headers = [m for m in msgs if b"Subject: Telnet Port 25\n" in m]
            bare = [m for m in msgs if b"Subject: Telnet Port 25\n" not in m]
            self.assertEqual(len(with_headers), 1)
            self.assertEqual(len(bare), 1)
            self.assertIn(b"\nThis is a test email\n", with_headers[0])
            self.assertTrue(bare[0].endswith(b"This is a test email\n"), bare[0][-200:])
            names = [n for n, _ in header_fields(bare[0]) if n]
            # the header-less message gets our Message-ID: and Date:
            self.assertIn("Message-ID", names)
            self.assertIn("Date", names)
            self.assertIn(b"Message-ID: <%s@%s>" % (q2.encode(), HOST.encode()), bare[0])
            self.assertTrue(msgs[0].startswith(b"Return-Path: <sender@example.net>\n"
                                               b"Delivered-To: %s@example.test\n"
                                               b"Received: from client.example.org ([127.0.0.1])\n"
                                               % who.encode()), msgs[0][:300])

    def test_seed001_exchange_notify(self):
        """001 (Exchange 2007 docs): EHLO, MAIL, "RCPT NOTIFY=success,failure"
        (the path was lost from the page: verbatim it is a syntax error, with
        a proper TO:<..> it is accepted), DATA, Subject, empty line, text,
        empty line, ".", QUIT"""
        s = self.server()
        c = s.client()
        self.assertEqual(c.banner.code, 220)
        r = c.cmd(b"EHLO contoso.com")
        self.assertEqual(r.lines[0], "250-%s" % (R_HELLO % "127.0.0.1"))
        self.assertCmd(c, b"MAIL FROM:<chris@contoso.com>", 250, R_SENDER_OK)
        r = c.cmd(b"RCPT NOTIFY=success,failure")
        self.assertEqual(r.code, 501, r)
        self.assertCmd(c, b"RCPT TO:<kate@example.test> NOTIFY=success,failure", 250, R_RCPT_OK)
        self.assertCmd(c, b"RCPT TO:<kim@example.test> NOTIFY=SUCCESS,FAILURE", 250, R_RCPT_OK)
        self.assertCmd(c, b"DATA", 354, R_DATA_OK)
        c.send(b"Subject: Test from Contoso\r\n")
        c.send(b"\r\n")
        c.send(b"This is a test message\r\n")
        c.send(b"\r\n")
        c.send(b".\r\n")
        self.assertQueued(c.reply())
        self.assertCmd(c, b"QUIT", 221, R_QUIT)
        self.assertClosed(c)
        for who in ("kate", "kim"):
            m = s.wait_messages(who)[0]
            self.assertIn(b"\nSubject: Test from Contoso\n", m)
            self.assertTrue(m.endswith(b"\nThis is a test message\n\n"), m[-200:])

    def test_seed001_failure_responses(self):
        """001: the documented failure replies: 501 5.5.4 Invalid domain
        name, 550 5.1.7 Invalid address, 550 5.1.1 User unknown"""
        s = self.server(users=["alice@example.test"])
        c = s.client()
        self.assertCmd(c, b"EHLO bad_domain!", 501, R_BAD_DOMAIN)
        self.assertCmd(c, b"EHLO contoso.com", 250, regex=".*")
        self.assertCmd(c, b"MAIL FROM:<chris@@contoso.com>", 550, R_BAD_SENDER)
        self.assertCmd(c, b"MAIL FROM:<chris@contoso.com>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<kate@example.test> NOTIFY=success,failure", 550, R_USER_UNKNOWN)
        self.assertCmd(c, b"RCPT TO:<alice@example.test> NOTIFY=success,failure", 250, R_RCPT_OK)
        self.assertCmd(c, b"QUIT", 221, R_QUIT)

    def test_seed002_lowercase_telnet_session(self):
        """002 (the Elvis session): lowercase commands, unbracketed
        addresses, custom banner, subject line then body, "." and quit"""
        s = self.server(banner="This is the example.com mailserver. How you doin'?")
        c = s.client()
        self.assertReply(c.banner, 220,
                         "%s This is the example.com mailserver. How you doin'?" % HOST)
        self.assertCmd(c, b"helo example.com", 250, R_HELLO % "127.0.0.1")
        self.assertCmd(c, b"mail from:elvis@graceland.com", 250, R_SENDER_OK)
        self.assertCmd(c, b"rcpt to:ed@example.test", 250, R_RCPT_OK)
        self.assertCmd(c, b"data", 354, R_DATA_OK)
        c.send(b"subject: peanut butter and banana sandwich recipe\r\n"
               b"This is delicious.\r\n"
               b"Thank you, thank you very much.\r\n"
               b".\r\n")
        self.assertReply(c.reply(), 250, regex=REPLY_QUEUED_RE)
        self.assertCmd(c, b"quit", 221, R_QUIT)
        self.assertClosed(c)
        m = s.wait_messages("ed")[0]
        self.assertTrue(m.startswith(b"Return-Path: <elvis@graceland.com>\nDelivered-To: ed@example.test\n"
                                     b"Received: from example.com ([127.0.0.1])\n"
                                     b"\tby mx.example.test with SMTP id "), m[:300])
        self.assertIn(b"subject: peanut butter and banana sandwich recipe\n", m)
        self.assertTrue(m.endswith(b"This is delicious.\nThank you, thank you very much.\n"), m[-200:])

    def test_seed002_other_responses(self):
        """002: the "other responses" list: Resetting, Cannot VRFY user,
        Unrecognized command, Send hello first, Need mail command, Need rcpt
        command, Invalid arguments, Unable to relay (Unrecognized parameter
        is 555 in the README, not the seed's 501), Too many errors (protocol
        errors only: the relay denial does not count, README)"""
        s = self.server(networks="", max_errors=8)
        c = s.client()
        self.assertCmd(c, b"mail from:elvis@graceland.com", 503, R_HELLO_FIRST)
        self.assertCmd(c, b"helo example.com", 250, R_HELLO % "127.0.0.1")
        self.assertCmd(c, b"rset", 250, R_RSET)
        self.assertCmd(c, b"vrfy ed", 252, R_VRFY)
        self.assertCmd(c, b"hello example.com", 500, R_UNKNOWN)
        self.assertCmd(c, b"rcpt to:ed@example.test", 503, R_NEED_MAIL)
        self.assertCmd(c, b"mail from:", 501, R_INVALID_ARGS)
        self.assertCmd(c, b"mail from:elvis@graceland.com", 250, R_SENDER_OK)
        self.assertCmd(c, b"data", 503, R_NEED_RCPT)
        self.assertCmd(c, b"rcpt to:ed@example.com", 550, R_RELAY)
        self.assertCmd(c, b"rcpt to:ed@example.test FOO=BAR", 555, R_UNKNOWN_PARAM)
        # that was error 6 of max_errors = 8 (the 550 relay denial is a
        # rejected recipient, not a protocol error)
        self.assertCmd(c, b"noop", 250, R_NOOP)
        self.assertCmd(c, b"xyzzy", 500, R_UNKNOWN)
        r = c.cmd(b"xyzzy")
        self.assertReply(r, 500, R_UNKNOWN)
        self.assertReply(c.reply(), 421, R_TOO_MANY_ERRORS)
        self.assertClosed(c)

    def test_seed003_port25_session(self):
        """003 (SparkPost/port25): EHLO with the capability list, "MAIL FROM:
        <support@port25.com>" with a space, headers, body with lines holding
        one space, ".", QUIT"""
        s = self.server()
        c = s.client()
        r = c.cmd(b"EHLO server.example.com")
        self.assertEqual(r.lines, ["250-%s" % (R_HELLO % "127.0.0.1"), "250-PIPELINING",
                                   "250-SIZE 36700160", "250-8BITMIME",
                                   "250-ENHANCEDSTATUSCODES", "250-DSN", "250-CHUNKING",
                                   "250 SMTPUTF8"])
        self.assertCmd(c, b"MAIL FROM: <support@port25.com>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO: <support@example.test>", 250, R_RCPT_OK)
        self.assertCmd(c, b"DATA", 354, R_DATA_OK)
        body = (b"From: \"John Smith\" <jsmith@port25.com>\r\n"
                b"To: \"Jane Doe\" <jdoe@port25.com>\r\n"
                b"Subject: test message sent from manual telnet session\r\n"
                b"Date: Wed, 11 May 2011 16:19:57 -0400\r\n"
                b"\r\n"
                b"Hello World,\r\n"
                b"This is a test message sent from a manual telnet session.\r\n"
                b" \r\n"
                b"Yours truly,\r\n"
                b"SMTP administrator\r\n"
                b" \r\n"
                b" \r\n")
        c.send(body + b".\r\n")
        qid = self.assertQueued(c.reply())
        self.assertCmd(c, b"QUIT", 221, R_QUIT)
        self.assertClosed(c)
        m = s.wait_messages("support")[0]
        head, _, rest = m.partition(b"\nFrom: \"John Smith\"")
        self.assertTrue(rest, m)
        self.assertEqual(b"From: \"John Smith\"" + rest,
                         _with_message_id(body, qid).replace(b"\r\n", b"\n"))

    def test_seed003_pipelined_commands(self):
        """003: "enter the MAIL FROM, RCPT TO, and DATA commands before
        waiting for a response" (PIPELINING)"""
        s = self.server()
        c = s.client()
        c.cmd(b"EHLO server.example.com")
        c.send(b"MAIL FROM: <support@port25.com>\r\nRCPT TO: <support@example.test>\r\nDATA\r\n")
        self.assertReply(c.reply(), 250, R_SENDER_OK)
        self.assertReply(c.reply(), 250, R_RCPT_OK)
        self.assertReply(c.reply(), 354, R_DATA_OK)
        c.send(b"Subject: pipelined\r\n\r\nHello World,\r\n.\r\nQUIT\r\n")
        self.assertQueued(c.reply())
        self.assertReply(c.reply(), 221, R_QUIT)
        self.assertClosed(c)
        s.wait_messages("support")

    def test_seed004_myuclab(self):
        """004 (myuclab): helo, "mail from: test@test.nl" (space, no
        brackets), rcpt to:, data, subject, two ENTERs, text, ".", Quit"""
        s = self.server()
        c = s.client()
        self.assertCmd(c, b"helo test.nl", 250, R_HELLO % "127.0.0.1")
        self.assertCmd(c, b"mail from: test@test.nl", 250, R_SENDER_OK)
        self.assertCmd(c, b"rcpt to: user@example.test", 250, R_RCPT_OK)
        self.assertCmd(c, b"data", 354, R_DATA_OK)
        c.send(b"subject: smtp test via telnet\r\n\r\nThis mail is send via telnet\r\n.\r\n")
        qid = self.assertQueued(c.reply())
        self.assertCmd(c, b"Quit", 221, R_QUIT)
        self.assertClosed(c)
        m = s.wait_messages("user")[0]
        self.assertRegex(m.decode("latin-1"),
                         r"^Return-Path: <test@test\.nl>\nDelivered-To: user@example\.test\n"
                         r"Received: from test\.nl \(\[127\.0\.0\.1\]\)\n"
                         r"\tby mx\.example\.test with SMTP id %s\n"
                         r"\tfor <user@example\.test>; [^\n]+\n" % re.escape(qid))
        self.assertTrue(m.endswith(b"\n\nThis mail is send via telnet\n"), m[-100:])
        self.assertIn(b"\nsubject: smtp test via telnet\n", m)

    def test_seed_telnet_bare_lf(self):
        """the seeds typed with a client that sends bare LF (netcat without
        -C): commands are accepted, but only CRLF.CRLF ends the data"""
        s = self.server()
        c = s.client()
        c.send(b"helo example.com\n")
        self.assertReply(c.reply(), 250, R_HELLO % "127.0.0.1")
        c.send(b"mail from:elvis@graceland.com\n")
        self.assertReply(c.reply(), 250, R_SENDER_OK)
        c.send(b"rcpt to:ed@example.test\n")
        self.assertReply(c.reply(), 250, R_RCPT_OK)
        c.send(b"data\n")
        self.assertReply(c.reply(), 354, R_DATA_OK)
        c.send(b"subject: bare\nThis is delicious.\n.\n")
        self.assertTrue(c.quiet(1.0), "a bare-LF dot line ended the data")
        c.send(b"\r\n.\r\n")
        self.assertQueued(c.reply())
        c.send(b"quit\n")
        self.assertReply(c.reply(), 221, R_QUIT)
        m = s.wait_messages("ed")[0]
        self.assertIn(b"This is delicious.\n.\n\n", m)


def _with_message_id(body, qid):
    """the seed 003 message as stored: it has Date: but no Message-ID:, so
    ours is added at the end of the header"""
    head, sep, rest = body.partition(b"\r\n\r\n")
    return head + b"\r\nMessage-ID: <%s@%s>" % (qid.encode(), HOST.encode()) + sep + rest
