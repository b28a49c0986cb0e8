"""test_commands - command replies of the README reply table and CHECKLIST A
(command syntax): greeting, HELO/EHLO, RSET/NOOP/VRFY/EXPN/HELP/QUIT,
unknown verbs, command order, line length, NUL, bare LF, forbidden
(HTTP/proxy) verbs.
"""

from harness import (Client, HOST, R_ADDR_TOO_LONG, R_BAD_DOMAIN, R_DATA_OK, R_EXPN, R_FLOOD, R_FORBIDDEN,
                     R_HELLO, R_HELLO_FIRST, R_HELP, R_NEED_MAIL, R_NEED_RCPT, R_NESTED_MAIL,
                     R_NOOP, R_NUL, R_QUIT, R_RCPT_OK, R_RSET, R_SENDER_OK, R_TOO_LONG, R_UNKNOWN,
                     R_VRFY, MailportTest, have_ipv6, message)


def ehlo_lines(ip="127.0.0.1", size=36700160):
    return ["250-%s" % (R_HELLO % ip), "250-PIPELINING", "250-SIZE %d" % size,
            "250-8BITMIME", "250-ENHANCEDSTATUSCODES", "250-DSN", "250-CHUNKING",
            "250 SMTPUTF8"]


class GreetingTests(MailportTest):

    def test_banner(self):
        s = self.server()
        c = s.client()
        self.assertEqual(c.banner.lines, ["220 %s ESMTP ready" % HOST])
        self.assertNotIn("mailport", c.banner.text.lower())

    def test_banner_configurable(self):
        s = self.server(banner="Welcome to the test MX")
        c = s.client()
        self.assertEqual(c.banner.lines, ["220 %s Welcome to the test MX" % HOST])

    def test_helo(self):
        s = self.server()
        c = s.client()
        r = c.cmd(b"HELO client.test")
        self.assertEqual(r.lines, ["250 " + R_HELLO % "127.0.0.1"])

    def test_ehlo_capabilities(self):
        s = self.server()
        c = s.client()
        self.assertEqual(c.cmd(b"EHLO client.test").lines, ehlo_lines())

    def test_ehlo_size_follows_config(self):
        s = self.server(max_message_size=123456)
        c = s.client()
        self.assertEqual(c.cmd(b"EHLO client.test").lines, ehlo_lines(size=123456))

    def test_ipv6_client(self):
        if not have_ipv6():
            self.skipTest("skipped: no IPv6 loopback")
        s = self.server(ipv6=True)
        c = s.client()
        self.assertEqual(c.banner.code, 220)
        self.assertEqual(c.cmd(b"EHLO client.test").lines, ehlo_lines("::1"))
        self.assertCmd(c, b"HELO client.test", 250, R_HELLO % "::1")
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        self.assertCmd(c, b"DATA", 354, R_DATA_OK)
        c.send(message("v6") + b".\r\n")
        self.assertQueued(c.reply())
        m = s.wait_messages("alice")[0]
        self.assertIn(b"Received: from client.test ([::1])\n", m)

    def test_listen_two_addresses(self):
        """README: listen takes a list (numeric addresses)"""
        if not have_ipv6():
            self.skipTest("skipped: no IPv6 loopback")
        s = self.server(start=False)
        s.opts["listen"] = "127.0.0.1:%d, [::1]:%d" % (s.port, s.port)
        s.write_config()
        s.start()
        for host, ip in (("127.0.0.1", "127.0.0.1"), ("::1", "::1")):
            with self.subTest(host=host):
                c = Client(s.port, host)
                self.assertEqual(c.banner.code, 220)
                self.assertCmd(c, b"HELO client.test", 250, R_HELLO % ip)

    def test_helo_ehlo_missing_or_bad_argument(self):
        s = self.server(max_errors=50)
        c = s.client()
        for line in (b"HELO", b"EHLO", b"HELO ", b"EHLO ", b"EHLO -bad-", b"EHLO a..b",
                     b"EHLO exa*mple.test", b"EHLO [300.1.1.1]", b"HELO bad!name", b"EHLO a.-b.test",
                     b"EHLO a" + b".b" * 200):
            with self.subTest(line=line[:40]):
                self.assertCmd(c, line, 501, R_BAD_DOMAIN)
        c2 = s.client()
        # README "Decisions": labels may hold "_" (Windows host names)
        for line in (b"EHLO x", b"EHLO [127.0.0.1]", b"EHLO [IPv6:::1]", b"HELO mail.example.org.",
                     b"EHLO a-b.c-d.test", b"EHLO WIN_PC01", b"EHLO my_host.example.test"):
            with self.subTest(line=line):
                self.assertEqual(c2.cmd(line).code, 250)

    def test_huge_helo(self):
        """100 KB EHLO: 500 line too long, the session goes on"""
        s = self.server()
        c = s.client()
        c.send(b"EHLO " + b"a" * 100000 + b"\r\n")
        self.assertReply(c.reply(), 500, R_TOO_LONG)
        self.assertEqual(c.cmd(b"EHLO client.test").lines, ehlo_lines())

    def test_second_ehlo_and_helo_after_ehlo(self):
        s = self.server()
        c = s.client()
        c.ehlo()
        self.assertEqual(c.cmd(b"EHLO again.test").lines, ehlo_lines())
        self.assertCmd(c, b"HELO third.test", 250, R_HELLO % "127.0.0.1")
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)

    def test_ehlo_resets_transaction(self):
        s = self.server()
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        c.ehlo("again.test")
        self.assertCmd(c, b"DATA", 503, R_NEED_MAIL)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 503, R_NEED_MAIL)
        self.assertCmd(c, b"MAIL FROM:<b@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<bob@example.test>", 250, R_RCPT_OK)
        self.assertQueued(c.data(message("after-ehlo", to="bob@example.test")))
        s.wait_queue_empty()
        self.assertEqual(s.mailboxes(), {("example.test", "bob"): 1})

    def test_helo_resets_transaction(self):
        s = self.server()
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"HELO again.test", 250, R_HELLO % "127.0.0.1")
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 503, R_NEED_MAIL)
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)


class SimpleCommandTests(MailportTest):

    def test_rset_noop_vrfy_expn_help(self):
        s = self.server()
        c = s.session()
        self.assertCmd(c, b"RSET", 250, R_RSET)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        self.assertCmd(c, b"NOOP anything at all", 250, R_NOOP)
        self.assertCmd(c, b"VRFY alice", 252, R_VRFY)
        self.assertCmd(c, b"VRFY <alice@example.test>", 252, R_VRFY)
        self.assertCmd(c, b"EXPN staff", 502, R_EXPN)
        self.assertCmd(c, b"HELP", 214, R_HELP)
        self.assertCmd(c, b"HELP MAIL", 214, R_HELP)

    def test_simple_commands_before_helo(self):
        s = self.server()
        c = s.client()
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        self.assertCmd(c, b"RSET", 250, R_RSET)
        self.assertCmd(c, b"VRFY alice", 252, R_VRFY)
        self.assertCmd(c, b"HELP", 214, R_HELP)
        self.assertCmd(c, b"QUIT", 221, R_QUIT)
        self.assertClosed(c)

    def test_rset_clears_transaction(self):
        s = self.server()
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        self.assertCmd(c, b"RSET", 250, R_RSET)
        self.assertCmd(c, b"DATA", 503, R_NEED_MAIL)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 503, R_NEED_MAIL)
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)

    def test_quit_closes(self):
        s = self.server()
        c = s.session()
        self.assertCmd(c, b"QUIT", 221, R_QUIT)
        self.assertEqual(self.assertClosed(c), b"")

    def test_quit_in_transaction_discards_it(self):
        s = self.server()
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        self.assertCmd(c, b"QUIT", 221, R_QUIT)
        self.assertClosed(c)
        self.assertNothingDelivered(s, 0.5)

    def test_unknown_verb_does_not_close(self):
        s = self.server()
        c = s.session()
        for line in (b"FOO", b"XYZZY bar", b"STARTTLSX", b"MAILFROM:<a@b.test>"):
            with self.subTest(line=line):
                self.assertCmd(c, line, 500, R_UNKNOWN)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)

    def test_verbs_case_insensitive(self):
        s = self.server()
        c = s.client()
        self.assertEqual(c.cmd(b"eHlO client.test").code, 250)
        self.assertCmd(c, b"NoOp", 250, R_NOOP)
        self.assertCmd(c, b"mAiL fRoM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RcPt To:<alice@example.test>", 250, R_RCPT_OK)
        self.assertCmd(c, b"DaTa", 354, R_DATA_OK)
        c.send(message("case") + b".\r\n")
        self.assertQueued(c.reply())
        self.assertCmd(c, b"qUiT", 221, R_QUIT)
        s.wait_messages("alice")

    def test_bare_lf_command_ends(self):
        """commands may end in a bare LF"""
        s = self.server()
        c = s.client()
        c.send(b"EHLO client.test\n")
        self.assertEqual(c.reply().lines, ehlo_lines())
        c.send(b"NOOP\nRSET\r\nNOOP\n")
        self.assertReply(c.reply(), 250, R_NOOP)
        self.assertReply(c.reply(), 250, R_RSET)
        self.assertReply(c.reply(), 250, R_NOOP)
        self.assertTrue(c.quiet())

    def test_bare_cr_inside_command_is_not_a_line_end(self):
        """a bare CR is not a line end: "NOOP\\rRSET" is one line, one reply"""
        s = self.server()
        c = s.session()
        c.send(b"NOOP\rRSET\r\n")
        r = c.reply()
        self.assertNotEqual(r.text, R_RSET, "bare CR split the command")
        self.assertTrue(c.quiet(0.5), "two replies for one line")
        self.assertSync(c)


class OrderTests(MailportTest):

    def test_before_hello(self):
        s = self.server()
        c = s.client()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 503, R_HELLO_FIRST)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 503, R_HELLO_FIRST)
        self.assertCmd(c, b"DATA", 503, R_HELLO_FIRST)
        # BDAT: the chunk is consumed although the command is refused
        c.send(b"BDAT 6\r\nRSET\r\n")
        self.assertReply(c.reply(), 503, R_HELLO_FIRST)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        self.assertTrue(c.quiet())

    def test_without_mail(self):
        s = self.server()
        c = s.session()
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 503, R_NEED_MAIL)
        self.assertCmd(c, b"DATA", 503, R_NEED_MAIL)
        c.send(b"BDAT 6 LAST\r\nRSET\r\n")
        self.assertReply(c.reply(), 503, R_NEED_MAIL)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)

    def test_without_rcpt(self):
        s = self.server(networks="")
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"DATA", 503, R_NEED_RCPT)
        # a refused RCPT does not count as a recipient
        self.assertEqual(c.cmd(b"RCPT TO:<bob@foreign.test>").code, 550)
        self.assertCmd(c, b"DATA", 503, R_NEED_RCPT)
        c.send(b"BDAT 6 LAST\r\nRSET\r\n")
        self.assertReply(c.reply(), 503, R_NEED_RCPT)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        self.assertNothingDelivered(s, 0.5)

    def test_second_mail(self):
        s = self.server()
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"MAIL FROM:<b@client.test>", 503, R_NESTED_MAIL)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        self.assertCmd(c, b"MAIL FROM:<b@client.test>", 503, R_NESTED_MAIL)
        self.assertQueued(c.data(message("nested")))
        m = s.wait_messages("alice")[0]
        self.assertTrue(m.startswith(b"Return-Path: <a@client.test>\n"), m[:100])


class LineTests(MailportTest):

    def test_line_512_ok_513_too_long(self):
        """RFC 5321 4.5.3.1.4: 512 octets including CRLF"""
        s = self.server()
        c = s.session()
        line = b"VRFY " + b"x" * (512 - 2 - 5)
        self.assertEqual(len(line) + 2, 512)
        self.assertCmd(c, line, 252, R_VRFY)
        self.assertCmd(c, line + b"y", 500, R_TOO_LONG)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        self.assertTrue(c.quiet())

    def test_mail_rcpt_lines_up_to_2048(self):
        s = self.server()
        c = s.session()
        pre, post = b"MAIL FROM:<", b"@client.test>"
        line = pre + b"a" * (2046 - len(pre) - len(post)) + post
        self.assertEqual(len(line) + 2, 2048)
        self.assertCmd(c, line, 501, R_ADDR_TOO_LONG)
        self.assertCmd(c, line[:-len(post)] + b"a" + post, 500, R_TOO_LONG)
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        pre = b"RCPT TO:<"
        line = pre + b"a" * (2046 - len(pre) - len(post)) + post
        self.assertCmd(c, line, 501, R_ADDR_TOO_LONG)
        self.assertCmd(c, line[:-len(post)] + b"a" + post, 500, R_TOO_LONG)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)

    def test_64k_line_then_valid_command(self):
        s = self.server()
        c = s.session()
        c.send(b"X" * 65536 + b"\r\n")
        self.assertReply(c.reply(), 500, R_TOO_LONG)
        self.assertTrue(c.quiet(0.3), "more than one reply to one long line")
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        self.assertQueued(c.data(message("after-long-line")))

    def test_long_line_tail_is_not_a_command(self):
        """the discarded part of a long line is never parsed: a "QUIT" at
        the end of a too long line does not close the session"""
        s = self.server()
        c = s.session()
        c.send(b"NOOP " + b"a" * 600 + b"\r\n" + b"x" * 3000 + b"\rQUIT\r\n")
        self.assertReply(c.reply(), 500, R_TOO_LONG)
        self.assertReply(c.reply(), 500, R_TOO_LONG)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)

    def test_900k_line_then_lf(self):
        """below the 1 MiB flood limit: 500 and the session goes on"""
        s = self.server()
        c = s.session()
        c.send(b"NOOP " + b"a" * 900 * 1024 + b"\r\n")
        self.assertReply(c.reply(), 500, R_TOO_LONG)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)

    def test_10mib_without_lf(self):
        """no LF within 1 MiB: 421 and close, memory stays bounded"""
        s = self.server()
        c = s.session()
        chunk = b"A" * 65536
        got, _ = c.flood(chunk for _ in range(160))
        self.assertTrue(got.startswith(b"421 " + R_FLOOD.encode() + b"\r\n"), got[:200])
        # the server still works for others
        c2 = s.session()
        self.assertCmd(c2, b"NOOP", 250, R_NOOP)

    def test_nul_in_command(self):
        s = self.server()
        c = s.session()
        # (a line that starts with NUL is left out: it also "starts with a
        # non-letter", and the reply table does not say which reply wins)
        for line in (b"MAIL FROM:<a\x00@client.test>", b"NOOP\x00", b"EHLO x\x00y.test",
                     b"RSET \x00"):
            with self.subTest(line=line):
                self.assertCmd(c, line, 500, R_NUL)
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<alice\x00@example.test>", 500, R_NUL)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)


class ForbiddenTests(MailportTest):

    def check_forbidden(self, s, line, ehlo=False):
        c = s.client()
        if ehlo:
            c.ehlo()
        c.send(line)
        self.assertReply(c.reply(), 554, R_FORBIDDEN)
        self.assertClosed(c)

    def test_http_verbs(self):
        s = self.server()
        for line in (b"GET / HTTP/1.1\r\nHost: mx.example.test\r\n\r\n",
                     b"POST /form HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
                     b"HEAD / HTTP/1.1\r\n",
                     b"PUT /x HTTP/1.1\r\n",
                     b"CONNECT smtp.example.org:25 HTTP/1.1\r\n",
                     b"get / HTTP/1.0\r\n"):
            with self.subTest(line=line[:20]):
                self.check_forbidden(s, line)
        self.assertCmd(s.client(), b"NOOP", 250, R_NOOP)

    def test_http_verb_after_ehlo(self):
        s = self.server()
        self.check_forbidden(s, b"POST / HTTP/1.1\r\n", ehlo=True)

    def test_line_starting_with_non_letter(self):
        s = self.server()
        for line in (b"123 go\r\n", b"<html>\r\n", b"{\"a\":1}\r\n", b"\x16\x03\x01\x02\x01\r\n",
                     b"/bin/sh\r\n"):
            with self.subTest(line=line):
                self.check_forbidden(s, line)
        self.assertCmd(s.client(), b"NOOP", 250, R_NOOP)
