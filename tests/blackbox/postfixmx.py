"""postfixmx - a throwaway Postfix instance as a receiving MX (stdlib only).

PostfixMX(tc, addr, port, domain, pki) builds a complete Postfix instance
in the test's temp dir (config, queue, data, Maildir; /etc/postfix and the
system's Postfix are never touched, as in bench/postfix.sh), with smtpd on
addr:port only, STARTTLS offered with pki's certificate (tlsutil.make_pki)
and every recipient of `domain` delivered by virtual(8) into one Maildir,
except nobody@<domain>, which smtpd rejects (554 5.7.1 ... Access denied).
Needs root (Postfix's master) and postfix/postconf; otherwise the test is
skipped.  The instance is stopped (its process group killed if need be) in
the test's cleanups.

  .messages()        the delivered files (bytes, LF line ends)
  .wait_messages(n)  wait (bounded) until n files are there
  .log(), .log_tail()  Postfix's own log (maillog_file)
"""

import atexit
import os
import pwd
import shutil
import subprocess
import time

from harness import wait_for, which


_LIVE = set()  # instances not yet stopped


def _stop_live():
    """_stop_live - at interpreter exit (an interrupted run that skipped
    the cleanups), stop the instances still running"""
    for pf in list(_LIVE):
        try:
            pf.stop()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


atexit.register(_stop_live)


class PostfixMX:
    def __init__(self, tc, addr, port, domain, pki, hostname=None):
        if os.geteuid() != 0:
            tc.skipTest("skipped: a Postfix instance needs root")
        for tool in ("postfix", "postconf"):
            if not which(tool):
                tc.skipTest("skipped: %s not installed" % tool)
        try:
            pw = pwd.getpwnam("postfix")
        except KeyError:
            tc.skipTest("skipped: no postfix user")
        self.tc = tc
        self.postfix = which("postfix")
        self.dir = tc.make_tmpdir("postfix")
        self.conf = os.path.join(self.dir, "etc")
        self.queue = os.path.join(self.dir, "spool")
        self.data = os.path.join(self.dir, "data")
        self.mail = os.path.join(self.dir, "mail")
        self.maillog = os.path.join(self.dir, "maillog")
        for d in (self.conf, self.queue, self.data, self.mail):
            os.makedirs(d)
        for d in (self.data, self.mail):
            os.chown(d, pw.pw_uid, pw.pw_gid)
        self.box = os.path.join(self.mail, domain, "bob")
        hostname = hostname or "mx." + domain
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write("""compatibility_level = 3.6
config_directory = {conf}
queue_directory = {queue}
data_directory = {data}
maillog_file = {maillog}
maillog_file_prefixes = {dir}
myhostname = {hostname}
mydomain = {domain}
myorigin = $myhostname
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
relay_domains =
local_recipient_maps =
alias_maps =
alias_database =
biff = no
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
smtpd_recipient_restrictions = check_recipient_access inline:{{ nobody@{domain}=REJECT }},
  permit_mynetworks, reject_unauth_destination
virtual_mailbox_domains = {domain}
virtual_mailbox_base = {mail}
virtual_mailbox_maps = static:{domain}/bob/
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
smtpd_tls_security_level = may
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtpd_tls_session_cache_database =
tls_random_source = dev:/dev/urandom
""".format(conf=self.conf, queue=self.queue, data=self.data, maillog=self.maillog,
                   dir=self.dir, hostname=hostname, domain=domain, addr=addr, mail=self.mail,
                   uid=pw.pw_uid, gid=pw.pw_gid, cert=pki.cert, key=pki.key))
        # Only the services this needs; no chroot; smtpd on addr:port only.
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write("""{addr}:{port} inet n - n - - smtpd
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
virtual   unix  - n n - - virtual
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
""".format(addr=addr, port=port))
        # stopped before the harness removes the temp dirs (the pid file
        # lives there): on_teardown, not addCleanup, which runs after
        tc.on_teardown(self.stop)
        _LIVE.add(self)
        self.pid = None
        subprocess.run([self.postfix, "-c", self.conf, "check"], capture_output=True, timeout=60)
        r = subprocess.run([self.postfix, "-c", self.conf, "start"], capture_output=True,
                           timeout=60)
        if r.returncode != 0:
            raise RuntimeError("postfix start failed: %s\n%s"
                               % (r.stderr.decode(errors="replace"), self.log_tail()))
        self.pid = self.master_pid()  # kept: stop works even without the file
        if not wait_for(lambda: self._listening(addr, port), 20):
            raise RuntimeError("postfix not listening on %s:%d:\n%s"
                               % (addr, port, self.log_tail()))

    @staticmethod
    def _listening(addr, port):
        want = "%s:%04X" % ("".join("%02X" % int(x) for x in reversed(addr.split("."))), port)
        try:
            with open("/proc/net/tcp") as f:
                return any(l.split()[1] == want and l.split()[3] == "0A"
                           for l in f.read().splitlines()[1:])
        except OSError:
            return True

    def master_pid(self):
        try:
            with open(os.path.join(self.queue, "pid", "master.pid")) as f:
                pid = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if os.path.isdir("/proc/%d" % pid) else None

    def files(self):
        d = os.path.join(self.box, "new")
        try:
            return sorted(os.path.join(d, n) for n in os.listdir(d))
        except OSError:
            return []

    def messages(self):
        out = []
        for p in self.files():
            with open(p, "rb") as f:
                out.append(f.read())
        return out

    def wait_messages(self, n=1, timeout=30):
        wait_for(lambda: len(self.files()) >= n, timeout, interval=0.1)
        return self.messages()

    def log(self):
        try:
            with open(self.maillog, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n=30):
        return "\n".join(self.log().splitlines()[-n:])

    def stop(self):
        _LIVE.discard(self)
        pid = self.master_pid() or getattr(self, "pid", None)
        if pid is None or not os.path.isdir("/proc/%d" % pid):
            return
        subprocess.run([self.postfix, "-c", self.conf, "stop"], capture_output=True, timeout=60)
        if not wait_for(lambda: not os.path.isdir("/proc/%d" % pid), 10):
            try:
                os.killpg(pid, 9)  # the master leads the instance's process group
            except OSError:
                pass
            time.sleep(0.2)
        shutil.rmtree(os.path.join(self.queue, "pid"), ignore_errors=True)
