"""test_params - ESMTP parameters of MAIL and RCPT (CHECKLIST A): SIZE,
BODY, SMTPUTF8, RET, ENVID, AUTH, NOTIFY, ORCPT; unknown, duplicate and
malformed parameters; parameters after HELO; xtext with control bytes is
rejected or stored byte-exact and never splits a queue record.
"""

from harness import (R_INVALID_ARGS, R_RCPT_OK, R_SENDER_OK, R_SIZE, R_UNKNOWN_PARAM,
                     MailportTest, message, xtext_decode)


class MailParamTests(MailportTest):

    def test_valid_mail_params(self):
        s = self.server()
        c = s.session()
        for params in (b"SIZE=1000", b"size=1000", b"SIZE=0", b"BODY=7BIT", b"BODY=8BITMIME",
                       b"body=8bitmime", b"SMTPUTF8", b"RET=FULL", b"RET=HDRS", b"ENVID=abc+2Bdef",
                       b"ENVID=" + b"e" * 100, b"AUTH=<>",
                       b"SIZE=100 BODY=8BITMIME RET=HDRS ENVID=QQ314159 SMTPUTF8",
                       b"SIZE=100  BODY=7BIT", b"SIZE=100\tBODY=7BIT"):
            with self.subTest(params=params):
                self.assertCmd(c, b"MAIL FROM:<a@client.test> " + params, 250, R_SENDER_OK)
                c.cmd(b"RSET")

    def test_unknown_mail_params(self):
        s = self.server(max_errors=100)
        c = s.session()
        for params in (b"FOO=1", b"FOO", b"XYZZY=a b", b"NOTIFY=SUCCESS", b"ORCPT=rfc822;a@b",
                       b"SIZE=10 FOO=1", b"TRANSID=<x@y>"):
            with self.subTest(params=params):
                self.assertCmd(c, b"MAIL FROM:<a@client.test> " + params, 555, R_UNKNOWN_PARAM)
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)

    def test_malformed_and_duplicate_mail_params(self):
        s = self.server(max_errors=100)
        c = s.session()
        for params in (b"SIZE=abc", b"SIZE=", b"SIZE", b"SIZE=-1", b"SIZE=1x", b"SIZE=+5",
                       b"BODY=9BIT", b"BODY=", b"BODY", b"RET=XYZ", b"RET", b"SMTPUTF8=yes",
                       b"ENVID=+ZZ", b"ENVID=+4", b"ENVID=a+2b", b"ENVID=a=b",
                       b"ENVID=" + b"e" * 101, b"ENVID=" + b"+41" * 101,
                       b"SIZE=1 SIZE=2", b"BODY=7BIT BODY=8BITMIME", b"SMTPUTF8 SMTPUTF8",
                       b"RET=FULL RET=HDRS", b"ENVID=a ENVID=b", b"AUTH=<> AUTH=<>",
                       b"size=1 SIZE=1"):
            with self.subTest(params=params):
                self.assertCmd(c, b"MAIL FROM:<a@client.test> " + params, 501, R_INVALID_ARGS)
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)

    def test_size_limit(self):
        s = self.server(max_message_size=100000, max_errors=100)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test> SIZE=100000", 250, R_SENDER_OK)
        c.cmd(b"RSET")
        for size in (b"100001", b"999999999999999999999", b"9223372036854775807",
                     b"9223372036854775808", b"18446744073709551616", b"1" + b"0" * 200):
            with self.subTest(size=size):
                self.assertCmd(c, b"MAIL FROM:<a@client.test> SIZE=" + size, 552, R_SIZE)
        self.assertCmd(c, b"MAIL FROM:<a@client.test> SIZE=99999", 250, R_SENDER_OK)

    def test_params_after_helo(self):
        """RFC 5321: no service extensions after HELO"""
        s = self.server(max_errors=100)
        c = s.client()
        c.cmd(b"HELO client.test")
        for params in (b"SIZE=10", b"BODY=8BITMIME", b"SMTPUTF8", b"RET=FULL", b"ENVID=x"):
            with self.subTest(params=params):
                self.assertCmd(c, b"MAIL FROM:<a@client.test> " + params, 555, R_UNKNOWN_PARAM)
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<alice@example.test> NOTIFY=NEVER", 555, R_UNKNOWN_PARAM)
        self.assertCmd(c, b"RCPT TO:<alice@example.test> ORCPT=rfc822;a@b", 555, R_UNKNOWN_PARAM)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        # EHLO makes them valid again
        c.ehlo()
        self.assertCmd(c, b"MAIL FROM:<a@client.test> SIZE=10", 250, R_SENDER_OK)


class RcptParamTests(MailportTest):

    def test_valid_rcpt_params(self):
        s = self.server()
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        for params in (b"NOTIFY=NEVER", b"NOTIFY=never", b"NOTIFY=SUCCESS", b"NOTIFY=SUCCESS,FAILURE,DELAY",
                       b"NOTIFY=delay,success", b"ORCPT=rfc822;alice@example.test",
                       b"ORCPT=utf-8;alice@example.test", b"ORCPT=rfc822;a+2Bb@example.test",
                       b"NOTIFY=FAILURE ORCPT=rfc822;alice@example.test",
                       b"notify=failure orcpt=RFC822;alice@example.test"):
            with self.subTest(params=params):
                self.assertCmd(c, b"RCPT TO:<alice@example.test> " + params, 250, R_RCPT_OK)
        self.assertQueued(c.data(message("rcpt params")))

    def test_bad_rcpt_params(self):
        s = self.server(max_errors=100)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        for params in (b"FOO=1", b"SIZE=10", b"BODY=8BITMIME", b"SMTPUTF8", b"RET=FULL", b"ENVID=x"):
            with self.subTest(params=params):
                self.assertCmd(c, b"RCPT TO:<alice@example.test> " + params, 555, R_UNKNOWN_PARAM)
        for params in (b"NOTIFY=", b"NOTIFY", b"NOTIFY=bogus", b"NOTIFY=NEVER,SUCCESS",
                       b"NOTIFY=SUCCESS,,FAILURE", b"NOTIFY=SUCCESS NOTIFY=FAILURE",
                       b"ORCPT=", b"ORCPT=rfc822", b"ORCPT=;a@b", b"ORCPT=rfc822;+ZZ",
                       b"ORCPT=rfc822;" + b"a" * 501,
                       b"ORCPT=rfc822;a@b ORCPT=rfc822;a@b"):
            with self.subTest(params=params):
                self.assertCmd(c, b"RCPT TO:<alice@example.test> " + params, 501, R_INVALID_ARGS)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)


class XtextTests(MailportTest):
    """CHECKLIST A (Exim EXOPT, MAUTH): a decoded ENVID/ORCPT/AUTH holding
    CR, LF or NUL is rejected (501 5.5.4, src/smtp/params.h), or else it
    is stored byte-exact and cannot forge or split a queue record."""

    INJECT = b"+0Arcpt+20local+20evil@example.test+20example.test+20evil"

    def check_queue_records(self, s, name, nrcpts):
        recs = s.queue_envelope(name)
        keys = {"id", "arrival", "client", "helo", "proto", "from", "body", "smtputf8",
                "ret", "envid", "auth", "rcpt"}
        for k, _ in recs:
            self.assertIn(k, keys, "forged queue record %r" % (k,))
        self.assertEqual(sum(1 for k, _ in recs if k == "rcpt"), nrcpts, recs)
        return recs

    def test_control_bytes_in_xtext(self):
        s = self.server(max_errors=100)
        c = s.session()
        accepted = []
        for i, (kind, param) in enumerate(
                [("mail", b"ENVID=a+0Ab"), ("mail", b"ENVID=a+0Db"), ("mail", b"ENVID=a+00b"),
                 ("mail", b"ENVID=a+7Fb"), ("mail", b"AUTH=a+0Ab@client.test"),
                 ("mail", b"AUTH=a+00b@client.test"), ("mail", b"ENVID=x" + self.INJECT),
                 ("rcpt", b"ORCPT=rfc822;a+0Ab@x.test"), ("rcpt", b"ORCPT=rfc822;a+0Db@x.test"),
                 ("rcpt", b"ORCPT=rfc822;a+00b@x.test"), ("rcpt", b"ORCPT=rfc822;x" + self.INJECT)]):
            with self.subTest(param=param):
                if kind == "mail":
                    r = c.cmd(b"MAIL FROM:<a@client.test> " + param)
                else:
                    self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
                    r = c.cmd(b"RCPT TO:<bob@foreign.test> " + param)
                if r.code == 501:
                    self.assertEqual(r.text, R_INVALID_ARGS)
                    c.cmd(b"RSET")
                    continue
                self.assertEqual(r.code, 250, r)
                if kind == "mail":
                    self.assertCmd(c, b"RCPT TO:<bob@foreign.test>", 250, R_RCPT_OK)
                qid = self.assertQueued(c.data(message("xtext-%d" % i)))
                accepted.append((qid, kind, param))
        # Accepted ones: relay recipients stay in queue/, so their records
        # can be read back: exactly one rcpt, the value decoded byte-exact.
        s.wait_queue_empty(keep=len(accepted))
        for qid, kind, param in accepted:
            with self.subTest(stored=param):
                self.assertIn(qid, s.queue_files())
                recs = self.check_queue_records(s, qid, 1)
                if param.startswith(b"AUTH="):
                    continue  # not authenticated: the value may be dropped
                want = xtext_decode(param.split(b";", 1)[1] if kind == "rcpt" else param.split(b"=", 1)[1])
                vals = [xtext_decode(f) for k, fs in recs for f in fs
                        if k in ("envid", "auth", "rcpt")]
                self.assertIn(want, vals, "value not stored byte-exact")
        self.assertEqual(s.count("evil"), 0)

    def test_injection_attempt_local_delivery(self):
        """an accepted ORCPT/ENVID with an encoded newline never adds a
        recipient"""
        s = self.server(max_errors=100)
        c = s.session()
        r = c.cmd(b"MAIL FROM:<a@client.test> ENVID=x" + self.INJECT)
        if r.code != 250:
            self.assertReply(r, 501, R_INVALID_ARGS)
            self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        r = c.cmd(b"RCPT TO:<alice@example.test> ORCPT=rfc822;x" + self.INJECT)
        if r.code != 250:
            self.assertReply(r, 501, R_INVALID_ARGS)
            self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        self.assertQueued(c.data(message("inject")))
        s.wait_queue_empty()
        self.assertEqual(s.mailboxes(), {("example.test", "alice"): 1})

    def test_auth_param_never_trusted(self):
        """MAIL ... AUTH=<x> from an unauthenticated client: ignored or
        refused, and never shown as an authenticated identity"""
        s = self.server()
        c = s.session()
        r = c.cmd(b"MAIL FROM:<a@client.test> AUTH=victim+40example.test")
        self.assertIn(r.code, (250, 555), r)
        if r.code != 250:
            self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        self.assertQueued(c.data(message("auth param")))
        m = s.wait_messages("alice")[0]
        self.assertNotIn(b"victim", m)
        self.assertNotIn(b"ESMTPA", m)
