"""test_signals - SIGTERM (421 to waiting sessions, exit status 0, nothing
acknowledged is lost) and SIGHUP (config and tables reloaded for new
sessions; sessions in flight keep going with the config they started
with, src/conf/config.h).
"""

import signal
import time

from harness import (HOST, R_DATA_OK, R_NOOP, R_RCPT_OK, R_SENDER_OK, R_SHUTDOWN, R_USER_UNKNOWN,
                     ConnectionClosed, MailportTest, has_qid, message, wait_for)


class SigtermTests(MailportTest):

    def test_sigterm_idle_session(self):
        s = self.server()
        c = s.session()
        c0 = s.client()
        s.signal(signal.SIGTERM)
        s.expect_exit = True
        self.assertReply(c.reply(10), 421, R_SHUTDOWN)
        self.assertClosed(c)
        self.assertReply(c0.reply(10), 421, R_SHUTDOWN)
        self.assertEqual(s.wait_exit(20), 0)

    def test_sigterm_many_sessions(self):
        s = self.server()
        cs = [s.session() for _ in range(20)]
        s.signal(signal.SIGTERM)
        s.expect_exit = True
        for c in cs:
            self.assertReply(c.reply(10), 421, R_SHUTDOWN)
        self.assertEqual(s.wait_exit(20), 0)

    def test_sigterm_without_sessions(self):
        s = self.server()
        t0 = time.monotonic()
        self.assertEqual(s.stop(), 0)
        self.assertLess(time.monotonic() - t0, 10)

    def test_sigint_like_sigterm(self):
        s = self.server()
        c = s.session()
        s.signal(signal.SIGINT)
        s.expect_exit = True
        self.assertReply(c.reply(10), 421, R_SHUTDOWN)
        self.assertEqual(s.wait_exit(20), 0)

    def test_sigterm_mid_data(self):
        """README: a session finishes the command it is in (up to 10 s):
        the message sent right after SIGTERM is acknowledged and delivered
        after the restart"""
        s = self.server()
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        self.assertCmd(c, b"DATA", 354, R_DATA_OK)
        data = message("sigterm", body=b"z" * 5000 + b"\r\n")
        c.send(data[:2000])
        time.sleep(0.2)
        s.signal(signal.SIGTERM)
        s.expect_exit = True
        time.sleep(0.2)
        try:
            c.send(data[2000:] + b".\r\n")
        except OSError:
            pass
        try:
            r = c.reply(15)
        except ConnectionClosed:
            self.fail("connection closed without a reply")
        self.assertQueued(r)
        self.assertEqual(s.wait_exit(20), 0)
        s.start()
        s.wait_queue_empty()
        self.assertEqual(s.count("alice"), 1)

    def test_acked_message_survives_sigterm(self):
        s = self.server()
        c = s.session()
        r1 = c.mail_to("a@client.test", ["alice@example.test", "bob@foreign.test"], message("term1"))
        r2 = c.mail_to("a@client.test", ["alice@example.test"], message("term2"))
        self.assertEqual(s.stop(), 0)
        q1, q2 = self.assertQueued(r1), self.assertQueued(r2)
        s.start()
        s.wait_queue_empty(keep=1)
        msgs = s.messages("alice")
        self.assertEqual(len(msgs), 2)
        self.assertEqual(sorted(q for q in (q1, q2) if any(has_qid(m, q) for m in msgs)),
                         sorted([q1, q2]))
        self.assertEqual(s.queue_files(), [q1])


class SighupTests(MailportTest):

    def test_users_reload(self):
        s = self.server(users=["alice@example.test"])
        old = s.session()
        self.assertCmd(old, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(old, b"RCPT TO:<bob@example.test>", 550, R_USER_UNKNOWN)
        s.set_table("users", ["alice@example.test", "bob@example.test"])
        s.hup()

        def bob_known():
            c = s.session()
            try:
                c.cmd(b"MAIL FROM:<a@client.test>")
                return c.cmd(b"RCPT TO:<bob@example.test>").code == 250
            finally:
                c.close()
        self.assertTrue(wait_for(bob_known, 10, 0.2), "new sessions do not see the new users file")
        # the old session survives, with the table it started with
        self.assertCmd(old, b"NOOP", 250, R_NOOP)
        self.assertCmd(old, b"RCPT TO:<bob@example.test>", 550, R_USER_UNKNOWN)
        self.assertCmd(old, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        self.assertQueued(old.data(message("old session")))
        new = s.session()
        self.assertQueued(new.mail_to("a@client.test", ["bob@example.test"], message("new session")))
        s.wait_queue_empty()
        self.assertEqual(s.mailboxes(), {("example.test", "alice"): 1, ("example.test", "bob"): 1})
        self.assertTrue(s.running())

    def test_config_reload_banner(self):
        s = self.server()
        s.opts["banner"] = "Reloaded banner"
        s.write_config()
        s.hup()
        def reloaded():
            with s.client() as c:
                return c.banner.text == "%s Reloaded banner" % HOST
        ok = wait_for(reloaded, 10, 0.2)
        self.assertTrue(ok, "new banner not used after SIGHUP")

    def test_invalid_config_on_sighup_keeps_running(self):
        s = self.server()
        c = s.session()
        with open(s.conf_path, "a") as f:
            f.write("\n[server]\nmax_errors = not-a-number\n")
        s.hup()
        time.sleep(1.0)
        self.assertTrue(s.running(), "server exited on a bad config reload")
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        self.assertQueued(s.send_mail())
        s.wait_messages("alice")

    def test_repeated_sighup_under_traffic(self):
        s = self.server(users=["alice@example.test"])
        for i in range(10):
            s.hup()
            self.assertQueued(s.send_mail(data=message("hup%d" % i)))
        s.wait_queue_empty()
        self.assertEqual(s.count("alice"), 10)
        self.assertTrue(s.running())
