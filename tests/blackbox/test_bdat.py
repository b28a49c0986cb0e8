"""test_bdat - CHUNKING (RFC 3030) and CHECKLIST B's BDAT rows: chunks
stored byte-exact (no dot-unstuffing), BDAT 0 LAST, bad sizes (501 and
close), DATA after BDAT, BDAT out of order (the chunk is still consumed),
EOF inside a chunk, size and hop limits.
"""

import time

from harness import (R_DATA_AFTER_BDAT, R_HOPS, R_INVALID_ARGS, R_NEED_RCPT, R_NOOP, R_QUIT,
                     R_RCPT_OK, R_RELAY, R_SENDER_OK, R_SIZE, MailportTest, message, to_lf,
                     wait_for)

# README reply table: "250 2.0.0 <n> octets received", n = this chunk's size
CHUNK_RE = r"2\.0\.0 %d octets received"


def begin(t, c, rcpts=("alice@example.test",)):
    t.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
    for r in rcpts:
        t.assertCmd(c, b"RCPT TO:<%s>" % r.encode(), 250, R_RCPT_OK)


def bdat(c, chunk, last=False):
    c.send(b"BDAT %d%s\r\n" % (len(chunk), b" LAST" if last else b"") + chunk)
    return c.reply(60)


class BdatTests(MailportTest):

    def test_single_last_chunk(self):
        s = self.server()
        c = s.session()
        begin(self, c)
        data = message("bdat one")
        self.assertQueued(bdat(c, data, last=True))
        self.assertCmd(c, b"QUIT", 221, R_QUIT)
        m = s.wait_messages("alice")[0]
        self.assertTrue(m.endswith(b"\n" + to_lf(data)), m[-200:])
        self.assertIn(b" with ESMTP id ", m)

    def test_chunks_byte_exact_not_unstuffed(self):
        s = self.server()
        c = s.session()
        begin(self, c)
        chunks = [message("chunks", body=b"..two dots\r\n.\r\n"),
                  b".\r\nMAIL FROM:<evil@client.test>\r\n\r\n.\r\n",
                  b"..\r\nend\r\n"]
        self.assertReply(bdat(c, chunks[0]), 250, regex=CHUNK_RE % len(chunks[0]))
        self.assertReply(bdat(c, chunks[1]), 250, regex=CHUNK_RE % len(chunks[1]))
        self.assertQueued(bdat(c, chunks[2], last=True))
        self.assertTrue(c.quiet())
        m = s.wait_messages("alice")[0]
        self.assertTrue(m.endswith(b"\n" + to_lf(b"".join(chunks))), m[-200:])
        s.wait_queue_empty()
        self.assertEqual(s.mailboxes(), {("example.test", "alice"): 1})

    def test_bare_lf_cr_nul_in_chunk(self):
        s = self.server()
        c = s.session()
        begin(self, c)
        data = message("raw", body=b"a\nb\rc\x00d\r\n\n.\n")
        self.assertQueued(bdat(c, data, last=True))
        m = s.wait_messages("alice")[0]
        self.assertTrue(m.endswith(b"\n" + to_lf(data)), m[-100:])

    def test_bdat_0_last_after_chunks(self):
        s = self.server()
        c = s.session()
        begin(self, c)
        data = message("zero last")
        self.assertReply(bdat(c, data), 250, regex=CHUNK_RE % len(data))
        self.assertQueued(bdat(c, b"", last=True))
        m = s.wait_messages("alice")[0]
        self.assertTrue(m.endswith(b"\n" + to_lf(data)))

    def test_bdat_0_last_alone(self):
        """an empty message (RFC 3030 allows BDAT 0 LAST)"""
        s = self.server()
        c = s.session()
        begin(self, c)
        qid = self.assertQueued(bdat(c, b"", last=True))
        m = s.wait_messages("alice")[0]
        self.assertIn(qid.encode(), m)

    def test_bdat_0_not_last(self):
        s = self.server()
        c = s.session()
        begin(self, c)
        self.assertReply(bdat(c, b""), 250, regex=CHUNK_RE % 0)
        data = message("after zero")
        self.assertQueued(bdat(c, data, last=True))
        s.wait_messages("alice")

    def test_pipelined_chunks(self):
        s = self.server()
        c = s.session()
        begin(self, c)
        head = message("pipelined chunks", body=b"")
        c.send(b"BDAT %d\r\n" % len(head) + head + b"BDAT 5\r\nhelloBDAT 8 LAST\r\n world\r\nQUIT\r\n")
        self.assertReply(c.reply(), 250, regex=CHUNK_RE % len(head))
        self.assertReply(c.reply(), 250, regex=CHUNK_RE % 5)
        self.assertQueued(c.reply())
        self.assertReply(c.reply(), 221, R_QUIT)
        m = s.wait_messages("alice")[0]
        self.assertTrue(m.endswith(b"\n\nhello world\n"), m[-50:])

    def test_bad_size_argument_closes(self):
        s = self.server()
        for arg in (b"BDAT abc", b"BDAT", b"BDAT -1", b"BDAT 99999999999999999999",
                    b"BDAT 18446744073709551617 LAST", b"BDAT 1x", b"BDAT 0x10", b"BDAT +5", b"BDAT  LAST"):
            with self.subTest(arg=arg):
                c = s.session()
                begin(self, c)
                c.send(arg + b"\r\nhello")
                self.assertReply(c.reply(), 501, R_INVALID_ARGS)
                self.assertClosed(c)
        self.assertNothingDelivered(s, 0.5)

    def test_chunk_over_size_limit(self):
        s = self.server(max_message_size=10000)
        c = s.session()
        begin(self, c)
        big = b"x" * 20000
        self.assertReply(bdat(c, big, last=True), 552, R_SIZE)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        begin(self, c)
        part = b"y" * 6000
        self.assertReply(bdat(c, part), 250, regex=CHUNK_RE % 6000)
        self.assertReply(bdat(c, part, last=True), 552, R_SIZE)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        self.assertNothingDelivered(s)

    def test_data_after_bdat(self):
        s = self.server()
        c = s.session()
        begin(self, c)
        first = message("data after bdat", body=b"part one\r\n")
        self.assertReply(bdat(c, first), 250, regex=CHUNK_RE % len(first))
        self.assertCmd(c, b"DATA", 503, R_DATA_AFTER_BDAT)
        self.assertQueued(bdat(c, b"part two\r\n", last=True))
        m = s.wait_messages("alice")[0]
        self.assertTrue(m.endswith(b"\n\npart one\npart two\n"), m[-50:])
        # a new transaction may use DATA again
        begin(self, c)
        self.assertQueued(c.data(message("data again")))
        s.wait_messages("alice", 2)

    def test_rset_after_chunk(self):
        """RSET drops the chunks received so far; the next transaction may
        use DATA"""
        s = self.server()
        c = s.session()
        begin(self, c)
        chunk = b"Subject: dropped\r\n\r\n"
        self.assertReply(bdat(c, chunk), 250, regex=CHUNK_RE % len(chunk))
        self.assertCmd(c, b"RSET", 250, "2.0.0 Resetting")
        begin(self, c)
        self.assertQueued(c.data(message("after rset")))
        m = s.wait_messages("alice")[0]
        self.assertNotIn(b"dropped", m)
        s.wait_queue_empty()
        self.assertEqual(s.mailboxes(), {("example.test", "alice"): 1})

    def test_bdat_before_rcpt_consumes_chunk(self):
        s = self.server()
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        c.send(b"BDAT 6\r\nRSET\r\n")
        self.assertReply(c.reply(), 503, R_NEED_RCPT)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        self.assertTrue(c.quiet())
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        self.assertQueued(bdat(c, message("after refused bdat"), last=True))
        s.wait_queue_empty()
        self.assertEqual(s.mailboxes(), {("example.test", "alice"): 1})

    def test_pipelined_bdat_after_rejected_rcpt(self):
        s = self.server(networks="")
        c = s.session()
        chunk = b"MAIL FROM:<evil@client.test>\r\n"
        c.send(b"MAIL FROM:<a@client.test>\r\nRCPT TO:<x@foreign.test>\r\n"
               b"BDAT %d LAST\r\n" % len(chunk) + chunk)
        self.assertReply(c.reply(), 250, R_SENDER_OK)
        self.assertReply(c.reply(), 550, R_RELAY)
        self.assertReply(c.reply(), 503, R_NEED_RCPT)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        self.assertTrue(c.quiet())
        self.assertNothingDelivered(s, 0.5)

    def test_eof_mid_chunk(self):
        s = self.server()
        for chunks, tail in (([], b"BDAT 1000 LAST\r\n" + b"z" * 500),
                             ([b"x" * 100], b""),
                             ([b"x" * 100], b"BDAT 50 LAST\r\n" + b"z" * 49)):
            with self.subTest(tail=tail[:20], chunks=len(chunks)):
                c = s.session()
                begin(self, c)
                for ch in chunks:
                    self.assertReply(bdat(c, ch), 250, regex=CHUNK_RE % len(ch))
                c.send(tail)
                time.sleep(0.2)
                c.close()
                time.sleep(0.5)
                self.assertTrue(wait_for(lambda: not s.incoming_files(), 10), s.incoming_files())
                self.assertEqual(s.queue_files(), [])
                self.assertEqual(s.mailboxes(), {})

    def test_bdat_hops(self):
        s = self.server()
        c = s.session()
        begin(self, c)
        hops = [b"Received: from h%d.test by h%d.test; Mon, 3 Nov 2025 10:00:00 +0000" % (i, i)
                for i in range(100)]
        self.assertReply(bdat(c, message("bdat loop", headers=hops), last=True), 554, R_HOPS)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        self.assertNothingDelivered(s)

    def test_big_bdat_message(self):
        s = self.server()
        c = s.session()
        begin(self, c, ("alice@example.test", "bob@example.test"))
        body = (b"0123456789" * 99 + b"\r\n") * 3000
        data = message("3 MB", body=body)
        half = len(data) // 2
        self.assertReply(bdat(c, data[:half]), 250, regex=CHUNK_RE % half)
        self.assertQueued(bdat(c, data[half:], last=True))
        for who in ("alice", "bob"):
            m = s.wait_messages(who, timeout=30)[0]
            self.assertTrue(m.endswith(b"\n" + to_lf(data)))
