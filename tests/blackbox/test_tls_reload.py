"""test_tls_reload - SIGHUP re-reads the TLS certificate and key (issue:
"reload on SIGHUP") without dropping sessions in flight; an unusable pair
is a "partial" reload that keeps the old one (issue 9; root-only pairs and
`mailport reload`: test_privsep.py)."""
import shutil
import ssl

from harness import MailportTest, wait_for
from tlsutil import client_ctx, make_pki, starttls, tls_server


def peer_cn(c):
    cert = c.sock.getpeercert()
    return dict(x[0] for x in cert["issuer"]).get("commonName"), cert["serialNumber"]


class TlsReloadTests(MailportTest):

    def test_sighup_switches_certificate(self):
        s = tls_server(self)
        old = s.session()
        starttls(self, old, client_ctx(s.pki))
        self.assertCmd(old, b"EHLO client.test", 250)
        old_serial = peer_cn(old)[1]

        new = make_pki(self, name="pki-new")
        shutil.copyfile(new.cert, s.pki.cert)
        shutil.copyfile(new.key, s.pki.key)
        s.hup()
        self.assertTrue(wait_for(lambda: s.log().count("reload status=ok") >= 1, 10),
                        s.log_tail())

        c = s.session()
        starttls(self, c, client_ctx(new))        # verifies against the new CA
        self.assertCmd(c, b"EHLO client.test", 250)
        self.assertNotEqual(peer_cn(c)[1], old_serial)
        c2 = s.session()
        with self.assertRaises(ssl.SSLError):      # the old CA no longer matches
            starttls(self, c2, client_ctx(s.pki))
        self.assertCmd(old, b"NOOP", 250)          # the session from before goes on

    def test_broken_key_on_sighup_keeps_old_certificate(self):
        """issue 9: an unusable TLS pair fails the reload of TLS alone
        ("partial"): the old pair stays, the rest is applied"""
        s = tls_server(self)
        with open(s.pki.key, "w") as f:
            f.write("not a key\n")
        s.hup()
        self.assertTrue(wait_for(lambda: "reload status=partial tls=kept" in s.log(), 10),
                        s.log_tail())
        self.assertNotIn("reload status=ok", s.log())
        c = s.session()
        starttls(self, c, client_ctx(s.pki))       # still the old, valid pair
        self.assertCmd(c, b"EHLO client.test", 250)
