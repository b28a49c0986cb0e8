"""test_auth_limits - the per-address AUTH limit under parallel load (issue 6
spec, "AUTH"): an attempt counts from the moment its check starts and is
released when it succeeds; at 10 counted (failures + checks in flight)
within 15 minutes the address gets
`421 4.7.0 <host> Too many authentication failures, closing transmission
channel` at once.  So 40 connections from one address sending a wrong
password at the same moment get at most 10 `535`s, the rest 421; the
`auth status=blocked` log line names the client; successful logins never
use the budget up.  (The sequential per-address and per-connection limits
are in test_auth.py.)
"""

import re
import threading
import time

from harness import Client, ConnectionClosed, MailportTest, have_ipv6
from tlsutil import (ALICE, BOB, PASSWORDS, R_AUTH_BLOCKED, R_AUTH_FAILED, R_AUTH_OK,
                     auth_plain, client_ctx, client_from, plain, starttls, tls_server,
                     tls_session)

WRONG = "Wr0ng-guess-Passw0rd"
LIMIT = 10  # failures (+ checks in flight) per address in 15 minutes
PARALLEL = 40
SLOW = 60.0  # bound for one step of a parallel client (TLS + hashing on a sanitizer build)


class ParallelAuthTests(MailportTest):

    def burst(self, connect, n=PARALLEL, password=WRONG):
        """burst - n clients get ready (connect() each), then all send
        AUTH PLAIN with password at the same moment.  Returns a list of
        (reply or exception, closed after it, client) in no order"""
        barrier = threading.Barrier(n, timeout=SLOW * 2)
        results = []
        lock = threading.Lock()

        def one(i):
            c = None
            try:
                c = connect()
                barrier.wait()
                r = c.cmd("AUTH PLAIN " + plain(ALICE, "%s-%d" % (password, i)), timeout=SLOW)
                closed = None
                if r.code == 421:
                    closed = c.is_closed(10)
                out = (r, closed)
            except Exception as e:  # noqa: BLE001 - collected and reported
                try:
                    barrier.abort()
                except Exception:  # noqa: BLE001
                    pass
                out = (e, None)
            with lock:
                results.append(out)
            if c is not None:
                self.on_teardown(c.close)

        threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(SLOW * 4)
        self.assertFalse(any(t.is_alive() for t in threads), "a client thread hangs")
        errors = [r for r, _ in results if not hasattr(r, "code")]
        self.assertEqual(errors, [], "clients failed before or during AUTH")
        self.assertEqual(len(results), n)
        return results

    def check_burst(self, results, n=PARALLEL):
        failed = [r for r, _ in results if r.code == 535]
        blocked = [r for r, _ in results if r.code == 421]
        other = [r for r, _ in results if r.code not in (535, 421)]
        self.assertEqual(other, [], "replies other than 535/421")
        for r in failed:
            self.assertReply(r, 535, R_AUTH_FAILED)
        for r in blocked:
            self.assertReply(r, 421, R_AUTH_BLOCKED)
        self.assertLessEqual(len(failed), LIMIT,
                             "%d of %d parallel wrong passwords were checked (535); the limit "
                             "is %d" % (len(failed), n, LIMIT))
        self.assertGreaterEqual(len(failed), 1, "not even one password was checked")
        self.assertEqual(len(blocked), n - len(failed))
        unclosed = [r for r, closed in results if r.code == 421 and not closed]
        self.assertEqual(unclosed, [], "connections left open after the 421")

    def tls_connect(self, s, port):
        def connect():
            c = Client(port, timeout=SLOW)
            c.ehlo()
            starttls(self, c, client_ctx(s.pki))
            c.ehlo()
            return c
        return connect

    def test_parallel_wrong_passwords_submission(self):
        """40 connections on the submission port, STARTTLS, then the same
        instant AUTH with a wrong password"""
        s = tls_server(self, submission=True, max_auth_failures=3)
        results = self.burst(self.tls_connect(s, s.sub_port))
        self.check_burst(results)
        time.sleep(0.3)
        lines = [l for l in s.log().splitlines() if "auth status=blocked" in l]
        self.assertTrue(lines, "no auth status=blocked log line:\n%s" % s.log_tail())
        for l in lines:
            self.assertRegex(l, r"\bclient=127\.0\.0\.1( |$)", l)
        # the address stays blocked, right password or not ...
        c = tls_session(self, s, port=s.sub_port)
        t0 = time.monotonic()
        self.assertReply(c.cmd("AUTH PLAIN " + plain(BOB, PASSWORDS[BOB]), timeout=20),
                         421, R_AUTH_BLOCKED)
        self.assertLess(time.monotonic() - t0, 1.5, "the blocked reply is not immediate")
        self.assertClosed(c)
        # ... another address is not
        try:
            c2 = client_from(s.sub_port, "127.0.0.2")
        except OSError as e:
            self.skipTest("skipped: cannot connect from 127.0.0.2: %s" % e)
        self.on_teardown(c2.close)
        c2.ehlo()
        starttls(self, c2, client_ctx(s.pki))
        c2.ehlo()
        auth_plain(self, c2)
        self.assertTrue(s.running())

    def test_parallel_wrong_passwords_plaintext_mx(self):
        """the same on the MX port with auth_on_mx and allow_plaintext_auth
        (no TLS: the 40 AUTHs leave within a few milliseconds)"""
        s = tls_server(self, tls=False, auth_on_mx="yes", allow_plaintext_auth="yes")

        def connect():
            c = Client(s.port, timeout=SLOW)
            c.ehlo()
            return c
        self.check_burst(self.burst(connect))
        self.assertRegex(s.log(), r"auth status=blocked[^\n]*\bclient=127\.0\.0\.1( |$)")

    def test_parallel_wrong_passwords_ipv6(self):
        if not have_ipv6():
            self.skipTest("skipped: no IPv6 loopback")
        n = 16
        s = tls_server(self, tls=False, ipv6=True, auth_on_mx="yes", allow_plaintext_auth="yes")

        def connect():
            c = Client(s.port, host="::1", timeout=SLOW)
            c.ehlo()
            return c
        self.check_burst(self.burst(connect, n), n)
        m = re.search(r"auth status=blocked[^\n]*\bclient=(\S+)", s.log())
        self.assertIsNotNone(m, "no auth status=blocked line with client=:\n%s" % s.log_tail())
        self.assertIn("::", m.group(1))


class ReleaseOnSuccessTests(MailportTest):

    def login(self, s, user=ALICE, password=None, code=235, text=R_AUTH_OK):
        c = tls_session(self, s, port=s.sub_port)
        password = PASSWORDS[user] if password is None else password
        r = c.cmd("AUTH PLAIN " + plain(user, password), timeout=30)
        self.assertReply(r, code, text)
        if code != 421:
            try:
                c.cmd(b"QUIT")
            except (OSError, ConnectionClosed):
                pass
        c.close()

    def test_many_successful_logins(self):
        """15 sequential successful logins from one address: never blocked"""
        s = tls_server(self, submission=True)
        for i in range(15):
            with self.subTest(login=i + 1):
                self.login(s, (ALICE, BOB)[i % 2])
        self.assertNotIn("auth status=blocked", s.log())

    def test_failures_then_successes(self):
        """9 failures leave one attempt: each success takes it and gives it
        back (15 times); the 10th failure then blocks the address"""
        s = tls_server(self, submission=True)
        for i in range(LIMIT - 1):
            self.login(s, password="%s-%d" % (WRONG, i), code=535, text=R_AUTH_FAILED)
        for i in range(15):
            with self.subTest(login=i + 1):
                self.login(s, (ALICE, BOB)[i % 2])
        self.login(s, password=WRONG + "-last", code=535, text=R_AUTH_FAILED)
        self.login(s, code=421, text=R_AUTH_BLOCKED)
        self.assertRegex(s.log(), r"auth status=blocked[^\n]*\bclient=127\.0\.0\.1( |$)")
