"""test_relay - recipient policy: relay networks, sender-specified routing
forms that must never be forwarded, source routes, postmaster, the users
file, aliases, and relayed recipients kept in the queue across restarts.
"""

import time

from harness import (R_BAD_RCPT, R_RCPT_OK, R_RELAY, R_SENDER_OK, R_USER_UNKNOWN, MailportTest,
                     have_ipv6, message)


class RelayPolicyTests(MailportTest):

    def test_relay_denied_outside_networks(self):
        s = self.server(networks="", max_errors=100)
        c = s.session()
        for sender in (b"a@client.test", b"alice@example.test", b"postmaster@example.test", b""):
            with self.subTest(sender=sender):
                self.assertCmd(c, b"MAIL FROM:<" + sender + b">", 250, R_SENDER_OK)
                for rcpt in (b"bob@foreign.test", b"bob@FOREIGN.TEST", b"bob@example.test.foreign.test",
                             b"@example.test:bob@foreign.test", b"@a.test,@example.test:bob@foreign.test",
                             b"postmaster@foreign.test"):
                    self.assertCmd(c, b"RCPT TO:<" + rcpt + b">", 550, R_RELAY)
                c.cmd(b"RSET")
        self.assertNothingDelivered(s, 0.3)

    def test_routing_forms_are_local_data(self):
        """%, ! and a quoted @ are local-part data: delivered to a local
        mailbox of that name, never queued for relay -- also from a client
        inside the relay networks"""
        for networks in ("", "127.0.0.1/32, ::1/128"):
            with self.subTest(networks=networks):
                s = self.server(networks=networks, name="net%d" % len(networks))
                c = s.session()
                self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
                for rcpt in (b"u%foreign.test@example.test", b"foreign.test!u@example.test",
                             b"\"u@foreign.test\"@example.test", b"u%foreign.test%example.test@example.test"):
                    self.assertCmd(c, b"RCPT TO:<" + rcpt + b">", 250, R_RCPT_OK)
                self.assertQueued(c.data(message("routing")))
                s.wait_queue_empty()
                self.assertEqual(s.queue_files(), [], "a routing form was queued for relay")
                self.assertEqual(s.mailboxes(), {("example.test", "u%foreign.test"): 1,
                                                 ("example.test", "foreign.test!u"): 1,
                                                 ("example.test", "u@foreign.test"): 1,
                                                 ("example.test", "u%foreign.test%example.test"): 1})
                s.stop()

    def test_routing_forms_unknown_with_users_file(self):
        s = self.server(users=["alice@example.test"], max_errors=100)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        for rcpt in (b"alice%foreign.test@example.test", b"foreign.test!alice@example.test",
                     b"\"alice@foreign.test\"@example.test"):
            with self.subTest(rcpt=rcpt):
                self.assertCmd(c, b"RCPT TO:<" + rcpt + b">", 550, R_USER_UNKNOWN)

    def test_double_at_is_syntax_error(self):
        s = self.server()
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<u@foreign.test@example.test>", 501, R_BAD_RCPT)

    def test_source_route_stripped(self):
        s = self.server(networks="")
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<@a.test:a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<@a.test,@b.test:alice@example.test>", 250, R_RCPT_OK)
        self.assertCmd(c, b"RCPT TO:<@example.test:bob@foreign.test>", 550, R_RELAY)
        self.assertQueued(c.data(message("route")))
        m = s.wait_messages("alice")[0]
        self.assertTrue(m.startswith(b"Return-Path: <a@client.test>\nDelivered-To: alice@example.test\n"),
                        m[:100])

    def test_relay_from_relay_network_stays_queued(self):
        """docs: relay recipients stay in queue/ (no remote delivery yet),
        and survive a restart"""
        s = self.server()
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<bob@foreign.test>", 250, R_RCPT_OK)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        qid = self.assertQueued(c.data(message("relay")))
        c.cmd(b"QUIT")
        s.wait_messages("alice")
        time.sleep(1.0)
        self.assertEqual(s.queue_files(), [qid])
        data = s.read_queue_file(qid)
        self.assertTrue(data.startswith(b"MAILPORT-QUEUE 1\n"), data[:40])
        self.assertIn(b"bob@foreign.test", data)
        self.assertEqual(s.stop(), 0)
        s.start()
        time.sleep(1.0)
        self.assertEqual(s.queue_files(), [qid])
        self.assertEqual(s.corrupt_files(), [])
        self.assertEqual(s.read_queue_file(qid)[:len(data)], data)
        # alice got her copy once, not again after the restart
        self.assertEqual(s.mailboxes(), {("example.test", "alice"): 1})

    def test_relay_from_ipv6_loopback(self):
        if not have_ipv6():
            self.skipTest("skipped: no IPv6 loopback")
        s = self.server(ipv6=True)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<bob@foreign.test>", 250, R_RCPT_OK)
        s2 = self.server(ipv6=True, networks="127.0.0.1/32", name="v6deny")
        c2 = s2.session()
        self.assertCmd(c2, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c2, b"RCPT TO:<bob@foreign.test>", 550, R_RELAY)


class TableTests(MailportTest):

    def test_users_file(self):
        s = self.server(users=["# comment", "", "alice@example.test", "Carol@Example.Net",
                               "dave@example.test:$6$salt$hash"], max_errors=100)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        for rcpt, code in ((b"alice@example.test", 250), (b"bob@example.test", 550),
                           (b"alice@example.net", 550), (b"carol@example.net", 250),
                           (b"CAROL@example.net", 250), (b"dave@example.test", 250),
                           (b"comment@example.test", 550)):
            with self.subTest(rcpt=rcpt):
                self.assertCmd(c, b"RCPT TO:<" + rcpt + b">", code, R_RCPT_OK if code == 250 else R_USER_UNKNOWN)
        self.assertCmd(c, b"RSET", 250, "2.0.0 Resetting")
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        for rcpt in (b"alice@example.test", b"CAROL@example.net", b"dave@example.test"):
            self.assertCmd(c, b"RCPT TO:<" + rcpt + b">", 250, R_RCPT_OK)
        self.assertQueued(c.data(message("users")))
        s.wait_queue_empty()
        self.assertEqual(s.mailboxes(), {("example.test", "alice"): 1, ("example.net", "carol"): 1,
                                         ("example.test", "dave"): 1})

    def test_postmaster_always_accepted(self):
        s = self.server(users=["alice@example.test"])
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        for rcpt in (b"<postmaster>", b"<POSTMASTER>", b"<postmaster@example.test>",
                     b"<Postmaster@example.net>", b"postmaster"):
            with self.subTest(rcpt=rcpt):
                self.assertCmd(c, b"RCPT TO:" + rcpt, 250, R_RCPT_OK)
        self.assertQueued(c.data(message("postmaster")))
        s.wait_messages("postmaster")

    def test_aliases(self):
        """one alias to two users: both get the message; nested aliases;
        an alias name need not be in the users file"""
        s = self.server(users=["alice@example.test", "bob@example.net", "carol@example.test"],
                        aliases=("# aliases\n"
                                 "team: alice, bob@example.net\n"
                                 "Staff: team,\n"
                                 "  carol@example.test\n"
                                 "sales@example.test: \"carol\"\n"
                                 "postmaster: alice@example.test\n"))
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<team@example.test>", 250, R_RCPT_OK)
        self.assertQueued(c.data(message("team")))
        s.wait_queue_empty()
        self.assertEqual(s.mailboxes(), {("example.test", "alice"): 1, ("example.net", "bob"): 1})
        m = s.messages("alice")[0]
        self.assertIn(b"Delivered-To: alice@example.test\n", m)
        self.assertEqual(s.messages("bob", "example.net")[0].split(b"\n")[1],
                         b"Delivered-To: bob@example.net")

        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<staff@example.test>", 250, R_RCPT_OK)
        self.assertCmd(c, b"RCPT TO:<SALES@example.test>", 250, R_RCPT_OK)
        self.assertCmd(c, b"RCPT TO:<postmaster@example.test>", 250, R_RCPT_OK)
        self.assertCmd(c, b"RCPT TO:<sales@example.net>", 550, R_USER_UNKNOWN)
        self.assertQueued(c.data(message("staff")))
        s.wait_queue_empty()
        boxes = s.mailboxes()
        # staff -> team -> alice, bob; carol (twice: staff and sales) ;
        # postmaster -> alice.  Duplicates may be merged.
        self.assertIn(boxes.get(("example.test", "alice")), (2, 3))
        self.assertEqual(boxes.get(("example.net", "bob")), 2)
        self.assertIn(boxes.get(("example.test", "carol")), (1, 2))
        self.assertNotIn(("example.test", "staff"), boxes)
        self.assertNotIn(("example.test", "team"), boxes)
        self.assertNotIn(("example.test", "sales"), boxes)

    def test_alias_keeps_own_copy(self):
        """README: "alice: alice, bob" keeps a copy for alice"""
        s = self.server(aliases="alice: alice, bob\n")
        self.assertQueued(s.send_mail(rcpts=["alice@example.test"]))
        s.wait_queue_empty()
        self.assertEqual(s.mailboxes(), {("example.test", "alice"): 1, ("example.test", "bob"): 1})

    def test_alias_loop_is_bounded(self):
        s = self.server(aliases="a: b\nb: a\nself: self, alice\n", max_errors=100)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<x@client.test>", 250, R_SENDER_OK)
        for rcpt in (b"a@example.test", b"self@example.test"):
            with self.subTest(rcpt=rcpt):
                r = c.cmd(b"RCPT TO:<" + rcpt + b">")
                self.assertIn(r.code // 100, (2, 4, 5), r)
        self.assertCmd(c, b"NOOP", 250, "2.0.0 OK")
