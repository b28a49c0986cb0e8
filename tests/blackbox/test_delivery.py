"""test_delivery - what lands in the Maildir and in the spool: Return-Path,
Delivered-To, the Received: line, Message-ID:/Date: added when missing, LF
line ends, mailbox names, one copy per recipient, the queue file layout
(src/queue/qfile.h), log lines with sid= and qid=.
"""

import os
import re
import threading

from harness import (DATE_RE, HOST, R_RCPT_OK, R_SENDER_OK, MailportTest, has_qid, header_fields,
                     message, split_stored, to_lf)


class StoredFormatTests(MailportTest):

    def test_stored_format(self):
        s = self.server()
        data = message("format", body=b"line one\r\nline two\r\n")
        r = s.send_mail(sender="sender@example.net", rcpts=["alice@example.test"], data=data)
        qid = self.assertQueued(r)
        m = s.wait_messages("alice")[0]
        self.assertNotIn(b"\r", m)
        lines = m.decode("latin-1").split("\n")
        self.assertEqual(lines[0], "Return-Path: <sender@example.net>")
        self.assertEqual(lines[1], "Delivered-To: alice@example.test")
        self.assertEqual(lines[2], "Received: from client.test ([127.0.0.1])")
        self.assertEqual(lines[3], "\tby %s with ESMTP id %s" % (HOST, qid))
        self.assertRegex(lines[4], r"^\tfor <alice@example\.test>; %s$" % DATE_RE)
        # the client's message follows unchanged (it has Message-ID: and Date:)
        self.assertEqual("\n".join(lines[5:]).encode("latin-1"), to_lf(data))

    def test_with_smtp_after_helo(self):
        s = self.server()
        c = s.client()
        c.cmd(b"HELO old.client.test")
        qid = self.assertQueued(c.mail_to("a@client.test", ["alice@example.test"], message("helo")))
        m = s.wait_messages("alice")[0]
        self.assertIn(b"Received: from old.client.test ([127.0.0.1])\n\tby mx.example.test with SMTP id %s\n"
                      % qid.encode(), m)

    def test_message_id_and_date_added(self):
        s = self.server()
        data = message("bare", msgid=False, date=False, headers=["X-Last: here"])
        qid = self.assertQueued(s.send_mail(data=data))
        m = s.wait_messages("alice")[0]
        head, body = split_stored(m)
        self.assertEqual(body, b"Hello.\n")
        fields = header_fields(m)
        names = [n.lower() for n, _ in fields]
        self.assertEqual(names.count("message-id"), 1)
        self.assertEqual(names.count("date"), 1)
        self.assertIn(("Message-ID", b"<%s@%s>" % (qid.encode(), HOST.encode())), fields)
        date = [v for n, v in fields if n.lower() == "date"][0].decode()
        self.assertRegex(date, "^%s$" % DATE_RE)
        # added at the end of the header, after the client's fields
        self.assertGreater(names.index("message-id"), names.index("x-last"))
        self.assertGreater(names.index("date"), names.index("x-last"))

    def test_existing_fields_not_duplicated(self):
        s = self.server()
        for i, (hdrs, want_mid, want_date) in enumerate((
                ([b"message-id: <own@client.test>", b"DATE: Mon, 3 Nov 2025 10:00:00 +0000"], 1, 1),
                ([b"Message-Id: <own2@client.test>"], 1, 1),
                ([b"Date: Mon, 3 Nov 2025 10:00:00 +0000"], 1, 1))):
            with self.subTest(hdrs=hdrs):
                data = message("dups%d" % i, msgid=False, date=False, headers=hdrs)
                qid = self.assertQueued(s.send_mail(data=data))
                m = [x for x in s.wait_messages("alice", i + 1) if has_qid(x, qid)][0]
                names = [n.lower() for n, _ in header_fields(m) if n]
                self.assertEqual(names.count("message-id"), want_mid, names)
                self.assertEqual(names.count("date"), want_date, names)
                self.assertIn(to_lf(b"\r\n".join(hdrs)), m)

    def test_one_copy_per_recipient(self):
        s = self.server()
        c = s.session()
        rcpts = ["alice@example.test", "bob@example.net", "carol@example.test"]
        self.assertQueued(c.mail_to("a@client.test", rcpts, message("copies")))
        s.wait_queue_empty()
        self.assertEqual(s.mailboxes(), {("example.test", "alice"): 1, ("example.net", "bob"): 1,
                                         ("example.test", "carol"): 1})
        for r in rcpts:
            local, dom = r.split("@")
            m = s.messages(local, dom)[0]
            self.assertEqual(m.split(b"\n")[1], b"Delivered-To: " + r.encode())
            self.assertNotIn(b"\tfor <", m.split(b"\n\n")[0])

    def test_mailbox_name_lowercased(self):
        s = self.server()
        self.assertQueued(s.send_mail(rcpts=["Alice.Smith@Example.Test"]))
        s.wait_queue_empty()
        self.assertEqual(s.mailboxes(), {("example.test", "alice.smith"): 1})

    def test_maildir_layout(self):
        s = self.server()
        self.assertQueued(s.send_mail())
        s.wait_messages("alice")
        md = s.maildir("alice")
        for sub in ("tmp", "new", "cur"):
            self.assertTrue(os.path.isdir(os.path.join(md, sub)), sub)
        self.assertEqual(os.listdir(os.path.join(md, "tmp")), [])
        self.assertEqual(len(os.listdir(os.path.join(md, "new"))), 1)
        name = os.listdir(os.path.join(md, "new"))[0]
        self.assertFalse(name.startswith("."), name)
        self.assertNotIn("/", name)

    def test_concurrent_sessions(self):
        s = self.server()
        errors = []

        def client(n):
            try:
                c = s.session()
                for i in range(5):
                    r = c.mail_to("a@client.test", ["alice@example.test"], message("c%d-%d" % (n, i)))
                    if r.code != 250:
                        errors.append(r)
                c.cmd(b"QUIT")
            except Exception as e:  # noqa: BLE001 - collected for the assertion
                errors.append(e)

        ts = [threading.Thread(target=client, args=(n,)) for n in range(10)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        self.assertEqual(errors, [])
        s.wait_queue_empty(timeout=60)
        msgs = s.messages("alice")
        self.assertEqual(len(msgs), 50)
        subjects = sorted(re.search(rb"\nSubject: (\S+)\n", m).group(1) for m in msgs)
        self.assertEqual(len(set(subjects)), 50)


class SpoolTests(MailportTest):

    def test_queue_file_layout(self):
        """a relayed message stays in queue/: magic, envelope records,
        ".", the message (CRLF, Received: first), the MPQ-END trailer"""
        s = self.server()
        data = message("layout", body=b"..dot\r\nend\r\n")
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test> ENVID=env+2B1 RET=HDRS", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<bob@foreign.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@foreign.test",
                       250, R_RCPT_OK)
        qid = self.assertQueued(c.data(data))
        raw = s.read_queue_file(qid)
        self.assertTrue(raw.startswith(b"MAILPORT-QUEUE 1\n"))
        env_end = raw.index(b"\n.\n") + 3
        recs = s.queue_envelope(qid)
        keys = [k for k, _ in recs]
        self.assertIn("from", keys)
        self.assertEqual(keys.count("rcpt"), 1)
        rcpt = [f for k, f in recs if k == "rcpt"][0]
        self.assertEqual(rcpt[0], b"relay")
        self.assertEqual(rcpt[1], b"bob@foreign.test")
        m = re.search(rb"\nMPQ-END ([0-9a-f]{16})\n$", raw)
        self.assertTrue(m, raw[-40:])
        msg = raw[env_end:m.start()]
        self.assertEqual(len(msg), int(m.group(1), 16))
        self.assertTrue(msg.startswith(b"Received: from client.test ([127.0.0.1])\r\n\tby %s with ESMTP id %s\r\n"
                                       % (HOST.encode(), qid.encode())), msg[:200])
        self.assertTrue(msg.endswith(b"\r\n" + data), msg[-100:])
        self.assertIn(b".dot\r\n", msg)

    def test_log_lines(self):
        s = self.server()
        qid = self.assertQueued(s.send_mail())
        s.wait_messages("alice")
        log = s.log()
        with_qid = [l for l in log.splitlines() if "qid=%s" % qid in l]
        self.assertTrue(with_qid, "no log line with qid=%s" % qid)
        self.assertTrue(any("sid=" in l for l in with_qid), "no line with both sid= and qid=")
        for l in log.splitlines():
            if "sid=" in l:
                self.assertRegex(l, r"\bsid=\S+")
