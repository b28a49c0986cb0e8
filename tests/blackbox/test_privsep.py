"""test_privsep - issue 9: the privileged parent (`mailport serve`, root)
and the sandboxed worker (`mailport worker`, the mail user), seen from
outside.

Covered: the process model in /proc (uids, capabilities, no_new_privs);
`mailport reload` with root-only files (TLS pair, users file), a broken
config, an unreadable TLS key (partial), listen and spool/mailboxes
changes, a reload storm under traffic; the worker killed (restart with
back-off, nothing acknowledged lost); the parent stopped (SIGTERM) or
killed (SIGKILL: the worker follows, pdeathsig); the Landlock sandbox,
probed with gdb inside the worker; `mailport worker` by hand; `mailport
reload` without a daemon.

Most tests need root (the split only separates users when started as
root); they skip otherwise.
"""

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections import Counter

from harness import (HOST, R_RCPT_OK, R_SENDER_OK, R_SHUTDOWN, R_USER_UNKNOWN, SAN_ENV, Client,
                     ConnectionClosed, MailportTest, ProtocolError, binary, daemon_ids,
                     header_fields, message, pid_alive, proc_cmdline, proc_status, reserve_port,
                     wait_for, which)
from tlsutil import insecure_ctx, make_pki, starttls, tls_server

GDB_TIMEOUT = 30
EACCES = 13
EPERM = 1
STARTED_RE = re.compile(r"worker pid=\d+ status=started")


# ------------------------------------------------------------------ helpers

def der_of(path):
    """der_of - the DER bytes of a PEM certificate file"""
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def write_root_only(path, data):
    """write_root_only - replace path by data, owner root, mode 0600 (a temp
    file renamed over it: never readable by anyone else)"""
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fchown(fd, 0, 0)
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def message_ids(raws):
    """message_ids - Counter of the Message-ID values of stored messages"""
    out = Counter()
    for raw in raws:
        for name, value in header_fields(raw):
            if name and name.lower() == "message-id":
                out[value.decode("latin-1")] += 1
    return out


def readable_as(uid, gid, paths):
    """readable_as - the paths that user uid:gid (no supplementary groups)
    cannot open for reading, tried in a forked child"""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: only system calls, then _exit
        bad = []
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            for i, p in enumerate(paths):
                try:
                    os.close(os.open(p, os.O_RDONLY))
                except OSError:
                    bad.append(str(i))
            os.write(w, (",".join(bad) or "-").encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        out = f.read().decode()
    os.waitpid(pid, 0)
    if not out:
        return ["(the child failed)"]
    return [] if out == "-" else [paths[int(i)] for i in out.split(",")]


def files_under(d):
    """files_under - every non-directory below d (sockets included)"""
    out = []
    for root, _, names in os.walk(d):
        out += [os.path.join(root, n) for n in names]
    return sorted(out)


def port_free(port):
    """port_free - can a listening socket bind 127.0.0.1:port now?
    (SO_REUSEADDR: connections in TIME_WAIT do not count, a listener does)"""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(1)
        return True
    except OSError:
        return False
    finally:
        s.close()


def refused(port):
    """refused - is a connection to 127.0.0.1:port refused?"""
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=2)
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    c.close()
    return False


def banner_on(port):
    """banner_on - the reply code of the greeting on 127.0.0.1:port"""
    with Client(port, timeout=10) as c:
        return c.banner.code


class Burst:
    """Burst - threads sending messages (each its own session) to a server;
    acked: the Message-IDs that got a 250 to their end of data.  Failures
    (closed, reset, refused, timeouts) are expected while the worker dies:
    such a message counts as not acknowledged.  Each thread sends up to
    per_thread messages; it stops early once .stop is set; with a gate
    (a Semaphore) each message waits for a token first."""

    def __init__(self, s, tag, threads, per_thread, gate=None):
        self.s = s
        self.tag = tag
        self.gate = gate
        self.stop = threading.Event()
        self.acked = []
        self.failed = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(t, per_thread), daemon=True)
                        for t in range(threads)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def run(self, t, n):
        for i in range(n):
            if self.stop.is_set() or (self.gate is not None and not self.gate.acquire(timeout=60)):
                break
            mid = "<%s-%d-%d@client.test>" % (self.tag, t, i)
            try:
                r = self.s.send_mail(data=message(self.tag, msgid=mid))
                ok = r.code == 250
            except (OSError, ConnectionClosed, ProtocolError):
                ok = False
            with self.lock:
                if ok:
                    self.acked.append(mid)
                else:
                    self.failed += 1
            if not ok:
                time.sleep(0.05)

    def count(self):
        with self.lock:
            return len(self.acked)

    def alive(self):
        return all(t.is_alive() for t in self.threads)

    def join(self, tc, timeout=120):
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.1, deadline - time.monotonic()))
            tc.assertFalse(t.is_alive(), "sender thread still running after %ds" % timeout)


# -------------------------------------------------------------------- tests

class PrivsepBase(MailportTest):

    def setUp(self):
        super().setUp()
        self.need_root()
        if daemon_ids() is None:
            self.skipTest("skipped: the mail user does not exist")

    def sess(self, s, port=None, ehlo="client.test"):
        """sess - a session after EHLO, closed before the server stops"""
        c = s.session(ehlo) if port is None else Client(port)
        self.on_teardown(c.close)
        if port is not None:
            self.assertEqual(c.banner.code, 220, c.banner)
            c.ehlo(ehlo)
        return c

    def rcpt_code(self, s, rcpt):
        c = self.sess(s)
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        r = c.cmd(("RCPT TO:<%s>" % rcpt).encode())
        c.close()
        return r

    def peer_der(self, s):
        """peer_der - the certificate a new STARTTLS session gets (DER)"""
        c = self.sess(s)
        starttls(self, c, insecure_ctx())
        c.ehlo("client.test")
        der = c.sock.getpeercert(binary_form=True)
        c.close()
        return der

    def assertReload(self, s, rc, *args):
        r = s.reload_cmd(*args)
        self.assertNotIn("Sanitizer", r.stderr)
        self.assertNotIn("runtime error", r.stderr)
        self.assertEqual(r.returncode, rc, "mailport reload: exit %d, want %d\nstdout: %s\n"
                         "stderr: %s\nlog:\n%s" % (r.returncode, rc, r.stdout, r.stderr,
                                                   s.log_tail(20)))
        if rc == 0:
            self.assertIn("reload: ok", r.stdout.splitlines())
        return r

    def gdb_run(self, pid, script, nvals):
        """gdb_run - run gdb commands inside pid; the first nvals integer
        values it prints ($N = V)"""
        gdb = self.need_tool("gdb")
        sf = os.path.join(self.tmproot(), "gdb.cmds")
        with open(sf, "w") as f:
            # SIGSYS is the seccomp filter's: let the worker's handler
            # have it (the call then returns -1 EPERM)
            f.write("\n".join(["set pagination off", "set confirm off",
                               "handle SIGSYS nostop noprint pass"] + script) + "\n")
        r = subprocess.run([gdb, "-p", str(pid), "-batch", "-nx", "-x", sf],
                           capture_output=True, timeout=GDB_TIMEOUT, stdin=subprocess.DEVNULL)
        out = r.stdout.decode("utf-8", "replace")
        vals = [int(v) for v in re.findall(r"(?m)^\$\d+ = (-?\d+)\s*$", out)]
        if len(vals) < nvals:
            self.fail("gdb gave %d values, want %d:\n%s\n%s"
                      % (len(vals), nvals, out[-3000:], r.stderr.decode("utf-8", "replace")[-3000:]))
        return vals

    def root_only_tls(self, pki):
        """root_only_tls - cert and key of pki copied into a 0700 root
        directory, both root 0600; (dir, cert path, key path)"""
        d = os.path.join(self.tmproot(), "private")
        os.makedirs(d, exist_ok=True)
        os.chown(d, 0, 0)
        os.chmod(d, 0o700)
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        write_root_only(cert, read_bytes(pki.cert))
        write_root_only(key, read_bytes(pki.key))
        return d, cert, key


class ProcessModelTests(PrivsepBase):

    def test_parent_root_worker_unprivileged(self):
        """1: parent uid 0; one child `mailport worker` with the mail user's
        ids, no capabilities at all, no_new_privs"""
        s = self.server()
        uid, gid = daemon_ids()
        st = proc_status(s.proc.pid)
        self.assertEqual(st["Uid"].split(), ["0"] * 4, st["Uid"])
        self.assertEqual(proc_cmdline(s.proc.pid).split(b"\0")[1:4],
                         [b"serve", b"-c", s.conf_path.encode()])
        w = s.worker_pid()
        self.assertIsNotNone(w, "no single `mailport worker` child of %d: %r\n%s"
                             % (s.proc.pid, s.worker_pids(), s.log_tail()))
        self.assertEqual(s.worker_pids(), [w])
        self.assertEqual(proc_cmdline(w), b"mailport\0worker\0")
        with open("/proc/%d/comm" % w) as f:  # README: `ps -C mailport` lists both
            self.assertEqual(f.read().strip(), os.path.basename(binary())[:15])
        tasks = sorted(int(t) for t in os.listdir("/proc/%d/task" % w))
        self.assertIn(w, tasks)
        for tid in tasks:  # every thread, not only the main one
            try:
                with open("/proc/%d/task/%d/status" % (w, tid)) as f:
                    st = dict((l.partition(":")[0], l.partition(":")[2].strip())
                              for l in f.read().splitlines())
            except OSError:
                continue  # the thread ended
            self.assertEqual(st["Uid"].split(), [str(uid)] * 4, "tid %d: Uid %s" % (tid, st["Uid"]))
            self.assertEqual(st["Gid"].split(), [str(gid)] * 4, "tid %d: Gid %s" % (tid, st["Gid"]))
            self.assertNotIn("0", st["Groups"].split(), "tid %d: Groups %s" % (tid, st["Groups"]))
            for cap in ("CapInh", "CapPrm", "CapEff", "CapAmb", "CapBnd"):
                self.assertEqual(int(st[cap], 16), 0, "tid %d: %s %s" % (tid, cap, st[cap]))
            self.assertEqual(st["NoNewPrivs"], "1", "tid %d" % tid)
        log = s.log()
        self.assertIn("worker pid=%d status=started" % w, log)
        self.assertRegex(log, r"start user=%s uid=%d\b" % (re.escape(s.opts["user"]), uid))
        self.assertRegex(log, r"sandbox landlock=(abi\d+|unsupported)")
        self.assertIn("ready hostname=%s" % HOST, log)


class ReloadTests(PrivsepBase):

    def test_root_only_tls_pair_reloaded(self):
        """2: cert and key root 0600 in a 0700 root dir; `mailport reload`
        switches to a new pair"""
        a = make_pki(self, name="pki-a")
        b = make_pki(self, name="pki-b")
        _, cert, key = self.root_only_tls(a)
        s = self.server(cert=cert, key=key)
        self.assertEqual(self.peer_der(s), der_of(a.cert))
        old = self.sess(s)
        starttls(self, old, insecure_ctx())
        old.ehlo("client.test")
        write_root_only(cert, read_bytes(b.cert))
        write_root_only(key, read_bytes(b.key))
        self.assertReload(s, 0)
        self.assertEqual(self.peer_der(s), der_of(b.cert), "the new pair is not in use")
        self.assertCmd(old, b"NOOP", 250)  # the session from before goes on

    def test_root_only_users_file(self):
        """3: a users file root 0600: a new user gets 250 right after
        `mailport reload` returns, and after SIGHUP to the parent"""
        s = self.server(start=False, users=["alice@example.test"])
        os.chmod(s.users_path, 0o600)
        s.start()
        self.assertReply(self.rcpt_code(s, "bob@example.test"), 550, R_USER_UNKNOWN)
        s.set_table("users", ["alice@example.test", "bob@example.test"])
        os.chmod(s.users_path, 0o600)
        self.assertReload(s, 0)
        self.assertReply(self.rcpt_code(s, "bob@example.test"), 250, R_RCPT_OK)
        # the same through SIGHUP to the parent (only logged)
        self.assertReply(self.rcpt_code(s, "carol@example.test"), 550, R_USER_UNKNOWN)
        n = s.log().count("reload status=ok")
        s.set_table("users", ["alice@example.test", "bob@example.test", "carol@example.test"])
        os.chmod(s.users_path, 0o600)
        s.hup()
        self.assertTrue(wait_for(lambda: s.log().count("reload status=ok") > n, 10),
                        "no reload status=ok after SIGHUP:\n%s" % s.log_tail())
        self.assertReply(self.rcpt_code(s, "carol@example.test"), 250, R_RCPT_OK)

    def test_broken_config_keeps_old(self):
        """4: a broken line: exit 1 naming path:line, logged, old config
        (banner, users) still in use"""
        s = self.server(users=["alice@example.test"])
        w = s.worker_pid()
        s.opts["banner"] = "Changed banner"
        s.write_config()
        with open(s.conf_path, "a") as f:
            f.write("\n[server]\nmax_errors = not-a-number\n")
        with open(s.conf_path) as f:
            line = f.read().splitlines().index("max_errors = not-a-number") + 1
        where = "%s:%d:" % (s.conf_path, line)
        r = self.assertReload(s, 1)
        self.assertIn("mailport reload: failed: ", r.stderr)
        self.assertIn(where, r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertTrue(wait_for(lambda: re.search(r"reload status=failed errors=\".*%s"
                                                   % re.escape(where), s.log()), 5),
                        s.log_tail())
        c = self.sess(s)
        self.assertReply(c.banner, 220, "%s ESMTP ready" % HOST)
        c.close()
        self.assertReply(self.rcpt_code(s, "alice@example.test"), 250, R_RCPT_OK)
        self.assertEqual(s.worker_pid(), w, "the worker was restarted")

    def test_tls_unreadable_partial(self):
        """5: the key deleted and a user added in the same edit: exit 1
        "partial", the new user in use, the old pair still served"""
        a = make_pki(self, name="pki-a")
        _, cert, key = self.root_only_tls(a)
        s = self.server(cert=cert, key=key, users=["alice@example.test"])
        self.assertEqual(self.peer_der(s), der_of(a.cert))
        os.unlink(key)
        s.set_table("users", ["alice@example.test", "bob@example.test"])
        r = self.assertReload(s, 1)
        self.assertIn("mailport reload: partial: TLS not reloaded", r.stderr)
        self.assertIn(key, r.stderr)
        self.assertIn("the rest of the config is in use", r.stderr)
        self.assertTrue(wait_for(lambda: "reload status=partial tls=kept" in s.log(), 5),
                        s.log_tail())
        self.assertIn(key, [l for l in s.log().splitlines()
                            if "reload status=partial tls=kept" in l][-1])
        self.assertReply(self.rcpt_code(s, "bob@example.test"), 250, R_RCPT_OK)
        self.assertEqual(self.peer_der(s), der_of(a.cert), "the old pair is not in use")

    def test_listen_change(self):
        """10: a listener added and removed by reload; one that cannot be
        bound fails the reload and keeps the old ones"""
        s = self.server()
        p1 = s.port
        p2, fd2 = reserve_port()
        self.addCleanup(os.close, fd2)
        s.opts["listen"] = "127.0.0.1:%d, 127.0.0.1:%d" % (p1, p2)
        s.write_config()
        self.assertReload(s, 0)
        self.assertEqual(banner_on(p2), 220)
        self.assertEqual(banner_on(p1), 220)
        self.assertRegex(s.log(), r"listen addr=127\.0\.0\.1:%d\b.*status=ok" % p2)
        c1 = self.sess(s)  # on p1: goes on after p1 is removed
        self.assertCmd(c1, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)

        s.opts["listen"] = "127.0.0.1:%d" % p2
        s.write_config()
        self.assertReload(s, 0)
        self.assertTrue(wait_for(lambda: refused(p1), 3), "port %d still accepts" % p1)
        self.assertEqual(banner_on(p2), 220)
        self.assertCmd(c1, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        self.assertQueued(c1.data(message("listen change")))
        c1.close()

        p3, fd3 = reserve_port()
        self.addCleanup(os.close, fd3)
        hold = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(hold.close)
        hold.bind(("127.0.0.1", p3))
        hold.listen(1)
        s.opts["listen"] = "127.0.0.1:%d, 127.0.0.1:%d" % (p2, p3)
        s.write_config()
        r = self.assertReload(s, 1)
        self.assertIn("127.0.0.1:%d" % p3, r.stderr)
        self.assertIn("mailport reload: failed: ", r.stderr)
        self.assertEqual(banner_on(p2), 220)
        self.assertTrue(refused(p1))
        s.wait_messages("alice")

    def test_spool_and_mailboxes_change_need_restart(self):
        """11: spool/mailboxes changes: noted, the running ones kept"""
        s = self.server()
        mail2 = self.make_tmpdir("mail2")
        s.chown(mail2)
        s.opts["mailboxes"] = mail2
        s.write_config()
        r = self.assertReload(s, 0)
        self.assertTrue(any(l.startswith("note: ") and "need a restart" in l
                            for l in r.stdout.splitlines()), r.stdout)
        self.assertIn("spool and mailboxes changes need a restart", s.log())
        self.assertQueued(s.send_mail(data=message("after mailboxes change")))
        s.wait_messages("alice")  # the old mailbox root
        self.assertEqual(files_under(mail2), [])

        # a spool change: `mailport reload` would look for the daemon in the
        # new spool, so this one goes through SIGHUP
        spool2 = self.make_tmpdir("spool2")
        s.chown(spool2)
        s.opts["spool"] = spool2
        s.write_config()
        n = s.log().count("spool and mailboxes changes need a restart")
        s.hup()
        self.assertTrue(wait_for(lambda: s.log().count(
            "spool and mailboxes changes need a restart") > n, 10), s.log_tail())
        self.assertQueued(s.send_mail(data=message("after spool change")))
        s.wait_messages("alice", 2)
        self.assertTrue(os.path.exists(os.path.join(s.spool, "control.sock")))
        self.assertEqual(files_under(spool2), [], "the new spool is in use")

    def test_spool_change_reported_by_reload_command(self):
        """11 (systemctl reload path): `mailport reload -c CONF` finds the
        daemon through the spool of the file it reloads; after the spool is
        edited it cannot reach the running daemon (as `postfix reload` after
        a queue_directory change): exit 69 with a message saying spool
        changes need a restart; the daemon goes on with the old spool, and
        a restart would be needed (SIGHUP logs the note, test above)"""
        s = self.server()
        spool2 = self.make_tmpdir("spool2")
        s.chown(spool2)
        s.opts["spool"] = spool2
        s.write_config()
        r = s.reload_cmd()
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertIn("spool changes need a restart", r.stderr)
        self.assertIn(os.path.join(spool2, "control.sock"), r.stderr)
        self.assertQueued(s.send_mail(data=message("after spool change")))
        s.wait_messages("alice")
        self.assertEqual(files_under(spool2), [], "the new spool is in use")

    def test_reload_storm_loses_nothing(self):
        """14: 20 reloads while 100 messages arrive: all acknowledged, each
        delivered once, the worker never restarted"""
        s = self.server()
        w = s.worker_pid()
        # 4 senders x 25 messages, let out 5 at a time before each reload:
        # every reload has messages in flight
        gate = threading.Semaphore(0)
        b = Burst(s, "storm", 4, 25, gate).start()
        self.on_teardown(b.stop.set)
        for i in range(20):
            gate.release(5)
            s.opts["banner"] = "ESMTP storm %d" % i
            s.write_config()
            self.assertReload(s, 0)
        b.join(self)
        self.assertEqual(len(b.acked), 100, "not acknowledged: %d" % b.failed)
        s.wait_queue_empty(timeout=60)
        ids = message_ids(s.messages("alice"))
        self.assertEqual(sorted(m for m in b.acked if ids[m] != 1), [],
                         "lost or duplicated (count != 1)")
        self.assertEqual(s.worker_pid(), w, "the worker was restarted")
        self.assertGreaterEqual(s.log().count("reload status=ok"), 20)


class WorkerDeathTests(PrivsepBase):

    def test_worker_sigkill_restarted_nothing_lost(self):
        """6: SIGKILL to the worker mid-burst: logged, restarted with
        back-off (1 s, then 2 s), every acknowledged message delivered once"""
        s = self.server()
        w1 = s.worker_pid()
        pre = []
        for i in range(3):
            mid = "<pre-%d@client.test>" % i
            self.assertQueued(s.send_mail(data=message("pre", msgid=mid)))
            pre.append(mid)
        # five senders that keep going until told to stop (at most 1000)
        b = Burst(s, "burst", 5, 200).start()
        self.on_teardown(b.stop.set)
        self.assertTrue(wait_for(lambda: b.count() >= 10, 30), "burst too slow")
        self.assertTrue(b.alive())
        os.kill(w1, signal.SIGKILL)
        t0 = time.monotonic()
        at_kill = b.count()
        w2 = s.worker_pid(timeout=5, not_in=(w1,))
        self.assertIsNotNone(w2, "no new worker 5 s after the kill:\n%s" % s.log_tail())
        self.assertTrue(wait_for(lambda: "worker pid=%d status=killed signal=9" % w1 in s.log(),
                                 5), s.log_tail())
        self.assertIn("worker restart_in=1s", s.log())
        s.wait_ready(10)
        self.assertLess(time.monotonic() - t0, 15)
        self.assertTrue(s.running())
        self.assertGreaterEqual(len(STARTED_RE.findall(s.log())), 2)
        # the senders get through to the new worker, then stop
        self.assertTrue(wait_for(lambda: b.count() >= at_kill + 10, 30),
                        "no mail accepted after the restart:\n%s" % s.log_tail())
        b.stop.set()
        b.join(self)

        # a second death soon after: the back-off doubles
        self.assertTrue(wait_for(lambda: s.log().count("ready hostname=") >= 2, 10))
        os.kill(w2, signal.SIGKILL)
        self.assertTrue(wait_for(lambda: "worker pid=%d status=killed signal=9" % w2 in s.log(),
                                 5), s.log_tail())
        self.assertTrue(wait_for(lambda: "worker restart_in=2s" in s.log(), 5), s.log_tail())
        w3 = s.worker_pid(timeout=8, not_in=(w1, w2))
        self.assertIsNotNone(w3, s.log_tail())
        s.wait_ready(10)
        self.assertGreaterEqual(len(STARTED_RE.findall(s.log())), 3)

        acked = pre + b.acked
        s.wait_queue_empty(timeout=60)
        ids = message_ids(s.messages("alice"))
        self.assertEqual(sorted(m for m in acked if ids[m] != 1), [],
                         "acknowledged but lost or duplicated (of %d acked, %d failed)"
                         % (len(acked), b.failed))
        self.assertEqual(sorted(m for m, n in ids.items() if n > 1), [], "duplicates")

    def test_parent_sigterm(self):
        """7: SIGTERM to the parent: sessions get 421, exit 0 within 30 s,
        the worker is gone, the port is free"""
        s = self.server()
        w = s.worker_pid()
        self.assertIsNotNone(w)
        c = self.sess(s)
        t0 = time.monotonic()
        s.signal(signal.SIGTERM)
        s.expect_exit = True
        self.assertReply(c.reply(10), 421, R_SHUTDOWN)
        self.assertEqual(s.wait_exit(30), 0, s.log_tail())
        self.assertLess(time.monotonic() - t0, 30)
        self.assertTrue(wait_for(lambda: not pid_alive(w), 5), "worker %d still alive" % w)
        self.assertTrue(port_free(s.port), "port %d still bound" % s.port)
        self.assertRegex(s.log(), r"worker pid=%d status=exited code=0\b" % w)
        self.assertFalse(os.path.exists(os.path.join(s.spool, "control.sock")))

    def test_parent_sigkill_worker_follows(self):
        """8: SIGKILL to the parent: the worker dies too (pdeathsig), a new
        daemon starts on the same port"""
        s = self.server()
        w = s.worker_pid()
        self.assertIsNotNone(w)
        port = s.port
        s.kill9()
        self.assertTrue(wait_for(lambda: not pid_alive(w), 5),
                        "worker %d survived its parent" % w)
        self.assertTrue(wait_for(lambda: port_free(port), 5), "port %d still bound" % port)
        s.start()
        self.assertEqual(s.port, port, "the harness had to move to another port")
        w2 = s.worker_pid()
        self.assertIsNotNone(w2)
        self.assertNotEqual(w2, w)
        self.assertQueued(s.send_mail())
        s.wait_messages("alice")


class SandboxTests(PrivsepBase):

    def gdb_open(self, pid, paths):
        """gdb_open - open(path, O_RDONLY) called inside pid by gdb, for each
        path: [(return value, errno)]; the fds opened are closed again"""
        # A string literal as an argument would be copied into memory gdb
        # mallocs in the worker and never frees (LeakSanitizer reports it
        # at exit): the names go into one buffer that is freed at the end.
        script = ["set $buf = (char *)(void *)malloc(4096)"]
        for p in paths:
            assert '"' not in p and "\\" not in p and len(p) < 4096, p
            script.append('set {char[%d]}$buf = "%s"' % (len(p.encode()) + 1, p))
            script.append("call (int)open($buf, 0)")
            script.append("call (int)*(int*)__errno_location()")
        for i in range(len(paths)):
            v = "$%d" % (2 * i + 1)
            script.append("call (int)close(%s >= 0 ? %s : -1)" % (v, v))
        script.append("call (void)free($buf)")
        vals = self.gdb_run(pid, script, 2 * len(paths))
        return [(vals[2 * i], vals[2 * i + 1]) for i in range(len(paths))]

    def test_landlock_denies_outside_files(self):
        """9: inside the worker, open() of /etc/shadow, a world-readable key
        copy, the mail user's own key file, the config and the users file
        fails with EACCES (Landlock, not permissions); spool and mailbox
        files open"""
        self.need_tool("gdb")
        s = tls_server(self)
        w = s.worker_pid()
        self.assertIsNotNone(w)
        self.assertTrue(wait_for(lambda: "sandbox landlock=" in s.log(), 5), s.log_tail())
        if "sandbox landlock=unsupported" in s.log():
            self.skipTest("skipped: the kernel has no Landlock")
        self.assertRegex(s.log(), r"sandbox landlock=abi\d+ no_new_privs=yes")
        uid, gid = daemon_ids()
        copy = os.path.join(s.dir, "key-copy.pem")
        shutil.copyfile(s.pki.key, copy)
        os.chmod(copy, 0o644)
        inspool = os.path.join(s.spool, "probe.txt")
        inmail = os.path.join(s.mail, "probe.txt")
        for p in (inspool, inmail):
            with open(p, "w") as f:
                f.write("probe\n")
            os.chown(p, uid, gid)
        denied = [copy, s.pki.key, s.conf_path, s.users_path]
        # the mail user may read them all as far as permissions go
        self.assertEqual(readable_as(uid, gid, denied + [inspool, inmail]), [])
        got = self.gdb_open(w, ["/etc/shadow"] + denied + [inspool, inmail])
        want = [(-1, EACCES)] * (1 + len(denied))
        self.assertEqual(got[:1 + len(denied)], want,
                         "open() in the worker: %r" % list(zip(["/etc/shadow"] + denied, got)))
        for p, (fd, err) in zip((inspool, inmail), got[1 + len(denied):]):
            self.assertGreaterEqual(fd, 0, "open(%s) in the worker failed: errno %d" % (p, err))
        self.assertTrue(s.running())
        self.assertEqual(s.worker_pid(timeout=2), w, "the worker died under gdb")
        self.assertQueued(s.send_mail())
        s.wait_messages("alice")


class SeccompTests(PrivsepBase):
    """the worker's system call filter: on by default (Seccomp: 2), a call
    outside the list fails with EPERM and is logged, the worker lives on;
    [server] seccomp = no turns it off"""

    def unshare_in(self, w):
        """unshare_in - unshare(0) (a no-op that any process may do) called
        inside the worker: (return value, errno)"""
        nr = 272 if os.uname().machine == "x86_64" else 97   # aarch64
        vals = self.gdb_run(w, ["call (long)syscall(%d, 0)" % nr,
                                "call (int)*(int*)__errno_location()"], 2)
        return vals[0], vals[1]

    def test_filter_denies_and_logs(self):
        s = self.server()
        w = s.worker_pid()
        self.assertIsNotNone(w)
        self.assertTrue(wait_for(lambda: "sandbox seccomp=" in s.log(), 5), s.log_tail())
        self.assertRegex(s.log(), r"sandbox seccomp=on syscalls=\d+")
        st = proc_status(w)
        self.assertEqual(st.get("Seccomp"), "2", st)
        self.assertEqual(self.unshare_in(w), (-1, EPERM))
        self.assertTrue(wait_for(lambda: 'seccomp denied syscalls="unshare"' in s.log(), 20),
                        s.log_tail())
        self.assertEqual(s.worker_pid(timeout=2), w, "the worker died")
        self.assertQueued(s.send_mail())
        s.wait_messages("alice")

    def test_filter_off(self):
        s = self.server(seccomp="no")
        w = s.worker_pid()
        self.assertIsNotNone(w)
        self.assertTrue(wait_for(lambda: "sandbox seccomp=off" in s.log(), 5), s.log_tail())
        self.assertEqual(proc_status(w).get("Seccomp"), "0")
        self.assertEqual(self.unshare_in(w)[0], 0)     # allowed: nothing stops it


class CliTests(MailportTest):
    """12, 13: no root needed"""

    def run_bin(self, argv, **kw):
        env = dict(os.environ)
        for k, v in SAN_ENV.items():
            env.setdefault(k, v)
        env.pop("MAILPORT_CONFIG", None)
        r = subprocess.run(argv, capture_output=True, timeout=30, env=env, cwd="/",
                           stdin=subprocess.DEVNULL, **kw)
        r.stdout = r.stdout.decode("utf-8", "replace")
        r.stderr = r.stderr.decode("utf-8", "replace")
        self.assertNotIn("Sanitizer", r.stderr)
        self.assertNotIn("runtime error", r.stderr)
        return r

    def test_worker_by_hand(self):
        """12: `mailport worker` not started by serve: exit 2, a message"""
        b = binary()
        sh = which("sh")
        cases = [("no fd 3", [b, "worker"]),
                 ("extra argument", [b, "worker", "x"]),
                 ("fd 3 /dev/null", [sh, "-c", 'exec "$0" worker 3</dev/null', b]),
                 ("fd 3 a pipe", [sh, "-c", ': | exec "$0" worker 3<&0', b])]
        for name, argv in cases:
            with self.subTest(name):
                r = self.run_bin(argv)
                self.assertEqual(r.returncode, 2, "%s: %r" % (name, r))
                self.assertIn("mailport serve", r.stderr)
                self.assertEqual(r.stdout, "")

    def test_reload_usage(self):
        """`mailport reload` takes no words and no queue options: exit 64
        with the usage; --help: exit 0"""
        for argv in (["x"], ["--all"], ["--domain", "a.test"], ["--bogus"]):
            with self.subTest(argv=argv):
                r = self.run_bin([binary(), "reload"] + argv)
                self.assertEqual(r.returncode, 64, r)
                self.assertIn("usage: mailport reload", r.stderr)
        r = self.run_bin([binary(), "reload", "--help"])
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("usage: mailport reload", r.stdout)

    def test_reload_without_daemon(self):
        """13: `mailport reload` with nothing running: exit 69"""
        s = self.server(start=False)
        r = self.run_bin([binary(), "reload", "-c", s.conf_path])
        self.assertEqual(r.returncode, 69, r)
        self.assertIn(os.path.join(s.spool, "control.sock"), r.stderr)
        self.assertEqual(r.stdout, "")
