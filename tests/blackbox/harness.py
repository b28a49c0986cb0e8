"""harness - black-box test harness for `mailport serve` (Python 3 stdlib only).

What it gives the test modules:
  Server      writes a config into a private temp dir, starts the real binary
              on a free loopback port, waits for the banner, stops/kills/
              restarts/reloads it, reads its stderr, mailboxes and spool.
  Client      a raw SMTP client: exact bytes out, one full reply in (multi-line
              included), every socket operation bounded by a timeout.
  MailportTest  unittest.TestCase base: owns servers and temp dirs, stops the
              servers in tearDown and fails the test when a server died on
              its own or its stderr holds a sanitizer report.
  helpers     message(), dot_stuff(), to_lf(), split_stored(), xtext_decode();
              proc_status(), proc_cmdline(), pid_alive(), child_pids() and
              Server.worker_pid(), Server.reload_cmd() for the parent/worker
              split (issue 9).

Rules kept here: only 127.0.0.1 / ::1 are ever contacted; every wait has a
bound; a server is never left running after its test.

Environment:
  MAILPORT_BIN        binary (default build-san/mailport, relative to the repo)
  MAILPORT_TEST_USER  the user the daemon drops to when we are root
                      (default "mailport")
  MAILPORT_KEEP_TMP=1 keep the temp dirs of failed tests (path is printed)
  ASAN_OPTIONS, UBSAN_OPTIONS  passed on (defaults as in tests/run_all.sh)
"""

import atexit
import fcntl
import os
import pwd
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "..", ".."))
HOST = "mx.example.test"
DOMAINS = ("example.test", "example.net")
IO_TIMEOUT = 10.0  # default bound for one socket operation
START_TIMEOUT = 15.0  # server start-up (sanitizer builds are slow)
DELIVERY_TIMEOUT = 15.0  # asynchronous local delivery
SAN_PATTERNS = (b"ERROR: AddressSanitizer", b"runtime error:",
                b"ERROR: LeakSanitizer", b"LeakSanitizer has encountered a fatal error")
SAN_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
}

REPLY_QUEUED_RE = r"2\.6\.0 <([0-9A-Za-z]+)@" + re.escape(HOST) + r"> Queued mail for delivery"
DATE_RE = (r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?\d{1,2} "
           r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
           r"\d\d:\d\d(?::\d\d)? [+-]\d{4}")

# The reply table of the README ("Replies"; docs/protocol.md points there):
# the exact texts the tests assert.
R_HELLO = "%s Hello [%%s]" % HOST
R_SENDER_OK = "2.1.0 Sender OK"
R_RCPT_OK = "2.1.5 Recipient OK"
R_DATA_OK = "Start mail input; end with <CRLF>.<CRLF>"
R_QUIT = "2.0.0 Service closing transmission channel"
R_RSET = "2.0.0 Resetting"
R_NOOP = "2.0.0 OK"
R_VRFY = "2.1.5 Cannot VRFY user"
R_EXPN = "5.5.1 EXPN not available"
R_HELP = "2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP"
R_UNKNOWN = "5.3.3 Unrecognized command"
R_BAD_DOMAIN = "5.5.4 Invalid domain name"
R_TOO_LONG = "5.5.2 Line too long"
R_FLOOD = "4.7.0 %s Line too long, closing transmission channel" % HOST
R_NUL = "5.5.2 NUL character not allowed"
R_HELLO_FIRST = "5.5.2 Send hello first"
R_NEED_MAIL = "5.5.2 Need mail command"
R_NEED_RCPT = "5.5.2 Need rcpt command"
R_NESTED_MAIL = "5.5.1 Sender already specified"
R_DATA_AFTER_BDAT = "5.5.1 DATA not allowed after BDAT"
R_INVALID_ARGS = "5.5.4 Invalid arguments"
R_BAD_SENDER = "5.1.7 Invalid address"
R_BAD_RCPT = "5.1.3 Invalid address"
R_ADDR_TOO_LONG = "5.1.3 Address too long"
R_UTF8 = "5.6.7 Must declare SMTPUTF8 to send unicode address"
R_UNKNOWN_PARAM = "5.5.4 Unrecognized parameter"
R_SIZE = "5.3.4 Message size exceeds fixed maximum message size"
R_NO_SPACE = "4.3.1 Insufficient system storage"
R_LOCAL_ERROR = "4.3.0 Local error in processing"
R_USER_UNKNOWN = "5.1.1 User unknown"
R_MAILBOX_NAME = "5.1.3 Mailbox name not allowed"
R_RELAY = "5.7.1 Unable to relay"
R_TOO_MANY_RCPTS = "4.5.3 Too many recipients"
R_HOPS = "5.4.6 Too many hops"
R_SYNC = "5.5.0 SMTP protocol synchronization error"
R_FORBIDDEN = "5.7.0 Forbidden command, closing connection"
R_TOO_MANY_ERRORS = "4.7.0 Too many errors on this connection, closing transmission channel"
R_TIMEOUT = "4.4.2 %s Timeout, closing transmission channel" % HOST
R_PER_IP = "4.7.0 %s Too many connections from your address" % HOST
R_MAX_CONN = "4.3.2 %s Too many connections, try again later" % HOST
R_SHUTDOWN = "4.3.2 %s Service shutting down, closing transmission channel" % HOST


# a DNS server address where nothing listens (see Server: [dns] servers)
NO_DNS = "127.0.0.1:9"


def is_root():
    return os.geteuid() == 0


def binary():
    """binary - absolute path of the mailport binary under test"""
    b = os.environ.get("MAILPORT_BIN", "build-san/mailport")
    if not os.path.isabs(b):
        b = os.path.join(REPO, b)
    return b


def daemon_user():
    return os.environ.get("MAILPORT_TEST_USER", "mailport")


def daemon_ids():
    """daemon_ids - (uid, gid) the daemon runs as, or None when not root"""
    if not is_root():
        return None
    try:
        pw = pwd.getpwnam(daemon_user())
    except KeyError:
        return None
    return pw.pw_uid, pw.pw_gid


def have_ipv6():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


PORT_LOCK_DIR = os.path.join(tempfile.gettempdir(), "mailport-test-ports")


def reserve_port(family=socket.AF_INET):
    """reserve_port - (port, fd): a bindable port below the ephemeral range
    (20000-32000, so client connections never take it), reserved against
    parallel test workers by an flock on PORT_LOCK_DIR/<port> that lasts
    until fd is closed (or the process dies)"""
    host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
    os.makedirs(PORT_LOCK_DIR, exist_ok=True)
    try:
        os.chmod(PORT_LOCK_DIR, 0o1777)
    except OSError:
        pass
    for _ in range(1000):
        port = random.randrange(20000, 32000)
        try:
            fd = os.open(os.path.join(PORT_LOCK_DIR, str(port)), os.O_RDONLY | os.O_CREAT, 0o644)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.bind((host, port))
            return port, fd
        except OSError:
            os.close(fd)
        finally:
            sock.close()
    raise RuntimeError("no free port")


def which(tool, extra=("/usr/sbin", "/usr/bin", "/sbin", "/bin")):
    p = shutil.which(tool)
    if p:
        return p
    for d in extra:
        c = os.path.join(d, tool)
        if os.access(c, os.X_OK):
            return c
    return None


# ----------------------------------------------------------------- messages

def message(subject="test", body=b"Hello.\r\n", headers=(), msgid=None, date=True,
            sender="sender@example.net", to="alice@example.test"):
    """message - a small RFC 5322 message with CRLF line ends (not
    dot-stuffed).  msgid: None -> a unique one, False -> no Message-ID."""
    if isinstance(body, str):
        body = body.encode()
    h = []
    h.append("From: <%s>" % sender)
    h.append("To: <%s>" % to)
    h.append("Subject: %s" % subject)
    if date:
        h.append("Date: Mon, 3 Nov 2025 10:00:00 +0000")
    if msgid is None:
        msgid = "<%s.%d@client.test>" % (subject.replace(" ", "-"),
                                         random.randrange(1 << 40))
    if msgid:
        h.append("Message-ID: %s" % msgid)
    out = b""
    for x in list(h) + list(headers):
        out += (x.encode() if isinstance(x, str) else x) + b"\r\n"
    return out + b"\r\n" + body


def dot_stuff(data):
    """dot_stuff - RFC 5321 4.5.2 transparency for data with CRLF lines"""
    out = b"." + data if data.startswith(b".") else data
    return out.replace(b"\r\n.", b"\r\n..")


def to_lf(data):
    return data.replace(b"\r\n", b"\n")


def split_stored(raw):
    """split_stored - (header bytes, body bytes) of a Maildir file (LF)"""
    i = raw.find(b"\n\n")
    if i < 0:
        return raw, b""
    return raw[:i + 1], raw[i + 2:]


def header_fields(raw):
    """header_fields - [(name, value)] of the header section, unfolded"""
    head, _ = split_stored(raw)
    fields = []
    for line in head.split(b"\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and fields:
            n, v = fields[-1]
            fields[-1] = (n, v + b"\n" + line)
        elif b":" in line:
            n, v = line.split(b":", 1)
            fields.append((n.decode("latin-1"), v.strip()))
        else:
            fields.append((None, line))
    return fields


def xtext_decode(s):
    out = bytearray()
    i = 0
    while i < len(s):
        c = s[i]
        if c == ord("+"):
            out.append(int(s[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(c)
            i += 1
    return bytes(out)


def wait_for(pred, timeout, interval=0.05):
    """wait_for - poll pred() until true (returns its value) or timeout (None)"""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


# ---------------------------------------------------------------- processes

def proc_status(pid):
    """proc_status - {field: value} of /proc/<pid>/status (values stripped),
    or None when the process is gone"""
    try:
        with open("/proc/%d/status" % pid) as f:
            text = f.read()
    except OSError:
        return None
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(":")
        out[k] = v.strip()
    return out


def proc_cmdline(pid):
    """proc_cmdline - the raw argv of a process (NUL-terminated bytes), or
    None when it is gone"""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read()
    except OSError:
        return None


def pid_alive(pid):
    """pid_alive - does pid exist and is it neither a zombie nor dead?"""
    st = proc_status(pid)
    return st is not None and st.get("State", "")[:1] not in ("Z", "X")


def child_pids(ppid):
    """child_pids - live pids whose parent is ppid (a scan of /proc)"""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = proc_status(int(name))
        if st and st.get("PPid") == str(ppid) and st.get("State", "")[:1] not in ("Z", "X"):
            out.append(int(name))
    return sorted(out)


# ------------------------------------------------------------------- client

class ConnectionClosed(Exception):
    pass


class ProtocolError(Exception):
    pass


class Reply(tuple):
    """Reply - (code, text) with .lines (full reply lines, str) and .texts.
    For a multi-line reply text is the texts joined with "\\n"."""

    def __new__(cls, lines):
        code = int(lines[0][:3])
        texts = [l[4:] for l in lines]
        self = tuple.__new__(cls, (code, "\n".join(texts)))
        self.lines = lines
        self.texts = texts
        return self

    @property
    def code(self):
        return self[0]

    @property
    def text(self):
        return self[1]

    def __repr__(self):
        return "Reply(%r)" % ("\\r\\n".join(self.lines),)


class Client:
    """Client - raw SMTP client on loopback.  Every operation is bounded."""

    def __init__(self, port, host="127.0.0.1", timeout=IO_TIMEOUT, read_banner=True):
        assert host in ("127.0.0.1", "::1"), host
        self.host = host
        self.port = port
        self.timeout = timeout
        self.buf = bytearray()
        self.eof = False
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.banner = self.reply() if read_banner else None

    # -- output
    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.settimeout(self.timeout)
        self.sock.sendall(data)

    def line(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.send(data + b"\r\n")

    # -- input
    def _fill(self, deadline):
        if self.eof:
            raise ConnectionClosed("connection closed; unread %r" % bytes(self.buf[:200]))
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out; unread %r" % bytes(self.buf[:200]))
        self.sock.settimeout(left)
        try:
            d = self.sock.recv(65536)
        except ConnectionResetError:
            d = b""
        if not d:
            self.eof = True
            raise ConnectionClosed("connection closed; unread %r" % bytes(self.buf[:200]))
        self.buf.extend(d)

    def read_line(self, timeout=None):
        """read_line - one reply line without its CRLF (bytes); a line
        ending in a bare LF is a ProtocolError"""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[:i + 1])
                del self.buf[:i + 1]
                if not line.endswith(b"\r\n"):
                    raise ProtocolError("reply line without CRLF: %r" % line)
                return line[:-2]
            if len(self.buf) > 100000:
                raise ProtocolError("reply line too long")
            self._fill(deadline)

    def reply(self, timeout=None):
        """reply - read one full reply (multi-line included)"""
        deadline = time.monotonic() + (timeout or self.timeout)
        lines = []
        while True:
            raw = self.read_line(max(0.01, deadline - time.monotonic()))
            s = raw.decode("latin-1")
            if not re.match(r"^[2-5]\d\d([ -]|$)", s):
                raise ProtocolError("malformed reply line %r (after %r)" % (s, lines))
            if lines and s[:3] != lines[0][:3]:
                raise ProtocolError("code changes inside a reply: %r then %r" % (lines, s))
            lines.append(s)
            if len(s) == 3 or s[3] == " ":
                return Reply(lines)

    def cmd(self, data, timeout=None):
        """cmd - send one command line (CRLF added), return its Reply"""
        self.line(data)
        return self.reply(timeout)

    def replies(self, n, timeout=None):
        return [self.reply(timeout) for _ in range(n)]

    def quiet(self, wait=0.3):
        """quiet - True if nothing arrives (and no EOF) within wait seconds"""
        if self.buf:
            return False
        try:
            self._fill(time.monotonic() + wait)
        except socket.timeout:
            return True
        except ConnectionClosed:
            return False
        return False

    def wait_closed(self, timeout=None):
        """wait_closed - read until EOF; returns what arrived before it.
        Raises socket.timeout if the peer keeps the connection open."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self.eof:
            try:
                self._fill(deadline)
            except ConnectionClosed:
                break
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def is_closed(self, timeout=2.0):
        try:
            self.wait_closed(timeout)
            return True
        except socket.timeout:
            return False

    def flood(self, chunks, read_timeout=None):
        """flood - send an iterable of chunks while a reader thread collects
        everything the server says, until EOF.  Returns (received bytes,
        send exception or None).  Handles a reset that arrives while we
        are still sending (the reply before it is kept)."""
        got = bytearray()
        done = threading.Event()

        def reader():
            try:
                self.sock.settimeout(read_timeout or max(self.timeout, 30))
                while True:
                    d = self.sock.recv(65536)
                    if not d:
                        break
                    got.extend(d)
            except OSError:
                pass
            done.set()

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        err = None
        try:
            for c in chunks:
                if done.is_set():
                    break
                self.sock.sendall(c)
        except OSError as e:
            err = e
        t.join(read_timeout or max(self.timeout, 30))
        self.eof = True
        return bytes(got), err

    def reset_close(self):
        """reset_close - abortive close (RST)"""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # -- conveniences
    def ehlo(self, name="client.test"):
        r = self.cmd(b"EHLO " + name.encode())
        if r.code != 250:
            raise ProtocolError("EHLO failed: %r" % (r,))
        return r

    def mail_to(self, sender, rcpts, data, stuff=True):
        """mail_to - MAIL/RCPT.../DATA/content; asserts the positive replies
        on the way and returns the reply to the end of data"""
        r = self.cmd(b"MAIL FROM:<%s>" % _b(sender))
        if r.code != 250:
            raise ProtocolError("MAIL: %r" % (r,))
        for x in rcpts:
            r = self.cmd(b"RCPT TO:<%s>" % _b(x))
            if r.code != 250:
                raise ProtocolError("RCPT %s: %r" % (x, r))
        return self.data(data, stuff)

    def data(self, data, stuff=True):
        """data - DATA, the content (dot-stuffed unless stuff=False) and
        the end marker; returns the reply to the end of data"""
        r = self.cmd(b"DATA")
        if r.code != 354:
            raise ProtocolError("DATA: %r" % (r,))
        self.send((dot_stuff(data) if stuff else data) + b".\r\n")
        return self.reply(60)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def _b(x):
    return x.encode() if isinstance(x, str) else x


def has_qid(stored, qid):
    """has_qid - does a stored message carry this queue id (Received: "id QID")?"""
    return re.search(rb"\sid " + re.escape(qid.encode()) + rb"(;|\s)", stored) is not None


def qid_of(reply):
    """qid_of - the queue id in a "250 2.6.0 <QID@H> Queued" reply, or None"""
    m = re.match(REPLY_QUEUED_RE + "$", reply.text) if reply.code == 250 else None
    return m.group(1) if m else None


# ------------------------------------------------------------------- server

class StartError(Exception):
    pass


_LIVE = set()  # servers started and not yet stopped, for kill_all


def kill_all():
    """kill_all - kill every server still running (interrupted runs)"""
    for s in list(_LIVE):
        try:
            if s.proc.poll() is None:
                s.proc.kill()
                s.proc.wait(5)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
        _LIVE.discard(s)


atexit.register(kill_all)


class Server:
    """Server - one mailport daemon with its own config, spool and mailboxes.

    Options (keyword arguments) are config keys (README, "Configuration"):
      [server] hostname listen spool user banner max_message_size
               max_recipients max_errors timeout max_connections_per_ip
               max_connections greet_pause trace
      [local]  domains mailboxes users aliases
      [relay]  networks
      [server] submission submissions max_auth_failures, [tls] cert key
               allow_plaintext_auth, [submission] sender_must_match_login:
               written only when given (see tlsutil.py)
    users: list of lines (written to a users file) or None; aliases: text
    of an aliases file or None; networks: "" to deny relaying from
    loopback; ipv6=True listens on [::1]; extra: text appended verbatim.
    """

    SECTIONS = {
        "server": ["hostname", "listen", "spool", "user", "banner", "max_message_size",
                   "max_recipients", "max_errors", "timeout", "max_connections_per_ip",
                   "max_connections", "greet_pause", "trace"],
        "local": ["domains", "mailboxes", "users", "aliases"],
        "relay": ["networks", "smarthost"],
        # written only when one of their keys is set (tlsutil.py sets them)
        "tls": ["cert", "key", "allow_plaintext_auth", "outbound", "ca_file"],
        "submission": ["sender_must_match_login", "auth_on_mx"],
        # remote delivery (written when one of their keys is set, but [dns]
        # servers always is: no test may query the machine's resolver)
        "dns": ["servers"],
        "queue": ["retry_min", "retry_max", "max_lifetime", "delay_warning"],
        "smtp": ["port", "max_connections", "connections_per_destination", "connect_timeout",
                 "command_timeout", "data_timeout", "dot_timeout"],
    }
    # [server] keys written only when set: extra listeners, AUTH limit
    SERVER_OPTIONAL = ["submission", "submissions", "max_auth_failures", "max_rcpt_rejects",
                       "rcpt_reject_delay_after", "listen_backlog", "seccomp"]

    def __init__(self, tc, name="srv", ipv6=False, extra="", **opts):
        self.tc = tc
        self.name = name
        self.dir = tc.make_tmpdir(name)
        self.spool = os.path.join(self.dir, "spool")
        self.mail = os.path.join(self.dir, "mail")
        self.conf_path = os.path.join(self.dir, "mailport.conf")
        self.log_path = os.path.join(self.dir, "stderr.log")
        self.users_path = os.path.join(self.dir, "users")
        self.aliases_path = os.path.join(self.dir, "aliases")
        self.ipv6 = ipv6
        self.host = "::1" if ipv6 else "127.0.0.1"
        self.port, self._port_fd = reserve_port(socket.AF_INET6 if ipv6 else socket.AF_INET)
        self.extra = extra
        self.proc = None
        self.expect_exit = False
        self.exits = []
        self.opts = {
            "hostname": HOST,
            "spool": self.spool,
            "user": daemon_user(),
            "banner": "ESMTP ready",
            "max_message_size": 36700160,
            "max_recipients": 1000,
            "max_errors": 10,
            "timeout": 300,
            "max_connections_per_ip": 50,
            "max_connections": 1000,
            "greet_pause": 0,
            "trace": "no",
            "domains": ", ".join(DOMAINS),
            "mailboxes": self.mail,
            "networks": "127.0.0.1/32, ::1/128",
            # nothing listens there: lookups fail at once (deferred mail),
            # and none leaves the machine; remote tests start a dnsmasq
            "servers": NO_DNS,
        }
        for k in ("users", "aliases"):
            if k in opts:
                self.set_table(k, opts.pop(k))
        for k in opts:
            if k not in self.SERVER_OPTIONAL and not any(k in v for v in self.SECTIONS.values()):
                raise ValueError("unknown option %s" % k)
        self.opts.update(opts)
        for d in (self.spool, self.mail):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
            self.chown(d)
        self.write_config()
        tc.servers.append(self)

    # -- files
    def chown(self, path):
        ids = daemon_ids()
        if ids:
            os.chown(path, *ids)

    def set_table(self, which, content):
        """set_table - write the users (list of lines) or aliases (text)
        file and point the config at it; None removes it from the config"""
        path = self.users_path if which == "users" else self.aliases_path
        if content is None:
            self.opts.pop(which, None)
            return
        if isinstance(content, (list, tuple)):
            content = "".join(l + "\n" for l in content)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(content)
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
        self.opts[which] = path

    def config_text(self):
        listen = "[::1]:%d" % self.port if self.ipv6 else "127.0.0.1:%d" % self.port
        out = []
        for sec, keys in self.SECTIONS.items():
            if sec == "server":
                keys = keys + self.SERVER_OPTIONAL
            elif sec not in ("local", "relay") and not any(k in self.opts for k in keys):
                continue
            out.append("[%s]" % sec)
            for k in keys:
                if k == "listen":
                    out.append("listen = %s" % self.opts.get("listen", listen))
                elif k in self.opts:
                    out.append("%s = %s" % (k, self.opts[k]))
            out.append("")
        return "\n".join(out) + self.extra

    def write_config(self):
        with open(self.conf_path, "w") as f:
            f.write(self.config_text())
        os.chmod(self.conf_path, 0o644)

    # -- process
    def env(self):
        e = dict(os.environ)
        for k, v in SAN_ENV.items():
            e.setdefault(k, v)
        return e

    def start(self, wait=True):
        """start - run `mailport serve -c FILE`, wait for the banner"""
        b = binary()
        if not os.access(b, os.X_OK):
            raise StartError("binary %s not found or not executable (set MAILPORT_BIN)" % b)
        if is_root() and daemon_ids() is None:
            raise StartError("running as root but user %r does not exist (scripts/deps.sh test "
                             "creates it; or set MAILPORT_TEST_USER)" % daemon_user())
        tries = 3
        while True:
            log = open(self.log_path, "ab")
            log.write(b"\n===== harness: start %s port %d =====\n" % (self.name.encode(), self.port))
            log.flush()
            self.proc = subprocess.Popen([b, "serve", "-c", self.conf_path], cwd=self.dir,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         env=self.env(), start_new_session=True)
            log.close()
            _LIVE.add(self)
            self.expect_exit = False
            if not wait:
                return self
            try:
                self.wait_ready()
                return self
            except StartError:
                rc = self.proc.poll()
                txt = self.log_tail()
                if rc is not None and tries > 1 and ("in use" in txt or "EADDRINUSE" in txt):
                    tries -= 1
                    self.release_port()
                    self.port, self._port_fd = reserve_port(socket.AF_INET6 if self.ipv6
                                                            else socket.AF_INET)
                    self.write_config()
                    continue
                raise

    def wait_ready(self, timeout=START_TIMEOUT):
        """wait_ready - connect until a 220 banner arrives, then QUIT and
        wait for the close (so the probe no longer counts as a session)"""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StartError("server exited with %s before it was ready:\n%s"
                                 % (self.proc.returncode, self.log_tail()))
            try:
                c = Client(self.port, self.host, timeout=5)
            except (OSError, ConnectionClosed, ProtocolError) as e:
                last = e
                time.sleep(0.05)
                continue
            try:
                if c.banner.code == 220:
                    try:
                        c.cmd(b"QUIT")
                        c.wait_closed(5)
                    except (OSError, ConnectionClosed, ProtocolError):
                        pass
                    if self.proc.poll() is not None:
                        raise StartError("server exited with %s (another process answered on "
                                         "port %d?):\n%s" % (self.proc.returncode, self.port,
                                                             self.log_tail()))
                    return
                last = c.banner
            finally:
                c.close()
            time.sleep(0.05)
        raise StartError("server not ready after %.0fs (last: %r):\n%s"
                         % (timeout, last, self.log_tail()))

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def hup(self):
        self.signal(signal.SIGHUP)

    def stop(self, timeout=20):
        """stop - SIGTERM and wait; returns the exit status (None if it had
        to be killed)"""
        if not self.running():
            return self.proc.returncode if self.proc else None
        self.expect_exit = True
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            rc = None
        self.exits.append(("TERM", rc))
        _LIVE.discard(self)
        return rc

    def kill9(self):
        """kill9 - a crash of the whole daemon: SIGKILL to the parent; the
        kernel kills the worker with it (PR_SET_PDEATHSIG): wait until it is
        gone too, so the ports are free for the next start"""
        self.expect_exit = True
        if self.running():
            workers = self.worker_pids()
            self.proc.kill()
            self.proc.wait(10)
            wait_for(lambda: not any(pid_alive(w) for w in workers), 10)
        self.exits.append(("KILL", self.proc.returncode))
        _LIVE.discard(self)

    def restart(self):
        if self.running():
            self.stop()
        return self.start()

    def release_port(self):
        """release_port - drop the port reservation (after the server is gone)"""
        if self._port_fd is not None:
            os.close(self._port_fd)
            self._port_fd = None

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    # -- the worker (issue 9: `mailport serve` is the privileged parent,
    #    self.proc; `mailport worker` its unprivileged child)
    WORKER_CMDLINE = b"mailport\0worker\0"

    def worker_pids(self):
        """worker_pids - live children of the daemon that run `mailport worker`"""
        if not self.running():
            return []
        return [p for p in child_pids(self.proc.pid) if proc_cmdline(p) == self.WORKER_CMDLINE]

    def worker_pid(self, timeout=START_TIMEOUT, not_in=()):
        """worker_pid - the pid of the daemon's one worker, waiting up to
        timeout until exactly one exists that is not in not_in; None if not"""
        def one():
            w = self.worker_pids()
            return w[0] if len(w) == 1 and w[0] not in not_in else None
        return wait_for(one, timeout)

    def reload_cmd(self, *args, config=True, timeout=60):
        """reload_cmd - run `mailport reload -c CONF args...` (no -c when
        config is False); the CompletedProcess, stdout and stderr as text"""
        argv = [binary(), "reload"] + (["-c", self.conf_path] if config else []) + list(args)
        env = self.env()
        env.pop("MAILPORT_CONFIG", None)
        r = subprocess.run(argv, capture_output=True, timeout=timeout, env=env, cwd="/",
                           stdin=subprocess.DEVNULL)
        r.stdout = r.stdout.decode("utf-8", "replace")
        r.stderr = r.stderr.decode("utf-8", "replace")
        return r

    # -- logs
    def log_bytes(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()
        except OSError:
            return b""

    def log(self):
        return self.log_bytes().decode("utf-8", "replace")

    def log_tail(self, n=60):
        return "\n".join(self.log().splitlines()[-n:])

    def sanitizer_report(self):
        data = self.log_bytes()
        for p in SAN_PATTERNS:
            i = data.find(p)
            if i >= 0:
                return data[max(0, i - 200):i + 3000].decode("utf-8", "replace")
        return None

    # -- connections
    def client(self, **kw):
        return Client(self.port, self.host, **kw)

    def session(self, ehlo="client.test", **kw):
        """session - a connected client after a successful EHLO"""
        c = self.client(**kw)
        if c.banner.code != 220:
            raise ProtocolError("banner %r" % (c.banner,))
        if ehlo:
            c.ehlo(ehlo)
        return c

    def send_mail(self, sender="sender@example.net", rcpts=("alice@example.test",),
                  data=None, ehlo="client.test"):
        """send_mail - one whole session; returns the end-of-data Reply"""
        if data is None:
            data = message()
        with self.session(ehlo) as c:
            r = c.mail_to(sender, rcpts, data)
            try:
                c.cmd(b"QUIT")
            except (OSError, ConnectionClosed):
                pass
            return r

    # -- mailboxes
    def maildir(self, local, domain="example.test"):
        return os.path.join(self.mail, domain, local)

    def messages(self, local, domain="example.test"):
        """messages - contents of new/ (+ cur/) of a mailbox, by file name"""
        out = []
        for sub in ("new", "cur"):
            d = os.path.join(self.maildir(local, domain), sub)
            try:
                names = sorted(os.listdir(d))
            except OSError:
                continue
            for n in names:
                p = os.path.join(d, n)
                if os.path.isfile(p):
                    with open(p, "rb") as f:
                        out.append(f.read())
        return out

    def count(self, local, domain="example.test"):
        n = 0
        for sub in ("new", "cur"):
            try:
                n += len(os.listdir(os.path.join(self.maildir(local, domain), sub)))
            except OSError:
                pass
        return n

    def wait_messages(self, local, n=1, domain="example.test", timeout=DELIVERY_TIMEOUT):
        """wait_messages - wait until the mailbox holds at least n messages;
        fails the test otherwise; returns the messages"""
        if not wait_for(lambda: self.count(local, domain) >= n, timeout):
            self.tc.fail("mailbox %s@%s: %d message(s) after %.0fs, want %d"
                         % (local, domain, self.count(local, domain), timeout, n))
        return self.messages(local, domain)

    def mailboxes(self):
        """mailboxes - {(domain, mailbox): count} of every Maildir"""
        out = {}
        try:
            domains = os.listdir(self.mail)
        except OSError:
            return out
        for d in domains:
            dp = os.path.join(self.mail, d)
            if not os.path.isdir(dp):
                continue
            for m in os.listdir(dp):
                n = self.count(m, d)
                if n:
                    out[(d, m)] = n
        return out

    def total_messages(self):
        return sum(self.mailboxes().values())

    # -- spool
    def spool_files(self, sub):
        d = os.path.join(self.spool, sub)
        try:
            return sorted(n for n in os.listdir(d) if os.path.isfile(os.path.join(d, n)))
        except OSError:
            return []

    def queue_files(self):
        """queue_files - committed messages in queue/ (".done" files aside)"""
        return [n for n in self.spool_files("queue") if not n.endswith(".done")]

    def incoming_files(self):
        return self.spool_files("incoming")

    def corrupt_files(self):
        return self.spool_files("corrupt")

    def wait_queue_empty(self, timeout=DELIVERY_TIMEOUT, keep=0):
        """wait_queue_empty - wait until queue/ holds `keep` messages or fewer
        and incoming/ is empty (all local deliveries done)"""
        ok = wait_for(lambda: len(self.queue_files()) <= keep and not self.incoming_files(),
                      timeout)
        if not ok:
            self.tc.fail("spool not drained after %.0fs: queue=%r incoming=%r"
                         % (timeout, self.queue_files()[:10], self.incoming_files()[:10]))

    def read_queue_file(self, name):
        with open(os.path.join(self.spool, "queue", name), "rb") as f:
            return f.read()

    def queue_envelope(self, name):
        """queue_envelope - [(key, [fields])] of a queue file's envelope
        (docs: src/queue/qfile.h), up to the ".\\n" line"""
        data = self.read_queue_file(name)
        recs = []
        for line in data.split(b"\n")[1:]:
            if line == b".":
                break
            parts = line.split(b" ")
            recs.append((parts[0].decode("latin-1"), parts[1:]))
        return recs


# --------------------------------------------------------------- test base

class MailportTest(unittest.TestCase):
    """MailportTest - base class: servers and temp dirs are cleaned up in
    tearDown; a sanitizer report or an unexpected server death fails the
    test.  server_logs (name, bytes) is kept on the instance for run.py."""

    def setUp(self):
        self.servers = []
        self._tmpdirs = []
        self._mounts = []
        self._cleanups_first = []
        self.server_logs = []
        self._root = None

    def tmproot(self):
        if self._root is None:
            self._root = tempfile.mkdtemp(prefix="mpbb-")
            os.chmod(self._root, 0o755)
            self._tmpdirs.append(self._root)
        return self._root

    def make_tmpdir(self, name):
        p = os.path.join(self.tmproot(), name)
        i = 1
        while os.path.exists(p):
            i += 1
            p = os.path.join(self.tmproot(), "%s%d" % (name, i))
        os.makedirs(p)
        os.chmod(p, 0o755)
        return p

    def server(self, start=True, **kw):
        s = Server(self, **kw)
        if start:
            s.start()
        return s

    def mount_tmpfs(self, path, size="1m"):
        """mount_tmpfs - mount a small tmpfs (root only); unmounted in tearDown"""
        if not is_root():
            self.skipTest("skipped: tmpfs mount needs root")
        if not which("mount"):
            self.skipTest("skipped: mount(8) missing")
        os.makedirs(path, exist_ok=True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % size,
                            "tmpfs", path], capture_output=True, timeout=20)
        if r.returncode != 0:
            self.skipTest("skipped: cannot mount tmpfs: %s"
                          % r.stderr.decode(errors="replace").strip())
        self._mounts.append(path)

    def on_teardown(self, fn):
        """on_teardown - run fn before the servers are stopped"""
        self._cleanups_first.append(fn)

    def tearDown(self):
        problems = []
        for fn in self._cleanups_first:
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - report, keep cleaning
                problems.append("cleanup: %r" % e)
        for s in self.servers:
            if s.proc is None:
                continue
            if s.proc.poll() is not None and not s.expect_exit:
                problems.append("server %s died during the test (exit status %s)"
                                % (s.name, s.proc.returncode))
            if s.running():
                rc = s.stop()
                if rc is None:
                    problems.append("server %s did not exit within 20s of SIGTERM" % s.name)
        for s in self.servers:
            s.release_port()
        for m in reversed(self._mounts):
            r = subprocess.run(["umount", m], capture_output=True, timeout=20)
            if r.returncode != 0:
                subprocess.run(["umount", "-l", m], capture_output=True, timeout=20)
        for s in self.servers:
            self.server_logs.append((s.name, s.log_bytes()))
            rep = s.sanitizer_report()
            if rep:
                problems.append("sanitizer report in %s stderr:\n%s" % (s.name, rep))
        failed = bool(problems) or not getattr(getattr(self, "_outcome", None), "success", True)
        keep = failed and os.environ.get("MAILPORT_KEEP_TMP") == "1"
        for d in self._tmpdirs:
            if keep:
                self.server_logs.append(("tmpdir", ("kept: %s" % d).encode()))
            else:
                shutil.rmtree(d, ignore_errors=True)
        if problems:
            self.fail("\n".join(problems))

    # -- assertions
    def assertReply(self, reply, code, text=None, regex=None, msg=None):
        """assertReply - code and exact text (or a full-match regex)"""
        ok = reply.code == code
        if ok and text is not None:
            ok = reply.text == text
        if ok and regex is not None:
            ok = re.fullmatch(regex, reply.text, re.S) is not None
        if not ok:
            want = "%d %s" % (code, text if text is not None else (regex or "*"))
            self.fail("%sgot %r, want %r" % ((msg + ": ") if msg else "", reply, want))
        return reply

    def assertCmd(self, client, line, code, text=None, regex=None):
        return self.assertReply(client.cmd(line), code, text, regex,
                                msg=repr(line[:80] if isinstance(line, bytes) else line))

    def assertQueued(self, reply, msg=None):
        self.assertReply(reply, 250, regex=REPLY_QUEUED_RE, msg=msg)
        return qid_of(reply)

    def assertClosed(self, client, timeout=5.0, msg="connection not closed"):
        try:
            rest = client.wait_closed(timeout)
        except socket.timeout:
            self.fail(msg)
        return rest

    def assertNothingDelivered(self, srv, wait=1.5):
        time.sleep(wait)
        self.assertEqual(srv.mailboxes(), {}, "unexpected delivery")
        self.assertEqual(srv.queue_files(), [], "unexpected queue file")

    def assertSync(self, client):
        """assertSync - no stray reply pending: RSET answers "Resetting"
        as the very next reply and nothing else follows"""
        self.assertCmd(client, b"RSET", 250, R_RSET)
        self.assertTrue(client.quiet(0.3), "extra data after RSET reply")

    def need_tool(self, tool):
        p = which(tool)
        if not p:
            self.skipTest("skipped: %s not installed" % tool)
        return p

    def need_root(self):
        if not is_root():
            self.skipTest("skipped: needs root")
