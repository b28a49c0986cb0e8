"""test_remote - delivery to other domains (issue 7; CHECKLIST section H).

Everything runs on loopback: a dnsmasq on 127.0.0.153 (dnsutil.py) serves
the zone "test"; the daemon gets "[dns] servers" pointing at it and
"[smtp] port = P", so every MX delivery goes to port P of the addresses
dnsmasq hands out, where the receiving servers listen: fakemx.FakeMX (a
scripted SMTP server that records the raw bytes and misbehaves on
request), Postfix's smtp-sink, and a throwaway Postfix instance.  The
sender of the test messages is a local address (alice@example.test), so
the delivery status notifications land in its Maildir, where they are
parsed with Python's email package.

Environment: MAILPORT_TEST_REMOTE_MSGS (messages of the exactly-once run,
default 2000; the issue's 10,000 run is `MAILPORT_TEST_REMOTE_MSGS=10000
python3 tests/blackbox/run.py test_many_relayed`).
"""

import email
import email.policy
import email.utils
import os
import re
import struct
import subprocess
import threading
import time
from collections import Counter

from dnsutil import (RCODE_OK, T_A, T_MX, Dnsmasq, StubDNS, build_reply, name, rr_a, rr_mx)
from fakemx import DEFAULT_EXT, DROP, HANG, FakeMX, Sink, per_rcpt, self_signed, server_ctx
from harness import (HOST, MailportTest, ProtocolError, binary, dot_stuff, have_ipv6, message,
                     reserve_port, wait_for)

ALICE = "alice@example.test"
SENDER_RE = re.compile(r"^Return-Path: <>", re.M)
MSGS = int(os.environ.get("MAILPORT_TEST_REMOTE_MSGS", "2000"))


def mail_cmds(f):
    """mail_cmds - the MAIL commands a fake MX got (one per transaction;
    sessions are cached, so they do not count attempts)"""
    return [c for c in f.commands() if c.upper().startswith(b"MAIL FROM")]


def deliver_re(rcpt, status, dsn=None, code=None, relay=None):
    """deliver_re - a regex for the daemon's delivery log line"""
    r = r"deliver qid=\S+ to=<%s> relay=%s status=%s" % (
        re.escape(rcpt), re.escape(relay) if relay else r"\S+", status)
    if dsn:
        r += r" dsn=%s" % re.escape(dsn)
    if code:
        r += r" code=%s" % code
    return r


class RemoteTest(MailportTest):
    """RemoteTest - fixtures: one MX port per test, dnsmasq, receivers,
    a daemon wired to them, a submitter with ESMTP parameters, and the
    DSN reader"""

    def setUp(self):
        super().setUp()
        self.mxport, fd = reserve_port()
        self.addCleanup(os.close, fd)

    def dns(self, **kw):
        return Dnsmasq(self, **kw)

    def fake(self, addr, **kw):
        return FakeMX(self, addr, self.mxport, **kw)

    def sink(self, addr, *opts, **kw):
        return Sink(self, addr, self.mxport, opts, **kw)

    def mp(self, dns, start=True, **opts):
        """mp - a daemon that resolves through dns and delivers to port P"""
        opts.setdefault("servers", dns.servers if hasattr(dns, "servers") else dns)
        opts.setdefault("port", self.mxport)
        opts.setdefault("retry_min", 1)
        opts.setdefault("retry_max", 2)
        opts.setdefault("connect_timeout", 3)
        s = self.server(start=False, **opts)
        orig = s.client

        def client(**kw):
            c = orig(**kw)
            self.on_teardown(c.close)
            return c
        s.client = client
        if start:
            s.start()
        return s

    def submit(self, s, rcpts, data=None, sender=ALICE, mail_params="", rcpt_params=None,
               subject="remote"):
        """submit - one message into the daemon; returns its queue id"""
        if data is None:
            data = message(subject, sender=sender, to=rcpts[0])
        rcpt_params = rcpt_params or {}
        c = s.session()
        try:
            self.assertCmd(c, ("MAIL FROM:<%s>%s" % (sender, mail_params)).encode(), 250)
            for r in rcpts:
                p = rcpt_params.get(r, "")
                self.assertCmd(c, ("RCPT TO:<%s>%s" % (r, p)).encode(), 250)
            reply = c.data(data)
            qid = self.assertQueued(reply)
            c.cmd(b"QUIT")
        finally:
            c.close()
        return qid

    def wait_log(self, s, regex, timeout=20.0, count=1, tail=None):
        """wait_log - the daemon log once regex matched count times; on
        failure the message shows the log lines holding `tail` (or the
        last 40 lines)"""
        ok = wait_for(lambda: len(re.findall(regex, s.log())) >= count, timeout)
        if not ok:
            shown = ("\n".join(l for l in s.log().splitlines() if tail in l) if tail
                     else s.log_tail(40))
            self.fail("log: %d x %r after %.0fs, want %d; log:\n%s"
                      % (len(re.findall(regex, s.log())), regex, timeout, count, shown))
        return re.findall(regex, s.log())

    def dsns(self, s, n=1, timeout=20.0, local="alice", settle=0.5):
        """dsns - the n reports in local's Maildir, parsed; fails when there
        are fewer, or more after settle seconds"""
        s.wait_messages(local, n, timeout=timeout)
        if settle:
            time.sleep(settle)
        msgs = s.messages(local)
        self.assertEqual(len(msgs), n, "want %d message(s) in %s's Maildir, got:\n%s"
                         % (n, local, b"\n=====\n".join(m[:600] for m in msgs)
                            .decode("utf-8", "replace")))
        return [parse_report(self, m) for m in msgs]

    def assertNoDSN(self, s, wait=1.0, local="alice"):
        time.sleep(wait)
        self.assertEqual(s.messages(local), [], "unexpected message for %s" % local)

    def assertQueuedStill(self, s, n=1):
        self.assertEqual(len(s.queue_files()), n, "queue: %r" % s.queue_files())


class Report:
    """Report - a parsed RFC 3464 report: .msg (email.message.Message),
    .human (str), .fields (per-message fields), .rcpts ([per-recipient
    fields]), .original (the third part or None), .raw (bytes)"""

    def __init__(self, raw, msg, human, fields, rcpts, original):
        self.raw, self.msg, self.human = raw, msg, human
        self.fields, self.rcpts, self.original = fields, rcpts, original

    def original_headers(self):
        """original_headers - the returned message's header (a Message),
        from a message/rfc822 or a text/rfc822-headers part"""
        if self.original is None:
            return None
        if self.original.get_content_type() == "message/rfc822":
            return self.original.get_payload()[0]
        return email.message_from_string(self.original.get_payload(), policy=email.policy.compat32)

    def rcpt(self, addr):
        for r in self.rcpts:
            if r["Final-Recipient"].split(";", 1)[1].strip().lower() == addr.lower():
                return r
        raise AssertionError("no recipient block for %s in %r"
                             % (addr, [r["Final-Recipient"] for r in self.rcpts]))


class Fields:
    """Fields - the header fields of one delivery-status block, unfolded
    (RFC 5322 2.2.3), looked up case-insensitively; None when absent"""

    def __init__(self, block):
        self.block = block

    def __getitem__(self, k):
        v = self.block[k]
        return None if v is None else re.sub(r"\r?\n(?=[ \t])", "", str(v))

    def items(self):
        return [(k, self[k]) for k in self.block.keys()]


def parse_report(tc, raw):
    """parse_report - check the RFC 3462/3464 structure of a stored report
    and return a Report"""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    tc.assertTrue(SENDER_RE.search(raw.decode("latin-1").split("\n\n")[0]),
                  "report not sent from <>: %r" % raw[:300])
    tc.assertEqual(msg.get_content_type(), "multipart/report", raw[:500])
    tc.assertEqual(msg.get_param("report-type"), "delivery-status", raw[:500])
    tc.assertEqual(msg["From"], "Mail Delivery System <MAILER-DAEMON@%s>" % HOST)
    parts = msg.get_payload()
    tc.assertIn(len(parts), (2, 3), [p.get_content_type() for p in parts])
    tc.assertEqual(parts[0].get_content_type(), "text/plain")
    tc.assertEqual(parts[1].get_content_type(), "message/delivery-status")
    blocks = parts[1].get_payload()
    tc.assertGreaterEqual(len(blocks), 2, "delivery-status has no recipient block")
    fields = Fields(blocks[0])
    tc.assertEqual(fields["Reporting-MTA"], "dns; %s" % HOST)
    rcpts = [Fields(b) for b in blocks[1:]]
    for r in rcpts:
        for f in ("Final-Recipient", "Action", "Status"):
            tc.assertIsNotNone(r[f], "recipient block without %s: %r" % (f, r.items()))
        tc.assertRegex(r["Status"], r"^[245]\.\d{1,3}\.\d{1,3}$")
        for f in ("Last-Attempt-Date", "Will-Retry-Until"):
            if r[f] is not None:
                tc.assertIsNotNone(email.utils.parsedate_to_datetime(r[f]), r[f])
    original = parts[2] if len(parts) == 3 else None
    human = parts[0].get_payload(decode=True).decode("utf-8", "replace")
    return Report(raw, msg, human, fields, rcpts, original)


# ====================================================================== routing

class RoutingTests(RemoteTest):

    def test_mx_delivery_with_dsn_params(self):
        """the message reaches the MX with its DSN parameters and exactly
        the bytes we sent (plus our Received:), dot-stuffed on the wire"""
        dns = self.dns(mx={"r1.test": [(10, "mx1.r1.test")]}, a={"mx1.r1.test": "127.0.0.2"})
        fm = self.fake("127.0.0.2", name="mx1.r1.test")
        s = self.mp(dns)
        body = b".leading dot\r\n..two dots\r\nplain\r\n.\r\nend\r\n"
        data = message("params", body=body, sender=ALICE, to="bob@r1.test")
        qid = self.submit(s, ["bob@r1.test"], data, mail_params=" RET=HDRS ENVID=env+2Bid-1",
                          rcpt_params={"bob@r1.test": " NOTIFY=SUCCESS,FAILURE "
                                                      "ORCPT=rfc822;Bob@r1.test"})
        got = fm.wait_accepted(1)
        self.assertEqual(len(got), 1, fm.sessions)
        t = got[0]
        self.assertRegex(t.mail, rb"^MAIL FROM:<alice@example\.test>")
        mail_params = set(t.mail.split(b" ")[2:])
        self.assertIn(b"RET=HDRS", mail_params, t.mail)
        self.assertIn(b"ENVID=env+2Bid-1", mail_params, t.mail)
        self.assertTrue(any(p.startswith(b"SIZE=") for p in mail_params), t.mail)
        self.assertEqual(len(t.rcpts), 1)
        self.assertRegex(t.rcpts[0], rb"^RCPT TO:<bob@r1\.test>")
        rcpt_params = set(t.rcpts[0].split(b" ")[2:])
        self.assertIn(b"NOTIFY=SUCCESS,FAILURE", rcpt_params, t.rcpts[0])
        self.assertIn(b"ORCPT=rfc822;Bob@r1.test", rcpt_params, t.rcpts[0])
        # the wire bytes: our Received: on top, then the message, dot-stuffed
        self.assertTrue(t.data.startswith(b"Received: "), t.data[:200])
        self.assertIn(qid.encode(), t.data.split(b"\r\n\r\n")[0])
        self.assertTrue(t.data.endswith(dot_stuff(data)), t.data[-300:])
        self.assertTrue(t.message.endswith(data))
        self.wait_log(s, deliver_re("bob@r1.test", "sent", "2.0.0", 250,
                                    "mx1.r1.test[127.0.0.2]"))
        s.wait_queue_empty()
        # the peer offers DSN: NOTIFY=SUCCESS is its job, we send no report
        self.assertNoDSN(s, 1.0)

    def test_preference_order_and_fallback(self):
        """MX by preference (dnsmasq lists the higher one first); a host
        that refuses connections, a 421 greeting, an address that refuses
        before a working one: the next one is used, later ones never"""
        dns = self.dns(
            mx={"order.test": [(20, "b.order.test"), (10, "a.order.test"), (30, "c.order.test")],
                "fall.test": [(10, "down.fall.test"), (20, "up.fall.test"),
                              (30, "spare.fall.test")],
                "greet.test": [(10, "busy.greet.test"), (20, "ok.greet.test")],
                "addrs.test": [(10, "two.addrs.test")],
                "holes.test": [(10, "ghost.holes.test"), (20, "real.holes.test")]},
            a={"a.order.test": "127.0.0.2", "b.order.test": "127.0.0.3",
               "c.order.test": "127.0.0.4",
               "down.fall.test": "127.0.0.5", "up.fall.test": "127.0.0.6",
               "spare.fall.test": "127.0.0.7",
               "busy.greet.test": "127.0.0.8", "ok.greet.test": "127.0.0.9",
               "two.addrs.test": ["127.0.0.10", "127.0.0.11"],
               "real.holes.test": "127.0.0.12"})
        fa, fb, fc = (self.fake("127.0.0.%d" % i) for i in (2, 3, 4))
        fup, fspare = self.fake("127.0.0.6"), self.fake("127.0.0.7")
        fbusy = self.fake("127.0.0.8", replies={"CONNECT": "421 4.3.2 busy, try later"})
        fok = self.fake("127.0.0.9")
        f11 = self.fake("127.0.0.11")  # 127.0.0.10 refuses
        f12 = self.fake("127.0.0.12")  # ghost.holes.test has no address
        s = self.mp(dns)
        for rcpt in ("u@order.test", "u@fall.test", "u@greet.test", "u@addrs.test",
                     "u@holes.test"):
            self.submit(s, [rcpt])
        for f in (fa, fup, fok, f11, f12):
            self.assertEqual(len(f.wait_accepted(1)), 1, (f.addr, f.sessions, s.log_tail()))
        s.wait_queue_empty()
        time.sleep(0.3)
        for f in (fb, fc, fspare):
            self.assertEqual(f.sessions, [], "%s was used" % f.addr)
        self.assertEqual(len(fbusy.sessions), 1)
        self.assertEqual(fbusy.txns(), [])
        self.wait_log(s, deliver_re("u@fall.test", "sent", relay="up.fall.test[127.0.0.6]"))
        self.wait_log(s, deliver_re("u@addrs.test", "sent", relay="two.addrs.test[127.0.0.11]"))
        self.assertNoDSN(s, 0.2)

    def test_next_mx_after_a_dropped_session(self):
        """a session dropped by the best MX (after EHLO, or a 421 to MAIL)
        moves on to the next MX in the same attempt, not an hour later"""
        dns = self.dns(mx={"drop.test": [(10, "a.drop.test"), (20, "b.drop.test")],
                           "busy.test": [(10, "a.busy.test"), (20, "b.busy.test")]},
                       a={"a.drop.test": "127.0.0.2", "b.drop.test": "127.0.0.3",
                          "a.busy.test": "127.0.0.4", "b.busy.test": "127.0.0.5"})
        fa = self.fake("127.0.0.2", replies={"EHLO": DROP})
        fb = self.fake("127.0.0.3")
        fc = self.fake("127.0.0.4", replies={"MAIL": "421 4.3.2 closing"})
        fd = self.fake("127.0.0.5")
        s = self.mp(dns, retry_min=3600, retry_max=3600)
        self.submit(s, ["u@drop.test"])
        self.submit(s, ["u@busy.test"])
        self.assertEqual(len(fb.wait_accepted(1, 10)), 1, s.log_tail())
        self.assertEqual(len(fd.wait_accepted(1, 10)), 1, s.log_tail())
        self.assertEqual((len(fa.sessions), len(fc.sessions)), (1, 1))
        s.wait_queue_empty()

    def test_implicit_mx(self):
        """no MX: the domain's own A (and AAAA) is the mail exchanger"""
        a = {"amx.test": "127.0.0.4"}
        aaaa = {}
        if have_ipv6():
            aaaa = {"v6only.test": "::1"}
        dns = self.dns(a=a, aaaa=aaaa)
        f4 = self.fake("127.0.0.4")
        s = self.mp(dns)
        self.submit(s, ["bob@amx.test"])
        self.assertEqual(len(f4.wait_accepted(1)), 1, s.log_tail())
        self.wait_log(s, deliver_re("bob@amx.test", "sent", relay="amx.test[127.0.0.4]"))
        if aaaa:
            f6 = self.fake("::1")
            self.submit(s, ["bob@v6only.test"])
            self.assertEqual(len(f6.wait_accepted(1)), 1, s.log_tail())
        s.wait_queue_empty()
        self.assertNoDSN(s, 0.2)

    def test_permanent_dns_failures_bounce(self):
        """null MX -> 5.1.10, NXDOMAIN -> 5.1.2, neither MX nor address
        -> 5.4.4: one report per message, sent at once, nothing connects;
        two recipients of one domain share one report"""
        dns = self.dns(null_mx=["null.test"], txt={"noaddr.test": "exists"},
                       a={"null.test": "127.0.0.2"})
        f = self.fake("127.0.0.2")
        s = self.mp(dns, retry_min=3600)
        self.submit(s, ["u@null.test"], subject="nullmx")
        self.submit(s, ["u@nx.test"], subject="nxdomain")
        self.submit(s, ["u@noaddr.test"], subject="noaddr")
        self.submit(s, ["a@null.test", "b@null.test"], subject="two")
        reps = self.dsns(s, 4)
        by_subject = {}
        for r in reps:
            by_subject[r.original_headers()["Subject"]] = r
        self.assertEqual(set(by_subject), {"nullmx", "nxdomain", "noaddr", "two"},
                         [r.raw[:400] for r in reps])
        for subj, rcpt, status in (("nullmx", "u@null.test", "5.1.10"),
                                   ("nxdomain", "u@nx.test", "5.1.2"),
                                   ("noaddr", "u@noaddr.test", "5.4.4")):
            with self.subTest(subj):
                r = by_subject[subj]
                self.assertEqual(r.msg["Subject"], "Undelivered Mail Returned to Sender")
                self.assertEqual(len(r.rcpts), 1)
                b = r.rcpt(rcpt)
                self.assertEqual(b["Action"], "failed")
                self.assertEqual(b["Status"], status)
                self.assertIn(rcpt, r.human)
        two = by_subject["two"]
        self.assertEqual(sorted(b["Final-Recipient"] for b in two.rcpts),
                         ["rfc822; a@null.test", "rfc822; b@null.test"])
        self.wait_log(s, deliver_re("u@null.test", "bounced", "5.1.10", 556, "none"))
        self.wait_log(s, deliver_re("u@nx.test", "bounced", "5.1.2", 550, "none"))
        self.wait_log(s, deliver_re("u@noaddr.test", "bounced", "5.4.4", 550, "none"))
        s.wait_queue_empty()
        self.assertEqual(f.sessions, [], "null MX domain's A record was used")

    def test_servfail_and_timeout_defer(self):
        """SERVFAIL or no answer for the MX: deferred (4.4.3), retried,
        never bounced, never sent to the domain's A record"""
        dns = self.dns(servfail={"sf.test": {("sf.test", T_A): [rr_a("sf.test", "127.0.0.2")]}},
                       timeout=["slow.test"])
        f = self.fake("127.0.0.2")
        s = self.mp(dns)
        self.submit(s, ["u@sf.test"], subject="servfail")
        self.submit(s, ["u@slow.test"], subject="timeout")
        self.wait_log(s, deliver_re("u@sf.test", "deferred", "4.4.3", 451), count=2)
        self.wait_log(s, deliver_re("u@slow.test", "deferred", "4.4.3", 451), timeout=40)
        self.assertQueuedStill(s, 2)
        self.assertEqual(s.messages("alice"), [], "report for a temporary DNS failure")
        self.assertEqual(f.sessions, [], "fell back to the A record on SERVFAIL")
        self.assertNotIn("status=bounced", s.log())

    def test_mx_loops_back_to_myself(self):
        """an MX named like us, or at our own listen address and port: 5.4.6;
        a better MX than us is still used"""
        dns = self.dns(mx={"self.test": [(10, HOST)],
                           "selfaddr.test": [(10, "me.selfaddr.test")],
                           "backup.test": [(10, "primary.backup.test"), (20, HOST)]},
                       a={HOST: "127.0.0.1", "me.selfaddr.test": "127.0.0.1",
                          "primary.backup.test": "127.0.0.2"})
        s = self.mp(dns, start=False)
        s.opts["port"] = s.port  # MX delivery would reach our own listener
        s.write_config()
        s.start()
        f = FakeMX(self, "127.0.0.2", s.port)
        self.submit(s, ["u@self.test"], subject="byname")
        self.submit(s, ["u@selfaddr.test"], subject="byaddr")
        self.submit(s, ["u@backup.test"], subject="backup")
        self.assertEqual(len(f.wait_accepted(1)), 1, s.log_tail())
        reps = self.dsns(s, 2)
        got = sorted((r.rcpts[0]["Final-Recipient"], r.rcpts[0]["Status"]) for r in reps)
        self.assertEqual(got, [("rfc822; u@self.test", "5.4.6"),
                               ("rfc822; u@selfaddr.test", "5.4.6")])
        self.wait_log(s, deliver_re("u@self.test", "bounced", "5.4.6", 554))
        self.assertIn("loops back to myself", s.log())
        s.wait_queue_empty()

    def test_hostile_dns_answers(self):
        """crafted answers (compression loop, record past the end, a
        truncated packet, a huge answer count): deferred, no crash; a
        large answer set behind TC=1 is fetched over TCP (dnsmasq)"""
        def fn(qn, qt, pkt):
            if qn == "loop.test" and qt == T_MX:
                # an MX whose exchange name is a compression pointer to itself
                head = build_reply(pkt, RCODE_OK, [], ancount=1)
                rec = name("loop.test") + struct.pack(">HHIHH", T_MX, 1, 0, 4, 10)
                ptr = len(head) + len(rec)
                return head + rec + struct.pack(">H", 0xC000 | ptr)
            if qn == "past.test" and qt == T_MX:
                rec = rr_mx("past.test", 10, "mx.past.test")
                return build_reply(pkt, RCODE_OK, [rec[:-6]])  # rdlength beyond the end
            if qn == "trunc.test" and qt == T_MX:
                rec = rr_mx("trunc.test", 10, "mx.trunc.test")
                return build_reply(pkt, RCODE_OK, [rec])[:-len(rec) + 5]  # cut in the owner
            if qn == "count.test" and qt == T_MX:
                return build_reply(pkt, RCODE_OK, [rr_mx("count.test", 10, "mx.count.test")],
                                   ancount=65535)
            if qn == "longname.test" and qt == T_MX:
                host = ".".join(["a" * 63] * 5) + ".test"  # > 255 octets
                return build_reply(pkt, RCODE_OK, [rr_mx("longname.test", 10, host)])
            return build_reply(pkt, 3)
        stub = StubDNS(self, fn)
        s = self.mp(stub.server)
        doms = ("loop.test", "past.test", "trunc.test", "count.test", "longname.test")
        for d in doms:
            self.submit(s, ["u@" + d], subject=d)
        for d in doms:
            self.wait_log(s, r"deliver qid=\S+ to=<u@%s> relay=\S+ status=(deferred|bounced)"
                          % re.escape(d), timeout=30)
        self.assertTrue(s.running())
        self.assertNotIn("status=sent", s.log())
        # a big MX set (about 4.5 KB; dnsmasq answers 1232 octets over UDP
        # with TC=1, listing the least preferred first): only the full
        # answer, over TCP, holds the best MX
        hosts = ["mx%02d-%s.big.test" % (i, "x" * 55) for i in range(60)]
        dns = self.dns(mx={"big.test": [(10 + i, h) for i, h in enumerate(hosts)]},
                       a=dict((h, "127.0.0.2") for h in hosts))
        f = self.fake("127.0.0.2")
        s2 = self.mp(dns, name="big")
        self.submit(s2, ["u@big.test"])
        self.assertEqual(len(f.wait_accepted(1)), 1, s2.log_tail())
        self.wait_log(s2, deliver_re("u@big.test", "sent", relay="%s[127.0.0.2]" % hosts[0]))

    def test_grouping_and_connection_reuse(self):
        """the recipients of one message in one domain share one
        transaction; queued messages to one destination share a
        connection; connections_per_destination = 1 is kept"""
        dns = self.dns(mx={"r1.test": [(10, "mx1.r1.test")], "r2.test": [(10, "mx1.r2.test")]},
                       a={"mx1.r1.test": "127.0.0.2", "mx1.r2.test": "127.0.0.3"})
        s = self.mp(dns, connections_per_destination=1)
        self.submit(s, ["a@r1.test", "b@r1.test", "c@r2.test"], subject="grouped")
        for i in range(5):
            self.submit(s, ["m%d@r1.test" % i], subject="single%d" % i)
        self.wait_log(s, r"status=deferred", count=7)
        f1, f2 = self.fake("127.0.0.2"), self.fake("127.0.0.3")
        self.assertEqual(len(f1.wait_accepted(6)), 6, s.log_tail())
        self.assertEqual(len(f2.wait_accepted(1)), 1, s.log_tail())
        grouped = [t for t in f1.accepted() if len(t.rcpts) > 1]
        self.assertEqual(len(grouped), 1, f1.accepted())
        self.assertEqual(sorted(r.split(b" ")[1] for r in grouped[0].rcpts),
                         [b"TO:<a@r1.test>", b"TO:<b@r1.test>"])
        self.assertEqual([r.split(b" ")[1] for r in f2.accepted()[0].rcpts], [b"TO:<c@r2.test>"])
        self.assertEqual(f1.max_active, 1, "more than connections_per_destination")
        self.assertGreaterEqual(max(len(x.txns) for x in f1.sessions), 2,
                                "no connection carried two messages: %r" % f1.sessions)
        s.wait_queue_empty()

    def test_connection_limits(self):
        """max_connections bounds the sessions open at once over all
        destinations; connections_per_destination those to one"""
        doms = ["c%d.test" % i for i in range(4)]
        dns = self.dns(mx=dict((d, [(10, "mx." + d)]) for d in doms),
                       a=dict(("mx." + d, "127.0.0.%d" % (50 + i)) for i, d in enumerate(doms)))
        fakes = []
        peak = [0]

        def slow_dot(arg, sess):
            peak[0] = max(peak[0], sum(x.active for x in fakes))
            time.sleep(0.4)
            return None
        for i in range(4):
            fakes.append(self.fake("127.0.0.%d" % (50 + i), replies={"DOT": slow_dot}))
        s = self.mp(dns, max_connections=2, connections_per_destination=1)
        for i in range(8):
            self.submit(s, ["u%d@%s" % (i, doms[i % 4])], subject="lim%d" % i)
        for f in fakes:
            self.assertEqual(len(f.wait_accepted(2, 30)), 2, s.log_tail())
        self.assertLessEqual(peak[0], 2, "more than max_connections at once")
        self.assertEqual([f.max_active for f in fakes], [1, 1, 1, 1])
        s.wait_queue_empty()

    def test_dns_cache_honours_ttl(self):
        """an MX answer is reused for its TTL and looked up again after it"""
        dns = self.dns(mx={"r1.test": [(10, "mx1.r1.test")]},
                       a={"mx1.r1.test": "127.0.0.2", "mx2.r1.test": "127.0.0.3"}, ttl=5)
        f2, f3 = self.fake("127.0.0.2"), self.fake("127.0.0.3")
        s = self.mp(dns)
        self.submit(s, ["a@r1.test"])
        self.assertEqual(len(f2.wait_accepted(1)), 1, s.log_tail())
        t0 = time.monotonic()
        dns.reconfigure(mx={"r1.test": [(10, "mx2.r1.test")]})
        self.submit(s, ["b@r1.test"])
        self.assertEqual(len(f2.wait_accepted(2)), 2, "cached MX not used: %s" % s.log_tail())
        self.assertLess(time.monotonic() - t0, 4.0, "too slow to show the cache")
        time.sleep(max(0, 6.0 - (time.monotonic() - t0)))
        self.submit(s, ["c@r1.test"])
        self.assertEqual(len(f3.wait_accepted(1)), 1, "MX not looked up again after its TTL")
        s.wait_queue_empty()

    def test_smarthost(self):
        """[relay] smarthost: every remote recipient goes there, by the
        smarthost's A record (never its MX), whatever the recipient's
        domain's DNS says; an [ip]:port literal needs no DNS"""
        dns = self.dns(mx={"r1.test": [(10, "mx1.r1.test")], "relay.test": [(10, "mx.relay.test")]},
                       a={"mx1.r1.test": "127.0.0.2", "relay.test": "127.0.0.3",
                          "mx.relay.test": "127.0.0.4"})
        f2, f3, f4 = (self.fake("127.0.0.%d" % i) for i in (2, 3, 4))
        s = self.mp(dns, smarthost="relay.test:%d" % self.mxport)
        self.submit(s, ["u@r1.test"])
        self.submit(s, ["u@nx.test"])
        self.submit(s, ["carol@example.test"])
        self.assertEqual(len(f3.wait_accepted(2)), 2, s.log_tail())
        s.wait_messages("carol")
        s.wait_queue_empty()
        self.assertEqual((f2.sessions, f4.sessions), ([], []))
        s2 = self.mp(dns, name="literal", smarthost="[127.0.0.2]:%d" % self.mxport)
        self.submit(s2, ["u@nx.test"])
        self.assertEqual(len(f2.wait_accepted(1)), 1, s2.log_tail())
        self.wait_log(s2, deliver_re("u@nx.test", "sent"))
        s2.wait_queue_empty()

# ================================================================ remote replies

class ReplyTests(RemoteTest):

    def one_mx(self, **fake):
        dns = self.dns(mx={"r1.test": [(10, "mx1.r1.test")]}, a={"mx1.r1.test": "127.0.0.2"})
        f = self.fake("127.0.0.2", name="mx1.r1.test", **fake)
        return dns, f

    def test_4xx_then_250_retried(self):
        dns, f = self.one_mx(replies={"RCPT": ["450 4.2.0 <u@r1.test>: greylisted", "250 Ok"]})
        s = self.mp(dns)
        t0 = time.monotonic()
        self.submit(s, ["u@r1.test"])
        self.wait_log(s, deliver_re("u@r1.test", "deferred", "4.2.0", 450))
        self.assertEqual(len(f.wait_accepted(1, 15)), 1, s.log_tail())
        self.assertLess(time.monotonic() - t0, 15)
        self.wait_log(s, deliver_re("u@r1.test", "sent"))
        s.wait_queue_empty()
        # two transactions (a cached session may carry both)
        self.assertGreaterEqual(len(mail_cmds(f)), 2)
        self.assertNoDSN(s, 0.5)

    def test_4xx_for_one_recipient_defers_only_it(self):
        dns, f = self.one_mx(replies={"RCPT": per_rcpt({"later@r1.test": "451 4.3.0 later"})})
        s = self.mp(dns, retry_min=3600)
        self.submit(s, ["now@r1.test", "later@r1.test"])
        t = f.wait_accepted(1)[0]
        self.assertEqual([r.split(b" ")[1] for r in t.rcpts], [b"TO:<now@r1.test>"])
        self.wait_log(s, deliver_re("later@r1.test", "deferred", "4.3.0", 451))
        self.wait_log(s, deliver_re("now@r1.test", "sent"))
        time.sleep(0.5)
        self.assertQueuedStill(s, 1)
        self.assertEqual(len(f.accepted()), 1)
        self.assertEqual(s.messages("alice"), [])

    def test_5xx_at_rcpt_one_of_two(self):
        """one recipient delivered, the other bounced with a report that
        quotes the remote reply (RFC 3464 fields, ORCPT, ENVID, RET=FULL)"""
        reject = "550 5.1.1 <bad@r1.test>: Recipient address rejected: User unknown"
        dns, f = self.one_mx(replies={"RCPT": per_rcpt({"bad@r1.test": reject})})
        s = self.mp(dns)
        data = message("two rcpts", sender=ALICE, to="good@r1.test",
                       body=b"the original body\r\n")
        self.submit(s, ["good@r1.test", "bad@r1.test"], data,
                    mail_params=" RET=FULL ENVID=ENV-77",
                    rcpt_params={"bad@r1.test": " ORCPT=rfc822;Bad@R1.test"})
        t = f.wait_accepted(1)[0]
        self.assertEqual([r.split(b" ")[1] for r in t.rcpts], [b"TO:<good@r1.test>"])
        (r,) = self.dsns(s, 1)
        self.assertEqual(r.msg["Subject"], "Undelivered Mail Returned to Sender")
        self.assertEqual(r.msg["To"], "<%s>" % ALICE)
        self.assertEqual(r.msg["Auto-Submitted"], "auto-replied")
        self.assertEqual(r.fields["Original-Envelope-Id"], "ENV-77")
        self.assertIsNotNone(r.fields["Arrival-Date"])
        self.assertEqual(len(r.rcpts), 1, [b.items() for b in r.rcpts])
        b = r.rcpt("bad@r1.test")
        self.assertEqual(b["Action"], "failed")
        self.assertEqual(b["Status"], "5.1.1")
        self.assertRegex(b["Original-Recipient"], r"^rfc822; ?Bad@R1\.test$")
        self.assertRegex(b["Remote-MTA"], r"^dns; ?mx1\.r1\.test")
        self.assertEqual(b["Diagnostic-Code"], "smtp; " + reject)
        self.assertIsNotNone(b["Last-Attempt-Date"])
        self.assertIn(reject, " ".join(r.human.split()))
        self.assertEqual(r.original.get_content_type(), "message/rfc822")
        orig = r.original.get_payload()[0]
        self.assertEqual(orig["Subject"], "two rcpts")
        self.assertIn("the original body", orig.get_payload())
        self.wait_log(s, deliver_re("bad@r1.test", "bounced", "5.1.1", 550,
                                    "mx1.r1.test[127.0.0.2]"))
        self.wait_log(s, deliver_re("good@r1.test", "sent"))
        s.wait_queue_empty()

    def test_local_and_remote_recipients(self):
        """one message to a local mailbox, a remote recipient that is
        accepted and one that is refused: delivered, relayed, and one
        report naming only the refused one"""
        dns, f = self.one_mx(replies={"RCPT": per_rcpt({"bad@r1.test": "550 5.1.1 unknown"})})
        s = self.mp(dns)
        self.submit(s, ["carol@example.test", "good@r1.test", "bad@r1.test"])
        s.wait_messages("carol")
        self.assertEqual(len(f.wait_accepted(1)), 1)
        (r,) = self.dsns(s, 1)
        self.assertEqual([b["Final-Recipient"] for b in r.rcpts], ["rfc822; bad@r1.test"])
        s.wait_queue_empty()

    def test_report_to_remote_sender(self):
        """the report for a remote sender goes out by SMTP from <>"""
        dns = self.dns(mx={"r1.test": [(10, "mx1.r1.test")], "r2.test": [(10, "mx1.r2.test")]},
                       a={"mx1.r1.test": "127.0.0.2", "mx1.r2.test": "127.0.0.3"})
        self.fake("127.0.0.2", replies={"RCPT": "550 5.1.1 <x@r1.test>: unknown"})
        f2 = self.fake("127.0.0.3")
        s = self.mp(dns)
        self.submit(s, ["x@r1.test"], sender="bob@r2.test")
        t = f2.wait_accepted(1)
        self.assertEqual(len(t), 1, s.log_tail())
        self.assertRegex(t[0].mail, rb"^MAIL FROM:<>( |$)")
        self.assertRegex(t[0].rcpts[0], rb"^RCPT TO:<bob@r2\.test>( |$)")
        m = email.message_from_bytes(t[0].message, policy=email.policy.compat32)
        self.assertEqual(m.get_content_type(), "multipart/report")
        st = m.get_payload()[1].get_payload()[1]
        self.assertEqual(st["Final-Recipient"], "rfc822; x@r1.test")
        self.assertEqual(st["Status"], "5.1.1")
        s.wait_queue_empty()

    def test_restart_keeps_retry_schedule(self):
        """a deferred recipient keeps its next-attempt time over a restart
        (no immediate retry after start), then is delivered"""
        dns, f = self.one_mx(replies={"RCPT": ["451 4.3.0 later", "250 Ok"]})
        s = self.mp(dns, retry_min=5, retry_max=60)
        self.submit(s, ["u@r1.test"])
        self.wait_log(s, deliver_re("u@r1.test", "deferred"))
        t_def = time.monotonic()
        s.stop()
        s.start()
        self.assertEqual(len(f.wait_accepted(1, 15)), 1, s.log_tail())
        second = [x for x in f.sessions if x.txns and x.txns[0].accepted][0]
        self.assertGreaterEqual(second.started - t_def, 3.5,
                                "retried %.1fs after the deferral, retry_min is 5s"
                                % (second.started - t_def))
        s.wait_queue_empty()

    def test_too_many_recipients_452(self):
        """a peer that takes 40 recipients per transaction (452 4.5.3 for
        the rest): every recipient is delivered, none bounced"""
        def rcpt(arg, sess):
            return "452 4.5.3 Too many recipients" if len(sess.txns[-1].rcpts) >= 40 else None
        dns, f = self.one_mx(replies={"RCPT": rcpt})
        s = self.mp(dns)
        rcpts = ["u%03d@r1.test" % i for i in range(100)]
        self.submit(s, rcpts)
        s.wait_queue_empty(timeout=30)
        got = sorted(r.split(b" ")[1] for t in f.accepted() for r in t.rcpts)
        self.assertEqual(got, sorted(b"TO:<%s>" % r.encode() for r in rcpts))
        self.assertNotIn("status=bounced", s.log())
        self.assertNoDSN(s, 0.3)

    def test_5xx_after_dot_bounces_all(self):
        rej = "554 5.7.1 Message rejected: looks like spam"
        dns, f = self.one_mx(replies={"DOT": rej})
        s = self.mp(dns)
        self.submit(s, ["a@r1.test", "b@r1.test"], mail_params=" RET=HDRS")
        (r,) = self.dsns(s, 1)
        self.assertEqual(sorted(b["Final-Recipient"] for b in r.rcpts),
                         ["rfc822; a@r1.test", "rfc822; b@r1.test"])
        for b in r.rcpts:
            self.assertEqual(b["Status"], "5.7.1")
            self.assertEqual(b["Diagnostic-Code"], "smtp; " + rej)
        self.assertEqual(r.original.get_content_type(), "text/rfc822-headers")
        self.assertEqual(len(f.txns()), 1)
        s.wait_queue_empty()
        # RET=FULL, but over 64 KiB: the header only
        big = message("big one", body=(b"z" * 76 + b"\r\n") * 1200, sender=ALICE, to="a@r1.test")
        self.submit(s, ["a@r1.test"], big, mail_params=" RET=FULL")
        reps = self.dsns(s, 2)
        r2 = [x for x in reps if x.raw != r.raw][0]
        self.assertEqual(r2.original.get_content_type(), "text/rfc822-headers")
        self.assertEqual(r2.original_headers()["Subject"], "big one")
        self.assertLess(len(r2.raw), 20000)

    def test_early_550_during_data(self):
        """a 550 sent right after the 354, the connection closed before
        the body is in (smtp-sink -A 0, CHECKLIST H "Mid-DATA 550"): the
        client stops sending and the recipient bounces with that reply --
        whether or not its write of the body fails first"""
        early = b"354 go ahead\r\n550 5.7.0 rejected in the middle of DATA\r\n"
        dns = self.dns(mx={"small.test": [(10, "mx.small.test")],
                           "large.test": [(10, "mx.large.test")]},
                       a={"mx.small.test": "127.0.0.2", "mx.large.test": "127.0.0.3"})
        self.fake("127.0.0.2", replies={"DATA": (early, DROP)})
        self.fake("127.0.0.3", replies={"DATA": (early, DROP)})
        s = self.mp(dns, retry_min=1, retry_max=1)
        self.submit(s, ["u@small.test"], subject="small")
        self.submit(s, ["u@large.test"], message("large", sender=ALICE, to="u@large.test",
                                                 body=(b"x" * 998 + b"\r\n") * 4000))
        for d in ("small.test", "large.test"):
            with self.subTest(d):
                self.wait_log(s, deliver_re("u@" + d, "bounced", "5.7.0", 550), timeout=10,
                              tail="to=<u@%s>" % d)

    def test_5xx_greeting_keeps_the_reply(self):
        """the only MX greets with 554: whatever the outcome (deferred,
        like Postfix's smtp_skip_5xx_greeting, or bounced), the status
        keeps the server's reply, not "connection closed" -- it is the
        last error of delay notices and of the 4.4.7 expiry"""
        dns, f = self.one_mx(replies={"CONNECT": "554 5.7.1 no service for you"})
        s = self.mp(dns, retry_min=3600)
        self.submit(s, ["u@r1.test"])
        self.wait_log(s, r"to=<u@r1\.test> relay=\S+ status=(deferred|bounced)")
        line = [l for l in s.log().splitlines() if "to=<u@r1.test>" in l][0]
        self.assertIn("no service for you", line)

    def test_drop_after_dot_is_retried(self):
        dns, f = self.one_mx(replies={"DOT": [DROP, "250 2.0.0 Ok: second time"]})
        s = self.mp(dns)
        self.submit(s, ["u@r1.test"])
        self.assertEqual(len(f.wait_accepted(1, 15)), 1, s.log_tail())
        self.assertEqual(len(f.txns()), 2)  # the first got no reply: a duplicate is allowed
        self.wait_log(s, deliver_re("u@r1.test", "deferred"))
        self.wait_log(s, deliver_re("u@r1.test", "sent"))
        s.wait_queue_empty()
        self.assertNoDSN(s, 0.5)

    def test_421_and_drop_mid_session_defer(self):
        dns = self.dns(mx={"q.test": [(10, "mx.q.test")], "d.test": [(10, "mx.d.test")]},
                       a={"mx.q.test": "127.0.0.2", "mx.d.test": "127.0.0.3"})
        fq = self.fake("127.0.0.2", replies={"MAIL": ["421 4.3.2 shutting down", "250 Ok"]})
        fd = self.fake("127.0.0.3", replies={"DATA": [DROP, "354 go"]})
        s = self.mp(dns)
        self.submit(s, ["u@q.test"])
        self.submit(s, ["u@d.test"])
        self.assertEqual(len(fq.wait_accepted(1, 15)), 1, s.log_tail())
        self.assertEqual(len(fd.wait_accepted(1, 15)), 1, s.log_tail())
        self.wait_log(s, deliver_re("u@q.test", "deferred"))
        self.wait_log(s, deliver_re("u@d.test", "deferred"))
        s.wait_queue_empty()
        self.assertNoDSN(s, 0.3)

    def test_hang_times_out_and_retries(self):
        """no greeting / no reply to the dot: the configured timeouts end
        the session, the message is deferred and retried"""
        dns = self.dns(mx={"g.test": [(10, "mx.g.test")], "h.test": [(10, "mx.h.test")]},
                       a={"mx.g.test": "127.0.0.2", "mx.h.test": "127.0.0.3"})
        fg = self.fake("127.0.0.2", replies={"CONNECT": [HANG, None]})
        fh = self.fake("127.0.0.3", replies={"DOT": [HANG, None]})
        s = self.mp(dns, command_timeout=2, data_timeout=2, dot_timeout=2)
        self.submit(s, ["u@g.test"])
        self.submit(s, ["u@h.test"])
        self.assertEqual(len(fg.wait_accepted(1, 20)), 1, s.log_tail())
        self.assertEqual(len(fh.wait_accepted(1, 20)), 1, s.log_tail())
        self.wait_log(s, deliver_re("u@g.test", "deferred"))
        self.wait_log(s, deliver_re("u@h.test", "deferred"))
        s.wait_queue_empty()
        self.assertNoDSN(s, 0.2)

    def test_malformed_replies_defer(self):
        """strict reply parsing: each malformed reply is a protocol error
        (deferred, never a crash, never a bounce); the next attempt, with a
        sane reply, delivers the message exactly once"""
        flood = b"220-hi\r\n" + b"220-more lines\r\n" * 200000 + b"220 end\r\n"
        cases = [
            # (command answered, raw reply, must it be a protocol error?)
            ("CONNECT", b"22\r\n", True),                           # short code
            ("CONNECT", flood, False),                               # 3 MB greeting
            ("EHLO", b"250-mx\r\n451 4.0.0 mixed codes\r\n", True),  # mixed codes
            ("EHLO", b"600 weird code\r\n", True),                  # code 600
            ("MAIL", b"250 " + b"x" * 10000 + b"\r\n", True),      # 10 KB line
            ("MAIL", b"2\r\n", True),                               # one digit
            ("MAIL", b"250 ok\n", True),                             # bare LF
            ("RCPT", b"250 o\x00k\r\n", True),                      # NUL
            ("RCPT", b"hello there\r\n", True),                     # not a reply
            ("DATA", b"354 go\r\n250 unsolicited\r\n", True),      # extra line after 354
            ("DOT", (b"250 ok", DROP), True),                        # no CRLF, then EOF
            ("DOT", b"25O 2.0.0 letter O\r\n", True),              # not digits
        ]
        mx, a = {}, {}
        for i in range(len(cases)):
            d = "m%d.test" % i
            mx[d] = [(10, "mx." + d)]
            a["mx." + d] = "127.0.0.%d" % (20 + i)
        dns = self.dns(mx=mx, a=a)
        fakes = [self.fake("127.0.0.%d" % (20 + i), replies={key: [raw, None]})
                 for i, (key, raw, _) in enumerate(cases)]
        s = self.mp(dns)
        for i in range(len(cases)):
            self.submit(s, ["u@m%d.test" % i], subject="case%d" % i)
        for i, (key, raw, defer) in enumerate(cases):
            shown = raw[0] if isinstance(raw, tuple) else raw
            with self.subTest(case=i, key=key, reply=shown[:40]):
                self.assertEqual(len(fakes[i].wait_accepted(1, 20)), 1,
                                 (fakes[i].sessions[:3], s.log_tail(20)))
                if defer:
                    self.wait_log(s, deliver_re("u@m%d.test" % i, "deferred"), timeout=5)
                self.wait_log(s, deliver_re("u@m%d.test" % i, "sent"), timeout=5)
        s.wait_queue_empty(timeout=30)
        self.assertNotIn("status=bounced", s.log())
        self.assertNoDSN(s, 0.3)
        for f in fakes:
            self.assertEqual(len(f.accepted()), 1)

    def test_replies_one_byte_at_a_time(self):
        """replies that arrive in one-byte pieces are reassembled"""
        dns, f = self.one_mx(dribble=0.001)
        s = self.mp(dns)
        self.submit(s, ["a@r1.test", "b@r1.test"])
        self.assertEqual(len(f.wait_accepted(1, 20)), 1, s.log_tail())
        self.assertEqual(len(f.accepted()[0].rcpts), 2)
        s.wait_queue_empty()

    def test_quoted_local_parts(self):
        """quoted local parts go out as they came in"""
        dns, f = self.one_mx()
        s = self.mp(dns)
        c = s.session()
        self.assertCmd(c, b'MAIL FROM:<"alice smith"@example.test>', 250)
        self.assertCmd(c, b'RCPT TO:<"john doe"@r1.test>', 250)
        self.assertCmd(c, b'RCPT TO:<"a\\"b"@r1.test>', 250)
        self.assertQueued(c.data(message("quoted")))
        c.close()
        t = f.wait_accepted(1)
        self.assertEqual(len(t), 1, s.log_tail())
        self.assertEqual(t[0].mail.split(b" SIZE=")[0].split(b" BODY=")[0],
                         b'MAIL FROM:<"alice smith"@example.test>')
        self.assertEqual(sorted(r.split(b">")[0] + b">" for r in t[0].rcpts),
                         sorted([b'RCPT TO:<"john doe"@r1.test>', b'RCPT TO:<"a\\"b"@r1.test>']))
        s.wait_queue_empty()

    def test_reply_text_escaped(self):
        """control characters and 8-bit bytes of a remote reply never reach
        the log or the report raw"""
        raw = b"550 5.7.1 evil \x1b[2J\x1b]0;pwned\x07 text \xff\xfe end\r\n"
        dns, f = self.one_mx(replies={"RCPT": raw})
        s = self.mp(dns)
        self.submit(s, ["u@r1.test"])
        self.wait_log(s, r"to=<u@r1\.test> relay=\S+ status=(bounced|deferred)")
        log = s.log_bytes()
        self.assertNotIn(b"\x1b", log)
        self.assertNotIn(b"\x07", log)
        self.assertNotIn(b"\xff\xfe", log)
        if re.search(r"to=<u@r1\.test> relay=\S+ status=bounced", s.log()):
            (r,) = self.dsns(s, 1)
            self.assertNotIn(b"\x1b", r.raw)
            self.assertNotIn(b"\x07", r.raw)
            self.assertNotIn(b"\xff\xfe", r.raw)
            self.assertIn("evil", r.rcpt("u@r1.test")["Diagnostic-Code"])


# ============================================================= missing extensions

class ExtensionTests(RemoteTest):

    def test_8bit_to_peer_without_8bitmime(self):
        """one text part: converted to quoted-printable; a peer with
        8BITMIME gets it unchanged with BODY=8BITMIME; a multipart 8-bit
        message to a peer without it bounces 5.6.3"""
        dns = self.dns(mx={"seven.test": [(10, "mx.seven.test")],
                           "eight.test": [(10, "mx.eight.test")]},
                       a={"mx.seven.test": "127.0.0.2", "mx.eight.test": "127.0.0.3"})
        ext7 = [e for e in DEFAULT_EXT if e != "8BITMIME"]
        f7 = self.fake("127.0.0.2", ext=ext7)
        f8 = self.fake("127.0.0.3")
        s = self.mp(dns)
        text = "Grüße aus Köln, 10 € — ünïcödé\r\nsecond line ÿ\r\n"
        body = text.encode("utf-8")
        data = message("eightbit", body=body, sender=ALICE, to="u@seven.test",
                       headers=["MIME-Version: 1.0",
                                "Content-Type: text/plain; charset=utf-8",
                                "Content-Transfer-Encoding: 8bit"])
        self.submit(s, ["u@seven.test"], data, mail_params=" BODY=8BITMIME")
        self.submit(s, ["u@eight.test"], data, mail_params=" BODY=8BITMIME")
        t7 = f7.wait_accepted(1)[0]
        t8 = f8.wait_accepted(1)[0]
        self.assertNotIn(b"BODY=8BITMIME", t7.mail)
        self.assertTrue(all(b < 0x80 for b in t7.data), "8-bit byte sent to a 7-bit peer")
        m = email.message_from_bytes(t7.message, policy=email.policy.default)
        self.assertEqual(m["Content-Transfer-Encoding"].lower(), "quoted-printable")
        self.assertEqual(m.get_payload(decode=True), body)
        self.assertIn(b"BODY=8BITMIME", t8.mail)
        self.assertTrue(t8.message.endswith(data), t8.message[-200:])
        # multipart with an 8-bit part: no conversion, 5.6.3
        mp = message("multi", sender=ALICE, to="v@seven.test", headers=[
            "MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="b1"'],
            body=b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
                 b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body
                 + b"--b1\r\nContent-Type: application/octet-stream\r\n"
                   b"Content-Transfer-Encoding: 8bit\r\n\r\n\xff\xfe\x80\r\n--b1--\r\n")
        self.submit(s, ["v@seven.test"], mp, mail_params=" BODY=8BITMIME")
        (r,) = self.dsns(s, 1)
        self.assertEqual(r.rcpt("v@seven.test")["Status"], "5.6.3")
        self.assertEqual(len(f7.accepted()), 1)
        s.wait_queue_empty()

    def test_size_too_small(self):
        """the peer's SIZE is smaller than the message: 552 5.3.4 report,
        and no DATA is ever sent"""
        ext = ["PIPELINING", "SIZE 1000", "8BITMIME", "ENHANCEDSTATUSCODES"]
        dns = self.dns(mx={"r1.test": [(10, "mx1.r1.test")]}, a={"mx1.r1.test": "127.0.0.2"})
        f = self.fake("127.0.0.2", ext=ext)
        s = self.mp(dns)
        self.submit(s, ["u@r1.test"], message("big", body=(b"y" * 70 + b"\r\n") * 60))
        (r,) = self.dsns(s, 1)
        self.assertEqual(r.rcpt("u@r1.test")["Status"], "5.3.4")
        self.wait_log(s, deliver_re("u@r1.test", "bounced", "5.3.4", 552))
        self.assertFalse([l for l in f.commands() if l.upper().startswith(b"DATA")],
                         f.commands())
        s.wait_queue_empty()

    def test_no_esmtp_helo_fallback_no_pipelining(self):
        """EHLO refused: HELO, no ESMTP parameters; no PIPELINING offered:
        the client waits for every reply"""
        dns = self.dns(mx={"old.test": [(10, "mx.old.test")], "nopipe.test": [(10, "mx.np.test")]},
                       a={"mx.old.test": "127.0.0.2", "mx.np.test": "127.0.0.3"})
        fold = self.fake("127.0.0.2", esmtp=False, detect_pipelining=True)
        fnp = self.fake("127.0.0.3", ext=["8BITMIME", "SIZE 1000000", "DSN"],
                        detect_pipelining=True)
        s = self.mp(dns)
        self.submit(s, ["u@old.test", "v@old.test"], mail_params=" RET=HDRS",
                    rcpt_params={"u@old.test": " NOTIFY=FAILURE"})
        self.submit(s, ["u@nopipe.test", "v@nopipe.test"])
        t = fold.wait_accepted(1)[0]
        self.assertTrue(fold.sessions[0].helo.upper().startswith("HELO "), fold.sessions[0].helo)
        self.assertEqual(t.mail, b"MAIL FROM:<alice@example.test>")
        self.assertEqual(t.rcpts, [b"RCPT TO:<u@old.test>", b"RCPT TO:<v@old.test>"])
        self.assertEqual(len(fnp.wait_accepted(1)), 1)
        self.assertFalse(fold.sessions[0].pipelined, "pipelined to a server without ESMTP")
        self.assertFalse(fnp.sessions[0].pipelined, "pipelined without PIPELINING")
        s.wait_queue_empty()

    def test_smtputf8_not_offered(self):
        ext = [e for e in DEFAULT_EXT if e != "SMTPUTF8"]
        dns = self.dns(mx={"r1.test": [(10, "mx1.r1.test")]}, a={"mx1.r1.test": "127.0.0.2"})
        f = self.fake("127.0.0.2", ext=ext)
        s = self.mp(dns)
        self.submit(s, ["jörg@r1.test"], mail_params=" SMTPUTF8")
        (r,) = self.dsns(s, 1)
        self.assertEqual(r.rcpts[0]["Status"], "5.6.7")
        self.assertEqual(f.accepted(), [])
        s.wait_queue_empty()
        # a peer that offers it gets SMTPUTF8 and the UTF-8 address as is
        dns.reconfigure(mx={"r1.test": [(10, "mx1.r1.test")], "r2.test": [(10, "mx1.r2.test")]},
                        a={"mx1.r1.test": "127.0.0.2", "mx1.r2.test": "127.0.0.3"})
        f2 = self.fake("127.0.0.3")
        self.submit(s, ["jörg@r2.test"], mail_params=" SMTPUTF8")
        t = f2.wait_accepted(1)
        self.assertEqual(len(t), 1, s.log_tail())
        self.assertIn(b"SMTPUTF8", t[0].mail)
        self.assertEqual(t[0].rcpts[0].split(b" ")[1], "TO:<jörg@r2.test>".encode())


class SinkTests(RemoteTest):

    def test_smtp_sink_faults(self):
        """smtp-sink's misbehaviour options (CHECKLIST H): 5xx at RCPT and
        after the dot bounce, 4xx / 421 / drops defer, missing extensions
        still deliver"""
        cases = [
            # (smtp-sink options, expected outcome, enhanced code)
            (["-f", "RCPT"], "bounced", "5.3.0"),
            (["-f", "."], "bounced", "5.3.0"),
            (["-f", "MAIL"], "bounced", "5.3.0"),
            (["-f", "DATA"], "bounced", "5.3.0"),
            (["-r", "MAIL"], "deferred", "4.3.0"),
            (["-r", "RCPT"], "deferred", "4.3.0"),
            (["-r", "DATA"], "deferred", "4.3.0"),
            (["-r", "."], "deferred", "4.3.0"),
            (["-r", "CONNECT"], "deferred", None),
            (["-q", "."], "deferred", None),
            (["-q", "DATA"], "deferred", None),
            (["-Q", "MAIL"], "deferred", None),
            (["-e"], "sent", "2.0.0"),
            (["-8"], "sent", "2.0.0"),
            (["-p"], "sent", "2.0.0"),
            (["-N", "-E"], "sent", None),
            # -A 0 (550 right after the 354, then close) races the body
            # write; its deterministic form is test_early_550_during_data
        ]
        mx, a = {}, {}
        for i in range(len(cases)):
            mx["s%d.test" % i] = [(10, "mx.s%d.test" % i)]
            a["mx.s%d.test" % i] = "127.0.0.%d" % (40 + i)
        dns = self.dns(mx=mx, a=a)
        sinks = [self.sink("127.0.0.%d" % (40 + i), *opts, name="sink%d" % i)
                 for i, (opts, _, _) in enumerate(cases)]
        s = self.mp(dns, retry_min=2, retry_max=2)
        body = "8-bit text: Grüße\r\n".encode("utf-8")
        for i in range(len(cases)):
            data = message("sink%d" % i, sender=ALICE, to="u@s%d.test" % i, body=body,
                           headers=["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
                                    "Content-Transfer-Encoding: 8bit"])
            self.submit(s, ["u@s%d.test" % i], data, mail_params=" BODY=8BITMIME")
        bounced = 0
        for i, (opts, outcome, dsn) in enumerate(cases):
            with self.subTest(opts=" ".join(opts)):
                self.wait_log(s, deliver_re("u@s%d.test" % i, outcome, dsn), timeout=15,
                              tail="to=<u@s%d.test>" % i)
                if outcome == "sent":
                    self.assertEqual(sinks[i].count(), 1)
                else:
                    self.assertFalse([l for l in s.log().splitlines()
                                      if "to=<u@s%d.test>" % i in l and "status=sent" in l])
                bounced += outcome == "bounced"
                if opts == ["-8"]:
                    m = sinks[i].messages()[0]
                    self.assertIn(b"Content-Transfer-Encoding: quoted-printable", m)
                    self.assertNotIn(b"BODY=8BITMIME", m)
                    self.assertIn(b"Gr=C3=BC=C3=9Fe", m)
        reps = self.dsns(s, bounced)
        self.assertEqual(sorted(r.rcpts[0]["Action"] for r in reps), ["failed"] * bounced)
        self.assertQueuedStill(s, len([c for c in cases if c[1] == "deferred"]))


# ================================================================ content on the wire

class WireTests(RemoteTest):

    def test_outbound_sanitising(self):
        """a message stored with bare LF / bare CR (a lenient client, an
        SMTP-smuggling attempt) leaves with CRLF only and correct
        dot-stuffing: no <LF>.<CR><LF> and no second message survive"""
        dns = self.dns(mx={"r1.test": [(10, "mx1.r1.test")]}, a={"mx1.r1.test": "127.0.0.2"})
        f = self.fake("127.0.0.2")
        s = self.mp(dns)
        payload = (b"line one\nbare lf\rbare cr\r\n"
                   b"smuggle\n.\r\nMAIL FROM:<evil@attacker.test>\r\n"
                   b"RCPT TO:<victim@r1.test>\r\nDATA\r\n"
                   b"also\r\n.\nand\r.\r\nand\n.\nend\r\r\n"
                   b".starts with a dot\n..two\r\n")
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<alice@example.test>", 250)
        self.assertCmd(c, b"RCPT TO:<u@r1.test>", 250)
        self.assertCmd(c, b"DATA", 354)
        head = message("smuggle", body=b"", sender=ALICE, to="u@r1.test")
        c.send(dot_stuff(head + payload) + b".\r\n")  # stored as head + payload
        self.assertQueued(c.reply())
        c.close()
        t = f.wait_accepted(1)[0]
        self.assertEqual(len(f.txns()), 1, f.txns())
        d = t.data
        self.assertIsNone(re.search(rb"\r(?!\n)|(?<!\r)\n", d), "bare CR or LF on the wire: %r" % d)
        self.assertNotIn(b"\r\n.\r\n", b"\r\n" + d)
        for line in d.split(b"\r\n"):
            if line.startswith(b"."):
                self.assertTrue(line.startswith(b".."), "unstuffed dot line %r" % line)
        norm = (head + payload).replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(
            b"\n", b"\r\n")
        self.assertTrue(d.endswith(dot_stuff(norm)), d[-400:])
        # the smuggled commands stayed message text
        self.assertEqual([l for l in f.commands() if b"evil@attacker" in l], [])
        self.assertEqual(len([l for l in f.commands() if l.upper().startswith(b"MAIL")]), 1)

    def test_bdat_content_relayed_over_data(self):
        """BDAT content is literal: a "." line inside it and a missing
        final CRLF must come out dot-stuffed and CRLF-terminated when the
        message is relayed with DATA"""
        dns = self.dns(mx={"r1.test": [(10, "mx1.r1.test")]}, a={"mx1.r1.test": "127.0.0.2"})
        f = self.fake("127.0.0.2")
        s = self.mp(dns)
        content = (message("bdat", body=b"", sender=ALICE, to="u@r1.test")
                   + b"body line\r\n.\r\nMAIL FROM:<evil@attacker.test>\r\n"
                     b"not the end\r\nno final newline")
        c = s.session()
        self.assertCmd(c, b"MAIL FROM:<alice@example.test>", 250)
        self.assertCmd(c, b"RCPT TO:<u@r1.test>", 250)
        c.send(b"BDAT %d LAST\r\n" % len(content) + content)
        self.assertQueued(c.reply())
        c.close()
        t = f.wait_accepted(1)
        self.assertEqual(len(t), 1, (f.sessions, s.log_tail()))
        d = t[0].data
        self.assertTrue(d.endswith(b"body line\r\n..\r\nMAIL FROM:<evil@attacker.test>\r\n"
                                   b"not the end\r\nno final newline\r\n"), d[-200:])
        self.assertEqual(len([l for l in f.commands() if l.upper().startswith(b"MAIL")]), 1)
        s.wait_queue_empty()

    def test_received_bytes_large_message(self):
        """a 3 MB message arrives byte for byte (64 KiB chunks, the
        outbound buffer limits, dot-stuffing across chunk borders)"""
        dns = self.dns(mx={"r1.test": [(10, "mx1.r1.test")]}, a={"mx1.r1.test": "127.0.0.2"})
        f = self.fake("127.0.0.2")
        s = self.mp(dns)
        lines = []
        for i in range(60000):
            lines.append((b"." if i % 7 == 0 else b"") + b"%06d " % i + b"z" * 40)
        data = message("big", body=b"\r\n".join(lines) + b"\r\n", sender=ALICE, to="u@r1.test")
        self.submit(s, ["u@r1.test"], data)
        t = f.wait_accepted(1, 60)[0]
        self.assertTrue(t.message.endswith(data))
        self.assertTrue(t.data.endswith(dot_stuff(data)))


# ======================================================================= reports

class ReportTests(RemoteTest):

    def test_no_report_for_null_sender(self):
        """a message from <> that fails gets no report to its (null)
        sender; a report that itself fails (the sender's domain does not
        exist) gets none either: each of these double bounces goes to the
        local postmaster instead (three reports there)"""
        dns = self.dns(null_mx=["null.test"],
                       mx={"r1.test": [(10, "mx1.r1.test")]}, a={"mx1.r1.test": "127.0.0.2"})
        f = self.fake("127.0.0.2", replies={"RCPT": "550 5.1.1 no such user"})
        s = self.mp(dns)
        self.submit(s, ["u@null.test"], sender="", subject="from-null-1")
        self.submit(s, ["u@r1.test"], sender="", subject="from-null-2")
        self.submit(s, ["u@null.test"], sender="someone@nx.test", subject="report-fails")
        self.wait_log(s, deliver_re("u@null.test", "bounced"), count=2)
        self.wait_log(s, deliver_re("u@r1.test", "bounced"))
        # the report to someone@nx.test is queued and fails in turn
        self.wait_log(s, r"status=queued reason=\"delivery status notification for")
        self.wait_log(s, deliver_re("someone@nx.test", "bounced", "5.1.2"))
        s.wait_queue_empty()
        time.sleep(1.0)
        # one report to someone@nx.test, three double bounces to postmaster
        self.assertEqual(len(re.findall(r"status=queued reason=\"delivery status notification",
                                        s.log())), 4, s.log_tail())
        self.assertEqual(s.messages("alice"), [])
        boxes = s.mailboxes()
        self.assertTrue(set(boxes) <= {("example.test", "postmaster"), (HOST, "postmaster")},
                        boxes)
        reports = s.messages("postmaster", domain=HOST)
        self.assertEqual(len(reports), 3, boxes)
        for raw in reports:
            self.assertIn(b"Return-Path: <>", raw)
            self.assertIn(b"Action: failed", raw)
        self.assertEqual(len(f.txns()), 1)  # the rejected message from <>; no report sent there

    def test_notify_success_relayed_and_delivered(self):
        """NOTIFY=SUCCESS: "relayed" after a peer without DSN, "delivered"
        for a local mailbox; to a peer with DSN: passed on, no report;
        NOTIFY=NEVER: no failure report"""
        nodsn = [e for e in DEFAULT_EXT if e != "DSN"]
        dns = self.dns(mx={"plain.test": [(10, "mx.plain.test")],
                           "dsn.test": [(10, "mx.dsn.test")],
                           "never.test": [(10, "mx.never.test")]},
                       a={"mx.plain.test": "127.0.0.2", "mx.dsn.test": "127.0.0.3",
                          "mx.never.test": "127.0.0.4"})
        fplain = self.fake("127.0.0.2", ext=nodsn)
        fdsn = self.fake("127.0.0.3")
        fnever = self.fake("127.0.0.4", replies={"RCPT": "550 5.1.1 unknown"})
        s = self.mp(dns)
        self.submit(s, ["u@plain.test"], rcpt_params={"u@plain.test": " NOTIFY=SUCCESS"},
                    subject="relayed")
        (r,) = self.dsns(s, 1)
        self.assertEqual(r.msg["Subject"], "Successful Mail Delivery Report")
        b = r.rcpt("u@plain.test")
        self.assertEqual(b["Action"], "relayed")
        self.assertRegex(b["Status"], r"^2\.")
        self.assertNotIn(b"NOTIFY", fplain.accepted()[0].rcpts[0])
        self.submit(s, ["carol@example.test"],
                    rcpt_params={"carol@example.test": " NOTIFY=SUCCESS,FAILURE"},
                    subject="delivered")
        s.wait_messages("carol")
        reps = self.dsns(s, 2)
        new = [x for x in reps if x.raw != r.raw]
        self.assertEqual(len(new), 1)
        b = new[0].rcpt("carol@example.test")
        self.assertEqual(b["Action"], "delivered")
        self.assertRegex(b["Status"], r"^2\.")
        self.submit(s, ["u@dsn.test"], rcpt_params={"u@dsn.test": " NOTIFY=SUCCESS"})
        t = fdsn.wait_accepted(1)[0]
        self.assertIn(b"NOTIFY=SUCCESS", t.rcpts[0])
        self.submit(s, ["u@never.test"], rcpt_params={"u@never.test": " NOTIFY=NEVER"})
        self.wait_log(s, deliver_re("u@never.test", "bounced", "5.1.1", 550))
        s.wait_queue_empty()
        time.sleep(1.0)
        self.assertEqual(len(s.messages("alice")), 2)

    def test_delay_notice(self):
        """NOTIFY=DELAY with a tiny delay_warning: one "delayed" notice
        while the recipient is retried, no more on later retries"""
        dns = self.dns(mx={"r1.test": [(10, "mx1.r1.test")]}, a={"mx1.r1.test": "127.0.0.2"})
        f = self.fake("127.0.0.2", replies={"RCPT": "452 4.2.2 mailbox full"})
        s = self.mp(dns, delay_warning=1)
        self.submit(s, ["u@r1.test"], rcpt_params={"u@r1.test": " NOTIFY=DELAY,FAILURE"})
        self.wait_log(s, deliver_re("u@r1.test", "deferred", "4.2.2", 452), count=2, timeout=20)
        s.wait_messages("alice", 1)
        self.wait_log(s, deliver_re("u@r1.test", "deferred"), count=4, timeout=20)
        (r,) = self.dsns(s, 1)
        self.assertEqual(r.msg["Subject"], "Delayed Mail (still being retried)")
        b = r.rcpt("u@r1.test")
        self.assertEqual(b["Action"], "delayed")
        self.assertEqual(b["Status"], "4.2.2")
        self.assertEqual(b["Diagnostic-Code"], "smtp; 452 4.2.2 mailbox full")
        self.assertIsNotNone(b["Will-Retry-Until"])
        self.assertQueuedStill(s, 1)
        self.assertGreaterEqual(len(mail_cmds(f)), 4)

    def test_max_lifetime_expiry(self):
        """a recipient still deferred after max_lifetime fails with 4.4.7
        and the last error"""
        dns = self.dns(mx={"r1.test": [(10, "mx1.r1.test")]}, a={"mx1.r1.test": "127.0.0.2"})
        self.fake("127.0.0.2", replies={"RCPT": "451 4.7.1 greylisted, come back later"})
        s = self.mp(dns, max_lifetime=4)
        t0 = time.monotonic()
        self.submit(s, ["u@r1.test"])
        (r,) = self.dsns(s, 1, timeout=25)
        self.assertGreaterEqual(time.monotonic() - t0, 3.5)
        b = r.rcpt("u@r1.test")
        self.assertEqual(b["Action"], "failed")
        self.assertEqual(b["Status"], "4.4.7")
        self.assertIn("greylisted", r.human)
        self.wait_log(s, deliver_re("u@r1.test", "bounced", "4.4.7"))
        s.wait_queue_empty()


# =========================================================================== TLS

class TlsTests(RemoteTest):

    def test_starttls_used_when_offered(self):
        """outbound=may (the default): STARTTLS whenever offered, also with
        a certificate that verifies nothing; the mail goes over TLS"""
        from tlsutil import make_pki
        pki = make_pki(self, dns="mx1.r1.test")
        cert, key = self_signed(self, "wrong-name.invalid")
        dns = self.dns(mx={"r1.test": [(10, "mx1.r1.test")], "bad.test": [(10, "mx.bad.test")]},
                       a={"mx1.r1.test": "127.0.0.2", "mx.bad.test": "127.0.0.3"})
        fgood = self.fake("127.0.0.2", tls=server_ctx(pki.cert, pki.key))
        fbad = self.fake("127.0.0.3", tls=server_ctx(cert, key))
        s = self.mp(dns)
        self.submit(s, ["u@r1.test"])
        self.submit(s, ["u@bad.test"])
        for f in (fgood, fbad):
            self.assertEqual(len(f.wait_accepted(1)), 1, (f.sessions, s.log_tail()))
            sess = [x for x in f.sessions if x.txns][0]
            self.assertTrue(sess.tls, sess)
            self.assertIn(sess.tls_version, ("TLSv1.2", "TLSv1.3"))
            self.assertIn(b"STARTTLS\r\n", sess.lines)
            self.assertTrue(sess.helo.upper().startswith("EHLO"))
        s.wait_queue_empty()

    def test_starttls_refused_or_injected(self):
        """may: a 454 to STARTTLS means plaintext; bytes a server sends
        after its 220 to STARTTLS (response injection, CHECKLIST D) are
        thrown away, never read as the reply to the next EHLO"""
        from tlsutil import make_pki
        pki = make_pki(self, dns="mx.inj.test")
        dns = self.dns(mx={"no.test": [(10, "mx.no.test")], "inj.test": [(10, "mx.inj.test")]},
                       a={"mx.no.test": "127.0.0.2", "mx.inj.test": "127.0.0.3"})
        ctx = server_ctx(pki.cert, pki.key)
        fno = self.fake("127.0.0.2", tls=ctx, replies={"STARTTLS": "454 4.7.0 TLS not available"})
        finj = self.fake("127.0.0.3", tls=ctx, replies={
            "STARTTLS": b"220 2.0.0 go ahead\r\n250-evil.test\r\n250 SIZE 10\r\n"})
        s = self.mp(dns)
        self.submit(s, ["u@no.test"])
        self.submit(s, ["u@inj.test"])
        t = fno.wait_accepted(1)
        self.assertEqual(len(t), 1, s.log_tail())
        self.assertFalse([x for x in fno.sessions if x.txns][0].tls)
        t = finj.wait_accepted(1, 10)
        self.assertNotIn("5.3.4", s.log())
        self.assertEqual(len(t), 1, (finj.sessions, s.log_tail()))
        self.assertTrue([x for x in finj.sessions if x.txns][0].tls)
        s.wait_queue_empty()

    def test_outbound_verify_and_encrypt(self):
        """verify: a certificate for the MX name from the configured CA is
        used, a wrong name is not (deferred, never sent in plaintext);
        encrypt: a peer without STARTTLS is deferred"""
        from tlsutil import make_pki
        pki = make_pki(self, dns="mx.good.test")
        wrong = make_pki(self, name="pki2", dns="other.test")
        dns = self.dns(mx={"good.test": [(10, "mx.good.test")],
                           "wrong.test": [(10, "mx.wrong.test")]},
                       a={"mx.good.test": "127.0.0.2", "mx.wrong.test": "127.0.0.3",
                          "plain.test": "127.0.0.4"})
        fgood = self.fake("127.0.0.2", tls=server_ctx(pki.cert, pki.key))
        fwrong = self.fake("127.0.0.3", tls=server_ctx(wrong.cert, wrong.key))
        fplain = self.fake("127.0.0.4")
        s = self.mp(dns, outbound="verify", ca_file=pki.ca)
        self.submit(s, ["u@good.test"])
        self.submit(s, ["u@wrong.test"])
        self.assertEqual(len(fgood.wait_accepted(1)), 1, s.log_tail())
        self.assertTrue(fgood.accepted() and fgood.sessions[-1].tls)
        self.wait_log(s, deliver_re("u@wrong.test", "deferred"))
        self.assertEqual(fwrong.txns(), [])
        self.assertEqual(s.messages("alice"), [])
        s3 = self.mp(dns, name="none", outbound="none")
        self.submit(s3, ["v@good.test"])
        self.assertEqual(len(fgood.wait_accepted(2)), 2, s3.log_tail())
        last = [x for x in fgood.sessions if x.txns and x.txns[0].accepted][-1]
        self.assertFalse(last.tls, "outbound = none used STARTTLS")
        self.assertNotIn(b"STARTTLS\r\n", last.lines)
        s2 = self.mp(dns, name="enc", outbound="encrypt")
        self.submit(s2, ["u@plain.test"])
        self.wait_log(s2, deliver_re("u@plain.test", "deferred"))
        self.assertEqual(fplain.txns(), [])
        self.assertEqual(s2.messages("alice"), [])


# ================================================================ crash and load

class DurabilityTests(RemoteTest):

    def test_kill9_during_remote_delivery(self):
        """kill -9 while the peer holds the reply to the dot: after the
        restart the message is delivered, not lost (and not bounced)"""
        dns = self.dns(mx={"r1.test": [(10, "mx1.r1.test")]}, a={"mx1.r1.test": "127.0.0.2"})
        f = self.fake("127.0.0.2", replies={"DOT": [HANG, None]})
        s = self.mp(dns)
        self.submit(s, ["u@r1.test"])
        self.assertTrue(wait_for(lambda: any(t.data is not None for t in f.txns()), 15),
                        s.log_tail())
        s.kill9()
        self.assertEqual(f.accepted(), [])
        s.start()
        self.assertEqual(len(f.wait_accepted(1, 20)), 1, s.log_tail())
        s.wait_queue_empty()
        time.sleep(1.0)
        self.assertEqual(len(f.accepted()), 1)
        self.assertEqual(s.messages("alice"), [])

    def test_kill9_during_a_burst(self):
        """kill -9 while relaying a burst of 400 queued messages: after the
        restart every message arrives; duplicates only for what was in
        flight (reported)"""
        n = 400
        dns = self.dns(mx={"r1.test": [(10, "mx1.r1.test")]}, a={"mx1.r1.test": "127.0.0.2"})
        s = self.mp(dns)
        # nothing listens yet: every message is deferred, then all retried at once
        ids = submit_many(self, s, n, ["r1.test"], sessions=4)
        self.wait_log(s, r"status=deferred", count=n, timeout=30)
        sink = self.sink("127.0.0.2")
        wait_for(lambda: sink.count() >= n // 4, 30, interval=0.005)
        s.kill9()
        at_kill = sink.count()
        s.start()
        got = wait_msgids(sink, ids, 60)
        missing = [i for i in ids if got[i] == 0]
        self.assertEqual(missing, [], "lost after kill -9: %d" % len(missing))
        dups = sum(c - 1 for c in got.values() if c > 1)
        self.assertLessEqual(dups, 20, "duplicates: %d (%d of %d had arrived at the kill)"
                             % (dups, at_kill, n))
        s.wait_queue_empty(timeout=30)

    def test_many_relayed_messages_arrive_exactly_once(self):
        """MAILPORT_TEST_REMOTE_MSGS (default 2000) messages to 3 domains
        (smtp-sink each): every one arrives exactly once"""
        n = MSGS
        doms = ["d1.test", "d2.test", "d3.test"]
        dns = self.dns(mx=dict((d, [(10, "mx." + d)]) for d in doms),
                       a=dict(("mx." + d, "127.0.0.%d" % (2 + i)) for i, d in enumerate(doms)))
        sinks = [self.sink("127.0.0.%d" % (2 + i), name="sink%d" % i) for i in range(3)]
        s = self.mp(dns)
        t0 = time.monotonic()
        ids = submit_many(self, s, n, doms, sessions=4)
        t1 = time.monotonic()

        class All:
            def count(self):
                return sum(x.count() for x in sinks)

            def messages(self):
                return [m for x in sinks for m in x.messages()]
        got = wait_msgids(All(), ids, max(60, n / 20))
        t2 = time.monotonic()
        missing = [i for i in ids if got[i] == 0]
        dups = [i for i in ids if got[i] > 1]
        self.assertEqual((len(missing), len(dups)), (0, 0),
                         "missing %d, duplicated %d" % (len(missing), len(dups)))
        self.assertEqual(sum(got.values()), n)
        for i, x in enumerate(sinks):
            self.assertGreater(x.count(), n // 4, "sink %d got %d" % (i, x.count()))
        s.wait_queue_empty(timeout=30)
        self.assertLess(t2 - t0, max(60, n / 20), "%d messages: submitted in %.1fs, all "
                        "relayed %.1fs after the start" % (n, t1 - t0, t2 - t0))


# ============================================================== queue command

class QueueCommandTests(RemoteTest):

    def test_queue_flush_retries_now(self):
        """`mailport queue flush` retries a deferred message at once"""
        dns = self.dns(mx={"r1.test": [(10, "mx1.r1.test")]}, a={"mx1.r1.test": "127.0.0.2"})
        f = self.fake("127.0.0.2", replies={"RCPT": ["451 4.3.0 later", "250 Ok"]})
        s = self.mp(dns, retry_min=3600, retry_max=3600)
        self.submit(s, ["u@r1.test"])
        self.wait_log(s, deliver_re("u@r1.test", "deferred"))
        r = subprocess.run([binary(), "queue", "-c", s.conf_path, "flush"], capture_output=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(f.wait_accepted(1, 10)), 1, s.log_tail())
        s.wait_queue_empty()


# =================================================================== Postfix MX

class PostfixTests(RemoteTest):

    def test_postfix_as_mx(self):
        """a real Postfix (throwaway instance on 127.0.0.5) as the MX, with
        STARTTLS, delivering into a Maildir"""
        from postfixmx import PostfixMX
        from tlsutil import make_pki
        pki = make_pki(self, dns="mx.pfx.test", key_type="rsa")
        pf = PostfixMX(self, "127.0.0.5", self.mxport, "pfx.test", pki)
        dns = self.dns(mx={"pfx.test": [(10, "mx.pfx.test")]}, a={"mx.pfx.test": "127.0.0.5"})
        s = self.mp(dns)
        body = b".dot line\r\n8-bit: \xc3\xa4\r\nend\r\n"
        data = message("to postfix", body=body, sender=ALICE, to="bob@pfx.test",
                       headers=["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
                                "Content-Transfer-Encoding: 8bit"])
        self.submit(s, ["bob@pfx.test"], data, mail_params=" BODY=8BITMIME")
        msgs = pf.wait_messages(1, 30)
        self.assertEqual(len(msgs), 1, pf.log_tail())
        m = msgs[0]
        self.assertTrue(m.endswith(data.replace(b"\r\n", b"\n")), m[-300:])
        self.assertRegex(m, rb"with ESMTPS")
        self.wait_log(s, deliver_re("bob@pfx.test", "sent", "2.0.0", 250,
                                    "mx.pfx.test[127.0.0.5]"))
        self.assertRegex(pf.log(), r"TLS connection established from")
        s.wait_queue_empty()
        # a recipient Postfix refuses: bounced with Postfix's reply quoted;
        # then a few messages more over its PIPELINING
        self.submit(s, ["bob@pfx.test", "nobody@pfx.test"], subject="one refused")
        (r,) = self.dsns(s, 1)
        b = r.rcpt("nobody@pfx.test")
        self.assertEqual((b["Action"], b["Status"]), ("failed", "5.7.1"))
        self.assertRegex(b["Diagnostic-Code"],
                         r"^smtp; 554 5\.7\.1 <nobody@pfx\.test>: Recipient address rejected")
        self.assertRegex(b["Remote-MTA"], r"^dns; ?mx\.pfx\.test")
        for i in range(20):
            self.submit(s, ["bob@pfx.test"], subject="more %d" % i)
        self.assertEqual(len(pf.wait_messages(22, 30)), 22, pf.log_tail())
        s.wait_queue_empty()


# ==================================================================== helpers

def submit_many(tc, s, n, domains, sessions=4, per_session=50):
    """submit_many - n messages (to u<i>@<domain i mod k>) over `sessions`
    parallel SMTP connections of per_session messages each; returns the
    Message-IDs in order"""
    ids = ["<m%d.%d@load.test>" % (i, os.getpid()) for i in range(n)]
    errs = []
    lock = threading.Lock()
    nxt = [0]

    def worker():
        try:
            while True:
                with lock:
                    start = nxt[0]
                    nxt[0] += per_session
                if start >= n:
                    return
                c = s.session(timeout=60)
                try:
                    for i in range(start, min(n, start + per_session)):
                        rcpt = "u%d@%s" % (i, domains[i % len(domains)])
                        data = message("load %d" % i, msgid=ids[i], sender=ALICE, to=rcpt)
                        r = c.mail_to(ALICE, [rcpt], data)
                        if r.code != 250:
                            raise ProtocolError("message %d: %r" % (i, r))
                    c.cmd(b"QUIT")
                finally:
                    c.close()
        except Exception as e:  # noqa: BLE001 - reported by the test
            errs.append(e)
    ts = [threading.Thread(target=worker) for _ in range(sessions)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(300)
    if errs:
        tc.fail("submitting: %r" % errs[:3])
    return ids


MSGID_RE = re.compile(rb"^Message-ID: (<[^>]*>)", re.M | re.I)


def wait_msgids(receiver, ids, timeout):
    """wait_msgids - Counter of Message-IDs at the receiver once every id
    arrived (or after timeout).  Waits for every id, not for a total: with
    duplicates (messages in flight at a crash) the total is reached while
    a redelivery may still be on its way."""
    def tally():
        got = Counter({i: 0 for i in ids})
        for m in receiver.messages():
            mm = MSGID_RE.search(m)
            if mm:
                got[mm.group(1).decode()] += 1
        return got

    def all_there():
        return receiver.count() >= len(ids) and all(c > 0 for c in tally().values())
    wait_for(all_there, timeout, interval=0.5)
    time.sleep(0.5)
    return tally()
