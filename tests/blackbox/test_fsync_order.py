"""test_fsync_order - the durability contract, seen from the kernel.

CHECKLIST G ("Power loss"): under strace, the order for one message must be
fsync(file) < rename into queue/ < fsync(queue dir) < write of "250 2.6.0".
Each step must have *finished* before the next one starts (strace -ttt -T
gives start time and duration).  Local delivery: the Maildir file is fsynced
before its rename into new/, and new/ is fsynced before the recipient is
recorded as done.
"""
import os
import re
import subprocess
import time

from harness import MailportTest, message, which

LINE = re.compile(r'^(?:\[pid\s+)?(\d+)\]?\s+(\d+\.\d+)\s+(.*)$')
DONE = re.compile(r'<(\d+\.\d+)>\s*$')


def parse_strace(text):
    """parse_strace - [(start, end, call_text)] with unfinished/resumed
    pairs joined; end = start + duration"""
    calls, pending = [], {}
    for raw in text.splitlines():
        m = LINE.match(raw)
        if not m:
            continue
        pid, t, rest = m.group(1), float(m.group(2)), m.group(3)
        if rest.endswith("<unfinished ...>"):
            pending[pid] = (t, rest)
            continue
        if rest.startswith("<..."):
            start, head = pending.pop(pid, (t, rest))
            rest = head + " " + rest
            t = start
        d = DONE.search(rest)
        calls.append((t, t + (float(d.group(1)) if d else 0.0), rest))
    return calls


def first(calls, pred, after=0.0):
    for c in calls:
        if c[0] >= after and pred(c[2]):
            return c
    return None


class FsyncOrderTests(MailportTest):

    def strace_server(self):
        if not which("strace"):
            self.skipTest("skipped: strace not installed")
        s = self.server()
        out = os.path.join(s.dir, "strace.txt")
        # the worker process does the disk work and the replies (the
        # parent only reads configs); -f with -p attaches to all its threads
        worker = s.worker_pid()
        self.assertIsNotNone(worker, "no worker process")
        args = ["strace", "-f", "-ttt", "-T", "-y", "-s", "80", "-o", out,
                "-e", "trace=fsync,fdatasync,rename,renameat,renameat2,unlink,unlinkat,write,writev,"
                "sendmsg,sendto",
                "-p", str(worker)]
        tr = subprocess.Popen(args, stderr=subprocess.DEVNULL)
        time.sleep(1.0)          # attach
        self.on_teardown(lambda: (tr.terminate(), tr.wait(10)))
        return s, tr, out

    def test_commit_order_before_250(self):
        s, tr, out = self.strace_server()
        c = s.session()
        r = c.mail_to("sender@example.net", ["alice@example.test"], message("fsync order"))
        self.assertEqual(r.code, 250, r)
        qid = re.search(r"<([0-9A-Za-z]+)@", r.text).group(1)
        s.wait_messages("alice")
        s.wait_queue_empty()
        time.sleep(0.5)
        tr.terminate()
        tr.wait(10)
        calls = parse_strace(open(out, errors="replace").read())
        self.assertTrue(calls, "strace recorded nothing")
        fs_file = first(calls, lambda x: re.match(r"f(data)?sync\(\d+<[^>]*/incoming/%s>" % qid, x))
        self.assertIsNotNone(fs_file, "no fsync of incoming/%s" % qid)
        # renameat2(<dirfd incoming>, "QID", <dirfd queue>, "QID", ...)
        ren = first(calls, lambda x: x.startswith("rename") and "/incoming>" in x and qid in x
                    and "/queue>" in x, fs_file[1])
        self.assertIsNotNone(ren, "no rename into queue/ after the file's fsync")
        fs_dir = first(calls, lambda x: re.match(r"f(data)?sync\(\d+<[^>]*/queue>", x), ren[1])
        self.assertIsNotNone(fs_dir, "no fsync of queue/ after the rename")
        ack = first(calls, lambda x: "250 2.6.0" in x)
        self.assertIsNotNone(ack, "the 250 2.6.0 write was not seen")
        self.assertGreaterEqual(ack[0], fs_dir[1],
                                "250 written before the queue directory was fsynced:\n%r\n%r"
                                % (fs_dir, ack))

    def test_maildir_order(self):
        s, tr, out = self.strace_server()
        c = s.session()
        r = c.mail_to("sender@example.net", ["alice@example.test"], message("maildir order"))
        self.assertEqual(r.code, 250, r)
        s.wait_messages("alice")
        s.wait_queue_empty()
        time.sleep(0.5)
        tr.terminate()
        tr.wait(10)
        calls = parse_strace(open(out, errors="replace").read())
        fs_tmp = first(calls, lambda x: re.match(r"f(data)?sync\(\d+<[^>]*/alice/tmp/[^>]+>", x))
        self.assertIsNotNone(fs_tmp, "the Maildir tmp file was not fsynced")
        ren = first(calls, lambda x: x.startswith("rename") and "/alice/new>" in x, fs_tmp[1])
        self.assertIsNotNone(ren, "no rename into new/ after the fsync")
        fs_new = first(calls, lambda x: re.match(r"f(data)?sync\(\d+<[^>]*/alice/new>", x), ren[1])
        self.assertIsNotNone(fs_new, "new/ not fsynced after the rename")
        # the outcome is recorded only after new/ is synced: a status record
        # fsynced, or (every recipient done) the queue file unlinked and
        # queue/ synced; never before
        done = first(calls, lambda x: re.match(r"f(data)?sync\(\d+<[^>]*\.done>", x), fs_new[1])
        gone = first(calls, lambda x: x.startswith("unlinkat(") and "/queue>" in x and
                     ".done" not in x, fs_new[1])
        self.assertTrue(done or gone, "the recipient's outcome was not recorded after new/")
        if gone:
            fs_q = first(calls, lambda x: re.match(r"f(data)?sync\(\d+<[^>]*/queue>", x), gone[1])
            self.assertIsNotNone(fs_q, "queue/ not fsynced after the message was removed")
        early = first(calls, lambda x: x.startswith("unlinkat(") and "/queue>" in x and
                      ".done" not in x)
        self.assertTrue(early is None or early[0] >= fs_new[1],
                        "the queue file was removed before new/ was synced")
