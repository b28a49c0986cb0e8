"""test_install - `make install DESTDIR=... PREFIX=...` (scripts/install.sh):
the tree a packager expects (binary, sendmail link, man pages, sample
config, systemd unit), the installed pieces working together (the binary
runs, check-config accepts the installed config, the unit passes
systemd-analyze verify and writes where the config puts spool and
mailboxes), an admin's config never overwritten, other prefixes, gzipped
man pages, and the sample config covering every key of the README.

The install never rebuilds anything: make is told (-o) that the binary
under test (MAILPORT_BIN) is up to date, and BUILD points at its directory.
"""

import gzip
import os
import re
import stat
import subprocess

from harness import REPO, SAN_ENV, MailportTest, binary, which

SAMPLE = os.path.join(REPO, "dist", "mailport.conf")
UNIT_DIRS = ("lib/systemd/system", "usr/lib/systemd/system")
# hardening the issue asks for: directive -> words its value must hold
UNIT_MUST = {
    "Type": ["notify"],
    "Restart": ["on-failure"],
    "NoNewPrivileges": ["yes"],
    "ProtectSystem": ["strict"],
    "ProtectHome": ["yes"],
    "PrivateTmp": ["yes"],
    "PrivateDevices": ["yes"],
    "CapabilityBoundingSet": ["CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID", "CAP_CHOWN"],
    "AmbientCapabilities": ["CAP_NET_BIND_SERVICE"],
}


def run_env():
    env = dict(os.environ)
    for k, v in SAN_ENV.items():
        env.setdefault(k, v)
    return env


def unit_settings(text):
    """unit_settings - {key: [values]} of a unit file's [Service] and
    [Unit] lines (comments and section headers skipped)"""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;[" or "=" not in line:
            continue
        k, v = line.split("=", 1)
        out.setdefault(k.strip(), []).append(v.strip())
    return out


def conf_value(text, section, key):
    """conf_value - the value of an active (uncommented) key in an INI text"""
    cur = None
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("["):
            cur = s.strip("[]").strip().lower()
        elif cur == section and re.match(r"%s\s*[=:]" % re.escape(key), s, re.I):
            return re.split(r"[=:]", s, 1)[1].strip()
    return None


def read_man(path):
    """read_man - text of an installed man page, .gz or not"""
    if os.path.exists(path + ".gz"):
        with gzip.open(path + ".gz", "rb") as f:
            return f.read().decode("utf-8")
    with open(path, encoding="utf-8") as f:
        return f.read()


class InstallTests(MailportTest):

    def install(self, prefix="/usr", dest=None, **extra):
        """install - run make install into a fresh (or given) DESTDIR"""
        b = binary()
        if not os.access(b, os.X_OK):
            self.fail("binary %s missing (set MAILPORT_BIN)" % b)
        if which("make") is None:
            self.skipTest("skipped: make missing")
        build = os.path.dirname(b)
        if build.startswith(REPO + os.sep):
            build = os.path.relpath(build, REPO)
        dest = dest or self.make_tmpdir("dest")
        args = ["make", "-C", REPO, "--no-print-directory", "-o", build + "/mailport",
                "install", "BUILD=" + build, "PREFIX=" + prefix, "DESTDIR=" + dest]
        args += ["%s=%s" % kv for kv in sorted(extra.items())]
        r = subprocess.run(args, capture_output=True, timeout=120, env=run_env())
        self.assertEqual(r.returncode, 0, "make install failed:\n%s%s"
                         % (r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")))
        return dest

    def unit_path(self, dest, dirs=UNIT_DIRS):
        for d in dirs:
            p = os.path.join(dest, d, "mailport.service")
            if os.path.isfile(p):
                return p
        self.fail("no mailport.service under %s in %s" % (" or ".join(dirs), dest))

    def run_bin(self, path, *args):
        return subprocess.run([path] + list(args), capture_output=True, timeout=60, env=run_env())

    def test_tree(self):
        dest = self.install()
        sbin = os.path.join(dest, "usr/sbin")
        mp = os.path.join(sbin, "mailport")
        st = os.lstat(mp)
        self.assertTrue(stat.S_ISREG(st.st_mode), "usr/sbin/mailport is not a file")
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o755)
        sm = os.path.join(sbin, "sendmail")
        self.assertTrue(os.path.islink(sm), "usr/sbin/sendmail is not a symlink")
        self.assertEqual(os.readlink(sm), "mailport", "the link must be relative (DESTDIR)")
        self.assertEqual(os.path.realpath(sm), os.path.realpath(mp))
        for page, sect in (("mailport.8", 8), ("mailport.conf.5", 5)):
            with self.subTest(page=page):
                text = read_man(os.path.join(dest, "usr/share/man/man%d" % sect, page))
                self.assertRegex(text, r"(?m)^\.TH \S+ %d " % sect)
        conf = os.path.join(dest, "etc/mailport/mailport.conf")
        with open(SAMPLE, "rb") as f:
            sample = f.read()
        for p in (conf, conf + ".sample"):
            with open(p, "rb") as f:
                self.assertEqual(f.read(), sample, "%s differs from dist/mailport.conf" % p)
        for d in ("var/spool/mailport", "var/mail/mailport"):
            self.assertTrue(os.path.isdir(os.path.join(dest, d)), "%s missing" % d)

    def test_installed_binary_and_config(self):
        dest = self.install()
        mp = os.path.join(dest, "usr/sbin/mailport")
        r = self.run_bin(mp, "version")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.decode(), r"^mailport \d+\.\d+")
        conf = os.path.join(dest, "etc/mailport/mailport.conf")
        r = self.run_bin(mp, "check-config", "-c", conf)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertIn(": OK", r.stdout.decode())

    def test_unit_contents(self):
        dest = self.install()
        with open(self.unit_path(dest)) as f:
            text = f.read()
        self.assertNotRegex(text, r"@[A-Z]+@", "unfilled placeholder")
        u = unit_settings(text)
        self.assertEqual(u.get("ExecStart"),
                         ["/usr/sbin/mailport serve -c /etc/mailport/mailport.conf"])
        # the reload reports its outcome (systemctl reload fails on a broken file)
        self.assertEqual(u.get("ExecReload"),
                         ["/usr/sbin/mailport reload -c /etc/mailport/mailport.conf"])
        # SIGTERM to the parent only: it stops the worker in order
        self.assertEqual(u.get("KillMode"), ["mixed"])
        for key, words in UNIT_MUST.items():
            with self.subTest(key=key):
                have = " ".join(u.get(key, [])).split()
                for w in words:
                    self.assertIn(w, have, "%s= lacks %s" % (key, w))
        # the sandbox must let the server write where the sample config says
        writable = " ".join(u.get("ReadWritePaths", [])).replace("-/", "/").split()
        with open(SAMPLE) as f:
            sample = f.read()
        for section, key in (("server", "spool"), ("local", "mailboxes")):
            path = conf_value(sample, section, key)
            with self.subTest(key=key):
                self.assertIsNotNone(path, "sample config sets no %s" % key)
                self.assertIn(path, writable, "ReadWritePaths= lacks the %s %s" % (key, path))

    def test_unit_verifies(self):
        if which("systemd-analyze") is None:
            self.skipTest("skipped: systemd-analyze missing")
        dest = self.install()
        with open(self.unit_path(dest)) as f:
            text = f.read()
        # verify checks that ExecStart= exists and Documentation= man pages
        # resolve: point it at the DESTDIR tree
        vdir = self.make_tmpdir("verify")
        unit = os.path.join(vdir, "mailport.service")
        with open(unit, "w") as f:
            f.write(text.replace("/usr/sbin/mailport", os.path.join(dest, "usr/sbin/mailport")))
        env = run_env()
        env["MANPATH"] = os.path.join(dest, "usr/share/man")
        r = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True,
                           timeout=60, env=env)
        err = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
        # unknown keys and bad values are only warnings: fail on any line
        # about our unit
        ours = [l for l in err.splitlines() if "mailport" in l]
        self.assertEqual(r.returncode, 0, err)
        self.assertEqual(ours, [], err)

    def test_admin_config_kept(self):
        dest = self.install()
        conf = os.path.join(dest, "etc/mailport/mailport.conf")
        with open(conf, "a") as f:
            f.write("# edited by the admin\n")
        with open(conf) as f:
            edited = f.read()
        with open(conf + ".sample", "w") as f:
            f.write("stale\n")
        self.install(dest=dest)
        with open(conf) as f:
            self.assertEqual(f.read(), edited, "make install overwrote mailport.conf")
        with open(conf + ".sample") as f, open(SAMPLE) as g:
            self.assertEqual(f.read(), g.read(), "mailport.conf.sample not refreshed")

    def test_other_prefix(self):
        dest = self.install(prefix="/usr/local")
        for p in ("usr/local/sbin/mailport", "usr/local/etc/mailport/mailport.conf"):
            self.assertTrue(os.path.isfile(os.path.join(dest, p)), "%s missing" % p)
        with open(self.unit_path(dest, ("usr/local/lib/systemd/system",))) as f:
            u = unit_settings(f.read())
        self.assertEqual(u.get("ExecStart"),
                         ["/usr/local/sbin/mailport serve -c /usr/local/etc/mailport/mailport.conf"])
        dest = self.install(prefix="/opt/mp", SYSCONFDIR="/etc", SYSTEMDDIR="/etc/systemd/system")
        self.assertTrue(os.path.isfile(os.path.join(dest, "etc/mailport/mailport.conf")))
        with open(self.unit_path(dest, ("etc/systemd/system",))) as f:
            u = unit_settings(f.read())
        self.assertEqual(u.get("ExecStart"),
                         ["/opt/mp/sbin/mailport serve -c /etc/mailport/mailport.conf"])

    def test_gzip_man(self):
        dest = self.install(GZIP_MAN="yes")
        for page, sect in (("mailport.8", 8), ("mailport.conf.5", 5)):
            with self.subTest(page=page):
                p = os.path.join(dest, "usr/share/man/man%d" % sect, page)
                self.assertFalse(os.path.exists(p), "uncompressed page left next to .gz")
                with open(p + ".gz", "rb") as f:
                    head = f.read(10)
                self.assertEqual(head[:2], b"\x1f\x8b")
                self.assertEqual(head[4:8], b"\0\0\0\0", "gzip without -n (timestamp stored)")
                self.assertIn(".TH", read_man(p))

    def test_man_pages_render(self):
        if which("groff") is None:
            self.skipTest("skipped: groff missing")
        for page in ("mailport.8", "mailport.conf.5"):
            with self.subTest(page=page):
                r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z",
                                    os.path.join(REPO, "docs", page)],
                                   capture_output=True, timeout=60)
                self.assertEqual((r.returncode, r.stderr.decode(errors="replace")), (0, ""))

    def test_sample_covers_readme(self):
        """every key of the README's config section is in the sample, and
        the sample with every commented-out key switched on (its files
        made up) still passes check-config"""
        with open(os.path.join(REPO, "README.md")) as f:
            readme = f.read()
        m = re.search(r"## Configuration.*?```ini\n(.*?)```", readme, re.S)
        self.assertIsNotNone(m, "no ini block in the README's Configuration section")
        with open(SAMPLE) as f:
            sample = f.read()
        for k in re.findall(r"(?m)^(\w+)\s*=", m.group(1)):
            with self.subTest(key=k):
                self.assertRegex(sample, r"(?m)^#?%s = " % k)
        tmp = self.make_tmpdir("files")
        files = {"users": "alice@example.org\n", "aliases": "postmaster: alice\n",
                 "smarthost.secret": "s3cret\n"}
        for name, text in files.items():
            with open(os.path.join(tmp, name), "w") as f:
                f.write(text)
        full = re.sub(r"(?m)^#(\w+ = )", r"\1", sample)
        if which("openssl"):
            r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                                "-subj", "/CN=mx.example.org", "-days", "2",
                                "-keyout", os.path.join(tmp, "key.pem"),
                                "-out", os.path.join(tmp, "cert.pem")],
                               capture_output=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
        else:  # no certificate: leave TLS and the ports that need it off
            full = re.sub(r"(?m)^(cert|key|submissions?) = .*$", "", full)
        full = full.replace("/etc/mailport/tls/", tmp + "/").replace("/etc/mailport/", tmp + "/")
        conf = os.path.join(tmp, "full.conf")
        with open(conf, "w") as f:
            f.write(full)
        r = self.run_bin(binary(), "check-config", "-c", conf)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace") + "\n" + full)
