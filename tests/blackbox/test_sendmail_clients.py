"""test_sendmail_clients - the programs that call sendmail for real (issue:
"works for cron and mail(1)").

mail(1) (bsd-mailx) runs /usr/sbin/sendmail, which on the test machine
belongs to Postfix's package: the test binds mailport over that path in a
private mount namespace (unshare -m, root only), so the system is never
touched.  cron is tested with the exact command line Debian's cron uses.
"""
import os
import subprocess

from harness import MailportTest, binary, header_fields, is_root, which


class SendmailClientTests(MailportTest):

    def fields(self, m, name):
        return [v for n, v in header_fields(m) if n and n.lower() == name.lower()]

    def test_mailx(self):
        mail, unshare = which("mail"), which("unshare")
        if not is_root() or not mail or not unshare or not os.path.exists("/usr/sbin/sendmail"):
            self.skipTest("skipped: needs root, unshare, mail(1) and /usr/sbin/sendmail")
        s = self.server()
        env = s.env()
        env["MAILPORT_CONFIG"] = s.conf_path
        script = 'mount --bind "$1" /usr/sbin/sendmail && exec "$2" -s "mailx test" alice@example.test'
        r = subprocess.run([unshare, "--mount", "sh", "-c", script, "sh", os.path.abspath(binary()),
                            mail], input=b"hello from mail(1)\n", capture_output=True,
                           env=env, timeout=60, cwd=s.dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        m = s.wait_messages("alice")[0]
        self.assertEqual(self.fields(m, "Subject"), [b"mailx test"])
        self.assertRegex(m, rb"\nReceived: from \S+ \(uid 0\)")
        self.assertTrue(m.endswith(b"\n\nhello from mail(1)\n"), m[-80:])

    def test_cron_command_line(self):
        # Debian cron: sendmail -FCronDaemon -i -B8BITMIME -oem <user>
        s = self.server()
        env = s.env()
        env["MAILPORT_CONFIG"] = s.conf_path
        out = "Subject: Cron <alice@host> run-parts\n\nline one\n.\nline three \xe9\n"
        r = subprocess.run([binary(), "sendmail", "-FCronDaemon", "-i", "-B8BITMIME", "-oem",
                            "alice"], input=out.encode("latin-1"), capture_output=True,
                           env=env, timeout=60, cwd=s.dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        # a bare user name is qualified with the hostname, which is a local domain
        m = s.wait_messages("alice", domain="mx.example.test")[0]
        self.assertEqual(len(self.fields(m, "From")), 1)
        self.assertIn(b"CronDaemon", self.fields(m, "From")[0])
        self.assertTrue(m.endswith(b"\n\nline one\n.\nline three \xe9\n"), m[-80:])
