"""test_durability - CHECKLIST G (local faults): disk full (a 1 MB tmpfs
as the spool, root only), kill -9 before and after the 250 (also at a
random moment under a load of concurrent clients), corrupt or truncated
queue files quarantined at start-up, incoming/ leftovers removed.
"""

import os
import random
import re
import threading
import time

from harness import (R_DATA_OK, R_LOCAL_ERROR, R_NOOP, R_NO_SPACE, R_RCPT_OK, R_SENDER_OK,
                     MailportTest, daemon_ids, message, wait_for)


def chown_tree(path):
    ids = daemon_ids()
    if not ids:
        return
    for root, dirs, files in os.walk(path):
        os.chown(root, *ids)
        for f in files:
            os.chown(os.path.join(root, f), *ids)


class SpaceCheckTests(MailportTest):

    def test_size_precheck_without_tmpfs(self):
        """SIZE= that the disk cannot hold (free >= 1.5 * SIZE + 16 MiB is
        required): 452 4.3.1 at MAIL, no root needed"""
        s = self.server(max_message_size=1 << 40)  # the largest value the config takes
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test> SIZE=%d" % (1 << 40), 452, R_NO_SPACE)
        self.assertCmd(c, b"MAIL FROM:<a@client.test> SIZE=1000", 250, R_SENDER_OK)


class DiskFullTests(MailportTest):
    """the spool on a small tmpfs (root only)"""

    def full_server(self, size):
        self.need_root()
        s = self.server(start=False)
        self.mount_tmpfs(s.spool, size)
        chown_tree(s.spool)
        s.start()
        return s

    def test_disk_full_during_data(self):
        """24 MiB of spool passes the free-space check at MAIL (16 MiB +
        1.5 x SIZE, src/queue/queue.h), a 30 MB message then runs out of
        space: 452 4.3.1 (or 451) after the real end, never 250, and the
        temporary file is gone (a small message fits again)"""
        s = self.full_server("24m")
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        self.assertCmd(c, b"DATA", 354, R_DATA_OK)
        body = (b"x" * 998 + b"\r\n") * 30000
        c.send(message("full", body=body) + b".\r\n")
        r = c.reply(120)
        self.assertNotEqual(r.code, 250, "250 although the spool is full")
        self.assertIn((r.code, r.text), ((452, R_NO_SPACE), (451, R_LOCAL_ERROR)))
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        self.assertTrue(wait_for(lambda: not s.incoming_files(), 10), s.incoming_files())
        self.assertEqual(s.queue_files(), [])
        self.assertEqual(s.mailboxes(), {})
        self.assertQueued(c.mail_to("a@client.test", ["bob@example.test"], message("fits")))
        s.wait_messages("bob")

    def test_full_spool_refused_at_mail(self):
        """1 MiB of spool: MAIL with SIZE= gets 452 4.3.1; without SIZE= it
        may be refused at once too; a message is never acknowledged"""
        s = self.full_server("1m")
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test> SIZE=2000000", 452, R_NO_SPACE)
        r = c.cmd(b"MAIL FROM:<a@client.test>")
        if r.code == 250:
            self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
            self.assertCmd(c, b"DATA", 354, R_DATA_OK)
            c.send(message("full", body=(b"x" * 998 + b"\r\n") * 2100) + b".\r\n")
            r = c.reply(60)
            self.assertIn((r.code, r.text), ((452, R_NO_SPACE), (451, R_LOCAL_ERROR)))
        else:
            self.assertReply(r, 452, R_NO_SPACE)
        self.assertCmd(c, b"NOOP", 250, R_NOOP)
        self.assertTrue(wait_for(lambda: not s.incoming_files(), 10), s.incoming_files())
        self.assertEqual(s.queue_files(), [])
        self.assertEqual(s.mailboxes(), {})


class KillTests(MailportTest):

    def test_kill9_mid_data(self):
        s = self.server()
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<a@client.test>", 250, R_SENDER_OK)
        self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
        self.assertCmd(c, b"DATA", 354, R_DATA_OK)
        c.send(message("partial", body=b"y" * 300000))
        time.sleep(0.3)
        s.kill9()
        c.close()
        s.start()
        self.assertTrue(wait_for(lambda: not s.incoming_files(), 10), s.incoming_files())
        time.sleep(1.0)
        self.assertEqual(s.queue_files(), [])
        self.assertEqual(s.mailboxes(), {})

    def test_kill9_after_250_local(self):
        s = self.server()
        c = s.session()
        r = c.mail_to("a@client.test", ["alice@example.test"], message("acked"))
        s.kill9()
        qid = self.assertQueued(r)
        s.start()
        s.wait_queue_empty()
        msgs = s.messages("alice")
        self.assertEqual(len(msgs), 1, "acknowledged message lost or duplicated")
        self.assertIn(qid.encode(), msgs[0])

    def test_kill9_after_250_relay(self):
        s = self.server()
        c = s.session()
        qid = self.assertQueued(c.mail_to("a@client.test", ["bob@foreign.test"], message("acked relay")))
        s.kill9()
        s.start()
        time.sleep(1.0)
        self.assertEqual(s.queue_files(), [qid])
        self.assertEqual(s.corrupt_files(), [])

    def test_kill9_during_delivery(self):
        """kill -9 while a message for 200 mailboxes is being delivered:
        after the restart every mailbox has its copy, exactly once
        (deterministic Maildir names, src/deliver/local.h)"""
        s = self.server()
        c = s.session()
        rcpts = ["k%d@example.test" % i for i in range(200)]
        r = c.mail_to("a@client.test", rcpts, message("mid delivery"))
        time.sleep(random.random() * 0.05)
        s.kill9()
        self.assertQueued(r)
        s.start()
        s.wait_queue_empty(timeout=60)
        boxes = s.mailboxes()
        self.assertEqual(len(boxes), 200)
        self.assertEqual(set(boxes.values()), {1}, "a recipient got two copies")

    def test_queue_ids_unique_across_restarts(self):
        """quick restarts (SIGTERM and kill -9) must not reuse a queue id:
        Maildir names are fixed per (qid, recipient), so a reused id would
        silently drop the new message as already delivered"""
        s = self.server()
        qids = []
        for rnd in range(4):
            for i in range(3):
                qids.append(self.assertQueued(s.send_mail(data=message("r%d-%d" % (rnd, i)))))
            s.wait_queue_empty()
            if rnd % 2:
                s.kill9()
            else:
                self.assertEqual(s.stop(), 0)
            s.start()
        self.assertEqual(len(set(qids)), len(qids), "queue id reused")
        s.wait_queue_empty()
        self.assertEqual(s.count("alice"), 12)

    def test_restart_does_not_redeliver(self):
        s = self.server()
        for i in range(5):
            self.assertQueued(s.send_mail(data=message("once%d" % i)))
        s.wait_queue_empty()
        self.assertEqual(s.stop(), 0)
        s.start()
        time.sleep(1.5)
        self.assertEqual(s.count("alice"), 5)


class LoadKillTests(MailportTest):
    """kill -9 at a random moment under concurrent clients: every message
    that got a 250 is delivered (at least once), nothing whose end of data
    was never sent is delivered, every delivered message is intact, and
    incoming/ is cleaned at restart"""

    CLIENTS = 8

    def load(self, s, stop, state, lock):
        def one(n):
            i = 0
            while not stop.is_set():
                mid = "L%d-%d-%d" % (state["round"], n, i)
                i += 1
                body = b"".join(b"%s line %d\r\n" % (mid.encode(), k) for k in range(200))
                data = message(mid, headers=["X-Test-ID: " + mid], body=body + b"END-OF-" + mid.encode() + b"\r\n")
                try:
                    c = s.session(timeout=5)
                    self.assertCmd(c, b"MAIL FROM:<load@client.test>", 250, R_SENDER_OK)
                    self.assertCmd(c, b"RCPT TO:<alice@example.test>", 250, R_RCPT_OK)
                    self.assertCmd(c, b"DATA", 354, R_DATA_OK)
                    q = len(data) // 3
                    for part in (data[:q], data[q:2 * q], data[2 * q:]):
                        c.send(part)
                        time.sleep(random.random() * 0.01)
                    with lock:
                        state["end_sent"].add(mid)
                    c.send(b".\r\n")
                    r = c.reply(10)
                    if r.code == 250:
                        with lock:
                            state["acked"].add(mid)
                    c.close()
                except Exception:  # noqa: BLE001 - the server may be killed at any moment
                    if stop.is_set():
                        return
                    time.sleep(0.05)
        return [threading.Thread(target=one, args=(n,), daemon=True) for n in range(self.CLIENTS)]

    def test_kill9_under_load(self):
        s = self.server()
        state = {"end_sent": set(), "acked": set(), "round": 0}
        lock = threading.Lock()
        for rnd in range(3):
            state["round"] = rnd
            stop = threading.Event()
            ts = self.load(s, stop, state, lock)
            for t in ts:
                t.start()
            time.sleep(0.7 + random.random() * 1.5)
            s.kill9()
            stop.set()
            for t in ts:
                t.join(15)
            s.start()
        s.wait_queue_empty(timeout=60)
        self.assertEqual(s.incoming_files(), [])
        delivered = {}
        for m in s.messages("alice"):
            mid = re.search(rb"\nX-Test-ID: (\S+)\n", m)
            self.assertTrue(mid, m[:300])
            mid = mid.group(1).decode()
            delivered[mid] = delivered.get(mid, 0) + 1
            self.assertTrue(m.endswith(b"\nEND-OF-%s\n" % mid.encode()), "truncated message %s" % mid)
            self.assertEqual(m.count(b"%s line " % mid.encode()), 200, "damaged message %s" % mid)
        self.assertGreater(len(state["acked"]), 0, "no message was acknowledged at all")
        lost = state["acked"] - set(delivered)
        self.assertEqual(lost, set(), "acknowledged messages lost")
        partial = set(delivered) - state["end_sent"]
        self.assertEqual(partial, set(), "messages delivered although their end was never sent")
        # the restarted server takes new mail
        self.assertQueued(s.send_mail(data=message("after kills")))


class CorruptQueueTests(MailportTest):

    def test_corrupt_files_quarantined(self):
        s = self.server(start=False)
        for sub in ("incoming", "queue", "corrupt"):
            os.makedirs(os.path.join(s.spool, sub), exist_ok=True)
        env = (b"MAILPORT-QUEUE 1\nid QQnoend\narrival 1700000000\nclient 127.0.0.1\nhelo x.test\n"
               b"proto ESMTP\nfrom a@client.test\n"
               b"rcpt local alice@example.test example.test alice alice@example.test 0 - -\n.\n")
        msg = b"Received: from x.test ([127.0.0.1])\r\n\tby mx.example.test with ESMTP id QQnoend\r\n" \
              b"\tfor <alice@example.test>; Mon, 3 Nov 2025 10:00:00 +0000\r\n" \
              b"Subject: corrupt\r\n\r\nbody\r\n"
        files = {
            "QQgarbage": bytes(random.getrandbits(8) for _ in range(4096)),
            "QQempty": b"",
            "QQmagiconly": b"MAILPORT-QUEUE 1\n",
            "QQtruncenv": env[:60],
            "QQnoend": env + msg,
            "QQbadcount": env + msg + b"\nMPQ-END %016x\n" % (len(msg) + 7),
            "QQbadtrailer": env + msg + b"\nMPQ-END zzzzzzzzzzzzzzzz\n",
            "QQwrongmagic": b"MAILPORT-QUEUE 9\n" + env[17:] + msg + b"\nMPQ-END %016x\n" % len(msg),
            "QQhugeenv": b"MAILPORT-QUEUE 1\n" + b"rcpt " + b"x" * 200000 + b"\n",
        }
        for name, data in files.items():
            with open(os.path.join(s.spool, "queue", name), "wb") as f:
                f.write(data)
        with open(os.path.join(s.spool, "incoming", "QQleftover"), "wb") as f:
            f.write(env + msg[:20])
        chown_tree(s.spool)
        s.start()
        self.assertTrue(wait_for(lambda: not s.queue_files() and not s.incoming_files(), 10),
                        (s.queue_files(), s.incoming_files()))
        self.assertEqual(sorted(s.corrupt_files()), sorted(files))
        self.assertTrue(s.running())
        time.sleep(0.5)
        self.assertEqual(s.mailboxes(), {}, "a damaged queue file was delivered")
        # the server keeps working
        self.assertQueued(s.send_mail(data=message("after corrupt")))
        s.wait_messages("alice")
        c = s.session()
        self.assertCmd(c, b"NOOP", 250, R_NOOP)

