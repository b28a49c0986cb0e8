"""test_shutdown - the hard paths of a stop (README, "Commands" signals and
"Logs"):

  - SIGHUP immediately followed by SIGTERM (a reload still running on its
    thread when the loop ends) exits 0 and logs "stopped", also with a big
    users file and with a reload that finishes during the grace period;
  - a commit stalled in fsync (LD_PRELOAD shim slowfsync.c): after SIGTERM
    idle sessions get 421 at once, a session mid-DATA is closed when the
    10 s grace ends, the stalled session still gets its 250 2.6.0 when the
    commit completes (then 421 + close), the daemon exits 0 with no
    sanitizer report, and the acknowledged message is delivered exactly
    once (the unacknowledged one never);
  - a failed reload (broken or unreadable [tls] key, OpenSSL's error text;
    a config line with control bytes) is logged as ONE line: every line of
    the log starts with a timestamp, no raw control byte anywhere.
"""

import os
import re
import signal
import socket
import subprocess
import time

from harness import (R_DATA_OK, R_RCPT_OK, R_SENDER_OK, R_SHUTDOWN, SAN_ENV, ConnectionClosed,
                     MailportTest, ProtocolError, has_qid, is_root, message, wait_for)
from tlsutil import client_ctx, starttls, tls_server

HERE = os.path.dirname(os.path.abspath(__file__))
GRACE = 10.0  # README / spec: a busy session may finish its command for 10 s
STALL = 20  # seconds the shim holds the commit's fsync
TS_RE = rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)? "


def log_lines(srv):
    """log_lines - the daemon's stderr lines, without the harness's own
    "===== harness: start" markers and the blank line before them"""
    out = []
    for line in srv.log_bytes().split(b"\n"):
        if not line or line.startswith(b"===== harness:"):
            continue
        out.append(line)
    return out


class HupTermTests(MailportTest):
    """spec: "SIGHUP immediately followed by SIGTERM: exits cleanly (used to
    hang for ever)" """

    def assertStopped(self, s, timeout=20):
        t0 = time.monotonic()
        rc = s.wait_exit(timeout)
        if rc is None:
            self.fail("daemon still running %.0fs after SIGTERM (SIGHUP+SIGTERM hang):\n%s"
                      % (time.monotonic() - t0, s.log_tail()))
        self.assertEqual(rc, 0, s.log_tail())
        self.assertRegex(s.log(), r"(?m)^\S+ info stopped\b", "no \"stopped\" log line")

    def big_users(self, n=300000):
        return ["user%06d@example.test" % i for i in range(n)] + ["alice@example.test"]

    def test_sighup_then_sigterm_big_users_file(self):
        """300k users: the reload thread is still reading the table when
        SIGTERM arrives"""
        s = self.server(users=self.big_users())
        s.hup()
        s.signal(signal.SIGTERM)
        s.expect_exit = True
        self.assertStopped(s)

    def test_sighup_then_sigterm_small_config(self):
        s = self.server()
        s.hup()
        s.signal(signal.SIGTERM)
        s.expect_exit = True
        self.assertStopped(s)

    def test_sighup_burst_then_sigterm(self):
        s = self.server(users=self.big_users(100000))
        for _ in range(5):
            s.hup()
        s.signal(signal.SIGTERM)
        s.expect_exit = True
        self.assertStopped(s)

    def test_reload_finishing_during_grace(self):
        """a session mid-DATA keeps the loop running through the grace
        period; SIGHUP arrives after SIGTERM and its reload completes
        while the daemon is stopping: no crash, no use after free, the busy
        session is closed at the end of the grace and the daemon exits 0"""
        s = self.server(users=self.big_users())
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        self.assertCmd(c, b"DATA", 354, R_DATA_OK)
        c.send(b"Subject: never finished\r\n\r\nsome text\r\n")
        s.signal(signal.SIGTERM)
        s.expect_exit = True
        time.sleep(0.3)
        s.hup()
        s.hup()
        rest = self.assertClosed(c, GRACE + 8, "session mid-DATA not closed after the grace")
        self.assertNotIn(b"250 ", rest)
        self.assertStopped(s)
        self.assertEqual(s.queue_files(), [])

    def test_sigterm_then_sighup_idle(self):
        """SIGHUP after SIGTERM with nothing left to wait for"""
        s = self.server()
        c = s.session()
        s.signal(signal.SIGTERM)
        s.expect_exit = True
        s.hup()
        try:
            self.assertReply(c.reply(10), 421, R_SHUTDOWN)
        except ConnectionClosed:
            pass
        self.assertStopped(s)


class StalledCommitTests(MailportTest):
    """a commit held in fsync by the LD_PRELOAD shim (slowfsync.c)"""

    def shim(self):
        """shim - compile slowfsync.c into the test's temp dir; returns
        (path of the .so, path of the flag file)"""
        cc = self.need_tool("cc")
        so = os.path.join(self.tmproot(), "slowfsync.so")
        r = subprocess.run([cc, "-shared", "-fPIC", "-O2", "-o", so,
                            os.path.join(HERE, "slowfsync.c")], capture_output=True, timeout=120)
        if r.returncode != 0:
            self.fail("cannot build slowfsync.so: %s" % r.stderr.decode(errors="replace"))
        os.chmod(so, 0o755)
        return so, os.path.join(self.tmproot(), "slowfsync.flag")

    def slow_server(self, so, flag, secs=STALL, **opts):
        s = self.server(start=False, **opts)
        base_env = s.env

        def env():
            e = base_env()
            e["LD_PRELOAD"] = so
            # a sanitizer runtime wants to come first; our shim comes first
            e["ASAN_OPTIONS"] = (e.get("ASAN_OPTIONS") or SAN_ENV["ASAN_OPTIONS"]) + \
                ":verify_asan_link_order=0"
            e["SLOWFSYNC_FLAG"] = flag
            e["SLOWFSYNC_SECS"] = str(secs)
            e["SLOWFSYNC_COUNT"] = "1"
            return e
        s.env = env
        s.start()
        return s

    def open_data(self, s, rcpt, subject):
        """open_data - a session inside DATA (354 seen) for rcpt; returns
        (client, message bytes, dot-stuffed)"""
        c = s.session()
        self.on_teardown(c.close)
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, ("RCPT TO:<%s>" % rcpt).encode(), 250, R_RCPT_OK)
        self.assertCmd(c, b"DATA", 354, R_DATA_OK)
        return c, message(subject, to=rcpt, body=b"line\r\n" * 200)

    def test_grace_closes_busy_sessions_commit_completes(self):
        so, flag = self.shim()
        s = self.slow_server(so, flag)
        idle = s.session()
        self.on_teardown(idle.close)
        a, data_a = self.open_data(s, "alice@example.test", "committed")
        b, data_b = self.open_data(s, "bob@example.test", "never-acked")
        a.send(data_a)               # all of A but the end marker
        b.send(data_b[:len(data_b) // 2])  # B is mid-DATA
        time.sleep(0.3)

        with open(flag, "w"):
            pass
        t_dot = time.monotonic()
        a.send(b".\r\n")
        if not a.quiet(1.5):
            self.fail("A's commit did not stall: the LD_PRELOAD shim has no effect "
                      "(got %r)" % bytes(a.buf[:200]))

        s.signal(signal.SIGTERM)
        s.expect_exit = True
        t_term = time.monotonic()

        # an idle session is told at once
        self.assertReply(idle.reply(5), 421, R_SHUTDOWN)
        self.assertClosed(idle, 5)
        self.assertLess(time.monotonic() - t_term, 4, "idle session not told at once")
        # no new sessions
        try:
            c = s.client(timeout=3)
        except (OSError, ConnectionClosed, ProtocolError):
            pass
        else:
            self.on_teardown(c.close)
            self.assertNotEqual(c.banner.code, 220, "new session accepted after SIGTERM")

        # B (mid-DATA, never finishes) is closed when the grace ends
        try:
            rest_b = b.wait_closed(GRACE + 6)
        except socket.timeout:
            self.fail("session mid-DATA still open %.1fs after SIGTERM (grace %.0fs)"
                      % (time.monotonic() - t_term, GRACE))
        t_b = time.monotonic()
        self.assertNotIn(b"250 ", rest_b, "the unfinished message was acknowledged")
        self.assertNotIn(b"250-", rest_b)
        self.assertLess(t_b - t_term, GRACE + 4,
                        "session mid-DATA closed %.1fs after SIGTERM" % (t_b - t_term))

        # A gets its 250 when the stalled commit completes, then 421 + close
        self.assertTrue(s.running(), "daemon exited while a commit was in flight")
        r = a.reply(STALL + 15)
        t_a = time.monotonic()
        qid = self.assertQueued(r, "reply to the stalled commit")
        self.assertGreaterEqual(t_a - t_dot, STALL - 2, "the commit did not really stall")
        self.assertLess(t_b, t_a - 3, "B was not closed well before A's commit ended")
        try:
            self.assertReply(a.reply(10), 421, R_SHUTDOWN)
        except ConnectionClosed:
            self.fail("no 421 after the 250 of the stalled commit")
        self.assertClosed(a, 10)

        rc = s.wait_exit(20)
        self.assertEqual(rc, 0, "exit status after the last commit:\n%s" % s.log_tail())
        self.assertIsNone(s.sanitizer_report())

        # nothing acknowledged is lost, nothing unacknowledged delivered
        os.unlink(flag)
        s.start()
        s.wait_queue_empty()
        time.sleep(0.5)
        got = s.messages("alice")
        self.assertEqual(len(got), 1, "A's message delivered %d times" % len(got))
        self.assertTrue(has_qid(got[0], qid), got[0][:300])
        self.assertEqual(s.count("bob"), 0, "B's unacknowledged message was delivered")
        self.assertEqual(s.incoming_files(), [])

    def test_commit_finishing_within_grace(self):
        """a commit stalled 4 s (shorter than the grace): the session gets
        250, then 421; the daemon does not wait the full grace"""
        so, flag = self.shim()
        s = self.slow_server(so, flag, secs=4)
        a, data_a = self.open_data(s, "alice@example.test", "short-stall")
        a.send(data_a)
        with open(flag, "w"):
            pass
        a.send(b".\r\n")
        self.assertTrue(a.quiet(1.0), "the commit did not stall")
        t_term = time.monotonic()
        s.signal(signal.SIGTERM)
        s.expect_exit = True
        qid = self.assertQueued(a.reply(15))
        try:
            self.assertReply(a.reply(10), 421, R_SHUTDOWN)
        except ConnectionClosed:
            self.fail("no 421 after the 250")
        self.assertEqual(s.wait_exit(20), 0)
        self.assertLess(time.monotonic() - t_term, GRACE + 1,
                        "daemon waited for the grace with nothing left")
        os.unlink(flag)
        s.start()
        s.wait_queue_empty()
        time.sleep(0.3)
        got = s.messages("alice")
        self.assertEqual(len(got), 1)
        self.assertTrue(has_qid(got[0], qid))


class ReloadLogTests(MailportTest):
    """spec "Logs": every log line is one line, also reload errors with
    OpenSSL text.  A TLS pair that cannot be used fails the reload of TLS
    alone (issue 9): "reload status=partial tls=kept", the old pair stays."""

    def assertOneLineEvents(self, s):
        lines = log_lines(s)
        self.assertTrue(lines)
        for line in lines:
            if not re.match(TS_RE, line):
                self.fail("log line without a timestamp (a raw newline inside an event?): "
                          "%r\nfull log:\n%s" % (line[:300], s.log_tail()))
            bad = re.search(rb"[\x00-\x1f\x7f]", line)
            self.assertIsNone(bad, "raw control byte in log line %r" % line[:300])
        failed = [l for l in lines if self.status.encode() in l]
        self.assertEqual(len(failed), 1, failed)
        return failed[0]

    def reload_and_wait(self, s, status="reload status=partial tls=kept"):
        self.status = status
        s.hup()
        ok = wait_for(lambda: status in s.log(), 10)
        self.assertTrue(ok, "no %s line:\n%s" % (status, s.log_tail()))
        time.sleep(0.3)  # let a (wrong) continuation line arrive too

    def assertStillServes(self, s):
        c = s.session()
        starttls(self, c, client_ctx(s.pki))   # the old pair is still in use
        c.ehlo()
        self.assertCmd(c, b"NOOP", 250)
        c.close()

    def test_garbage_key(self):
        s = tls_server(self)
        with open(s.pki.key, "w") as f:
            f.write("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\nZ2FyYmFnZQ==\n"
                    "-----END PRIVATE KEY-----\n")
        self.reload_and_wait(s)
        self.assertStillServes(s)
        self.assertOneLineEvents(s)

    def test_key_not_matching_cert(self):
        s = tls_server(self)
        r = subprocess.run([self.need_tool("openssl"), "genpkey", "-algorithm", "EC",
                            "-pkeyopt", "ec_paramgen_curve:P-256", "-out", s.pki.key + ".new"],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        os.chmod(s.pki.key + ".new", 0o644)
        os.rename(s.pki.key + ".new", s.pki.key)
        self.reload_and_wait(s)
        self.assertStillServes(s)
        self.assertOneLineEvents(s)

    def test_unreadable_key(self):
        s = tls_server(self)
        if is_root():
            # the parent reads it as root, past any mode: make it a
            # directory (EISDIR)
            os.unlink(s.pki.key)
            os.mkdir(s.pki.key)
        else:
            os.chmod(s.pki.key, 0)
            try:
                open(s.pki.key).close()
            except OSError:
                pass
            else:
                self.skipTest("skipped: mode 0 does not stop this user from reading")
        self.reload_and_wait(s)
        self.assertStillServes(s)
        self.assertOneLineEvents(s)

    def test_config_with_control_bytes(self):
        """a broken config line holding ESC, CR and a vertical tab: the
        error is logged escaped, on one line"""
        s = tls_server(self)
        with open(s.conf_path, "ab") as f:
            f.write(b"\n[server]\nmax_errors = 1\x1b[31mred\r\x0bx\n"
                    b"bogus\x1b]0;title\x07key = 1\n")
        self.reload_and_wait(s, "reload status=failed")
        self.assertStillServes(s)
        line = self.assertOneLineEvents(s)
        self.assertNotIn(b"\x1b", line)
