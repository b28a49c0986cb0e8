"""test_auth - SMTP AUTH (RFC 4954) with PLAIN (RFC 4616) and LOGIN against
the real binary: successful exchanges, one reply for every failure, the
growing delay and the per-connection and per-address limits, malformed
exchanges, AUTH only over TLS unless allow_plaintext_auth, AUTH on the MX
listener only with auth_on_mx = yes (issue 6), secrets kept out of the log,
the MAIL AUTH= parameter, and `mailport passwd`.  (CHECKLIST E.)
The per-address limit under parallel load is in test_auth_limits.py.
"""

import re
import time

from harness import (R_NOOP, R_RSET, R_SENDER_OK, R_RCPT_OK, R_INVALID_ARGS, MailportTest, message,
                     wait_for, xtext_decode)
from tlsutil import (ALICE, BOB, CHALLENGE_PASS, CHALLENGE_USER, PASSWORDS, R_AUTH_BAD,
                     R_AUTH_BLOCKED, R_AUTH_CANCEL, R_AUTH_FAILED, R_AUTH_IN_TX, R_AUTH_LONG,
                     R_AUTH_MECH, R_AUTH_OK, R_AUTH_TWICE, R_AUTH_UNAVAILABLE, R_NEED_TLS,
                     auth_plain, b64, client_ctx, client_from, ehlo_keywords, plain, run_passwd, starttls,
                     tls_server, tls_session, user_lines)

WRONG = "Wr0ng-guess-Passw0rd"


def mx_server(tc, **kw):
    """mx_server - tls_server with [submission] auth_on_mx = yes: the tests
    of AUTH itself run on the MX port, which offers AUTH only with that
    setting (issue 6; AuthOnMxTests checks the default)"""
    kw.setdefault("auth_on_mx", "yes")
    return tls_server(tc, **kw)


class AuthSuccessTests(MailportTest):

    def test_plain_initial_response(self):
        s = mx_server(self)
        c = tls_session(self, s)
        self.assertCmd(c, "AUTH PLAIN " + plain(ALICE, PASSWORDS[ALICE]), 235, R_AUTH_OK)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)

    def test_plain_continuation(self):
        s = mx_server(self)
        c = tls_session(self, s)
        r = self.assertCmd(c, b"AUTH PLAIN", 334)
        self.assertEqual(r.lines, ["334 "])
        self.assertCmd(c, plain(BOB, PASSWORDS[BOB]), 235, R_AUTH_OK)

    def test_plain_authzid_equal_to_user(self):
        s = mx_server(self)
        c = tls_session(self, s)
        self.assertCmd(c, "AUTH PLAIN " + plain(ALICE, PASSWORDS[ALICE], authzid=ALICE), 235, R_AUTH_OK)

    def test_login(self):
        s = mx_server(self)
        c = tls_session(self, s)
        r = self.assertCmd(c, b"AUTH LOGIN", 334)
        self.assertEqual(r.lines, ["334 " + CHALLENGE_USER])
        r = self.assertCmd(c, b64(ALICE), 334)
        self.assertEqual(r.lines, ["334 " + CHALLENGE_PASS])
        self.assertCmd(c, b64(PASSWORDS[ALICE]), 235, R_AUTH_OK)

    def test_user_name_case_insensitive(self):
        """the users file is matched case-insensitively (README)"""
        s = mx_server(self)
        c = tls_session(self, s)
        self.assertCmd(c, "AUTH PLAIN " + plain("Alice@Example.TEST", PASSWORDS[ALICE]), 235, R_AUTH_OK)

    def test_sha512_hash(self):
        """a `mailport passwd -m sha512` hash works in the users file"""
        s = mx_server(self, start=False)
        s.set_table("users", user_lines(method="sha512"))
        s.write_config()
        s.start()
        self.assertTrue(open(s.users_path).read().split(":", 1)[1].startswith("$6$"))
        c = tls_session(self, s)
        auth_plain(self, c, BOB)

    def test_user_without_hash_cannot_log_in(self):
        s = mx_server(self, users={ALICE: PASSWORDS[ALICE], "nohash@example.test": None})
        c = tls_session(self, s)
        self.assertCmd(c, "AUTH PLAIN " + plain("nohash@example.test", "x"), 535, R_AUTH_FAILED)


class AuthFailureTests(MailportTest):

    def test_same_reply_wrong_password_unknown_user(self):
        s = mx_server(self)
        replies = []
        for user, pw in ((ALICE, WRONG), ("nobody@example.test", WRONG),
                         ("nobody@foreign.test", PASSWORDS[ALICE]), (ALICE, PASSWORDS[BOB])):
            with self.subTest(user=user):
                c = tls_session(self, s)
                r = c.cmd("AUTH PLAIN " + plain(user, pw))
                self.assertReply(r, 535, R_AUTH_FAILED)
                replies.append(r.lines)
                c.close()
        self.assertEqual(len(set(map(tuple, replies))), 1)

    def test_growing_delay_then_close(self):
        s = mx_server(self, max_auth_failures=3)
        c = tls_session(self, s)
        delays = []
        for i in range(3):
            t0 = time.monotonic()
            r = c.cmd("AUTH PLAIN " + plain(ALICE, WRONG + str(i)), timeout=20)
            delays.append(time.monotonic() - t0)
            self.assertReply(r, 535, R_AUTH_FAILED, msg="failure %d" % (i + 1))
        self.assertLess(delays[0], 0.9, delays)
        self.assertGreaterEqual(delays[1], 1.0, delays)
        self.assertGreaterEqual(delays[2], 2.0, delays)
        self.assertReply(c.reply(5), 421, R_AUTH_BLOCKED)
        self.assertClosed(c)

    def test_login_failures_count_too(self):
        s = mx_server(self, max_auth_failures=2)
        c = tls_session(self, s)
        for i in range(2):
            self.assertCmd(c, b"AUTH LOGIN", 334)
            self.assertCmd(c, b64(ALICE), 334)
            self.assertReply(c.cmd(b64(WRONG), timeout=20), 535, R_AUTH_FAILED)
        self.assertReply(c.reply(5), 421, R_AUTH_BLOCKED)
        self.assertClosed(c)

    def test_success_after_failure(self):
        s = mx_server(self)
        c = tls_session(self, s)
        self.assertCmd(c, "AUTH PLAIN " + plain(ALICE, WRONG), 535, R_AUTH_FAILED)
        self.assertReply(c.cmd("AUTH PLAIN " + plain(ALICE, PASSWORDS[ALICE]), timeout=20),
                         235, R_AUTH_OK)

    def test_per_address_block(self):
        """10 failures from one address within 15 minutes, spread over
        connections: the next AUTH gets 421 at once, right password or not"""
        s = mx_server(self, max_auth_failures=3)
        for i in range(10):
            c = tls_session(self, s)
            self.assertReply(c.cmd("AUTH PLAIN " + plain(BOB, "%s-%d" % (WRONG, i)), timeout=20),
                             535, R_AUTH_FAILED, msg="failure %d" % (i + 1))
            c.cmd(b"QUIT")
            c.close()
        c = tls_session(self, s)
        t0 = time.monotonic()
        r = c.cmd("AUTH PLAIN " + plain(ALICE, PASSWORDS[ALICE]), timeout=20)
        self.assertReply(r, 421, R_AUTH_BLOCKED)
        self.assertLess(time.monotonic() - t0, 0.9)
        self.assertClosed(c)
        # other commands from that address still work
        c = tls_session(self, s)
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        # another address is not blocked
        try:
            c2 = client_from(s.port, "127.0.0.2")
        except OSError as e:
            self.skipTest("skipped: cannot connect from 127.0.0.2: %s" % e)
        self.on_teardown(c2.close)
        c2.ehlo()
        starttls(self, c2, client_ctx(s.pki))
        c2.ehlo()
        auth_plain(self, c2)


class MalformedAuthTests(MailportTest):

    def session(self, **kw):
        s = mx_server(self, max_errors=100, **kw)
        return s, tls_session(self, s)

    def test_cancel(self):
        s, c = self.session()
        self.assertCmd(c, b"AUTH PLAIN", 334)
        self.assertCmd(c, b"*", 501, R_AUTH_CANCEL)
        self.assertCmd(c, b"AUTH LOGIN", 334)
        self.assertCmd(c, b"*", 501, R_AUTH_CANCEL)
        self.assertCmd(c, b"AUTH LOGIN", 334)
        self.assertCmd(c, b64(ALICE), 334)
        self.assertCmd(c, b"*", 501, R_AUTH_CANCEL)
        # no failure counted, no delay: still usable
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        auth_plain(self, c)

    def test_bad_base64(self):
        s, c = self.session()
        for bad in (b"!!!not-base64!!!", b"YWxp$2U=", b"Zm9v===", b"\xff\xfe"):
            with self.subTest(bad=bad):
                self.assertCmd(c, b"AUTH PLAIN", 334)
                self.assertCmd(c, bad, 501, R_AUTH_BAD)
                self.assertCmd(c, b"AUTH PLAIN " + bad, 501, R_AUTH_BAD)
        self.assertCmd(c, b"AUTH LOGIN", 334)
        self.assertCmd(c, b"%%%", 501, R_AUTH_BAD)
        auth_plain(self, c)

    def test_plain_equals(self):
        """RFC 4954 4: "=" is an empty initial response, not a valid PLAIN message"""
        s, c = self.session()
        self.assertCmd(c, b"AUTH PLAIN =", 501, R_AUTH_BAD)
        self.assertCmd(c, b"AUTH PLAIN", 334)
        self.assertCmd(c, b"=", 501, R_AUTH_BAD)
        auth_plain(self, c)

    def test_plain_nul_count(self):
        s, c = self.session()
        pw = PASSWORDS[ALICE]
        cases = {
            "no NUL": ALICE + pw,
            "one NUL": ALICE + "\0" + pw,
            "extra NUL at end": "\0" + ALICE + "\0" + pw + "\0",
            "extra NUL at start": "\0\0" + ALICE + "\0" + pw,
            "NUL inside password": "\0" + ALICE + "\0" + pw[:4] + "\0" + pw[4:],
            "only NULs": "\0\0",
        }
        for what, msg in cases.items():
            with self.subTest(case=what):
                self.assertCmd(c, "AUTH PLAIN " + b64(msg), 501, R_AUTH_BAD)
        auth_plain(self, c)

    def test_authzid_other_user(self):
        s, c = self.session()
        self.assertCmd(c, "AUTH PLAIN " + plain(ALICE, PASSWORDS[ALICE], authzid=BOB), 535, R_AUTH_FAILED)
        self.assertReply(c.cmd("AUTH PLAIN " + plain(ALICE, PASSWORDS[ALICE]), timeout=20), 235, R_AUTH_OK)

    def test_huge_response_line(self):
        """a 100 KB response: 500 5.5.6, the session goes on (Exim
        CVE-2018-6789, Dovecot long_auth_line)"""
        s, c = self.session()
        self.assertCmd(c, b"AUTH PLAIN", 334)
        c.send(b"QUFB" * 25600 + b"\r\n")
        self.assertReply(c.reply(20), 500, R_AUTH_LONG)
        self.assertTrue(c.quiet(0.3), "more than one reply to the long line")
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        self.assertCmd(c, b"AUTH LOGIN", 334)
        self.assertCmd(c, b64(ALICE), 334)
        c.send(b"A" * 100000 + b"\r\n")
        self.assertReply(c.reply(20), 500, R_AUTH_LONG)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        auth_plain(self, c)

    def test_huge_initial_response(self):
        """a 100 KB AUTH command line is refused with a 500 either way (the
        README has a row for a long command line and one for a long AUTH
        response line)"""
        s, c = self.session()
        c.send(b"AUTH PLAIN " + b"QUFB" * 25600 + b"\r\n")
        r = c.reply(20)
        self.assertEqual(r.code, 500, r)
        self.assertIn(r.text, (R_AUTH_LONG, "5.5.2 Line too long"))
        self.assertTrue(c.quiet(0.3), "more than one reply to the long line")
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        auth_plain(self, c)

    def test_long_line_under_limit(self):
        """a response line of 12000 octets is not too long (the limit is
        12288): it is judged as base64 (here: bad data, 501)"""
        s, c = self.session()
        self.assertCmd(c, b"AUTH PLAIN", 334)
        c.send(b"A" * 11999 + b"!\r\n")
        self.assertReply(c.reply(20), 501, R_AUTH_BAD)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)

    def test_unknown_mechanism(self):
        s, c = self.session()
        for mech in (b"CRAM-MD5", b"DIGEST-MD5", b"GSSAPI", b"XOAUTH2 dG9rZW4=", b"PLAINX",
                     b"SCRAM-SHA-256"):
            with self.subTest(mech=mech):
                self.assertCmd(c, b"AUTH " + mech, 504, R_AUTH_MECH)
        self.assertEqual(c.cmd(b"AUTH").code, 501)
        auth_plain(self, c)

    def test_auth_twice(self):
        s, c = self.session()
        auth_plain(self, c)
        self.assertCmd(c, "AUTH PLAIN " + plain(BOB, PASSWORDS[BOB]), 503, R_AUTH_TWICE)
        self.assertCmd(c, b"AUTH LOGIN", 503, R_AUTH_TWICE)
        self.assertCmd(c, b"AUTH CRAM-MD5", 503, R_AUTH_TWICE)

    def test_auth_in_transaction(self):
        s, c = self.session()
        self.assertCmd(c, b"MAIL FROM:<alice@example.test>", 250, R_SENDER_OK)
        self.assertCmd(c, "AUTH PLAIN " + plain(ALICE, PASSWORDS[ALICE]), 503, R_AUTH_IN_TX)
        self.assertCmd(c, b"RCPT TO:<bob@example.test>", 250, R_RCPT_OK)
        self.assertCmd(c, b"AUTH LOGIN", 503, R_AUTH_IN_TX)
        self.assertCmd(c, b"RSET", 250, R_RSET)
        auth_plain(self, c)

    def test_pipelined_auth_response(self):
        """the response may come in the same packet as the AUTH command"""
        s, c = self.session()
        c.send(b"AUTH PLAIN\r\n" + plain(ALICE, PASSWORDS[ALICE]).encode() + b"\r\nNOOP\r\n")
        self.assertReply(c.reply(), 334)
        self.assertReply(c.reply(), 235, R_AUTH_OK)
        self.assertReply(c.reply(), 250, R_NOOP)


class AuthPolicyTests(MailportTest):

    def test_no_auth_before_tls(self):
        s = mx_server(self)
        c = s.session()
        r = c.ehlo()
        self.assertFalse(any(k.startswith("AUTH") for k in ehlo_keywords(r)), r)
        for line in ("AUTH PLAIN " + plain(ALICE, PASSWORDS[ALICE]), "AUTH PLAIN", "AUTH LOGIN"):
            with self.subTest(line=line[:10]):
                self.assertCmd(c, line, 530, R_NEED_TLS)
        starttls(self, c, client_ctx(s.pki))
        c.ehlo()
        auth_plain(self, c)

    def test_plaintext_auth_allowed(self):
        for tls in (True, False):
            with self.subTest(tls=tls):
                s = mx_server(self, tls=tls, allow_plaintext_auth="yes", name="plain%d" % tls)
                c = s.session()
                r = c.ehlo()
                self.assertIn("AUTH PLAIN LOGIN", ehlo_keywords(r))
                self.assertEqual("STARTTLS" in ehlo_keywords(r), tls)
                self.assertCmd(c, b"AUTH LOGIN", 334)
                self.assertCmd(c, b64(BOB), 334)
                self.assertCmd(c, b64(PASSWORDS[BOB]), 235, R_AUTH_OK)
                c.close()
                s.stop()

    def test_no_users_file(self):
        s = mx_server(self, users=False)
        c = tls_session(self, s)
        self.assertFalse(any(k.startswith("AUTH") for k in ehlo_keywords(c.ehlo())))
        self.assertCmd(c, "AUTH PLAIN " + plain(ALICE, "x"), 503, R_AUTH_UNAVAILABLE)

    def test_auth_before_ehlo(self):
        s = mx_server(self, allow_plaintext_auth="yes")
        c = s.client()
        self.assertCmd(c, "AUTH PLAIN " + plain(ALICE, PASSWORDS[ALICE]), 503, "5.5.2 Send hello first")


class AuthOnMxTests(MailportTest):
    """issue 6: AUTH is offered and accepted on the submission listeners;
    on the MX listener (`listen`) only with [submission] auth_on_mx = yes"""

    def assertNoAuth(self, c):
        for line in ("AUTH PLAIN " + plain(ALICE, PASSWORDS[ALICE]), "AUTH PLAIN", "AUTH LOGIN",
                     "AUTH CRAM-MD5"):
            with self.subTest(line=line[:10]):
                self.assertCmd(c, line, 503, R_AUTH_UNAVAILABLE)

    def test_mx_default_no_auth(self):
        s = tls_server(self, submission=True, networks="", max_errors=100)
        c = s.session()
        self.assertFalse(any(k.startswith("AUTH") for k in ehlo_keywords(c.ehlo())))
        self.assertNoAuth(c)
        starttls(self, c, client_ctx(s.pki))
        r = c.ehlo()
        self.assertFalse(any(k.startswith("AUTH") for k in ehlo_keywords(r)), r)
        self.assertNoAuth(c)
        # right credentials or not, nothing is granted: no relaying
        self.assertCmd(c, b"MAIL FROM:<alice@example.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<carol@foreign.test>", 550, "5.7.1 Unable to relay")
        # anonymous mail for the local domains goes on as before
        self.assertCmd(c, b"RCPT TO:<bob@example.test>", 250, R_RCPT_OK)
        self.assertQueued(c.data(message("mx no auth", sender=ALICE)))
        # the submission listener of the same server takes the login
        c2 = tls_session(self, s, port=s.sub_port)
        self.assertIn("AUTH PLAIN LOGIN", ehlo_keywords(c2.ehlo()))
        auth_plain(self, c2)

    def test_mx_default_no_auth_in_plaintext_either(self):
        """allow_plaintext_auth = yes does not open AUTH on the MX port"""
        for tls in (True, False):
            with self.subTest(tls=tls):
                s = tls_server(self, tls=tls, allow_plaintext_auth="yes", max_errors=100,
                               name="pt%d" % tls)
                c = s.session()
                r = c.ehlo()
                self.assertFalse(any(k.startswith("AUTH") for k in ehlo_keywords(r)), r)
                self.assertNoAuth(c)
                c.close()
                s.stop()

    def test_mx_no_auth_does_not_count_failures(self):
        """503 on the MX port is no AUTH attempt: the address is not blocked
        on the submission port afterwards"""
        s = tls_server(self, submission=True, max_errors=100)
        c = tls_session(self, s)
        for i in range(12):
            self.assertCmd(c, "AUTH PLAIN " + plain(ALICE, "%s-%d" % (WRONG, i)), 503,
                           R_AUTH_UNAVAILABLE)
        c2 = tls_session(self, s, port=s.sub_port)
        auth_plain(self, c2)

    def test_auth_on_mx_yes(self):
        """with auth_on_mx = yes the MX port behaves as before issue 6"""
        s = tls_server(self, auth_on_mx="yes", networks="")
        c = s.session()
        self.assertFalse(any(k.startswith("AUTH") for k in ehlo_keywords(c.ehlo())))
        self.assertCmd(c, "AUTH PLAIN " + plain(ALICE, PASSWORDS[ALICE]), 530, R_NEED_TLS)
        starttls(self, c, client_ctx(s.pki))
        self.assertIn("AUTH PLAIN LOGIN", ehlo_keywords(c.ehlo()))
        auth_plain(self, c)
        self.assertCmd(c, b"MAIL FROM:<alice@example.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<carol@foreign.test>", 250, R_RCPT_OK)

    def test_auth_on_mx_reload(self):
        """auth_on_mx is read again on SIGHUP (new sessions)"""
        s = tls_server(self)
        c = tls_session(self, s)
        self.assertNoAuth(c)
        s.opts["auth_on_mx"] = "yes"
        s.write_config()
        s.hup()

        def offered():
            c2 = tls_session(self, s)
            try:
                return any(k.startswith("AUTH") for k in ehlo_keywords(c2.ehlo()))
            finally:
                c2.close()
        self.assertTrue(wait_for(offered, 10, 0.3), "auth_on_mx = yes not used after SIGHUP")
        c3 = tls_session(self, s)
        auth_plain(self, c3)


class SecretNotLoggedTests(MailportTest):

    def test_password_never_logged(self):
        s = mx_server(self, trace="yes", allow_plaintext_auth="yes", max_errors=100)
        pw = PASSWORDS[ALICE]
        secrets = {pw, WRONG, plain(ALICE, pw), plain(ALICE, WRONG), b64(pw), b64(WRONG),
                   plain(ALICE, pw, authzid=BOB)}
        for tls in (False, True):
            def conn():
                c = tls_session(self, s) if tls else s.session()
                return c
            # one failure per connection: no growing delay to wait for
            c = conn()
            self.assertCmd(c, "AUTH PLAIN " + plain(ALICE, WRONG), 535, R_AUTH_FAILED)
            c.close()
            c = conn()
            self.assertCmd(c, b"AUTH LOGIN", 334)
            self.assertCmd(c, b64(ALICE), 334)
            self.assertCmd(c, b64(WRONG), 535, R_AUTH_FAILED)
            c.close()
            c = conn()
            self.assertCmd(c, "AUTH PLAIN " + plain(ALICE, pw, authzid=BOB), 535, R_AUTH_FAILED)
            c.close()
            c = conn()
            self.assertCmd(c, b"AUTH PLAIN", 334)
            self.assertCmd(c, plain(ALICE, pw), 235, R_AUTH_OK)
            c.cmd(b"QUIT")
            c.close()
            c = conn()
            self.assertCmd(c, b"AUTH LOGIN", 334)
            self.assertCmd(c, b64(ALICE), 334)
            self.assertCmd(c, b64(pw), 235, R_AUTH_OK)
            c.cmd(b"QUIT")
            c.close()
        time.sleep(0.5)
        s.stop()
        log = s.log_bytes()
        self.assertIn(b"trace", log, "trace = yes wrote no trace lines")
        for secret in secrets:
            with self.subTest(secret=secret):
                self.assertNotIn(secret.encode(), log)
        # the escaped forms neither
        self.assertNotIn(pw.replace("-", "\\x2d").encode(), log)


class AuthParamTests(MailportTest):

    def test_auth_param_ignored_when_unauthenticated(self):
        """RFC 4954 5: AUTH= from a client that did not authenticate is
        accepted and not stored (Exim CVE-2020-28021: never raw)"""
        s = mx_server(self)
        c = s.session()
        qids = []
        for param in (b"AUTH=<>", b"AUTH=alice@example.test", b"AUTH=victim+40example.test",
                      b"AUTH=x+0Aauth+20evil", b"AUTH=a+0D+0Arcpt+20relay"):
            with self.subTest(param=param):
                r = c.cmd(b"MAIL FROM:<a@client.test> " + param)
                if b"+0" in param and r.code == 501:
                    # a decoded value that is no mailbox may be refused
                    self.assertReply(r, 501, R_INVALID_ARGS)
                    continue
                self.assertReply(r, 250, R_SENDER_OK)
                self.assertCmd(c, b"RCPT TO:<x@foreign.test>", 250, R_RCPT_OK)
                qids.append(self.assertQueued(c.data(message("authparam"))))
        time.sleep(0.5)
        for qid in qids:
            env = s.queue_envelope(qid)
            keys = [k for k, _ in env]
            self.assertNotIn("auth", keys, env)
            self.assertEqual(keys.count("rcpt"), 1, env)
            self.assertEqual(dict(env).get("proto"), [b"ESMTP"])

    def test_auth_param_when_authenticated(self):
        """after AUTH the queue file's auth record names the login"""
        s = mx_server(self)
        c = tls_session(self, s)
        auth_plain(self, c)
        self.assertCmd(c, b"MAIL FROM:<alice@example.test> AUTH=<>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<x@foreign.test>", 250, R_RCPT_OK)
        qid = self.assertQueued(c.data(message("authparam2")))
        env = dict(s.queue_envelope(qid))
        self.assertEqual([xtext_decode(v) for v in env.get("auth", [])], [ALICE.encode()])

    def test_bad_auth_param_syntax(self):
        s = mx_server(self)
        c = s.session()
        for param in (b"AUTH=", b"AUTH=a+ZZ", b"AUTH=a b"):
            with self.subTest(param=param):
                r = c.cmd(b"MAIL FROM:<a@client.test> " + param)
                self.assertIn(r.code, (250, 501, 555), r)
                if r.code != 250:
                    self.assertIn(r.text, (R_INVALID_ARGS, "5.5.4 Unrecognized parameter"))
                c.cmd(b"RSET")


class PasswdCommandTests(MailportTest):

    def test_yescrypt_default(self):
        rc, out, err = run_passwd("secret\n")
        self.assertEqual(rc, 0, err)
        h = out.strip()
        self.assertTrue(h.startswith("$y$"), h)
        self.assertEqual(out.count("\n"), 1, out)
        self.assertNotIn("secret", out)
        rc2, out2, _ = run_passwd("secret\n")
        self.assertNotEqual(out2, out, "no random salt")

    def test_explicit_methods(self):
        rc, out, err = run_passwd("secret\n", "sha512")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out.strip(), r"^\$6\$[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{86}$")
        rc, out, err = run_passwd("secret\n", "yescrypt")
        self.assertEqual(rc, 0, err)
        self.assertTrue(out.startswith("$y$"), out)

    def test_bad_input(self):
        for what, data in (("nothing", b""), ("empty line", b"\n")):
            with self.subTest(input=what):
                rc, out, err = run_passwd(data)
                self.assertNotEqual(rc, 0, out)
                self.assertEqual(out, "")
        rc, out, err = run_passwd("secret\n", "md5")
        self.assertNotEqual(rc, 0)
        self.assertEqual(out, "")

    def test_no_trailing_newline(self):
        rc, out, err = run_passwd("secret")
        self.assertEqual(rc, 0, err)
        self.assertTrue(re.match(r"^\$y\$\S+\n$", out), out)
