"""test_hardening - the smaller fixes of issue 6 (README):

  BDAT over max_message_size: the crossing chunk and later non-LAST chunks
      are read, dropped and answered "250 2.0.0 <n> octets received", the
      LAST chunk gets 552, nothing is queued, no 503, the session goes on.
  Received: with SMTPUTF8: "with UTF8SMTP" / UTF8SMTPA / UTF8SMTPS /
      UTF8SMTPSA (RFC 6531 4.3).
  listen_backlog: `ss -ltn` shows Send-Q 1024 by default, the configured
      value otherwise (both capped by net.core.somaxconn).
  Config location: -c FILE, else $MAILPORT_CONFIG, else
      /etc/mailport/mailport.conf when it exists, else the embedded default;
      --defaults forces the embedded default; serve logs "config file=...".
      The /etc cases run in a private mount namespace (unshare -m, root only)
      with a tmpfs or an overlay over /etc: the real /etc is never written.
  check-config warns about a users file with hashes readable by others.
"""

import os
import re
import subprocess
import time

import harness
from harness import (DELIVERY_TIMEOUT, HOST, R_NOOP, R_QUIT, R_RCPT_OK, R_RSET, R_SENDER_OK,
                     R_SIZE, SAN_ENV, Client, MailportTest, binary, header_fields, is_root,
                     message, to_lf, wait_for, which)
from tlsutil import auth_plain, hash_password, tls_server, tls_session

CHUNK_RE = r"2\.0\.0 %d octets received"
ETC_CONF = "/etc/mailport/mailport.conf"
USING_RE = r"\(using TLSv1\.[23] [^)]+\)"


def bdat(c, chunk, last=False):
    c.send(b"BDAT %d%s\r\n" % (len(chunk), b" LAST" if last else b"") + chunk)
    return c.reply(60)


def received(msg):
    """received - the first Received: field of a stored message, unfolded"""
    for name, value in header_fields(msg):
        if name and name.lower() == "received":
            return re.sub(rb"\s*\n\s*", b" ", value).decode("utf-8", "replace")
    return None


def run_env(extra=None):
    """run_env - the environment for a mailport command: sanitizer options,
    no MAILPORT_CONFIG unless given in extra"""
    e = dict(os.environ)
    e.pop("MAILPORT_CONFIG", None)
    for k, v in SAN_ENV.items():
        e.setdefault(k, v)
    e.update(extra or {})
    return e


# ------------------------------------------------------------------- BDAT

class BdatSizeTests(MailportTest):

    def begin(self, c, sender=b"a@client.test"):
        self.assertCmd(c, b"MAIL FROM:<" + sender + b">", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)

    def assert_nothing_left(self, s):
        time.sleep(0.5)
        self.assertEqual(s.queue_files(), [])
        self.assertEqual(s.incoming_files(), [])
        self.assertEqual(s.mailboxes(), {})

    def test_chunks_over_limit(self):
        """limit 1000: BDAT 600, 600, 100 LAST -> 250, 250, 552; nothing
        queued; the 552 is no protocol error (max_errors = 1); the next
        message on the session is accepted and holds none of the dropped
        bytes"""
        s = self.server(max_message_size=1000, max_errors=1)
        c = s.session()
        self.begin(c)
        self.assertReply(bdat(c, b"a" * 598 + b"\r\n"), 250, regex=CHUNK_RE % 600)
        self.assertReply(bdat(c, b"b" * 598 + b"\r\n"), 250, regex=CHUNK_RE % 600)
        self.assertReply(bdat(c, b"c" * 98 + b"\r\n", last=True), 552, R_SIZE)
        self.assertTrue(c.quiet(0.3), "extra reply after the 552")
        self.assert_nothing_left(s)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        self.begin(c)
        self.assertQueued(c.data(message("after big bdat")))
        m = s.wait_messages("alice")[0]
        self.assertIn(b"Subject: after big bdat\n", m)
        for junk in (b"aaaa", b"bbbb", b"cccc"):
            self.assertNotIn(junk, m)
        s.wait_queue_empty()
        self.assertEqual(s.mailboxes(), {("example.test", "alice"): 1})

    def test_later_chunks_dropped_then_bdat_again(self):
        """every non-LAST chunk after the crossing one gets 250 too; BDAT 0
        LAST gets the 552; RSET and a new BDAT transaction work"""
        s = self.server(max_message_size=1000)
        c = s.session()
        self.begin(c)
        for _ in range(4):
            self.assertReply(bdat(c, b"x" * 600), 250, regex=CHUNK_RE % 600)
        self.assertReply(bdat(c, b"", last=True), 552, R_SIZE)
        self.assertCmd(c, b"RSET", 250, R_RSET)
        self.begin(c)
        data = message("bdat after 552")
        self.assertQueued(bdat(c, data, last=True))
        m = s.wait_messages("alice")[0]
        self.assertTrue(m.endswith(b"\n" + to_lf(data)), m[-200:])
        self.assertNotIn(b"xxxx", m)

    def test_crossing_chunk_is_last(self):
        """a single LAST chunk over the limit: 552, session goes on"""
        s = self.server(max_message_size=1000)
        c = s.session()
        self.begin(c)
        self.assertReply(bdat(c, b"y" * 700), 250, regex=CHUNK_RE % 700)
        self.assertReply(bdat(c, b"z" * 700, last=True), 552, R_SIZE)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        self.assert_nothing_left(s)

    def test_pipelined_over_limit(self):
        """everything in one write: the dropped chunks (which look like
        commands) are consumed as data, never read as commands; replies:
        250, 250, 250 600, 250 600, 552, then a whole new transaction"""
        s = self.server(max_message_size=1000)
        c = s.session()
        fake = b"RSET\r\nMAIL FROM:<evil@client.test>\r\nRCPT TO:<evil@example.test>\r\nDATA\r\n"
        chunk1 = (fake * 20)[:600]
        chunk2 = (b"QUIT\r\n" * 200)[:600]
        chunk3 = fake[:100].ljust(100, b"q")
        data = message("pipelined after 552")
        c.send(b"MAIL FROM:<a@client.test>\r\nRCPT TO:<alice@example.test>\r\n"
               + b"BDAT 600\r\n" + chunk1 + b"BDAT 600\r\n" + chunk2
               + b"BDAT 100 LAST\r\n" + chunk3
               + b"MAIL FROM:<b@client.test>\r\nRCPT TO:<alice@example.test>\r\n"
               + b"BDAT %d LAST\r\n" % len(data) + data + b"QUIT\r\n")
        self.assertReply(c.reply(), 250, R_SENDER_OK)
        self.assertReply(c.reply(), 250, R_RCPT_OK)
        self.assertReply(c.reply(), 250, regex=CHUNK_RE % 600)
        self.assertReply(c.reply(), 250, regex=CHUNK_RE % 600)
        self.assertReply(c.reply(), 552, R_SIZE)
        self.assertReply(c.reply(), 250, R_SENDER_OK)
        self.assertReply(c.reply(), 250, R_RCPT_OK)
        self.assertQueued(c.reply(60))
        self.assertReply(c.reply(), 221, R_QUIT)
        self.assertClosed(c)
        m = s.wait_messages("alice")[0]
        self.assertIn(b"Return-Path: <b@client.test>\n", m)
        s.wait_queue_empty()
        self.assertEqual(s.mailboxes(), {("example.test", "alice"): 1})
        self.assertNotIn("evil", s.log())

    def test_data_limit_unchanged(self):
        """the same limit over DATA still gives 552 at the end of data"""
        s = self.server(max_message_size=1000)
        c = s.session()
        self.begin(c)
        self.assertReply(c.data(message("big data", body=b"d" * 1500 + b"\r\n")), 552, R_SIZE)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        self.assert_nothing_left(s)


# ---------------------------------------------------------- Received: UTF8

class ReceivedUtf8Tests(MailportTest):
    """RFC 6531 4.3: the "with" keyword of a message sent with SMTPUTF8"""

    def deliver(self, s, c, subject, smtputf8=True, bdat_=False, sender="alice@example.test"):
        params = b" SMTPUTF8" if smtputf8 else b""
        self.assertCmd(c, b"MAIL FROM:<%s>%s" % (sender.encode(), params), 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<bob@example.test>", 250, R_RCPT_OK)
        data = message(subject, sender=sender, to="bob@example.test",
                       headers=["X-Name: J\u00f6rg".encode()])
        if bdat_:
            qid = self.assertQueued(bdat(c, data, last=True))
        else:
            qid = self.assertQueued(c.data(data))
        want = ("Subject: %s\n" % subject).encode()
        m = wait_for(lambda: next((x for x in s.messages("bob") if want in x), None),
                     DELIVERY_TIMEOUT)
        if m is None:
            self.fail("message %s not delivered" % subject)
        r = received(m)
        self.assertIsNotNone(r, m[:300])
        self.assertIn(" id %s" % qid, r)
        return r

    def test_utf8smtp_plain(self):
        s = self.server()
        c = s.session()
        r = self.deliver(s, c, "utf8 plain")
        self.assertRegex(r, r"\bby %s with UTF8SMTP id " % re.escape(HOST))
        self.assertNotIn("ESMTP", r)
        # the same session without SMTPUTF8: ESMTP again
        r = self.deliver(s, c, "ascii plain", smtputf8=False)
        self.assertRegex(r, r"\bby %s with ESMTP id " % re.escape(HOST))
        self.assertNotIn("UTF8", r)

    def test_utf8smtp_bdat_unicode_sender(self):
        s = self.server()
        c = s.session()
        r = self.deliver(s, c, "utf8 bdat", bdat_=True, sender="j\u00f6rg@cl\u00efent.test")
        self.assertRegex(r, r"\bwith UTF8SMTP id ")

    def test_utf8smtps_after_starttls(self):
        s = tls_server(self)
        c = tls_session(self, s)
        r = self.deliver(s, c, "utf8 tls")
        self.assertRegex(r, r"\bwith UTF8SMTPS id ")
        self.assertRegex(r, USING_RE)
        r = self.deliver(s, c, "ascii tls", smtputf8=False)
        self.assertRegex(r, r"\bwith ESMTPS id ")

    def test_utf8smtpsa_submission(self):
        s = tls_server(self, submission=True)
        c = tls_session(self, s, port=s.sub_port)
        auth_plain(self, c)
        r = self.deliver(s, c, "utf8 tls auth")
        self.assertRegex(r, r"\bwith UTF8SMTPSA id ")
        self.assertRegex(r, USING_RE)

    def test_utf8smtpa_plaintext_auth(self):
        s = tls_server(self, tls=False, submission=True, allow_plaintext_auth="yes")
        c = Client(s.sub_port)
        self.on_teardown(c.close)
        c.ehlo()
        auth_plain(self, c)
        r = self.deliver(s, c, "utf8 auth")
        self.assertRegex(r, r"\bwith UTF8SMTPA id ")
        self.assertNotIn("using", r)


# --------------------------------------------------------- listen backlog

class ListenBacklogTests(MailportTest):

    def somaxconn(self):
        try:
            with open("/proc/sys/net/core/somaxconn") as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            self.skipTest("skipped: cannot read /proc/sys/net/core/somaxconn")

    def send_q(self, port):
        """send_q - Send-Q of the listening socket on 127.0.0.1:port (the
        accept backlog for a LISTEN socket)"""
        ss = which("ss")
        if not ss:
            self.skipTest("skipped: ss (iproute2) not installed, cannot read the listen backlog")
        r = subprocess.run([ss, "-ltn"], capture_output=True, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        found = []
        for line in r.stdout.decode(errors="replace").splitlines()[1:]:
            f = line.split()
            if len(f) >= 4 and f[0] == "LISTEN" and f[3] == "127.0.0.1:%d" % port:
                found.append(int(f[2]))
        self.assertEqual(len(found), 1, r.stdout.decode(errors="replace"))
        return found[0]

    def test_default_backlog_1024(self):
        s = self.server()
        self.assertEqual(self.send_q(s.port), min(1024, self.somaxconn()))

    def test_configured_backlog(self):
        s = self.server(listen_backlog=2048)
        self.assertEqual(self.send_q(s.port), min(2048, self.somaxconn()))
        self.assertCmd(s.session(), b"NOOP", 250, R_NOOP)

    def test_small_backlog(self):
        s = self.server(listen_backlog=16)
        self.assertEqual(self.send_q(s.port), min(16, self.somaxconn()))


# ------------------------------------------------------- config location

NS_SCRIPT = r"""
fail() { echo "nssetup: $*" >&2; exit 97; }
priv=$1; etcconf=$2; shift 2
if [ -d /etc/mailport ]; then
    mount -t tmpfs -o size=1m,mode=0755 tmpfs /etc/mailport || fail "mount tmpfs on /etc/mailport"
    [ "$(findmnt -n -o FSTYPE --mountpoint /etc/mailport)" = tmpfs ] || fail "no tmpfs on /etc/mailport"
else
    mount -t tmpfs -o size=1m,mode=0755 tmpfs "$priv" || fail "mount tmpfs on $priv"
    mkdir "$priv/upper" "$priv/work" || fail "mkdir"
    mount -t overlay overlay -o "lowerdir=/etc,upperdir=$priv/upper,workdir=$priv/work" /etc \
        || fail "mount overlay on /etc"
    [ "$(findmnt -n -o FSTYPE --mountpoint /etc)" = overlay ] || fail "no overlay on /etc"
    mkdir /etc/mailport || fail "mkdir /etc/mailport"
fi
if [ -n "$etcconf" ]; then
    cp "$etcconf" /etc/mailport/mailport.conf || fail "cp"
    chmod 0644 /etc/mailport/mailport.conf || fail "chmod"
fi
exec "$@"
"""


class ConfigLocationTests(MailportTest):

    def run_cmd(self, args, env=None, timeout=60, cwd=None):
        b = binary()
        if not os.access(b, os.X_OK):
            self.fail("binary %s missing (set MAILPORT_BIN)" % b)
        r = subprocess.run([b] + args, capture_output=True, timeout=timeout, env=run_env(env),
                           cwd=cwd or self.make_tmpdir("cwd"))
        return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")

    def ns_argv(self, argv, etc_conf=None):
        """ns_argv - argv that runs argv in a private mount namespace where
        /etc/mailport is empty (and holds etc_conf as mailport.conf when
        given); skips when that cannot be set up"""
        if not is_root():
            self.skipTest("skipped: a private /etc/mailport needs root (unshare -m)")
        for tool in ("unshare", "findmnt", "mount"):
            self.need_tool(tool)
        priv = self.make_tmpdir("ns")
        return [which("unshare"), "-m", "--propagation", "private", "sh", "-c", NS_SCRIPT, "sh",
                priv, etc_conf or ""] + argv

    def run_ns(self, args, etc_conf=None, env=None, timeout=60):
        argv = self.ns_argv([binary()] + args, etc_conf)
        r = subprocess.run(argv, capture_output=True, timeout=timeout, env=run_env(env),
                           cwd=self.make_tmpdir("cwd"))
        err = r.stderr.decode("utf-8", "replace")
        if r.returncode == 97 and "nssetup:" in err:
            self.skipTest("skipped: cannot set up a private /etc/mailport: %s" % err.strip())
        return r.returncode, r.stdout.decode("utf-8", "replace"), err

    def conf(self, name="srv", hostname=HOST, **kw):
        s = self.server(start=False, name=name, hostname=hostname, **kw)
        return s

    def bad_conf(self):
        p = os.path.join(self.make_tmpdir("bad"), "bad.conf")
        with open(p, "w") as f:
            f.write("[server]\nmax_errors = abc\n")
        os.chmod(p, 0o644)
        return p

    def assertOk(self, out, path):
        self.assertRegex(out, r"(?m)^%s: OK \(.*\)$" % re.escape(path))

    def test_env_var_used(self):
        s = self.conf(hostname="env.example.test")
        rc, out, err = self.run_cmd(["check-config"], {"MAILPORT_CONFIG": s.conf_path})
        self.assertEqual(rc, 0, err)
        self.assertOk(out, s.conf_path)
        bad = self.bad_conf()
        rc, out, err = self.run_cmd(["check-config"], {"MAILPORT_CONFIG": bad})
        self.assertEqual(rc, 1, out + err)
        self.assertIn("%s:2:" % bad, err)

    def test_option_wins_over_env(self):
        s = self.conf()
        bad = self.bad_conf()
        rc, out, err = self.run_cmd(["check-config", "-c", s.conf_path], {"MAILPORT_CONFIG": bad})
        self.assertEqual(rc, 0, err)
        self.assertOk(out, s.conf_path)
        self.assertNotIn(bad, out + err)

    def test_defaults_flag(self):
        """--defaults forces the embedded default, whatever the env says"""
        bad = self.bad_conf()
        rc, out, err = self.run_cmd(["check-config", "--defaults"], {"MAILPORT_CONFIG": bad})
        self.assertEqual(rc, 0, out + err)
        self.assertOk(out, "(embedded default)")
        self.assertNotIn(bad, out + err)

    def test_nothing_found_embedded_default(self):
        """no -c, no MAILPORT_CONFIG, no /etc/mailport/mailport.conf"""
        rc, out, err = self.run_ns(["check-config"])
        self.assertEqual(rc, 0, out + err)
        self.assertOk(out, "(embedded default)")

    def test_etc_config_used(self):
        s = self.conf(hostname="etc.example.test")
        rc, out, err = self.run_ns(["check-config"], etc_conf=s.conf_path)
        self.assertEqual(rc, 0, out + err)
        self.assertOk(out, ETC_CONF)
        # it is really read: a broken one fails, naming /etc/...:LINE
        bad = self.bad_conf()
        rc, out, err = self.run_ns(["check-config"], etc_conf=bad)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("%s:2:" % ETC_CONF, err)

    def test_env_and_option_win_over_etc(self):
        s = self.conf()
        bad = self.bad_conf()
        rc, out, err = self.run_ns(["check-config"], etc_conf=bad,
                                   env={"MAILPORT_CONFIG": s.conf_path})
        self.assertEqual(rc, 0, out + err)
        self.assertOk(out, s.conf_path)
        rc, out, err = self.run_ns(["check-config", "-c", s.conf_path], etc_conf=bad)
        self.assertEqual(rc, 0, out + err)
        self.assertOk(out, s.conf_path)
        rc, out, err = self.run_ns(["check-config", "--defaults"], etc_conf=bad)
        self.assertEqual(rc, 0, out + err)
        self.assertOk(out, "(embedded default)")

    def start_own(self, s, argv, env=None):
        """start_own - run argv (a `serve` without -c) as server s's process,
        so that the harness stops it, reads its log and checks sanitizers"""
        log = open(s.log_path, "ab")
        log.write(b"\n===== test_hardening: start %s port %d =====\n" % (s.name.encode(), s.port))
        log.flush()
        s.proc = subprocess.Popen(argv, cwd=s.dir, stdin=subprocess.DEVNULL, stdout=log,
                                  stderr=log, env=run_env(env), start_new_session=True)
        log.close()
        harness._LIVE.add(s)
        s.expect_exit = False
        try:
            s.wait_ready()
        except harness.StartError as e:
            if "nssetup:" in s.log():
                s.expect_exit = True
                self.skipTest("skipped: cannot set up a private /etc/mailport: %s" % s.log_tail(3))
            raise AssertionError(str(e))

    def assertLogsConfig(self, s, path):
        self.assertRegex(s.log(), r"(?m)\bconfig file=%s(\s|$)" % re.escape(path))

    def test_serve_logs_config_file(self):
        s = self.server()
        self.assertLogsConfig(s, s.conf_path)

    def test_serve_env_var(self):
        s = self.conf()
        self.start_own(s, [binary(), "serve"], {"MAILPORT_CONFIG": s.conf_path})
        self.assertLogsConfig(s, s.conf_path)
        self.assertQueued(s.send_mail())
        s.wait_messages("alice")

    def test_serve_etc_config(self):
        """serve without -c or env reads /etc/mailport/mailport.conf"""
        s = self.conf()
        self.start_own(s, self.ns_argv([binary(), "serve"], etc_conf=s.conf_path))
        self.assertLogsConfig(s, ETC_CONF)
        self.assertQueued(s.send_mail())
        s.wait_messages("alice")
        self.assertEqual(s.stop(), 0)


# ----------------------------------------------------------- users mode

class UsersFileModeTests(MailportTest):

    WARN = ("warning: %s: users file with password hashes is readable by every local user "
            "(mode 0644); chmod o-r")

    def check(self, s):
        r = subprocess.run([binary(), "check-config", "-c", s.conf_path], capture_output=True,
                           timeout=60, env=run_env())
        return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")

    def test_hashes_world_readable_warns(self):
        s = self.server(start=False, users=["alice@example.test:" + hash_password("pw-one-1234"),
                                             "bob@example.test"])
        os.chmod(s.users_path, 0o644)
        rc, out, err = self.check(s)
        self.assertEqual(rc, 0, out + err)
        self.assertIn(self.WARN % s.users_path, err.splitlines())

    def test_hashes_mode_0640_quiet(self):
        s = self.server(start=False, users=["alice@example.test:" + hash_password("pw-one-1234")])
        os.chmod(s.users_path, 0o640)
        rc, out, err = self.check(s)
        self.assertEqual(rc, 0, out + err)
        self.assertNotIn("warning", err)

    def test_no_hashes_world_readable_quiet(self):
        s = self.server(start=False, users=["alice@example.test", "bob@example.test"])
        os.chmod(s.users_path, 0o644)
        rc, out, err = self.check(s)
        self.assertEqual(rc, 0, out + err)
        self.assertNotIn("warning", err)
