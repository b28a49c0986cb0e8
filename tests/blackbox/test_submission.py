"""test_submission - relaying after AUTH and the submission listeners
(RFC 6409 port 587 style with STARTTLS, RFC 8314 implicit TLS), the
sender_must_match_login policy, and what TLS/AUTH leave in the queue file
(auth record, proto) and in the delivered Received: header (RFC 3848
ESMTP/ESMTPS/ESMTPA/ESMTPSA, the "(using TLS...)" comment).
(CHECKLIST D "Policy and downgrade", E, F "Authentication state".)
"""

import re
import time

from harness import (HOST, R_RCPT_OK, R_RELAY, R_SENDER_OK, Client, MailportTest, header_fields,
                     message, to_lf, xtext_decode)
from tlsutil import (ALICE, BOB, PASSWORDS, R_NEED_AUTH, R_NEED_TLS, R_NOT_OWNED_RE, auth_plain,
                     b64, client_ctx, ehlo_keywords, plain, starttls, tls_client, tls_server,
                     tls_session)

FOREIGN = "carol@foreign.test"


def received(msg):
    """received - the first Received: field of a stored message, unfolded
    into one line"""
    for name, value in header_fields(msg):
        if name and name.lower() == "received":
            return re.sub(rb"\s*\n\s*", b" ", value).decode("latin-1")
    return None


class RelayAuthTests(MailportTest):
    """MX port with auth_on_mx = yes (the MX port offers no AUTH by default,
    issue 6; test_auth.AuthOnMxTests), nobody in the relay networks"""

    def test_relay_needs_auth(self):
        s = tls_server(self, networks="", auth_on_mx="yes")
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<alice@example.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<carol@foreign.test>", 550, R_RELAY)
        self.assertCmd(c, b"RSET", 250, "2.0.0 Resetting")
        # TLS alone grants nothing
        starttls(self, c, client_ctx(s.pki))
        c.ehlo()
        self.assertCmd(c, b"MAIL FROM:<alice@example.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<carol@foreign.test>", 550, R_RELAY)
        self.assertCmd(c, b"RSET", 250, "2.0.0 Resetting")
        auth_plain(self, c)
        self.assertCmd(c, b"MAIL FROM:<alice@example.test>", 250, R_SENDER_OK)
        for rcpt in (b"carol@foreign.test", b"dave@another.example", b"x@[192.0.2.1]",
                     b"bob@example.test"):
            self.assertCmd(c, b"RCPT TO:<" + rcpt + b">", 250, R_RCPT_OK)
        qid = self.assertQueued(c.data(message("relay after auth", sender=ALICE, to=FOREIGN)))
        c.cmd(b"QUIT")
        s.wait_messages("bob")
        time.sleep(0.5)
        self.assertEqual(s.queue_files(), [qid], "relayed mail must stay queued")
        env = s.queue_envelope(qid)
        d = dict(env)
        self.assertEqual([xtext_decode(v) for v in d.get("auth", [])], [ALICE.encode()], env)
        self.assertEqual(d.get("proto"), [b"ESMTPSA"], env)
        rcpts = [xtext_decode(v[1]) for k, v in env if k == "rcpt" and v[0] == b"relay"]
        self.assertEqual(sorted(rcpts), [b"carol@foreign.test", b"dave@another.example",
                                         b"x@[192.0.2.1]"])

    def test_failed_auth_grants_nothing(self):
        s = tls_server(self, networks="", auth_on_mx="yes")
        c = tls_session(self, s)
        self.assertCmd(c, "AUTH PLAIN " + plain(ALICE, "wrong"), 535,
                       "5.7.8 Authentication credentials invalid")
        self.assertCmd(c, b"MAIL FROM:<alice@example.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<carol@foreign.test>", 550, R_RELAY)

    def test_unauthenticated_tls_queue_file(self):
        """relay network client over STARTTLS without AUTH: proto ESMTPS, no
        auth record"""
        s = tls_server(self)
        c = tls_session(self, s)
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<carol@foreign.test>", 250, R_RCPT_OK)
        qid = self.assertQueued(c.data(message("esmtps")))
        env = s.queue_envelope(qid)
        self.assertEqual(dict(env).get("proto"), [b"ESMTPS"], env)
        self.assertNotIn("auth", dict(env), env)

    def test_plaintext_auth_relay(self):
        s = tls_server(self, tls=False, allow_plaintext_auth="yes", networks="", auth_on_mx="yes")
        c = s.session()
        auth_plain(self, c, BOB)
        self.assertCmd(c, b"MAIL FROM:<bob@example.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<carol@foreign.test>", 250, R_RCPT_OK)
        qid = self.assertQueued(c.data(message("esmtpa", sender=BOB, to=FOREIGN)))
        d = dict(s.queue_envelope(qid))
        self.assertEqual(d.get("proto"), [b"ESMTPA"])
        self.assertEqual([xtext_decode(v) for v in d.get("auth", [])], [BOB.encode()])

    def test_auth_lasts_for_several_transactions(self):
        s = tls_server(self, networks="", auth_on_mx="yes")
        c = tls_session(self, s)
        auth_plain(self, c)
        for i in range(3):
            self.assertCmd(c, b"MAIL FROM:<alice@example.test>", 250, R_SENDER_OK)
            self.assertCmd(c, b"RCPT TO:<carol@foreign.test>", 250, R_RCPT_OK)
            self.assertQueued(c.data(message("tx%d" % i)))
        c.ehlo()  # a new EHLO inside TLS does not forget the login
        self.assertCmd(c, b"MAIL FROM:<alice@example.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<carol@foreign.test>", 250, R_RCPT_OK)


class SubmissionPortTests(MailportTest):

    def sub_server(self, **kw):
        return tls_server(self, submission=True, submissions=True, networks="", **kw)

    def test_ehlo_and_mail_before_starttls(self):
        s = self.sub_server()
        c = Client(s.sub_port)
        self.on_teardown(c.close)
        self.assertReply(c.banner, 220, "%s ESMTP ready" % HOST)
        r = c.ehlo()
        self.assertIn("STARTTLS", ehlo_keywords(r))
        self.assertFalse(any(k.startswith("AUTH") for k in ehlo_keywords(r)), r)
        self.assertCmd(c, b"MAIL FROM:<alice@example.test>", 530, R_NEED_TLS)
        self.assertCmd(c, "AUTH PLAIN " + plain(ALICE, PASSWORDS[ALICE]), 530, R_NEED_TLS)
        self.assertCmd(c, b"NOOP", 250, "2.0.0 OK")

    def test_mail_after_starttls_needs_auth(self):
        s = self.sub_server()
        c = tls_session(self, s, port=s.sub_port)
        self.assertIn("AUTH PLAIN LOGIN", ehlo_keywords(c.ehlo()))
        for sender in (b"alice@example.test", b"", b"x@foreign.test"):
            with self.subTest(sender=sender):
                self.assertCmd(c, b"MAIL FROM:<" + sender + b">", 530, R_NEED_AUTH)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 503, "5.5.2 Need mail command")
        auth_plain(self, c)
        self.assertCmd(c, b"MAIL FROM:<alice@example.test>", 250, R_SENDER_OK)

    def test_submission_relay_and_local(self):
        s = self.sub_server()
        c = tls_session(self, s, port=s.sub_port)
        auth_plain(self, c)
        self.assertCmd(c, b"MAIL FROM:<alice@example.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<carol@foreign.test>", 250, R_RCPT_OK)
        self.assertCmd(c, b"RCPT TO:<bob@example.test>", 250, R_RCPT_OK)
        data = message("submission", sender=ALICE, to=BOB)
        qid = self.assertQueued(c.data(data))
        got = s.wait_messages("bob")[0]
        self.assertTrue(got.endswith(to_lf(data)))
        time.sleep(0.3)
        self.assertEqual(s.queue_files(), [qid])
        d = dict(s.queue_envelope(qid))
        self.assertEqual(d.get("proto"), [b"ESMTPSA"])
        self.assertEqual([xtext_decode(v) for v in d.get("auth", [])], [ALICE.encode()])

    def test_submissions_port_needs_auth(self):
        s = self.sub_server()
        c = tls_client(s.subs_port, client_ctx(s.pki))
        self.on_teardown(c.close)
        r = c.ehlo()
        self.assertNotIn("STARTTLS", ehlo_keywords(r))
        self.assertIn("AUTH PLAIN LOGIN", ehlo_keywords(r))
        self.assertCmd(c, b"MAIL FROM:<alice@example.test>", 530, R_NEED_AUTH)
        self.assertCmd(c, b"AUTH LOGIN", 334)
        self.assertCmd(c, b64(BOB), 334)
        self.assertCmd(c, b64(PASSWORDS[BOB]), 235, "2.7.0 Authentication successful")
        self.assertCmd(c, b"MAIL FROM:<bob@example.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<carol@foreign.test>", 250, R_RCPT_OK)
        qid = self.assertQueued(c.data(message("submissions", sender=BOB, to=FOREIGN)))
        d = dict(s.queue_envelope(qid))
        self.assertEqual(d.get("proto"), [b"ESMTPSA"])
        self.assertEqual([xtext_decode(v) for v in d.get("auth", [])], [BOB.encode()])

    def test_submission_plaintext_auth_allowed(self):
        """allow_plaintext_auth = yes: a submission port without TLS asks
        for AUTH, not for STARTTLS"""
        s = tls_server(self, tls=False, submission=True, allow_plaintext_auth="yes", networks="")
        c = Client(s.sub_port)
        self.on_teardown(c.close)
        r = c.ehlo()
        self.assertNotIn("STARTTLS", ehlo_keywords(r))
        self.assertIn("AUTH PLAIN LOGIN", ehlo_keywords(r))
        self.assertCmd(c, b"MAIL FROM:<alice@example.test>", 530, R_NEED_AUTH)
        auth_plain(self, c)
        self.assertCmd(c, b"MAIL FROM:<alice@example.test>", 250, R_SENDER_OK)

    def test_mx_port_unchanged(self):
        """the MX port of the same server still takes mail for local users
        without TLS or AUTH"""
        s = self.sub_server()
        self.assertQueued(s.send_mail(sender="x@client.test", rcpts=["alice@example.test"]))
        s.wait_messages("alice")


class SenderLoginTests(MailportTest):

    def session(self, s, user=ALICE, implicit=False):
        if implicit:
            c = tls_client(s.subs_port, client_ctx(s.pki))
            self.on_teardown(c.close)
            c.ehlo()
        else:
            c = tls_session(self, s, port=s.sub_port)
        auth_plain(self, c, user)
        return c

    def test_sender_must_match_login(self):
        s = tls_server(self, submission=True, submissions=True, networks="",
                       sender_must_match_login="yes")
        for implicit in (False, True):
            with self.subTest(implicit=implicit):
                c = self.session(s, implicit=implicit)
                for other in (b"bob@example.test", b"alice@example.net", b"alice@foreign.test",
                              b"alice+tag@example.test", b"x@client.test"):
                    r = c.cmd(b"MAIL FROM:<" + other + b">")
                    self.assertReply(r, 553, regex=R_NOT_OWNED_RE % re.escape(ALICE),
                                     msg=other.decode())
                self.assertCmd(c, b"MAIL FROM:<alice@example.test>", 250, R_SENDER_OK)
                self.assertCmd(c, b"RCPT TO:<carol@foreign.test>", 250, R_RCPT_OK)
                self.assertQueued(c.data(message("own sender", sender=ALICE, to=FOREIGN)))
                c.close()

    def test_sender_match_ignores_domain_case(self):
        """domains are case-insensitive; so is the users file"""
        s = tls_server(self, submission=True, networks="", sender_must_match_login="yes")
        c = self.session(s)
        self.assertCmd(c, b"MAIL FROM:<alice@EXAMPLE.test>", 250, R_SENDER_OK)

    def test_other_sender_allowed_by_default(self):
        s = tls_server(self, submission=True, networks="")
        c = self.session(s)
        self.assertCmd(c, b"MAIL FROM:<bob@example.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<carol@foreign.test>", 250, R_RCPT_OK)


class ReceivedHeaderTests(MailportTest):
    """RFC 3848 "with" keywords and the TLS comment, in the delivered copy"""

    USING_RE = r"\(using TLSv1\.3 [^)]+\)"

    def deliver(self, s, c, subject):
        self.assertCmd(c, b"MAIL FROM:<alice@example.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<bob@example.test>", 250, R_RCPT_OK)
        qid = self.assertQueued(c.data(message(subject, sender=ALICE, to=BOB)))
        c.cmd(b"QUIT")
        c.close()
        for m in s.wait_messages("bob", 1):
            if ("Subject: %s\n" % subject).encode() in m:
                r = received(m)
                self.assertIsNotNone(r, m[:300])
                self.assertIn(" id %s" % qid, r)
                return r
        self.fail("message %s not delivered" % subject)

    def test_esmtpsa_starttls(self):
        s = tls_server(self, submission=True)
        c = tls_session(self, s, port=s.sub_port)
        auth_plain(self, c)
        r = self.deliver(s, c, "esmtpsa")
        self.assertRegex(r, r"\bwith ESMTPSA\b")
        self.assertRegex(r, self.USING_RE)
        self.assertRegex(r, r"^from client\.test \(\[127\.0\.0\.1\]\)")
        self.assertNotIn(PASSWORDS[ALICE], r)

    def test_esmtpsa_implicit_tls(self):
        s = tls_server(self, submissions=True)
        c = tls_client(s.subs_port, client_ctx(s.pki))
        self.on_teardown(c.close)
        c.ehlo()
        auth_plain(self, c)
        r = self.deliver(s, c, "esmtpsa-465")
        self.assertRegex(r, r"\bwith ESMTPSA\b")
        self.assertRegex(r, self.USING_RE)

    def test_esmtps(self):
        s = tls_server(self)
        c = tls_session(self, s)
        r = self.deliver(s, c, "esmtps")
        self.assertRegex(r, r"\bwith ESMTPS\b")
        self.assertRegex(r, self.USING_RE)

    def test_esmtpa(self):
        s = tls_server(self, allow_plaintext_auth="yes", auth_on_mx="yes")
        c = s.session()
        auth_plain(self, c)
        r = self.deliver(s, c, "esmtpa")
        self.assertRegex(r, r"\bwith ESMTPA\b")
        self.assertNotIn("using", r)

    def test_esmtpa_submission_port(self):
        """the default place for AUTH: a submission port without TLS
        (allow_plaintext_auth) gives ESMTPA too"""
        s = tls_server(self, tls=False, submission=True, allow_plaintext_auth="yes")
        c = Client(s.sub_port)
        self.on_teardown(c.close)
        c.ehlo()
        auth_plain(self, c)
        r = self.deliver(s, c, "esmtpa-587")
        self.assertRegex(r, r"\bwith ESMTPA\b")
        self.assertNotIn("using", r)

    def test_esmtp(self):
        s = tls_server(self)
        c = s.session()
        r = self.deliver(s, c, "esmtp")
        self.assertRegex(r, r"\bwith ESMTP\b")
        self.assertNotIn("using", r)
        self.assertNotIn("TLS", r)
