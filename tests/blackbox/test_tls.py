"""test_tls - STARTTLS and implicit TLS (RFC 3207, RFC 8314) against the real
binary: EHLO advertisement, smtplib/swaks/curl clients verifying a private
test CA, STARTTLS command injection (CVE-2011-0411), the session state reset
after the handshake, handshake garbage and timeouts, hostile SNI.
(CHECKLIST D.)
"""

import random
import re
import ssl
import subprocess
import time
import warnings

from harness import (HOST, R_NOOP, R_RSET, R_SENDER_OK, R_RCPT_OK, R_HELLO_FIRST, R_NEED_MAIL,
                     R_BAD_DOMAIN, R_INVALID_ARGS, R_UNKNOWN, Client, MailportTest, message,
                     to_lf)
from tlsutil import (ALICE, BOB, PASSWORDS, R_AUTH_OK, R_STARTTLS, R_TLS_ACTIVE,
                     LoopbackSMTP, LoopbackSMTP_SSL, auth_plain, client_ctx, close_quietly,
                     ehlo_keywords, insecure_ctx, make_pki, plain, starttls, tls_client, tls_server, wrap)

BASE_EXT = ["PIPELINING", "SIZE 36700160", "8BITMIME"]
TAIL_EXT = ["ENHANCEDSTATUSCODES", "DSN", "CHUNKING", "SMTPUTF8"]


def run(argv, timeout=60, stdin=None):
    r = subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout)
    return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")


class AdvertiseTests(MailportTest):

    def test_ehlo_lists(self):
        """STARTTLS and AUTH are inserted after 8BITMIME, each only when
        usable: STARTTLS before TLS, AUTH once TLS is active (on the MX
        port only with auth_on_mx = yes, issue 6)"""
        s = tls_server(self, auth_on_mx="yes")
        c = s.session()
        r = c.ehlo()
        self.assertEqual(r.texts[0], "%s Hello [127.0.0.1]" % HOST)
        self.assertEqual(ehlo_keywords(r), BASE_EXT + ["STARTTLS"] + TAIL_EXT)
        starttls(self, c, client_ctx(s.pki))
        self.assertEqual(ehlo_keywords(c.ehlo()), BASE_EXT + ["AUTH PLAIN LOGIN"] + TAIL_EXT)

    def test_ehlo_lists_default(self):
        """by default the MX port never lists AUTH; the submission port
        lists it once TLS is active"""
        s = tls_server(self, submission=True)
        c = s.session()
        self.assertEqual(ehlo_keywords(c.ehlo()), BASE_EXT + ["STARTTLS"] + TAIL_EXT)
        starttls(self, c, client_ctx(s.pki))
        self.assertEqual(ehlo_keywords(c.ehlo()), BASE_EXT + TAIL_EXT)
        c = Client(s.sub_port)
        self.on_teardown(c.close)
        self.assertEqual(ehlo_keywords(c.ehlo()), BASE_EXT + ["STARTTLS"] + TAIL_EXT)
        starttls(self, c, client_ctx(s.pki))
        self.assertEqual(ehlo_keywords(c.ehlo()), BASE_EXT + ["AUTH PLAIN LOGIN"] + TAIL_EXT)

    def test_ehlo_without_users_file(self):
        s = tls_server(self, users=False)
        c = s.session()
        starttls(self, c, client_ctx(s.pki))
        self.assertEqual(ehlo_keywords(c.ehlo()), BASE_EXT + TAIL_EXT)

    def test_ehlo_plaintext_auth_allowed(self):
        s = tls_server(self, allow_plaintext_auth="yes", auth_on_mx="yes", submission=True)
        c = s.session()
        self.assertEqual(ehlo_keywords(c.ehlo()),
                         BASE_EXT + ["STARTTLS", "AUTH PLAIN LOGIN"] + TAIL_EXT)
        c = Client(s.sub_port)
        self.on_teardown(c.close)
        self.assertEqual(ehlo_keywords(c.ehlo()),
                         BASE_EXT + ["STARTTLS", "AUTH PLAIN LOGIN"] + TAIL_EXT)

    def test_ehlo_plaintext_auth_allowed_mx_default(self):
        """allow_plaintext_auth does not put AUTH on the MX port"""
        s = tls_server(self, allow_plaintext_auth="yes")
        c = s.session()
        self.assertEqual(ehlo_keywords(c.ehlo()), BASE_EXT + ["STARTTLS"] + TAIL_EXT)

    def test_starttls_not_configured(self):
        s = tls_server(self, tls=False, users=False)
        c = s.session()
        r = c.ehlo()
        self.assertNotIn("STARTTLS", ehlo_keywords(r))
        self.assertCmd(c, b"STARTTLS", 500, R_UNKNOWN)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)

    def test_helo_does_not_list_extensions(self):
        s = tls_server(self)
        c = s.client()
        self.assertCmd(c, b"HELO client.test", 250, "%s Hello [127.0.0.1]" % HOST)


class StartTlsClientTests(MailportTest):
    """clients that log in use the submission port (AUTH is not offered on
    the MX port by default, issue 6); the others the MX port"""

    def test_smtplib_starttls_auth_deliver(self):
        s = tls_server(self, submission=True)
        c = LoopbackSMTP(HOST, s.sub_port, local_hostname="client.test", timeout=20)
        self.on_teardown(lambda: close_quietly(c))
        c.ehlo()
        self.assertTrue(c.has_extn("starttls"))
        self.assertFalse(c.has_extn("auth"))
        code, text = c.starttls(context=client_ctx(s.pki))
        self.assertEqual((code, text), (220, R_STARTTLS.encode()))
        self.assertEqual(c.sock.version(), "TLSv1.3")
        c.ehlo()
        self.assertFalse(c.has_extn("starttls"))
        self.assertEqual(c.esmtp_features.get("auth", "").split(), ["PLAIN", "LOGIN"])
        self.assertEqual(c.login(ALICE, PASSWORDS[ALICE]), (235, R_AUTH_OK.encode()))
        data = message("smtplib tls", sender=ALICE, to=BOB)
        self.assertEqual(c.sendmail(ALICE, [BOB], data), {})
        c.quit()
        got = s.wait_messages("bob")[0]
        self.assertTrue(got.endswith(to_lf(data)))

    def test_smtplib_wrong_ca_refused(self):
        """the client side check works: a certificate from another CA fails"""
        s = tls_server(self)
        pki2 = make_pki(self, "pki-other")
        c = LoopbackSMTP(HOST, s.port, local_hostname="client.test", timeout=20)
        self.on_teardown(lambda: close_quietly(c))
        c.ehlo()
        with self.assertRaises(ssl.SSLCertVerificationError):
            c.starttls(context=client_ctx(pki2))
        # the server is fine
        c2 = s.session()
        self.assertCmd(c2, b"NOOP", 250, R_NOOP)

    def test_swaks_starttls_auth(self):
        tool = self.need_tool("swaks")
        s = tls_server(self, submission=True)
        rc, out = run([tool, "--server", "127.0.0.1:%d" % s.sub_port, "--helo", "client.test",
                       "--timeout", "20", "--tls", "--tls-verify", "--tls-ca-path", s.pki.ca,
                       "--tls-sni", HOST,
                       "--auth", "PLAIN", "--auth-user", ALICE, "--auth-password", PASSWORDS[ALICE],
                       "--from", ALICE, "--to", BOB, "--header", "Subject: swaks tls",
                       "--body", "Hello over TLS\n"])
        self.assertEqual(rc, 0, out)
        self.assertIn("220 " + R_STARTTLS, out)
        self.assertIn("235 " + R_AUTH_OK, out)
        got = s.wait_messages("bob")[0]
        self.assertIn(b"Subject: swaks tls\n", got)
        self.assertIn(b"Hello over TLS\n", got)

    def test_swaks_verification_is_real(self):
        """swaks --tls-verify with another CA fails: the positive swaks
        tests really verified the chain"""
        tool = self.need_tool("swaks")
        s = tls_server(self)
        pki2 = make_pki(self, "pki-other")
        rc, out = run([tool, "--server", "127.0.0.1:%d" % s.port, "--helo", "client.test",
                       "--timeout", "20", "--tls", "--tls-verify", "--tls-ca-path", pki2.ca,
                       "--tls-sni", HOST, "--from", ALICE, "--to", BOB])
        self.assertNotEqual(rc, 0, out)
        self.assertNothingDelivered(s, 0.5)

    def test_swaks_auth_login(self):
        tool = self.need_tool("swaks")
        s = tls_server(self, submission=True)
        rc, out = run([tool, "--server", "127.0.0.1:%d" % s.sub_port, "--helo", "client.test",
                       "--timeout", "20", "--tls", "--tls-verify", "--tls-ca-path", s.pki.ca,
                       "--tls-sni", HOST,
                       "--auth", "LOGIN", "--auth-user", BOB, "--auth-password", PASSWORDS[BOB],
                       "--from", BOB, "--to", ALICE, "--header", "Subject: swaks login"])
        self.assertEqual(rc, 0, out)
        self.assertIn("334 VXNlcm5hbWU6", out)
        self.assertIn("334 UGFzc3dvcmQ6", out)
        self.assertIn("235 " + R_AUTH_OK, out)
        s.wait_messages("alice")


class ImplicitTlsTests(MailportTest):

    def test_curl_smtps(self):
        tool = self.need_tool("curl")
        s = tls_server(self, submissions=True)
        body = message("curl smtps", sender=ALICE, to=BOB)
        path = self.make_tmpdir("curl") + "/msg.eml"
        with open(path, "wb") as f:
            f.write(body)
        rc, out = run([tool, "-sS", "-v", "--ssl-reqd", "--cacert", s.pki.ca,
                       "--max-time", "30",
                       "--resolve", "%s:%d:127.0.0.1" % (HOST, s.subs_port),
                       "smtps://%s:%d" % (HOST, s.subs_port), "--user",
                       "%s:%s" % (ALICE, PASSWORDS[ALICE]), "--mail-from", ALICE,
                       "--mail-rcpt", BOB, "-T", path])
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"SSL connection using TLSv1\.3")
        got = s.wait_messages("bob")[0]
        self.assertTrue(got.endswith(to_lf(body)), got[-300:])

    def test_smtplib_smtp_ssl(self):
        s = tls_server(self, submissions=True)
        c = LoopbackSMTP_SSL(HOST, s.subs_port, local_hostname="client.test", timeout=20,
                             context=client_ctx(s.pki))
        self.on_teardown(lambda: close_quietly(c))
        code, _ = c.ehlo()
        self.assertEqual(code, 250)
        self.assertFalse(c.has_extn("starttls"), "STARTTLS offered inside implicit TLS")
        self.assertEqual(c.esmtp_features.get("auth", "").split(), ["PLAIN", "LOGIN"])
        self.assertEqual(c.docmd("STARTTLS"), (503, R_TLS_ACTIVE.encode()))
        c.login(BOB, PASSWORDS[BOB])
        data = message("smtp_ssl", sender=BOB, to=ALICE)
        self.assertEqual(c.sendmail(BOB, [ALICE, "carol@foreign.test"], data), {})
        c.quit()
        got = s.wait_messages("alice")[0]
        self.assertTrue(got.endswith(to_lf(data)))

    def test_banner_over_tls(self):
        s = tls_server(self, submissions=True)
        c = tls_client(s.subs_port, client_ctx(s.pki))
        self.on_teardown(c.close)
        self.assertReply(c.banner, 220, "%s ESMTP ready" % HOST)
        self.assertEqual(c.sock.version(), "TLSv1.3")
        self.assertCmd(c, b"QUIT", 221, "2.0.0 Service closing transmission channel")


class InjectionTests(MailportTest):
    """CVE-2011-0411: plaintext pipelined after STARTTLS must not be
    executed inside the TLS session"""

    def inject(self, extra):
        s = tls_server(self)
        c = s.session()
        c.send(b"STARTTLS\r\n" + extra)
        self.assertReply(c.reply(), 220, R_STARTTLS)
        time.sleep(0.2)  # let any (wrong) plaintext reply arrive
        wrap(c, client_ctx(s.pki))
        # the first reply in TLS is the NOOP's, not one to the injected command
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        self.assertTrue(c.quiet(0.5), "extra reply after NOOP inside TLS")
        self.assertRegex(s.log(), r"(?i)discard[^\n]*plaintext|plaintext[^\n]*discard")
        return s, c

    def test_injected_rset(self):
        self.inject(b"RSET\r\n")

    def test_injected_mail(self):
        s, c = self.inject(b"MAIL FROM:<x@client.test>\r\n")
        # the injected MAIL did not open a transaction either
        c.ehlo()
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 503, R_NEED_MAIL)
        self.assertCmd(c, b"MAIL FROM:<y@client.test>", 250, R_SENDER_OK)

    def test_injected_several_commands(self):
        s, c = self.inject(b"EHLO evil.test\r\nMAIL FROM:<x@client.test>\r\n"
                           b"RCPT TO:<alice@example.test>\r\nDATA\r\n")
        self.assertCmd(c, b"MAIL FROM:<y@client.test>", 503, R_HELLO_FIRST)


class StateAfterTlsTests(MailportTest):
    """RFC 3207 4.2: the server forgets everything it learned before TLS"""

    def test_mail_and_auth_need_new_ehlo(self):
        s = tls_server(self, auth_on_mx="yes")
        c = s.session()
        starttls(self, c, client_ctx(s.pki))
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 503, R_HELLO_FIRST)
        self.assertCmd(c, "AUTH PLAIN " + plain(ALICE, PASSWORDS[ALICE]), 503, R_HELLO_FIRST)
        c.ehlo()
        auth_plain(self, c)
        self.assertCmd(c, b"MAIL FROM:<alice@example.test>", 250, R_SENDER_OK)

    def test_transaction_forgotten(self):
        s = tls_server(self)
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        starttls(self, c, client_ctx(s.pki))
        c.ehlo()
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 503, R_NEED_MAIL)
        self.assertCmd(c, b"DATA", 503, R_NEED_MAIL)

    def test_auth_forgotten(self):
        """with allow_plaintext_auth a login made in the clear is dropped by
        STARTTLS: relaying is refused again until a new AUTH"""
        s = tls_server(self, allow_plaintext_auth="yes", networks="", auth_on_mx="yes")
        c = s.session()
        auth_plain(self, c)
        self.assertCmd(c, b"MAIL FROM:<alice@example.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<x@foreign.test>", 250, R_RCPT_OK)
        c.cmd(b"RSET")
        starttls(self, c, client_ctx(s.pki))
        c.ehlo()
        self.assertCmd(c, b"MAIL FROM:<alice@example.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<x@foreign.test>", 550, "5.7.1 Unable to relay")
        self.assertCmd(c, b"RSET", 250, R_RSET)
        auth_plain(self, c)  # not "503 Already authenticated"
        self.assertCmd(c, b"MAIL FROM:<alice@example.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<x@foreign.test>", 250, R_RCPT_OK)

    def test_starttls_twice(self):
        s = tls_server(self)
        c = s.session()
        starttls(self, c, client_ctx(s.pki))
        self.assertCmd(c, b"STARTTLS", 503, R_TLS_ACTIVE)
        c.ehlo()
        self.assertCmd(c, b"STARTTLS", 503, R_TLS_ACTIVE)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)

    def test_starttls_with_argument(self):
        s = tls_server(self)
        c = s.session()
        for arg in (b"STARTTLS now", b"STARTTLS =", b"STARTTLS  x"):
            with self.subTest(arg=arg):
                self.assertCmd(c, arg, 501, R_INVALID_ARGS)
        # still plaintext and usable; a proper STARTTLS works
        starttls(self, c, client_ctx(s.pki))
        c.ehlo()
        self.assertCmd(c, b"NOOP", 250, R_NOOP)

    def test_lowercase_and_second_ehlo(self):
        s = tls_server(self)
        c = s.session()
        self.assertCmd(c, b"starttls", 220, R_STARTTLS)
        wrap(c, client_ctx(s.pki))
        self.assertCmd(c, b"EHLO", 501, R_BAD_DOMAIN)
        c.ehlo("other.test")
        self.assertEqual(c.sock.version(), "TLSv1.3")


class HandshakeFailureTests(MailportTest):
    """broken handshakes close the connection; the daemon goes on"""

    def assertServes(self, s):
        c = s.session()
        starttls(self, c, client_ctx(s.pki))
        c.ehlo()
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        c.close()
        if s.subs_port:
            c = tls_client(s.subs_port, client_ctx(s.pki))
            self.assertEqual(c.banner.code, 220)
            c.close()

    def test_random_bytes_after_starttls(self):
        s = tls_server(self, submissions=True, timeout=2)
        rnd = random.Random(411)
        junk = {
            "random": bytes([0x47]) + rnd.randbytes(700),
            "tls-record-garbage": b"\x16\x03\x01\x00\x40" + rnd.randbytes(64),
            "smtp-in-clear": b"EHLO still-plaintext.test\r\nMAIL FROM:<a@b.test>\r\n",
            "huge-record": b"\x16\x03\x01\xff\xff" + rnd.randbytes(4000),
        }
        for name, data in junk.items():
            with self.subTest(junk=name):
                c = s.session()
                self.assertCmd(c, b"STARTTLS", 220, R_STARTTLS)
                c.send(data)
                rest = self.assertClosed(c, 8)
                self.assertNotRegex(rest, rb"(^|\n)[2345]\d\d[ -]", "SMTP reply after garbage")
                self.assertTrue(s.running())
                self.assertServes(s)

    def test_garbage_on_submissions_port(self):
        s = tls_server(self, submissions=True, timeout=2)
        for name, data in (("http", b"GET / HTTP/1.1\r\nHost: mx.example.test\r\n\r\n"),
                           ("smtp", b"EHLO plain.test\r\n"),
                           ("binary", random.Random(8314).randbytes(2000))):
            with self.subTest(junk=name):
                c = Client(s.subs_port, read_banner=False)
                c.send(data)
                rest = self.assertClosed(c, 8)
                self.assertNotIn(b"220 ", rest)
                self.assertServes(s)

    def test_plaintext_client_on_submissions_port_waits(self):
        """a client that waits for a plaintext banner on the implicit-TLS
        port gets none and is timed out"""
        s = tls_server(self, submissions=True, timeout=2)
        c = Client(s.subs_port, read_banner=False)
        t0 = time.monotonic()
        rest = self.assertClosed(c, 10)
        self.assertNotIn(b"220", rest)
        self.assertLess(time.monotonic() - t0, 9)
        self.assertServes(s)

    def test_tls11_client_refused(self):
        s = tls_server(self, submissions=True, timeout=2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            try:
                ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
                ctx.minimum_version = ssl.TLSVersion.TLSv1_1
                ctx.maximum_version = ssl.TLSVersion.TLSv1_1
            except (ValueError, ssl.SSLError) as e:
                self.skipTest("skipped: this Python/OpenSSL cannot make a TLS 1.1 client: %s" % e)
        for where in ("starttls", "submissions"):
            with self.subTest(where=where):
                if where == "starttls":
                    c = s.session()
                    self.assertCmd(c, b"STARTTLS", 220, R_STARTTLS)
                else:
                    c = Client(s.subs_port, read_banner=False)
                try:
                    wrap(c, ctx)
                except ssl.SSLError as e:
                    if "NO_PROTOCOLS_AVAILABLE" in str(e) or "NO_CIPHERS" in str(e):
                        self.skipTest("skipped: local OpenSSL refuses TLS 1.1: %s" % e)
                except (OSError, ConnectionError):
                    pass
                else:
                    self.fail("TLS 1.1 handshake succeeded (%s)" % c.sock.version())
                c.close()
                self.assertServes(s)

    def test_starttls_then_silence_times_out(self):
        s = tls_server(self, timeout=2)
        c = s.session()
        self.assertCmd(c, b"STARTTLS", 220, R_STARTTLS)
        t0 = time.monotonic()
        rest = self.assertClosed(c, 10, "a client that never starts the handshake is not timed out")
        self.assertLess(time.monotonic() - t0, 9)
        self.assertNotRegex(rest, rb"^[2345]\d\d ", "plaintext reply after STARTTLS")
        self.assertServes(s)

    def test_half_handshake_times_out(self):
        """ClientHello sent, then nothing more (the TLS 1.3 Finished never
        comes): timed out too"""
        s = tls_server(self, timeout=2)
        c = s.session()
        self.assertCmd(c, b"STARTTLS", 220, R_STARTTLS)
        ctx = insecure_ctx()
        inb, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(inb, outb, server_hostname=HOST)
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        c.send(outb.read())
        t0 = time.monotonic()
        self.assertClosed(c, 10, "half-done handshake not timed out")
        self.assertLess(time.monotonic() - t0, 9)
        self.assertServes(s)

    def test_reset_during_handshake(self):
        s = tls_server(self)
        for i in range(5):
            c = s.session()
            self.assertCmd(c, b"STARTTLS", 220, R_STARTTLS)
            if i % 2:
                c.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
            c.reset_close()
        time.sleep(0.3)
        self.assertServes(s)


class FloodTests(MailportTest):

    def test_parallel_handshakes(self):
        """30 clients doing STARTTLS at once: each gets TLS (or a clean
        4xx), the daemon stays up"""
        import threading
        s = tls_server(self)
        ctx = client_ctx(s.pki)
        results = []

        def one():
            try:
                c = s.session()
                r = c.cmd(b"STARTTLS")
                if r.code == 220:
                    wrap(c, ctx)
                    c.ehlo()
                    r = c.cmd(b"NOOP")
                results.append(r.code)
                c.close()
            except Exception as e:  # noqa: BLE001 - collected
                results.append(repr(e))

        threads = [threading.Thread(target=one) for _ in range(30)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(len(results), 30)
        bad = [r for r in results if r not in (250, 421, 454)]
        self.assertEqual(bad, [])
        self.assertGreater(results.count(250), 0)
        HandshakeFailureTests.assertServes(self, s)

    def test_repeated_starttls_counts_errors(self):
        s = tls_server(self, max_errors=5)
        c = s.session()
        starttls(self, c, client_ctx(s.pki))
        c.ehlo()
        for i in range(4):
            self.assertCmd(c, b"STARTTLS", 503, R_TLS_ACTIVE)
        self.assertReply(c.cmd(b"STARTTLS"), 503, R_TLS_ACTIVE)
        self.assertReply(c.reply(), 421, "4.7.0 Too many errors on this connection, "
                         "closing transmission channel")
        self.assertClosed(c)


class SniTests(MailportTest):
    """hostile server names: the handshake works or fails cleanly and the
    log line stays escaped"""

    SNI_RE = rb'sni="((?:[\x21\x23-\x5b\x5d-\x7e ]|\\x[0-9a-f]{2}|\\[rnt])*)"'

    def check_log(self, s):
        log = s.log_bytes()
        self.assertNotRegex(log, rb"[\x80-\xff]", "raw non-ASCII byte in the log")
        for line in log.split(b"\n"):
            if b"sni=" in line:
                self.assertRegex(line, self.SNI_RE + rb"( |$)", "badly escaped sni in %r" % line)

    def handshake(self, s, name):
        c = s.session()
        self.assertCmd(c, b"STARTTLS", 220, R_STARTTLS)
        try:
            wrap(c, insecure_ctx(), server_hostname=name)
        except (ssl.SSLError, OSError):
            c.close()
            return None
        c.ehlo()
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        return c

    def test_long_and_odd_names(self):
        s = tls_server(self, submissions=True, timeout=2)
        long_name = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 63])  # 255 octets
        names = {
            "255 octets": long_name,
            "trailing backslash": "mx.example.test\\",
            "backslash and quote": 'evil\\".example.test',
            "backslash-x": "a\\x41\\n.example.test",
            "spaces": "a b.example.test",
        }
        for what, name in names.items():
            with self.subTest(sni=what):
                c = self.handshake(s, name)
                if c is not None:
                    c.close()
                self.assertTrue(s.running())
        time.sleep(0.3)
        self.check_log(s)
        log = s.log_bytes()
        self.assertNotIn(b'mx.example.test\\"', log, "a trailing backslash escapes the quote")
        HandshakeFailureTests.assertServes(self, s)

    def test_raw_non_ascii_sni(self):
        """Python only sends IDNA (A-label) names; openssl s_client sends
        the raw UTF-8 / Latin-1 bytes"""
        tool = self.need_tool("openssl")
        s = tls_server(self, timeout=2)
        for what, name in (("utf-8", "m\u00fcller.example.test".encode()),
                           ("latin-1", b"m\xfcller.example.test"),
                           ("control", b"a\x01\x7fb.example.test")):
            with self.subTest(sni=what):
                try:
                    r = subprocess.run([tool, "s_client", "-connect", "127.0.0.1:%d" % s.port,
                                        "-starttls", "smtp", "-name", "client.test",
                                        "-servername", name, "-brief", "-ign_eof"],
                                       input=b"NOOP\r\nQUIT\r\n", capture_output=True, timeout=20)
                except ValueError:
                    self.skipTest("skipped: cannot pass that name to openssl")
                out = (r.stdout + r.stderr)
                if b"CONNECTION ESTABLISHED" in out:
                    self.assertIn(b"250 2.0.0 OK", out)
                self.assertTrue(s.running())
        time.sleep(0.3)
        self.check_log(s)
        HandshakeFailureTests.assertServes(self, s)


class CipherTests(MailportTest):
    """issue 6: TLS 1.2 only with ECDHE (or DHE) and AEAD ciphers (Mozilla
    "intermediate"); TLS 1.3 unchanged.  An RSA certificate, so that the
    ECDHE-RSA-* suites are possible at all, and the usual EC one for the
    ECDHE-ECDSA-* suites.  The client offers exactly one suite, with
    @SECLEVEL=0 so that the local OpenSSL policy does not decide for us."""

    REFUSED_RSA = ["AES256-SHA", "AES128-SHA256", "ECDHE-RSA-AES128-SHA", "AES128-GCM-SHA256",
                   "ECDHE-RSA-AES256-SHA384"]
    ACCEPTED_RSA = ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-CHACHA20-POLY1305",
                    "ECDHE-RSA-AES256-GCM-SHA384"]
    REFUSED_EC = ["ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384"]
    ACCEPTED_EC = ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"]

    def ctx12(self, cipher):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        try:
            ctx.set_ciphers(cipher + ":@SECLEVEL=0")
        except ssl.SSLError as e:
            self.skipTest("skipped: local OpenSSL has no %s: %s" % (cipher, e))
        return ctx

    def handshake(self, s, where, ctx):
        """handshake - (True, cipher name, version) or (False, error)"""
        if where == "starttls":
            c = s.session()
            self.assertCmd(c, b"STARTTLS", 220, R_STARTTLS)
        else:
            c = Client(s.subs_port, read_banner=False)
        self.on_teardown(c.close)
        try:
            wrap(c, ctx)
            if where == "submissions":
                c.banner = c.reply()
                self.assertEqual(c.banner.code, 220)
            c.ehlo()
            self.assertCmd(c, b"NOOP", 250, R_NOOP)
        except (ssl.SSLError, OSError) as e:
            c.close()
            return False, repr(e)
        name, version = c.sock.cipher()[0], c.sock.version()
        c.close()
        return True, name, version

    def check(self, s, refused, accepted):
        for where in ("starttls", "submissions"):
            for cipher in refused:
                with self.subTest(where=where, cipher=cipher):
                    r = self.handshake(s, where, self.ctx12(cipher))
                    self.assertFalse(r[0], "TLS 1.2 handshake with %s succeeded: %r" % (cipher, r))
            for cipher in accepted:
                with self.subTest(where=where, cipher=cipher):
                    r = self.handshake(s, where, self.ctx12(cipher))
                    self.assertTrue(r[0], "TLS 1.2 handshake with %s failed: %r" % (cipher, r))
                    self.assertEqual(r[1:], (cipher, "TLSv1.2"))
        self.assertTrue(s.running())
        HandshakeFailureTests.assertServes(self, s)

    def test_tls12_ciphers_rsa_certificate(self):
        s = tls_server(self, submissions=True, key_type="rsa")
        self.check(s, self.REFUSED_RSA, self.ACCEPTED_RSA)

    def test_tls12_ciphers_ec_certificate(self):
        s = tls_server(self, submissions=True)
        self.check(s, self.REFUSED_EC, self.ACCEPTED_EC)

    def test_server_prefers_aead(self):
        """a TLS 1.2 client that lists the weak suites first still gets an
        ECDHE AEAD suite"""
        s = tls_server(self, submissions=True, key_type="rsa")
        ctx = self.ctx12("AES256-SHA:AES128-SHA256:ECDHE-RSA-AES128-SHA:"
                         "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305")
        r = self.handshake(s, "starttls", ctx)
        self.assertTrue(r[0], r)
        self.assertIn(r[1], ("ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-CHACHA20-POLY1305"))
        self.assertEqual(r[2], "TLSv1.2")

    def test_tls13_still_works(self):
        for key_type in ("rsa", "ec"):
            with self.subTest(key=key_type):
                s = tls_server(self, submissions=True, key_type=key_type, name="t13" + key_type)
                for where in ("starttls", "submissions"):
                    ctx = client_ctx(s.pki)
                    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
                    if where == "starttls":
                        c = s.session()
                        starttls(self, c, ctx)
                    else:
                        c = tls_client(s.subs_port, ctx)
                    self.on_teardown(c.close)
                    self.assertEqual(c.sock.version(), "TLSv1.3")
                    c.ehlo()
                    self.assertCmd(c, b"NOOP", 250, R_NOOP)
                    c.close()
                s.stop()

    def test_openssl_s_client(self):
        """the same with `openssl s_client -tls1_2 -cipher X -starttls smtp`"""
        tool = self.need_tool("openssl")
        s = tls_server(self, key_type="rsa")
        cases = [(c, False) for c in ("AES256-SHA", "AES128-SHA256", "ECDHE-RSA-AES128-SHA")] + \
                [(c, True) for c in ("ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-CHACHA20-POLY1305")]
        for cipher, ok in cases:
            with self.subTest(cipher=cipher):
                r = subprocess.run([tool, "s_client", "-connect", "127.0.0.1:%d" % s.port,
                                    "-starttls", "smtp", "-name", "client.test", "-tls1_2",
                                    "-cipher", cipher + ":@SECLEVEL=0", "-servername", HOST,
                                    "-ign_eof"],
                                   input=b"NOOP\r\nQUIT\r\n", capture_output=True, timeout=30)
                out = (r.stdout + r.stderr).decode("utf-8", "replace")
                # (the exit status is no use: s_client exits 1 on the close
                # after QUIT too)
                if ok:
                    self.assertRegex(out, r"Cipher is %s\b" % re.escape(cipher))
                    self.assertRegex(out, r"Protocol\s*: TLSv1\.2\b")
                    self.assertIn("250 2.0.0 OK", out)
                else:
                    self.assertNotIn("250 2.0.0 OK", out)
                    self.assertRegex(out, r"Cipher is \(NONE\)|handshake failure|"
                                          r"no shared cipher|alert", out[-2000:])
        r = subprocess.run([tool, "s_client", "-connect", "127.0.0.1:%d" % s.port,
                            "-starttls", "smtp", "-name", "client.test", "-tls1_3",
                            "-servername", HOST, "-ign_eof"],
                           input=b"NOOP\r\nQUIT\r\n", capture_output=True, timeout=30)
        out = (r.stdout + r.stderr).decode("utf-8", "replace")
        self.assertRegex(out, r"New, TLSv1\.3, Cipher is TLS_")
        self.assertIn("250 2.0.0 OK", out)
