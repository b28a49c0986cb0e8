"""test_addresses - MAIL FROM / RCPT TO paths (CHECKLIST A): accepted
syntax variants, syntax errors, RFC 5321 length limits, quoted and odd
local parts (one canonical form for policy and delivery), mailbox names
that are unusable, shell/expansion metacharacters (nothing executes),
non-ASCII with and without SMTPUTF8.
"""

import os
import time

from harness import (R_ADDR_TOO_LONG, R_BAD_RCPT, R_BAD_SENDER, R_INVALID_ARGS, R_MAILBOX_NAME,
                     R_RCPT_OK, R_RELAY, R_SENDER_OK, R_UTF8, MailportTest, message)


class MailSyntaxTests(MailportTest):

    def test_accepted_mail_forms(self):
        s = self.server()
        c = s.session()
        for line in (b"MAIL FROM:<a@client.test>", b"MAIL FROM: <a@client.test>",
                     b"mail from:a@client.test", b"MAIL FROM:\t<a@client.test>",
                     b"MAIL FROM:<>", b"MAIL FROM: <>", b"MAIL FROM:<> SIZE=100 BODY=8BITMIME",
                     b"Mail From:<A.B+tag@Client.Test>",
                     b"MAIL FROM:a@client.test SIZE=100", b"MAIL FROM:<a@client.test.>",
                     b"MAIL FROM:<a@[192.0.2.1]>", b"MAIL FROM:<a@[IPv6:2001:db8::1]>",
                     b"MAIL FROM:<@relay.test:a@client.test>",
                     b"MAIL FROM:<\"john smith\"@client.test>"):
            with self.subTest(line=line):
                self.assertCmd(c, line, 250, R_SENDER_OK)
                c.cmd(b"RSET")

    def test_null_sender_delivered(self):
        s = self.server()
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        self.assertQueued(c.data(message("bounce", sender="MAILER-DAEMON@client.test")))
        m = s.wait_messages("alice")[0]
        self.assertTrue(m.startswith(b"Return-Path: <>\nDelivered-To: alice@example.test\n"), m[:100])

    def test_missing_or_garbage_mail_argument(self):
        s = self.server(max_errors=100)
        c = s.session()
        for line in (b"MAIL", b"MAIL FROM:", b"MAIL FROM:   ", b"MAIL FROM", b"MAIL TO:<a@client.test>",
                     b"MAIL <a@client.test>"):
            with self.subTest(line=line):
                self.assertCmd(c, line, 501, R_INVALID_ARGS)
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)

    def test_sender_syntax_errors(self):
        s = self.server(max_errors=100)
        c = s.session()
        for addr in (b"<a@@client.test>", b"<a@client..test>", b"<a@-client.test>",
                     b"<a b@client.test>", b"<a@client.test", b"<@client.test>", b"<a@>",
                     b"<a@b@client.test>", b"<\"unterminated@client.test>", b"<a@[300.1.1.1]>",
                     b"<a@[IPv6:zz::1]>", b"<a@" + b"b" * 64 + b".test>", b"<a..b@client.test>",
                     b"<.a@client.test>", b"<a.@client.test>",
                     b"<<a@client.test>", b"<a(comment)@client.test>", b"<a@client_x.test>"):
            with self.subTest(addr=addr):
                self.assertCmd(c, b"MAIL FROM:" + addr, 550, R_BAD_SENDER)
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)


class RcptSyntaxTests(MailportTest):

    def test_accepted_rcpt_forms(self):
        s = self.server()
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        for line in (b"RCPT TO:<alice@example.test>", b"RCPT TO: <bob@example.test>",
                     b"rcpt to:carol@example.test", b"RCPT TO:\t<dave@example.test>",
                     b"RCPT TO:<postmaster>", b"RCPT TO:<Postmaster>", b"RCPT TO:postmaster",
                     b"RCPT TO:<erin@example.net>"):
            with self.subTest(line=line):
                self.assertCmd(c, line, 250, R_RCPT_OK)
        self.assertQueued(c.data(message("forms")))
        s.wait_queue_empty()
        for who, dom in (("alice", "example.test"), ("bob", "example.test"), ("carol", "example.test"),
                         ("dave", "example.test"), ("erin", "example.net")):
            self.assertEqual(s.count(who, dom), 1, (who, s.mailboxes()))

    def test_missing_or_garbage_rcpt_argument(self):
        s = self.server(max_errors=100)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:", 501, R_INVALID_ARGS)
        for line in (b"RCPT", b"RCPT TO", b"RCPT FROM:<alice@example.test>", b"RCPT TO:   "):
            with self.subTest(line=line):
                r = c.cmd(line)
                self.assertEqual(r.code, 501, r)
                self.assertIn(r.text, (R_INVALID_ARGS, R_BAD_RCPT))
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)

    def test_recipient_syntax_errors(self):
        s = self.server(max_errors=100)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        for addr in (b"<>", b"<a@@example.test>", b"<a@example..test>", b"<a@x..y>",
                     b"<a@[300.1.1.1]>", b"<u@foreign.test@example.test>", b"<alice@example.test",
                     b"<\"unterminated@example.test>", b"<a b@example.test>", b"<@example.test>",
                     b"<alice@>", b"<alice@-example.test>", b"<a..b@example.test>",
                     b"<a\\b@example.test>",
                     b"<\"a\x01b\"@example.test>", b"<\"a\x7fb\"@example.test>"):
            with self.subTest(addr=addr):
                self.assertCmd(c, b"RCPT TO:" + addr, 501, R_BAD_RCPT)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)


class LimitTests(MailportTest):

    def test_local_part_limit(self):
        s = self.server(max_errors=100)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<" + b"a" * 65 + b"@client.test>", 501, R_ADDR_TOO_LONG)
        self.assertCmd(c, b"MAIL FROM:<" + b"a" * 64 + b"@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<" + b"b" * 65 + b"@example.test>", 501, R_ADDR_TOO_LONG)
        self.assertCmd(c, b"RCPT TO:<\"" + b"b" * 64 + b"\"@example.test>", 501, R_ADDR_TOO_LONG)
        self.assertCmd(c, b"RCPT TO:<" + b"b" * 64 + b"@example.test>", 250, R_RCPT_OK)
        self.assertQueued(c.data(message("long local part")))
        s.wait_messages("b" * 64)

    def test_domain_and_path_limits(self):
        s = self.server(max_errors=100)
        c = s.session()
        d189 = b"a" * 63 + b"." + b"b" * 63 + b"." + b"c" * 56 + b".test"
        self.assertEqual(len(d189), 189)
        local64 = b"l" * 64
        ok = b"<" + local64 + b"@" + d189 + b">"
        self.assertEqual(len(ok), 256)
        d190 = b"a" * 63 + b"." + b"b" * 63 + b"." + b"c" * 57 + b".test"
        self.assertEqual(len(b"<" + local64 + b"@" + d190 + b">"), 257)
        self.assertCmd(c, b"MAIL FROM:<" + local64 + b"@" + d190 + b">", 501, R_ADDR_TOO_LONG)
        d256 = (b"d" * 63 + b".") * 3 + b"e" * 62 + b".f"
        self.assertEqual(len(d256), 256)
        self.assertCmd(c, b"MAIL FROM:<a@" + d256 + b">", 501, R_ADDR_TOO_LONG)
        self.assertCmd(c, b"MAIL FROM:" + ok, 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<a@" + d256 + b">", 501, R_ADDR_TOO_LONG)
        self.assertCmd(c, b"RCPT TO:<" + local64 + b"@" + d190 + b">", 501, R_ADDR_TOO_LONG)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)


class CanonicalFormTests(MailportTest):

    def test_quoted_local_parts(self):
        s = self.server()
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<\"a b\"@client.test>", 250, R_SENDER_OK)
        for addr in (b"<\"a b\"@example.test>", b"<\"a\\\"b\"@example.test>", b"<\"a@b\"@example.test>",
                     b"<\"a\\\\b\"@example.test>"):
            with self.subTest(addr=addr):
                self.assertCmd(c, b"RCPT TO:" + addr, 250, R_RCPT_OK)
        self.assertQueued(c.data(message("quoted")))
        s.wait_queue_empty()
        self.assertEqual(s.mailboxes(), {("example.test", "a b"): 1, ("example.test", 'a"b'): 1,
                                         ("example.test", "a@b"): 1, ("example.test", "a\\b"): 1})
        m = s.messages("a b")[0]
        self.assertTrue(m.startswith(b"Return-Path: <\"a b\"@client.test>\n"
                                     b"Delivered-To: \"a b\"@example.test\n"), m[:200])
        m = s.messages('a"b')[0]
        self.assertIn(b"Delivered-To: \"a\\\"b\"@example.test\n", m)

    def test_one_canonical_form(self):
        """"alice", ALICE, alice@EXAMPLE.TEST., <@route:alice@...> are one
        mailbox, for the users-file policy and for delivery alike"""
        s = self.server(users=["alice@example.test"])
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        for addr in (b"<alice@example.test>", b"<\"alice\"@example.test>", b"<ALICE@example.test>",
                     b"<alice@EXAMPLE.TEST>", b"<alice@example.test.>", b"<Alice@Example.Test.>",
                     b"<@a.test,@b.test:alice@example.test>"):
            with self.subTest(addr=addr):
                self.assertCmd(c, b"RCPT TO:" + addr, 250, R_RCPT_OK)
                self.assertQueued(c.data(message("canonical")))
                self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        s.wait_queue_empty()
        self.assertEqual(s.mailboxes(), {("example.test", "alice"): 7})

    def test_address_literals_are_not_local(self):
        s = self.server(networks="", max_errors=100)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        for addr in (b"<alice@[127.0.0.1]>", b"<alice@[IPv6:::1]>", b"<alice@example.test.foreign>",
                     b"<alice@sub.example.test>"):
            with self.subTest(addr=addr):
                self.assertCmd(c, b"RCPT TO:" + addr, 550, R_RELAY)

    def test_unusable_mailbox_names(self):
        s = self.server(max_errors=100)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        for addr in (b"<a/b@example.test>", b"<\".hidden\"@example.test>", b"<\"../../etc\"@example.test>",
                     b"<\"..\"@example.test>", b"<\".\"@example.test>", b"<\"a/../../b\"@example.test>",
                     b"</etc/passwd@example.test>"):
            with self.subTest(addr=addr):
                self.assertCmd(c, b"RCPT TO:" + addr, 550, R_MAILBOX_NAME)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        self.assertQueued(c.data(message("names")))
        s.wait_queue_empty()
        self.assertEqual(s.mailboxes(), {("example.test", "alice"): 1})
        self.assertEqual(sorted(os.listdir(s.mail)), ["example.test"])


class MetacharacterTests(MailportTest):
    """CHECKLIST A: shell and expansion metacharacters are inert data.
    A canary file must never appear (OpenSMTPD CVE-2020-7247, Exim
    CVE-2019-10149)."""

    def forms(self, canary):
        cn = canary.encode()
        base = os.path.basename(canary).encode()
        return [
            b"<;touch " + cn + b";>",
            b"<;touch " + cn + b";@client.test>",
            b"<`touch " + cn + b"`@client.test>",
            b"<$(touch " + cn + b")@client.test>",
            b"<|touch " + cn + b"@client.test>",
            b"<${run{/bin/touch " + cn + b"}}@client.test>",
            b"<${run{/bin/touch${IFS}" + cn + b"}}@client.test>",
            b"<\"$(touch " + cn + b")\"@client.test>",
            b"<\"`touch " + cn + b"`\"@client.test>",
            b"<\"|touch " + cn + b"\"@client.test>",
            b"<\";touch " + base + b";\"@client.test>",
            b"<\"$(touch " + base + b")\"@client.test>",
            b"<|touch${IFS}" + base + b"@client.test>",
            b"<a@$(touch" + base + b").test>",
        ]

    def test_metacharacters_inert(self):
        # networks = "": foreign recipients are refused by policy after
        # parsing, so every accepted message is delivered locally
        s = self.server(max_errors=1000, networks="")
        canary = os.path.join(self.tmproot(), "canary")
        canary_tmp = "/tmp/mpbb-canary-%d-%d" % (os.getpid(), time.monotonic_ns())
        self.on_teardown(lambda: os.path.exists(canary_tmp) and os.unlink(canary_tmp))
        forms = self.forms(canary) + self.forms(canary_tmp)
        c = s.session()
        queued = 0
        for addr in forms:
            with self.subTest(mail=addr):
                r = c.cmd(b"MAIL FROM:" + addr)
                self.assertIn(r.code, (250, 501, 550, 553), r)
                if r.code == 250:
                    self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
                    self.assertQueued(c.data(message("meta")))
                    queued += 1
        for addr in forms:
            for dom in (b"client.test", b"example.test"):
                a = addr.replace(b"@client.test", b"@" + dom)
                with self.subTest(rcpt=a):
                    self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
                    r = c.cmd(b"RCPT TO:" + a)
                    self.assertIn(r.code, (250, 501, 550, 553), r)
                    if r.code == 250:
                        self.assertQueued(c.data(message("meta")))
                    else:
                        c.cmd(b"RSET")
        # parameters carry the same payloads
        self.assertCmd(c, b"MAIL FROM:<a@client.test> ENVID=$(touch+20" + canary.encode() + b")", 250,
                       R_SENDER_OK)
        r = c.cmd(b"RCPT TO:<alice@example.test> ORCPT=rfc822;`touch+20" + canary.encode() + b"`@x")
        self.assertIn(r.code, (250, 501), r)
        if r.code == 250:
            self.assertQueued(c.data(message("meta-params")))
        c.cmd(b"QUIT")
        self.assertGreater(queued, 0)
        s.wait_queue_empty()
        time.sleep(0.5)
        self.assertFalse(os.path.exists(canary), "canary created: a command ran")
        self.assertFalse(os.path.exists(canary_tmp), "canary created: a command ran")
        self.assertFalse(os.path.exists(os.path.join(s.dir, "canary")), "canary created")
        # every mailbox stays inside the mail directory
        for dom in os.listdir(s.mail):
            self.assertIn(dom, ("example.test", "example.net"))


class Utf8Tests(MailportTest):

    def test_non_ascii_without_smtputf8(self):
        s = self.server(max_errors=100)
        c = s.session()
        self.assertCmd(c, "MAIL FROM:<jörg@client.test>".encode(), 553, R_UTF8)
        self.assertCmd(c, "MAIL FROM:<a@clïent.test>".encode(), 553, R_UTF8)
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        for addr in ("<ü@example.test>", "<alice@exämple.test>", "<\"ü\"@example.test>",
                     "<jörg@example.test>"):
            with self.subTest(addr=addr):
                self.assertCmd(c, b"RCPT TO:" + addr.encode(), 553, R_UTF8)
        c.cmd(b"RSET")
        self.assertCmd(c, b"MAIL FROM:<a@client.test> BODY=8BITMIME", 250, R_SENDER_OK)
        self.assertCmd(c, "RCPT TO:<ü@example.test>".encode(), 553, R_UTF8)

    def test_smtputf8_accepted_and_delivered(self):
        s = self.server()
        c = s.session()
        self.assertCmd(c, "MAIL FROM:<jörg@clïent.test> SMTPUTF8".encode(), 250, R_SENDER_OK)
        self.assertCmd(c, "RCPT TO:<ü@example.test>".encode(), 250, R_RCPT_OK)
        self.assertCmd(c, "RCPT TO:<\"ü ü\"@example.test>".encode(), 250, R_RCPT_OK)
        data = message("utf8", headers=["X-Name: Jörg Müller".encode()], body="Grüße\r\n".encode())
        self.assertQueued(c.data(data))
        m = s.wait_messages("ü")[0]
        self.assertTrue(m.startswith("Return-Path: <jörg@clïent.test>\nDelivered-To: ü@example.test\n"
                                     .encode()), m[:200])
        self.assertIn("X-Name: Jörg Müller\n".encode(), m)
        self.assertTrue(m.endswith("\n\nGrüße\n".encode()))
        s.wait_messages("ü ü")

    def test_smtputf8_invalid_utf8_rejected(self):
        s = self.server(max_errors=100)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test> SMTPUTF8", 250, R_SENDER_OK)
        for addr in (b"<\xff@example.test>", b"<a\xc3@example.test>", b"<\xc0\xaf@example.test>",
                     b"<\xed\xa0\x80@example.test>"):
            with self.subTest(addr=addr):
                r = c.cmd(b"RCPT TO:" + addr)
                self.assertIn(r.code, (501, 553), r)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
