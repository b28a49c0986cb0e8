"""test_msmtp - msmtp, a real submission client (issue: "Thunderbird,
msmtp, swaks --tls --auth, Python's smtplib and curl --ssl-reqd can submit
mail through mailport with a password, over TLS, to any domain")."""
import os
import subprocess

from harness import MailportTest, which
from tlsutil import ALICE, HOST, PASSWORDS, tls_server


class MsmtpTests(MailportTest):

    def msmtp(self, s, port, tls_starttls, password, rcpt):
        tool = which("msmtp")
        if not tool:
            self.skipTest("skipped: msmtp not installed")
        rc = os.path.join(s.dir, "msmtprc")
        with open(rc, "w") as f:
            # connect to loopback, verify the certificate for HOST
            f.write("account test\nhost 127.0.0.1\nport %d\ntls on\ntls_starttls %s\n"
                    "tls_trust_file %s\ntls_host_override %s\nauth on\nuser %s\n"
                    "password %s\nfrom %s\nsyslog off\n"
                    % (port, "on" if tls_starttls else "off", s.pki.ca, HOST, ALICE,
                       password, ALICE))
        os.chmod(rc, 0o600)
        return subprocess.run([tool, "--file", rc, "--account", "test", rcpt],
                              input=b"Subject: via msmtp\n\nhello\n", capture_output=True,
                              timeout=60)

    def test_starttls_submission_relays(self):
        s = tls_server(self, submission=True, networks="")
        r = self.msmtp(s, s.sub_port, True, PASSWORDS[ALICE], "bob@far.example")
        self.assertEqual(r.returncode, 0, r.stderr)
        env = dict(s.queue_envelope(s.queue_files()[0]))
        self.assertEqual(env.get("proto"), [b"ESMTPSA"], env)

    def test_implicit_tls_local(self):
        s = tls_server(self, submissions=True)
        r = self.msmtp(s, s.subs_port, False, PASSWORDS[ALICE], "alice@example.test")
        self.assertEqual(r.returncode, 0, r.stderr)
        m = s.wait_messages("alice")[0]
        self.assertIn(b"with ESMTPSA", m)

    def test_wrong_password_fails(self):
        s = tls_server(self, submission=True)
        r = self.msmtp(s, s.sub_port, True, "not-the-password", "alice@example.test")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"535", r.stderr)
