"""test_data - DATA content (CHECKLIST B): dot-stuffing, empty body, bare
CR/LF and NUL stored as data, SMTP smuggling (only CRLF.CRLF ends the
data: exactly one message), pipelining (allowed groups vs. content sent
before 354), the size limit (discard to the real end, then 552), long
lines, the Received: hop limit, header abuse, unterminated data.
"""

import socket
import time

from harness import (HOST, R_DATA_OK, R_HOPS, R_NEED_RCPT, R_NOOP, R_QUIT, R_RCPT_OK, R_RELAY,
                     R_RSET, R_SENDER_OK, R_SIZE, R_SYNC, MailportTest, dot_stuff, has_qid,
                     message, split_stored, to_lf, wait_for)


def start_data(t, c, rcpts=("alice@example.test",), sender="a@client.test"):
    t.assertCmd(c, b"MAIL FROM:<%s>" % sender.encode(), 250, R_SENDER_OK)
    for r in rcpts:
        t.assertCmd(c, b"RCPT TO:<%s>" % r.encode(), 250, R_RCPT_OK)
    t.assertCmd(c, b"DATA", 354, R_DATA_OK)


class ContentTests(MailportTest):

    def test_dot_stuffing(self):
        """RFC 5321 4.5.2: a leading dot is removed when more follows"""
        s = self.server()
        c = s.session()
        start_data(self, c)
        c.send(message("dots", body=b"") + b"first\r\n..\r\n...\r\n..x\r\n.x\r\n. \r\nlast\r\n.\r\n")
        self.assertQueued(c.reply())
        m = s.wait_messages("alice")[0]
        self.assertTrue(m.endswith(b"\n\nfirst\n.\n..\n.x\nx\n \nlast\n"), m[-80:])

    def test_dot_stuffed_message_round_trip(self):
        s = self.server()
        body = b".leading dot\r\n..two dots\r\n.\r\n..\r\nend.\r\n"
        data = message("roundtrip", body=body)
        self.assertQueued(s.send_mail(data=data))
        m = s.wait_messages("alice")[0]
        self.assertTrue(m.endswith(b"\n\n" + to_lf(body)), m[-100:])

    def test_empty_body(self):
        s = self.server()
        c = s.session()
        start_data(self, c)
        c.send(b".\r\n")
        qid = self.assertQueued(c.reply())
        m = s.wait_messages("alice")[0]
        lines = m.split(b"\n")
        self.assertEqual(lines[-1], b"", "no LF at the end")
        lines = lines[:-1]
        if lines and lines[-1] == b"":
            lines = lines[:-1]  # a separator after our own header fields is fine
        for l in lines:
            self.assertTrue(l[:1] == b"\t" or b": " in l, "not a header line in an empty message: %r" % l)
        self.assertIn(b"Message-ID: <%s@%s>" % (qid.encode(), HOST.encode()), lines)

    def test_no_extra_line_end(self):
        s = self.server()
        self.assertQueued(s.send_mail(data=message("end", body=b"last line\r\n")))
        m = s.wait_messages("alice")[0]
        self.assertTrue(m.endswith(b"\n\nlast line\n"), m[-40:])
        self.assertFalse(m.endswith(b"\n\n\n"))

    def test_bare_cr_and_lf_are_data(self):
        s = self.server()
        c = s.session()
        start_data(self, c)
        c.send(message("bare", body=b"") + b"a\nb\rc\r\nd\n\ne\r\r\n.\r\n")
        self.assertQueued(c.reply())
        m = s.wait_messages("alice")[0]
        self.assertTrue(m.endswith(b"\n\na\nb\rc\nd\n\ne\r\n"), m[-40:])

    def test_nul_in_body_stored(self):
        s = self.server()
        c = s.session()
        start_data(self, c)
        body = b"a\x00b\r\n\x00start\r\nend\x00\r\n\x00\r\n"
        c.send(message("nul", body=body) + b".\r\n")
        self.assertQueued(c.reply())
        m = s.wait_messages("alice")[0]
        self.assertTrue(m.endswith(b"\n\n" + to_lf(body)), m[-60:])

    def test_eight_bit_content_unchanged(self):
        """8-bit body without BODY=8BITMIME and 8-bit headers without
        SMTPUTF8 pass through unchanged"""
        s = self.server()
        c = s.session()
        start_data(self, c)
        body = bytes(b for b in range(0x80, 0x100)) + b"\r\nGr\xc3\xbc\xc3\x9fe \xff\xfe\r\n"
        data = message("8bit", headers=[b"X-Latin1: Gr\xfc\xdfe", b"X-Utf8: J\xc3\xb6rg"], body=body)
        c.send(dot_stuff(data) + b".\r\n")
        self.assertQueued(c.reply())
        m = s.wait_messages("alice")[0]
        self.assertTrue(m.endswith(to_lf(data)), m[-200:])

    def test_two_messages_one_session(self):
        s = self.server()
        c = s.session()
        for i in range(3):
            start_data(self, c)
            c.send(message("msg%d" % i) + b".\r\n")
            self.assertQueued(c.reply())
        self.assertCmd(c, b"QUIT", 221, R_QUIT)
        s.wait_queue_empty()
        self.assertEqual(s.count("alice"), 3)

    def test_headers_without_colon_and_no_blank_line(self):
        s = self.server()
        for i, data in enumerate((b"Subject test\r\nno colon here\r\n",
                                  b"Subject: only a header\r\n",
                                  b": empty name\r\nbody\r\n",
                                  b"\r\nbody without header\r\n")):
            with self.subTest(data=data):
                r = s.send_mail(data=data)
                qid = self.assertQueued(r)
                m = s.wait_messages("alice", i + 1)
                stored = [x for x in m if has_qid(x, qid)]
                self.assertEqual(len(stored), 1)
                self.assertIn(to_lf(data), stored[0])


class SmugglingTests(MailportTest):
    """CHECKLIST B / SMTP smuggling: a fake end of data followed by a
    smuggled transaction gives exactly one message, which holds the
    smuggled text"""

    FAKES = [b"\n.\n", b"\r.\r", b"\r\n.\n", b"\n.\r\n", b"\r\n.\r", b"\r\n\x00.\r\n",
             b"\n.\r", b"\r.\n", b"\r.\r\n", b"\r\n.\r\r\n", b"\r\n.\x00\r\n", b"\r\n .\r\n"]
    SMUGGLED = (b"MAIL FROM:<evil@client.test>\r\n"
                b"RCPT TO:<evil@example.test>\r\n"
                b"DATA\r\n"
                b"Subject: smuggled\r\n"
                b"\r\n"
                b"SMUGGLED BODY\r\n")

    def run_variants(self, s, payload_for, split=False):
        for i, fake in enumerate(self.FAKES):
            with self.subTest(fake=fake):
                c = s.session()
                start_data(self, c)
                payload = message("smuggle-%d" % i, body=b"Hello") + fake + payload_for(fake) + b".\r\n"
                if split:
                    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    for j in range(len(payload)):
                        c.send(payload[j:j + 1])
                        if j % 7 == 0:
                            time.sleep(0.001)
                else:
                    c.send(payload)
                self.assertQueued(c.reply())
                self.assertCmd(c, b"QUIT", 221, R_QUIT)
                self.assertEqual(self.assertClosed(c), b"", "extra replies")
                s.wait_queue_empty()
                self.assertEqual(s.mailboxes(), {("example.test", "alice"): i + 1})
                m = [x for x in s.messages("alice") if b"smuggle-%d\n" % i in x]
                self.assertEqual(len(m), 1)
                self.assertIn(b"SMUGGLED", m[0])

    def test_fake_end_markers(self):
        s = self.server()
        self.run_variants(s, lambda fake: self.SMUGGLED)

    def test_fake_end_markers_split_writes(self):
        s = self.server()
        self.run_variants(s, lambda fake: self.SMUGGLED, split=True)

    def test_fake_end_then_bdat(self):
        """Exim test 0900 style: "bdat N last" after a fake end"""
        s = self.server()
        chunk = b"Subject: smuggled\r\n\r\nSMUGGLED BODY\r\n"
        smuggled = (b"MAIL FROM:<evil@client.test>\r\nRCPT TO:<evil@example.test>\r\n"
                    b"BDAT %d LAST\r\n" % len(chunk) + chunk)
        self.run_variants(s, lambda fake: smuggled)


class PipeliningTests(MailportTest):

    def test_content_sent_with_data_command(self):
        """message bytes in the same write as DATA: 554 5.5.0 and close"""
        s = self.server()
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        c.send(b"DATA\r\n" + message("sync") + b".\r\n")
        self.assertReply(c.reply(), 554, R_SYNC)
        self.assertClosed(c)
        self.assertNothingDelivered(s)

    def test_command_after_data_in_same_write(self):
        s = self.server()
        c = s.session()
        c.send(b"MAIL FROM:<a@client.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nNOOP\r\n")
        self.assertReply(c.reply(), 250, R_SENDER_OK)
        self.assertReply(c.reply(), 250, R_RCPT_OK)
        self.assertReply(c.reply(), 554, R_SYNC)
        self.assertClosed(c)
        self.assertNothingDelivered(s)

    def test_pipelined_group(self):
        """RFC 2920: MAIL/RCPT/RCPT/DATA in one write, replies in order"""
        s = self.server()
        c = s.session()
        c.send(b"MAIL FROM:<a@client.test>\r\nRCPT TO:<alice@example.test>\r\n"
               b"RCPT TO:<bob@example.test>\r\nDATA\r\n")
        self.assertReply(c.reply(), 250, R_SENDER_OK)
        self.assertReply(c.reply(), 250, R_RCPT_OK)
        self.assertReply(c.reply(), 250, R_RCPT_OK)
        self.assertReply(c.reply(), 354, R_DATA_OK)
        c.send(message("group") + b".\r\n")
        self.assertQueued(c.reply())
        s.wait_queue_empty()
        self.assertEqual(s.mailboxes(), {("example.test", "alice"): 1, ("example.test", "bob"): 1})

    def test_pipelined_group_with_rejected_rcpt(self):
        s = self.server(networks="")
        c = s.session()
        c.send(b"RSET\r\nMAIL FROM:<a@client.test>\r\nRCPT TO:<alice@example.test>\r\n"
               b"RCPT TO:<x@foreign.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
        self.assertReply(c.reply(), 250, R_RSET)
        self.assertReply(c.reply(), 250, R_SENDER_OK)
        self.assertReply(c.reply(), 250, R_RCPT_OK)
        self.assertReply(c.reply(), 550, R_RELAY)
        self.assertReply(c.reply(), 250, R_RCPT_OK)
        self.assertReply(c.reply(), 354, R_DATA_OK)
        c.send(message("group2") + b".\r\n")
        self.assertQueued(c.reply())
        s.wait_queue_empty()
        self.assertEqual(s.mailboxes(), {("example.test", "alice"): 1, ("example.test", "bob"): 1})

    def test_pipelined_group_all_rcpts_rejected(self):
        s = self.server(networks="")
        c = s.session()
        c.send(b"MAIL FROM:<a@client.test>\r\nRCPT TO:<x@foreign.test>\r\nDATA\r\n")
        self.assertReply(c.reply(), 250, R_SENDER_OK)
        self.assertReply(c.reply(), 550, R_RELAY)
        self.assertReply(c.reply(), 503, R_NEED_RCPT)
        self.assertSync(c)

    def test_end_of_data_pipelined_with_next_transaction(self):
        s = self.server()
        c = s.session()
        start_data(self, c)
        c.send(message("first") + b".\r\nMAIL FROM:<b@client.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
        self.assertQueued(c.reply())
        self.assertReply(c.reply(), 250, R_SENDER_OK)
        self.assertReply(c.reply(), 250, R_RCPT_OK)
        self.assertReply(c.reply(), 354, R_DATA_OK)
        c.send(message("second") + b".\r\nQUIT\r\n")
        self.assertQueued(c.reply())
        self.assertReply(c.reply(), 221, R_QUIT)
        s.wait_queue_empty()
        self.assertEqual(s.mailboxes(), {("example.test", "alice"): 1, ("example.test", "bob"): 1})


class SizeLimitTests(MailportTest):

    def test_body_over_limit_then_fake_end(self):
        """discard to the real end, then one 552; bytes after the limit
        and after a fake ".\\n" are never parsed as commands"""
        s = self.server(max_message_size=10000)
        c = s.session()
        start_data(self, c)
        big = message("big", body=b"x" * 98 + b"\r\n") + (b"y" * 98 + b"\r\n") * 200
        c.send(big + b".\n" + b"MAIL FROM:<evil@client.test>\r\nRCPT TO:<evil@example.test>\r\n"
               b"DATA\r\nNOOP\r\nQUIT\r\nmore text\r\n.\r\n")
        self.assertReply(c.reply(30), 552, R_SIZE)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        self.assertTrue(c.quiet(0.5), "extra replies after 552")
        self.assertNothingDelivered(s, 1.0)
        self.assertEqual(s.incoming_files(), [])
        # the session is usable: a small message goes through
        start_data(self, c)
        c.send(message("small") + b".\r\n")
        self.assertQueued(c.reply())
        s.wait_messages("alice")

    def test_size_boundary(self):
        """the limit counts the message as received (after dot-unstuffing,
        before our Received:)"""
        s = self.server(max_message_size=10000)
        base = message("boundary", body=b"")

        def sized(n, fill=b"z"):
            body = b""
            while len(base) + len(body) + 102 < n:
                body += fill * 98 + b"\r\n"
            body += b"q" * (n - len(base) - len(body) - 2) + b"\r\n"
            d = base + body
            self.assertEqual(len(d), n)
            return d

        c = s.session()
        start_data(self, c)
        c.send(dot_stuff(sized(10000)) + b".\r\n")
        self.assertQueued(c.reply())
        start_data(self, c)
        c.send(dot_stuff(sized(10001)) + b".\r\n")
        self.assertReply(c.reply(), 552, R_SIZE)
        # lines starting with "." are longer on the wire: still 10000
        start_data(self, c)
        d = sized(10000, fill=b".")
        wire = dot_stuff(d)
        self.assertGreater(len(wire), 10000)
        c.send(wire + b".\r\n")
        self.assertQueued(c.reply())
        s.wait_queue_empty()
        self.assertEqual(s.count("alice"), 2)


class LongLineTests(MailportTest):

    def test_lines_around_1000(self):
        s = self.server()
        body = b"".join(bytes([0x61 + i]) * n + b"\r\n" for i, n in enumerate((998, 999, 1000, 1001, 4096)))
        self.assertQueued(s.send_mail(data=message("long lines", body=body)))
        m = s.wait_messages("alice")[0]
        self.assertTrue(m.endswith(b"\n\n" + to_lf(body)), "long lines not stored faithfully")

    def test_5mb_single_line(self):
        s = self.server()
        line = (b"0123456789abcdef" * 65536 * 5)[:5 * 1000 * 1000]
        c = s.session()
        start_data(self, c)
        c.send(message("5mb", body=b"") + line + b"\r\n.\r\n")
        self.assertQueued(c.reply(60))
        m = s.wait_messages("alice", timeout=30)[0]
        self.assertTrue(m.endswith(b"\n\n" + line + b"\n"), "5 MB line not stored faithfully")


class HopTests(MailportTest):

    def received(self, n, name=b"Received"):
        return [name + b": from hop%d.test by hop%d.test; Mon, 3 Nov 2025 10:00:00 +0000" % (i, i)
                for i in range(n)]

    def test_99_received_accepted(self):
        s = self.server()
        self.assertQueued(s.send_mail(data=message("99 hops", headers=self.received(99))))
        m = s.wait_messages("alice")[0]
        head, _ = split_stored(m)
        self.assertEqual(head.count(b"\nReceived: "), 100)

    def test_100_received_rejected(self):
        s = self.server()
        for hdrs in (self.received(100), self.received(100, b"received"), self.received(150, b"RECEIVED"),
                     [h.replace(b" by ", b"\r\n\tby ") for h in self.received(100)]):
            with self.subTest(first=hdrs[0][:20]):
                c = s.session()
                start_data(self, c)
                c.send(message("loop", headers=hdrs) + b".\r\n")
                self.assertReply(c.reply(), 554, R_HOPS)
                self.assertCmd(c, b"NOOP", 250, R_NOOP)
        self.assertNothingDelivered(s)

    def test_received_in_body_not_counted(self):
        s = self.server()
        body = b"\r\n".join(self.received(120)) + b"\r\n"
        self.assertQueued(s.send_mail(data=message("body hops", body=body)))
        s.wait_messages("alice")


class HeaderAbuseTests(MailportTest):

    def test_100k_continuation_lines(self):
        s = self.server()
        c = s.session()
        start_data(self, c)
        c.send(b"Subject: folded\r\nX-Long: start\r\n" + b" x\r\n" * 100000 + b"\r\nbody\r\n.\r\n")
        r = c.reply(60)
        self.assertIn(r.code, (250, 552, 554), r)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        if r.code == 250:
            s.wait_messages("alice", timeout=30)

    def test_10mb_header_line(self):
        s = self.server()
        c = s.session()
        start_data(self, c)
        c.send(b"Subject: big header\r\nX-Big: " + b"h" * (10 << 20) + b"\r\n\r\nbody\r\n.\r\n")
        r = c.reply(60)
        self.assertIn(r.code, (250, 552, 554), r)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        if r.code == 250:
            s.wait_messages("alice", timeout=30)


class UnterminatedTests(MailportTest):
    """RFC 5321 4.1.1.4: a message without its end is never queued and
    leaves nothing in the spool"""

    def check_dropped(self, s, tail, rst=False, big=False):
        c = s.session()
        start_data(self, c)
        data = message("cut", body=(b"z" * 1000 + b"\r\n") * (1000 if big else 3))
        c.send(data + tail)
        time.sleep(0.2)
        if rst:
            c.reset_close()
        else:
            c.close()
        time.sleep(1.0)
        self.assertTrue(wait_for(lambda: not s.incoming_files(), 10), s.incoming_files())
        self.assertEqual(s.queue_files(), [])
        self.assertEqual(s.mailboxes(), {})

    def test_close_mid_body(self):
        s = self.server()
        self.check_dropped(s, b"partial line")
        self.check_dropped(s, b"", big=True)

    def test_close_after_dot_without_crlf(self):
        s = self.server()
        self.check_dropped(s, b".")
        self.check_dropped(s, b".\r")

    def test_reset_mid_body(self):
        s = self.server()
        self.check_dropped(s, b"partial", rst=True, big=True)

    def test_server_still_works_afterwards(self):
        s = self.server()
        self.check_dropped(s, b".")
        self.assertQueued(s.send_mail())
        s.wait_messages("alice")
