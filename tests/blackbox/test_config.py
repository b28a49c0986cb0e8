"""test_config - `mailport check-config` (exit 1 with "path:line:" errors),
`serve` refusing a bad config, trace = yes (every command and reply
logged, escaped), and log hygiene: client bytes never reach stderr raw.
"""

import os
import re
import subprocess

from harness import (R_NOOP, R_QUIT, R_UNKNOWN, MailportTest, binary)

CONTROL = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]")


class CheckConfigTests(MailportTest):

    def check(self, path):
        b = binary()
        if not os.access(b, os.X_OK):
            self.fail("binary %s missing (set MAILPORT_BIN)" % b)
        r = subprocess.run([b, "check-config", "-c", path], capture_output=True, timeout=30)
        return r.returncode, r.stderr.decode("utf-8", "replace")

    def write(self, name, text):
        p = os.path.join(self.tmproot(), name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def test_valid_config(self):
        s = self.server(start=False, users=["alice@example.test"], aliases="team: alice\n")
        rc, err = self.check(s.conf_path)
        self.assertEqual(rc, 0, err)

    def test_invalid_values_report_path_and_line(self):
        s = self.server(start=False)
        good = s.config_text().splitlines()
        cases = {
            "number": "max_errors = abc",
            "negative": "timeout = -5",
            "size": "max_message_size = 12x",
            "listen": "listen = nowhere",
            "bool": "trace = perhaps",
            "unknown key": "no_such_key = 1",
        }
        for what, bad in cases.items():
            with self.subTest(what=what):
                key = bad.split(" =")[0]
                lines = [l for l in good if not l.startswith(key + " =")]
                i = lines.index("[server]") + 2
                lines.insert(i, bad)
                p = self.write("bad-%s.conf" % what.replace(" ", "-"), "\n".join(lines) + "\n")
                rc, err = self.check(p)
                self.assertEqual(rc, 1, err)
                self.assertIn("%s:%d:" % (p, i + 1), err)

    def test_bad_cidr(self):
        s = self.server(start=False, networks="127.0.0.1/32, 300.1.1.1/8")
        lines = s.config_text().splitlines()
        n = [i for i, l in enumerate(lines) if l.startswith("networks =")][0] + 1
        rc, err = self.check(s.conf_path)
        self.assertEqual(rc, 1, err)
        self.assertIn("%s:%d:" % (s.conf_path, n), err)

    def test_bad_tables(self):
        s = self.server(start=False, users=["alice@example.test", "bob@example.test", "Alice@Example.Test"])
        rc, err = self.check(s.conf_path)
        self.assertEqual(rc, 1, err)
        self.assertIn("%s:3:" % s.users_path, err)
        s.set_table("users", None)
        s.set_table("aliases", "ok: alice\nevil: |/bin/sh -c 'touch /tmp/x'\nfile: /etc/passwd\n")
        s.write_config()
        rc, err = self.check(s.conf_path)
        self.assertEqual(rc, 1, err)
        self.assertIn("%s:2:" % s.aliases_path, err)
        self.assertIn("%s:3:" % s.aliases_path, err)

    def test_missing_file(self):
        rc, err = self.check(os.path.join(self.tmproot(), "nope.conf"))
        self.assertEqual(rc, 1, err)

    def test_serve_refuses_bad_config(self):
        s = self.server(start=False)
        with open(s.conf_path, "a") as f:
            f.write("\n[server]\nmax_errors = abc\n")
        s.start(wait=False)
        rc = s.wait_exit(15)
        s.expect_exit = True
        self.assertIsNotNone(rc, "serve kept running with a bad config")
        self.assertNotEqual(rc, 0)
        self.assertIn(s.conf_path + ":", s.log())


class VersionTests(MailportTest):

    def test_version(self):
        r = subprocess.run([binary(), "version"], capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"mailport", (r.stdout + r.stderr).lower())


class TraceTests(MailportTest):

    def test_trace_yes(self):
        s = self.server(trace="yes")
        c = s.session("trace.test")
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        self.assertCmd(c, b"QUIT", 221, R_QUIT)
        self.assertClosed(c)
        log = s.log()
        for want in (r'trace sid=\S+ dir=in line="EHLO trace\.test"',
                     r'trace sid=\S+ dir=out line="250[ -]mx\.example\.test Hello \[127\.0\.0\.1\]',
                     # (a multi-line reply may be one trace line or several)
                     r'trace sid=\S+ dir=out line="[^"]*250 SMTPUTF8"',
                     r'trace sid=\S+ dir=in line="NOOP"',
                     r'trace sid=\S+ dir=out line="250 2\.0\.0 OK"',
                     r'trace sid=\S+ dir=out line="221 2\.0\.0 Service closing transmission channel"'):
            self.assertRegex(log, want)
        sids = set(re.findall(r"trace sid=(\S+) ", log))
        self.assertEqual(len(sids), 2, sids)  # the harness' readiness probe and ours

    def test_trace_networks(self):
        """trace = <CIDR list>: only those clients are traced"""
        for nets, traced in (("127.0.0.0/8", True), ("192.0.2.0/24, ::1/128", False)):
            with self.subTest(trace=nets):
                s = self.server(trace=nets, name="t%d" % traced)
                c = s.session("trace.test")
                self.assertCmd(c, b"QUIT", 221, R_QUIT)
                self.assertClosed(c)
                self.assertEqual('dir=in line="EHLO trace.test"' in s.log(), traced)
                s.stop()

    def test_trace_no(self):
        s = self.server()
        c = s.session("trace.test")
        self.assertCmd(c, b"QUIT", 221, R_QUIT)
        self.assertClosed(c)
        self.assertNotIn("dir=in", s.log())

    def test_trace_escapes_control_bytes(self):
        s = self.server(trace="yes")
        c = s.session()
        self.assertCmd(c, b"XYZZY \x1b[31mred\x1b[0m\rmore\x01\x7f\xff\"q\\", 500, R_UNKNOWN)
        self.assertCmd(c, b"QUIT", 221, R_QUIT)
        self.assertClosed(c)
        raw = s.log_bytes()
        self.assertIn(rb'dir=in line="XYZZY \x1b[31mred\x1b[0m\rmore\x01\x7f\xff\x22q\x5c"', raw)
        self.assertIsNone(CONTROL.search(raw), "raw control byte in stderr")


class LogHygieneTests(MailportTest):

    EVIL = [b"EHLO evil\x1b[2J.test", b"HELO a\rb", b"MAIL FROM:<a\x1b@client.test>",
            b"MAIL FROM:<a@client.test> ENVID=\x1b[31m", b"FOO\x1b]0;title\x07",
            b"XYZZY " + b"\xff" * 400, b"NOOP \x00\x01\x02", b"VRFY \x1b\x9b"]

    def run_evil(self, s):
        c = s.session()
        for line in self.EVIL:
            r = c.cmd(line)
            self.assertLess(r.code, 600)
        c.send(b"MAIL FROM:<a@client.test>\r\nRCPT TO:<alice\x1b@example.test>\r\n"
               b"RCPT TO:<\"a\\\x1bb\"@example.test>\r\nRSET\r\n")
        c.replies(4)
        self.assertCmd(c, b"QUIT", 221, R_QUIT)

    def check_log(self, s):
        raw = s.log_bytes()
        bad = CONTROL.search(raw)
        if bad:
            self.fail("raw control byte in stderr: %r" % raw[max(0, bad.start() - 80):bad.start() + 80])
        self.assertNotIn(b"\xff", raw)
        for line in raw.split(b"\n"):
            self.assertLess(len(line), 4200, "unbounded log line")

    def test_log_hygiene_default(self):
        s = self.server(max_errors=100)
        self.run_evil(s)
        s.stop()
        self.check_log(s)

    def test_log_hygiene_trace(self):
        s = self.server(max_errors=100, trace="yes")
        self.run_evil(s)
        s.stop()
        self.check_log(s)
        self.assertIn(b"\\x1b", s.log_bytes())
