"""test_queuecmd - `mailport queue` and the daemon's control socket
<spool>/control.sock: list, show, flush, hold, release, remove, --json, the
exit statuses (0, 1 error reply, 64 usage, 69 no daemon, 77 refused), who
may connect (root and the mail user only: the file mode and SO_PEERCRED),
and raw malformed requests, after which the daemon carries on.

Mail stays queued the way it does for every relayed recipient here: the
harness points [dns] servers at a loopback port where nothing listens, so
remote delivery defers each recipient (retry_min is the default 300 s, so
no retry happens by itself during a test).
"""

import json
import os
import pwd
import re
import socket
import stat
import subprocess
import time

from harness import (MailportTest, binary, daemon_ids, is_root, message, wait_for, which)

CMD_TIMEOUT = 60


def ctl_path(s):
    return os.path.join(s.spool, "control.sock")


def raw_request(path, data, shut=False, timeout=15):
    """raw_request - send bytes to the control socket and read until the
    close; returns what came back"""
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(timeout)
    try:
        c.connect(path)
        if data:
            c.sendall(data)
        if shut:
            c.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            try:
                d = c.recv(65536)
            except ConnectionResetError:
                break
            if not d:
                break
            out += d
        return out
    finally:
        c.close()


class QueueCmdBase(MailportTest):

    def queue(self, s, *args, user=None, config=True, check=None):
        """queue - run `mailport queue [-c CONF] args...` (as user when given,
        through setpriv); returns the CompletedProcess (text)"""
        argv = [binary(), "queue"]
        if config:
            argv += ["-c", s.conf_path if hasattr(s, "conf_path") else s]
        argv += list(args)
        if user:
            setpriv = which("setpriv")
            if not setpriv or not is_root():
                self.skipTest("skipped: needs root and setpriv")
            pw = pwd.getpwnam(user)
            argv = [setpriv, "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid,
                    "--clear-groups", "--"] + argv
        env = dict(os.environ)
        env.pop("MAILPORT_CONFIG", None)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
        r = subprocess.run(argv, capture_output=True, timeout=CMD_TIMEOUT, env=env, cwd="/")
        r.stdout = r.stdout.decode("utf-8", "replace")
        r.stderr = r.stderr.decode("utf-8", "replace")
        self.assertNotIn("Sanitizer", r.stderr)
        self.assertNotIn("runtime error", r.stderr)
        if check is not None:
            self.assertEqual(r.returncode, check, "queue %s: exit %d\nstdout: %s\nstderr: %s"
                             % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def listing(self, s):
        """listing - {qid: message object} from `queue list --json`"""
        r = self.queue(s, "list", "--json", check=0)
        doc = json.loads(r.stdout)
        self.assertIs(doc["ok"], True)
        return {m["id"]: m for m in doc["messages"]}

    def attempts(self, s, qid):
        m = self.listing(s).get(qid)
        return None if m is None else [r["attempts"] for r in m["recipients"]]

    def relay_message(self, s, subject, rcpts=("bob@foreign.test",), sender="alice@example.test"):
        """relay_message - queue a message for remote recipients and wait
        until its first attempt deferred them all; its qid"""
        r = s.send_mail(sender=sender, rcpts=rcpts,
                        data=message(subject, body="Body of %s.\r\n" % subject, sender=sender,
                                     to=rcpts[0]))
        qid = self.assertQueued(r)
        n = len(rcpts)
        pat = re.compile(r"deliver qid=%s to=<[^>]*> .*status=deferred" % qid)
        ok = wait_for(lambda: len(pat.findall(s.log())) >= n, 20)
        self.assertTrue(ok, "not deferred:\n%s" % s.log_tail())
        return qid

    def deliver_lines(self, s, qid):
        return [l for l in s.log().splitlines() if "deliver qid=%s " % qid in l]


class ListShowTests(QueueCmdBase):

    def test_list_shows_deferred_recipients(self):
        s = self.server()
        q1 = self.relay_message(s, "first", rcpts=("bob@foreign.test", "carol@other.test"))
        q2 = self.relay_message(s, "second", sender="dave@example.net")
        r = self.queue(s, "list", check=0)
        out = r.stdout
        self.assertEqual(r.stderr, "")
        lines = out.splitlines()
        self.assertRegex(lines[0], r"^Queue ID\s+Age\s+Size\s+Sender")
        for qid, sender in ((q1, "alice@example.test"), (q2, "dave@example.net")):
            self.assertRegex(out, r"(?m)^%s\s+\d+s\s+\d+\s+<%s>$" % (qid, re.escape(sender)))
        for rcpt in ("bob@foreign.test", "carol@other.test"):
            self.assertRegex(out, r"(?m)^    <%s>  deferred, 1 attempt, next in \d+m\d\ds$"
                             % re.escape(rcpt))
        # the last error is shown under each recipient
        i = lines.index(next(l for l in lines if l.startswith("    <bob@foreign.test>")))
        self.assertRegex(lines[i + 1], r"^        4\d\d 4\.\d+\.\d+ \S")
        self.assertRegex(lines[-1], r"^-- 2 messages, \d+ bytes$")

    def test_list_json(self):
        s = self.server()
        qid = self.relay_message(s, "json", rcpts=("bob@foreign.test", "carol@other.test"))
        r = self.queue(s, "list", "--json", check=0)
        doc = json.loads(r.stdout)
        self.assertIs(doc["ok"], True)
        self.assertIsInstance(doc["now"], int)
        self.assertEqual([m["id"] for m in doc["messages"]], [qid])
        m = doc["messages"][0]
        self.assertEqual(m["sender"], "alice@example.test")
        self.assertIs(m["held"], False)
        self.assertGreater(m["size"], 100)
        self.assertLessEqual(abs(m["arrival"] - time.time()), 60)
        self.assertEqual([x["address"] for x in m["recipients"]],
                         ["bob@foreign.test", "carol@other.test"])
        for x in m["recipients"]:
            self.assertEqual(x["state"], "deferred")
            self.assertEqual(x["transport"], "smtp")
            self.assertEqual(x["attempts"], 1)
            self.assertGreater(x["next_attempt"], doc["now"])
            self.assertEqual(x["code"] // 100, 4)
            self.assertTrue(x["status"].startswith("4."), x)
            self.assertTrue(x["reason"], x)

    def test_empty_queue(self):
        s = self.server()
        r = self.queue(s, "list", check=0)
        self.assertEqual(r.stdout, "Mail queue is empty\n")
        doc = json.loads(self.queue(s, "list", "--json", check=0).stdout)
        self.assertEqual(doc, {"ok": True, "now": doc["now"], "messages": []})

    def test_show(self):
        s = self.server()
        qid = self.relay_message(s, "shown")
        r = self.queue(s, "show", qid, check=0)
        out = r.stdout
        self.assertIn("Queue ID:   %s\n" % qid, out)
        self.assertIn("Sender:     <alice@example.test>\n", out)
        self.assertIn("Client:     127.0.0.1\n", out)
        self.assertIn("Held:       no\n", out)
        self.assertRegex(out, r"(?m)^Recipient:  <bob@foreign\.test> \(smtp\) deferred, 1 attempt, "
                         r"next in \d+m\d\ds\n            4\d\d 4\.")
        head, _, msg = out.partition("*** MESSAGE ***\n")
        self.assertTrue(msg.startswith("Received: from client.test"), msg[:200])
        self.assertIn("\nSubject: shown\n", msg)
        self.assertIn("\n\nBody of shown.\n", msg)
        self.assertNotIn("\r", msg)
        doc = json.loads(self.queue(s, "show", qid, "--json", check=0).stdout)
        self.assertIs(doc["ok"], True)
        self.assertEqual(doc["message"]["id"], qid)
        self.assertIn("\r\nSubject: shown\r\n", doc["message"]["message"])
        self.assertIs(doc["message"]["truncated"], False)
        self.assertEqual(doc["message"]["size"], len(doc["message"]["message"].encode()))

    def test_show_escapes_control_characters(self):
        """bytes from strangers never reach the terminal raw"""
        s = self.server()
        r = s.send_mail(sender="alice@example.test", rcpts=("bob@foreign.test",),
                        data=message("esc", body=b"red \x1b[31m bell \x07 cr\rend\r\n"))
        qid = self.assertQueued(r)
        out = self.queue(s, "show", qid, check=0).stdout
        self.assertIn("red \\x1b[31m bell \\x07 cr\\x0dend\n", out)
        self.assertNotIn("\x1b", out)

    def test_show_unknown_and_malformed_ids(self):
        s = self.server()
        r = self.queue(s, "show", "0NoSuchMessage0", check=1)
        self.assertEqual(r.stderr, "mailport queue: no such message in the queue\n")
        doc = json.loads(self.queue(s, "show", "0NoSuchMessage0", "--json", check=1).stdout)
        self.assertEqual(doc, {"ok": False, "code": "notfound",
                               "error": "no such message in the queue"})
        for bad in ("../etc/passwd", "a b", "x" * 25, "", "id.done"):
            with self.subTest(bad=bad):
                r = self.queue(s, "show", bad, check=64)
                self.assertIn("malformed queue id", r.stderr)


class ControlTests(QueueCmdBase):

    def test_flush_retries_now(self):
        s = self.server()
        q1 = self.relay_message(s, "one")
        q2 = self.relay_message(s, "two", rcpts=("carol@other.test",))
        self.assertEqual(self.attempts(s, q1), [1])
        r = self.queue(s, "flush", q1, check=0)
        self.assertEqual(r.stdout, "%s: scheduled for delivery now\n" % q1)
        self.assertTrue(wait_for(lambda: self.attempts(s, q1) == [2], 20), self.listing(s))
        # by domain: only the message with a recipient there is tried
        r = self.queue(s, "flush", "--domain", "other.test", check=0)
        self.assertTrue(wait_for(lambda: self.attempts(s, q2) == [2], 20), self.listing(s))
        self.assertEqual(self.attempts(s, q1), [2])
        # everything
        r = self.queue(s, "flush", check=0)
        self.assertEqual(r.stdout, "2 messages scheduled for delivery now\n")
        self.assertTrue(wait_for(lambda: self.attempts(s, q1) == [3] and
                                 self.attempts(s, q2) == [3], 20), self.listing(s))
        self.assertIn("ctl request=\"flush %s\"" % q1, s.log())
        self.assertRegex(s.log(), r"ctl request=\"flush\" uid=0 pid=\d+ status=ok flushed=2")
        r = self.queue(s, "flush", "0NoSuchMessage0", check=1)
        self.assertIn("no such message", r.stderr)

    def test_hold_and_release(self):
        s = self.server()
        q1 = self.relay_message(s, "held")
        q2 = self.relay_message(s, "free")
        r = self.queue(s, "hold", q1, check=0)
        self.assertEqual(r.stdout, "%s: held\n" % q1)
        self.assertTrue(wait_for(lambda: "queue qid=%s status=held" % q1 in s.log(), 20),
                        s.log_tail())
        self.assertTrue(wait_for(lambda: self.listing(s)[q1]["held"] is True, 10))
        before = len(self.deliver_lines(s, q1))
        # a held message is not tried, even by a flush of everything or of it
        self.queue(s, "flush", check=0)
        self.assertTrue(wait_for(lambda: self.attempts(s, q2) == [2], 20), self.listing(s))
        r = self.queue(s, "flush", q1, check=1)
        self.assertIn("held", r.stderr)
        time.sleep(0.5)
        self.assertEqual(len(self.deliver_lines(s, q1)), before, s.log_tail())
        self.assertEqual(self.attempts(s, q1), [1])
        out = self.queue(s, "list", check=0).stdout
        self.assertRegex(out, r"(?m)^%s\s.*<alice@example\.test>  \(held\)$" % q1)
        self.assertRegex(out, r"(?m)^-- 2 messages, \d+ bytes, 1 held$")
        self.assertIn("Held:       yes\n", self.queue(s, "show", q1, check=0).stdout)
        # release: tried at once (back-off ignored), then back on its schedule
        r = self.queue(s, "release", q1, check=0)
        self.assertEqual(r.stdout, "%s: released\n" % q1)
        self.assertTrue(wait_for(lambda: len(self.deliver_lines(s, q1)) > before, 20),
                        s.log_tail())
        self.assertTrue(wait_for(lambda: self.attempts(s, q1) == [2], 10), self.listing(s))
        self.assertTrue(wait_for(lambda: self.listing(s)[q1]["held"] is False, 10))
        self.assertEqual(self.queue(s, "show", q1, check=0).stdout.count("Held:       no\n"), 1)
        # and a flush reaches it again
        self.queue(s, "flush", q1, check=0)
        self.assertTrue(wait_for(lambda: self.attempts(s, q1) == [3], 10), self.listing(s))
        r = self.queue(s, "hold", "0NoSuchMessage0", check=1)
        self.assertEqual(r.stderr, "mailport queue: no such message in the queue\n")

    def test_hold_survives_restart(self):
        s = self.server()
        qid = self.relay_message(s, "held")
        self.queue(s, "hold", qid, check=0)
        self.assertTrue(wait_for(lambda: "queue qid=%s status=held" % qid in s.log(), 20))
        s.restart()
        self.assertIs(self.listing(s)[qid]["held"], True)

    def test_remove(self):
        s = self.server()
        q1 = self.relay_message(s, "one")
        q2 = self.relay_message(s, "two")
        q3 = self.relay_message(s, "three")
        r = self.queue(s, "remove", q1, check=0)
        self.assertEqual(r.stdout, "%s: removed\n" % q1)
        self.assertTrue(wait_for(lambda: q1 not in s.queue_files(), 20), s.queue_files())
        self.assertEqual(sorted(self.listing(s)), sorted([q2, q3]))
        self.assertIn("queue qid=%s status=removed" % q1, s.log())
        self.queue(s, "hold", q2, check=0)
        r = self.queue(s, "remove", "--all", check=0)
        self.assertEqual(r.stdout, "2 messages removed\n")
        self.assertTrue(wait_for(lambda: s.queue_files() == [], 20), s.queue_files())
        self.assertEqual(self.queue(s, "list", check=0).stdout, "Mail queue is empty\n")
        self.assertEqual(s.mailboxes(), {})
        r = self.queue(s, "remove", q1, check=1)
        self.assertIn("no such message", r.stderr)
        self.assertIn("status=ok removed=2", s.log())

    def test_usage_errors(self):
        s = self.server()
        for args in ((), ("bogus",), ("list", "extra"), ("show",), ("remove",),
                     ("remove", "abc", "--all"), ("flush", "abc", "--domain", "a.test"),
                     ("flush", "--domain"), ("flush", "--domain", "bad domain"),
                     ("hold",), ("release", "a", "b"), ("list", "--frobnicate"),
                     ("list", "--all"), ("show", "abc", "--domain", "x.test")):
            with self.subTest(args=args):
                r = self.queue(s, *args, check=64)
                self.assertIn("usage: mailport queue", r.stderr)
        r = self.queue(s, "--help", check=0)
        self.assertIn("usage: mailport queue", r.stdout)
        self.assertNotIn("ctl request=", s.log())  # usage errors never reach the daemon


class AvailabilityTests(QueueCmdBase):

    def test_no_daemon(self):
        s = self.server(start=False)
        path = ctl_path(s)
        want = ("mailport queue: no daemon answers on %s (is mailport serve running?)\n" % path)
        r = self.queue(s, "list", check=69)
        self.assertEqual(r.stderr, want)
        self.assertEqual(r.stdout, "")
        s.start()
        self.queue(s, "list", check=0)
        s.stop()
        self.assertFalse(os.path.exists(path), "socket left behind after a clean stop")
        self.assertEqual(self.queue(s, "flush", check=69).stderr, want)
        # a stale socket file after a crash: nothing listens on it
        s.start()
        s.kill9()
        self.assertTrue(os.path.exists(path))
        self.assertEqual(self.queue(s, "list", check=69).stderr, want)
        s.start()  # the stale file is replaced
        self.queue(s, "list", check=0)

    def test_config_rule(self):
        """-c, else $MAILPORT_CONFIG; a broken config is EX_CONFIG"""
        s = self.server()
        env = dict(os.environ, MAILPORT_CONFIG=s.conf_path)
        r = subprocess.run([binary(), "queue", "list"], capture_output=True, timeout=CMD_TIMEOUT,
                           env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"Mail queue is empty\n")
        bad = os.path.join(self.tmproot(), "bad.conf")
        with open(bad, "w") as f:
            f.write("[server]\nnosuchkey = 1\n")
        r = self.queue(bad, "list", check=78)
        self.assertIn("bad.conf", r.stderr)

    def test_socket_mode_and_owner(self):
        s = self.server()
        st = os.stat(ctl_path(s))
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        ids = daemon_ids()
        self.assertEqual(st.st_uid, ids[0] if ids else os.getuid())

    def test_other_user_refused(self):
        self.need_root()
        s = self.server()
        self.relay_message(s, "secret")
        # the file mode stops another user at connect(2)
        r = self.queue(s, "list", user="nobody", check=77)
        self.assertEqual(r.stdout, "")
        self.assertEqual(r.stderr, "mailport queue: permission denied on %s (only root and the mail "
                         "user %s may use it)\n" % (ctl_path(s), s.opts["user"]))
        # and the daemon checks the peer itself (SO_PEERCRED) when the mode is loosened
        os.chmod(ctl_path(s), 0o666)
        for args in (("list",), ("remove", "--all"), ("list", "--json")):
            with self.subTest(args=args):
                r = self.queue(s, *args, user="nobody", check=77)
                self.assertIn("permission denied", r.stderr)
                self.assertNotIn("secret", r.stdout)
        nobody = pwd.getpwnam("nobody").pw_uid
        self.assertRegex(s.log(), r"ctl request=- uid=%d pid=\d+ status=denied error=\"permission "
                         r"denied" % nobody)
        self.assertEqual(len(s.queue_files()), 1)
        # the mail user itself may
        r = self.queue(s, "list", user=s.opts["user"], check=0)
        self.assertIn("<bob@foreign.test>", r.stdout)


class RawRequestTests(QueueCmdBase):
    """the daemon never trusts the client: every malformed request gets one
    JSON error document and a log line, and the daemon carries on"""

    BAD = [
        (b"bogus\n", "unknown request"),
        (b"LIST\n", "unknown request"),
        (b"list extra\n", "usage: list"),
        (b"list \n", "malformed request (empty word)"),
        (b" list\n", "malformed request (empty word)"),
        (b"show  abc\n", "malformed request (empty word)"),
        (b"\n", "empty request"),
        (b"\r\n", "empty request"),
        (b"show\n", "usage: show|hold|release QID"),
        (b"show ../../etc/passwd\n", "malformed queue id"),
        (b"show abc.done\n", "malformed queue id"),
        (b"show " + b"A" * 25 + b"\n", "malformed queue id"),
        (b"hold a b\n", "usage: show|hold|release QID"),
        (b"flush --domain a b\n", "too many words in request"),
        (b"release\n", "usage: show|hold|release QID"),
        (b"remove\n", "usage: remove QID | remove --all"),
        (b"remove --ALL\n", "malformed queue id"),
        (b"flush --domain\n", "usage: flush --domain DOMAIN"),
        (b"flush --domain a/b\n", "malformed domain"),
        (b"flush a b\n", "usage: flush [QID | --domain DOMAIN]"),
        (b"list\x00\n", "control or non-ASCII character in request"),
        (b"list\tx\n", "control or non-ASCII character in request"),
        (b"show \xc3\xa9\n", "control or non-ASCII character in request"),
        (b"list\rx\n", "control or non-ASCII character in request"),
        (b"GET / HTTP/1.0\r\n", "unknown request"),
        (b"x" * 600 + b"\n", "request too long"),
        (b"y" * 5000, "request too long"),
    ]

    def check_error(self, reply, why, code="usage"):
        self.assertTrue(reply.endswith(b"\n") and reply.count(b"\n") == 1, reply)
        doc = json.loads(reply)
        self.assertEqual(doc, {"ok": False, "code": code, "error": why})

    def test_malformed_requests(self):
        s = self.server()
        qid = self.relay_message(s, "kept")
        for data, why in self.BAD:
            with self.subTest(data=data[:40]):
                self.check_error(raw_request(ctl_path(s), data), why)
        # no newline before the end of input
        self.check_error(raw_request(ctl_path(s), b"list", shut=True),
                         "request not ended by a newline")
        # one request per connection: the second line is never read
        out = raw_request(ctl_path(s), b"list\nremove --all\n")
        self.assertEqual(out.count(b"\n"), 1)
        self.assertEqual([m["id"] for m in json.loads(out)["messages"]], [qid])
        # the daemon carries on, and logged each of them (escaped)
        self.assertTrue(s.running())
        self.assertEqual(list(self.listing(s)), [qid])
        log = s.log()
        self.assertIn('ctl request="bogus" uid=0 pid=', log)
        self.assertIn('status=error error="unknown request"', log)
        self.assertIn('ctl request="list\\x00"', log)
        self.assertIn('ctl request="show \\xc3\\xa9"', log)
        # the CRLF form of a good request works (nc -C)
        self.assertIs(json.loads(raw_request(ctl_path(s), b"list\r\n"))["ok"], True)
        r = raw_request(ctl_path(s), b"hold %s\n" % qid.encode())
        self.assertEqual(json.loads(r), {"ok": True, "id": qid, "held": True})

    def test_silent_client_times_out_without_blocking_others(self):
        s = self.server()
        idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.on_teardown(idle.close)
        idle.settimeout(20)
        idle.connect(ctl_path(s))
        idle.sendall(b"li")
        t0 = time.monotonic()
        self.queue(s, "list", check=0)  # answered meanwhile
        got = b""
        while not got.endswith(b"\n"):
            d = idle.recv(4096)
            if not d:
                break
            got += d
        self.check_error(got, "no request within 10 seconds", code="timeout")
        self.assertGreater(time.monotonic() - t0, 5)

    def test_many_connections_at_once(self):
        """more connections than the daemon serves at once: the extra ones
        get "busy", nothing hangs, and it serves again afterwards"""
        s = self.server()
        conns = []
        for _ in range(24):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.settimeout(20)
            conns.append(c)
            deadline = time.monotonic() + 10
            while True:  # the listen backlog may be full for a moment
                try:
                    c.connect(ctl_path(s))
                    break
                except BlockingIOError:
                    self.assertLess(time.monotonic(), deadline)
                    time.sleep(0.02)
        self.on_teardown(lambda: [c.close() for c in conns])
        busy = 0
        for c in conns:
            try:
                c.sendall(b"list\n")
            except OSError:
                pass
        for c in conns:
            got = b""
            while True:
                try:
                    d = c.recv(65536)
                except ConnectionResetError:
                    break
                if not d:
                    break
                got += d
            doc = json.loads(got)
            if not doc["ok"]:
                self.assertEqual(doc["code"], "busy")
                busy += 1
        self.assertGreater(busy, 0)
        self.assertLess(busy, 24)
        self.queue(s, "list", check=0)
