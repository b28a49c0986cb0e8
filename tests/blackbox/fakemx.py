"""fakemx - receiving servers for the remote-delivery tests (stdlib only).

What it gives the test modules:
  FakeMX(tc, addr, port, ...)  a scripted SMTP server (socketserver, one
        thread per connection) on a loopback address.  Its reply to each
        command is configurable (per command, per occurrence, or by a
        function), including malformed raw bytes, dropping the connection
        (DROP) and never answering (HANG).  It can offer STARTTLS with any
        certificate, leave out ESMTP, 8BITMIME, PIPELINING, DSN or SMTPUTF8,
        and advertise a tiny SIZE.  It records every session: the raw
        command lines, the raw DATA bytes as they came off the wire
        (dot-stuffed, line ends untouched), whether TLS was on, whether the
        client pipelined, and the reply it gave to the final dot.
  Sink(tc, addr, port, opts)   Postfix's smtp-sink on addr:port, dumping
        every transaction to a file (-d); opts are smtp-sink's options
        for misbehaving (-r/-f/-q/-Q/-W/-A ..., -8/-p/-e/-N to drop
        extensions).
  per_rcpt({addr: reply})      a RCPT reply function by recipient address
  unstuff(data)                the message from raw DATA bytes
  DROP, HANG                   reply actions

Only loopback (127.0.0.0/8, ::1) is used; every wait is bounded: a HANG
lasts until the server is stopped (cleanup) or hang_limit seconds.
"""

import atexit
import os
import pwd
import re
import socket
import socketserver
import ssl
import struct
import subprocess
import threading
import time

from harness import wait_for


class _Action:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


DROP = _Action("DROP")  # close the connection without a reply
HANG = _Action("HANG")  # never reply (until stopped or hang_limit)

DEFAULT_EXT = ("PIPELINING", "SIZE 52428800", "8BITMIME", "ENHANCEDSTATUSCODES", "DSN",
               "SMTPUTF8")
VERBS = ("EHLO", "HELO", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "QUIT", "STARTTLS", "VRFY")


def per_rcpt(table, default="250 2.1.5 Ok"):
    """per_rcpt - a RCPT reply function: table maps a recipient address
    (lower case, no brackets) to its reply"""
    def fn(arg, session):
        m = re.match(r"(?i)TO:\s*<([^>]*)>", arg)
        addr = m.group(1).lower() if m else ""
        return table.get(addr, default)
    return fn


def unstuff(data):
    """unstuff - the message from raw DATA bytes (CRLF lines): remove the
    leading dot of dot-stuffed lines"""
    out = []
    for line in data.split(b"\r\n"):
        out.append(line[1:] if line.startswith(b".") else line)
    return b"\r\n".join(out)


class Txn:
    """Txn - one mail transaction as received"""

    def __init__(self, mail):
        self.mail = mail          # the MAIL line (bytes, no CRLF)
        self.rcpts = []           # accepted RCPT lines (bytes, no CRLF)
        self.rejected = []        # RCPT lines that got a non-2xx reply
        self.data = None          # raw DATA bytes up to (not incl.) ".\r\n"
        self.dot_reply = None     # what we answered to the final dot
        self.accepted = False     # the dot got a 2xx

    @property
    def message(self):
        return None if self.data is None else unstuff(self.data)

    def __repr__(self):
        return "Txn(%r, %r, %d bytes, %r)" % (self.mail, self.rcpts,
                                              len(self.data or b""), self.dot_reply)


class Session:
    """Session - one connection as seen by the FakeMX"""

    def __init__(self, peer):
        self.peer = peer
        self.lines = []           # every command line (bytes, with its line end)
        self.helo = None          # "EHLO x" / "HELO x"
        self.tls = False
        self.tls_version = None
        self.tls_error = None
        self.after_starttls = b""  # plaintext that followed STARTTLS (discarded)
        self.pipelined = False    # a command arrived before the previous reply
        self.txns = []
        self.closed = None        # "quit", "eof", "drop", "hang", "error: ..."
        self.started = time.monotonic()

    def __repr__(self):
        return "Session(%s, tls=%s, %d lines, %r, closed=%s)" % (
            self.peer, self.tls, len(self.lines), self.txns, self.closed)


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        self.server.fake._serve(self.request, self.client_address)


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, fake, family):
        self.address_family = family
        self.fake = fake
        super().__init__(addr, _Handler)


class FakeMX:
    """FakeMX - a scripted SMTP server on addr:port.

    replies: {key: spec} with key a verb (EHLO, HELO, MAIL, RCPT, DATA,
      RSET, NOOP, QUIT, STARTTLS), "CONNECT" (the greeting) or "DOT" (the
      reply to the end of data).  spec is
        str      a reply; "\\n" separates the lines of a multi-line reply,
                 CRLFs are added
        bytes    sent exactly as given (malformed replies)
        DROP     close the connection, HANG: never answer
        (bytes, DROP)  send the bytes, then close
        list     one spec per occurrence of that key over the server's
                 life (all sessions); the last one repeats
        callable fn(argument str, Session) -> a spec
    ext: EHLO keywords (STARTTLS is added when tls is given);
    esmtp=False: EHLO is refused (502), only HELO works;
    tls: an ssl.SSLContext (server side) offered through STARTTLS;
    detect_pipelining: wait a little before each reply to see whether the
      client sends the next command without waiting (RFC 2920 off);
    dribble: send replies one byte at a time, this many seconds apart.
    """

    def __init__(self, tc, addr, port, name="fakemx.test", replies=None, ext=DEFAULT_EXT,
                 esmtp=True, tls=None, detect_pipelining=False, hang_limit=60.0,
                 io_timeout=30.0, dribble=0.0):
        self.addr = addr
        self.port = port
        self.name = name
        self.replies = dict(replies or {})
        self.ext = list(ext)
        self.esmtp = esmtp
        self.tls = tls
        self.detect_pipelining = detect_pipelining
        self.hang_limit = hang_limit
        self.dribble = dribble
        self.io_timeout = io_timeout
        self.sessions = []
        self.counts = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.txn_seq = 0
        self.active = 0           # sessions open now
        self.max_active = 0       # the most sessions open at once
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        self.srv = _TCPServer((addr, port), self, fam)
        self.thread = threading.Thread(target=self.srv.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()
        tc.addCleanup(self.stop)

    # -- results
    def txns(self):
        with self.lock:
            return [t for s in self.sessions for t in s.txns]

    def accepted(self):
        """accepted - transactions whose final dot got a 2xx"""
        return [t for t in self.txns() if t.accepted]

    def wait_accepted(self, n=1, timeout=20.0):
        """wait_accepted - the accepted transactions once there are n (or
        whatever there is after timeout)"""
        wait_for(lambda: len(self.accepted()) >= n, timeout)
        return self.accepted()

    def wait_sessions(self, n=1, timeout=20.0):
        wait_for(lambda: len(self.sessions) >= n, timeout)
        return list(self.sessions)

    def commands(self):
        """commands - every command line of every session (bytes, no line end)"""
        with self.lock:
            return [l.rstrip(b"\r\n") for s in self.sessions for l in s.lines]

    def stop(self):
        self.stopping.set()
        self.srv.shutdown()
        self.srv.server_close()
        self.thread.join(5)

    # -- replies
    def _spec(self, key, arg, session):
        with self.lock:
            n = self.counts.get(key, 0)
            self.counts[key] = n + 1
        spec = self.replies.get(key)
        if isinstance(spec, list):
            spec = spec[min(n, len(spec) - 1)] if spec else None
        if callable(spec) and not isinstance(spec, _Action):
            spec = spec(arg, session)
        return spec

    def _default(self, key, session):
        if key == "CONNECT":
            return "220 %s ESMTP fakemx" % self.name
        if key == "EHLO":
            if not self.esmtp:
                return "502 5.5.2 Error: command not recognized"
            ext = list(self.ext)
            if self.tls is not None and not session.tls:
                ext.append("STARTTLS")
            return "\n".join(["250-%s" % self.name] + ["250-" + e for e in ext[:-1]]
                             + ["250 " + ext[-1]] if ext else ["250 %s" % self.name])
        if key == "HELO":
            return "250 %s" % self.name
        if key == "MAIL":
            return "250 2.1.0 Ok"
        if key == "RCPT":
            return "250 2.1.5 Ok"
        if key == "DATA":
            if not session.txns or not session.txns[-1].rcpts:
                return "554 5.5.1 Error: no valid recipients"
            return "354 End data with <CR><LF>.<CR><LF>"
        if key == "DOT":
            with self.lock:
                self.txn_seq += 1
                return "250 2.0.0 Ok: queued as FAKE%d" % self.txn_seq
        if key in ("RSET", "NOOP"):
            return "250 2.0.0 Ok"
        if key == "QUIT":
            return "221 2.0.0 Bye"
        if key == "STARTTLS":
            if self.tls is None or session.tls:
                return "502 5.5.1 Error: command not implemented"
            return "220 2.0.0 Ready to start TLS"
        return "502 5.5.2 Error: command not recognized"

    # -- one connection
    def make_conn(self, sock, sess):
        """make_conn - the connection handler (subclasses misbehave here)"""
        return _Conn(self, sock, sess)

    def _serve(self, sock, peer):
        sess = Session(peer)
        with self.lock:
            self.sessions.append(sess)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        conn = self.make_conn(sock, sess)
        try:
            conn.run()
        except _Closed as e:
            sess.closed = sess.closed or str(e)
        except (OSError, ssl.SSLError) as e:
            sess.closed = sess.closed or "error: %r" % e
        finally:
            try:
                conn.sock.close()
            except OSError:
                pass
            with self.lock:
                self.active -= 1


class _Closed(Exception):
    pass


class _Conn:
    """_Conn - the SMTP conversation of one session"""

    def __init__(self, fake, sock, sess):
        self.f = fake
        self.sock = sock
        self.s = sess
        self.buf = b""
        sock.settimeout(fake.io_timeout)

    def _recv(self):
        d = self.sock.recv(65536)
        if not d:
            raise _Closed("eof")
        self.buf += d

    def read_line(self):
        while b"\n" not in self.buf:
            if len(self.buf) > 100000:
                raise _Closed("error: command line too long")
            self._recv()
        i = self.buf.index(b"\n") + 1
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def read_data(self):
        """read_data - raw bytes up to the CRLF.CRLF (or a leading .CRLF)"""
        while True:
            if self.buf.startswith(b".\r\n"):
                self.buf = self.buf[3:]
                return b""
            i = self.buf.find(b"\r\n.\r\n")
            if i >= 0:
                data, self.buf = self.buf[:i + 2], self.buf[i + 5:]
                return data
            self._recv()

    def reply(self, key, arg=""):
        """reply - answer per the script; returns the reply text sent (str)
        or raises _Closed for DROP/HANG"""
        spec = self.f._spec(key, arg, self.s)
        if spec is None:
            spec = self.f._default(key, self.s)
        if spec is DROP:
            self.s.closed = "drop"
            raise _Closed("drop")
        if spec is HANG:
            self.s.closed = "hang"
            self.f.stopping.wait(self.f.hang_limit)
            raise _Closed("hang")
        if isinstance(spec, tuple):  # (bytes, DROP): send, then close
            self.sock.sendall(spec[0])
            self.s.closed = "drop"
            raise _Closed("drop")
        if self.f.detect_pipelining and key not in ("CONNECT", "DOT") and not self.buf:
            self.sock.settimeout(0.05)
            try:
                self._recv()
            except (socket.timeout, BlockingIOError):
                pass
            finally:
                self.sock.settimeout(self.f.io_timeout)
        if key not in ("CONNECT",) and self.buf:
            self.s.pipelined = True
        if isinstance(spec, bytes):
            out = spec
            text = spec.decode("latin-1")
        else:
            out = "".join(l + "\r\n" for l in spec.split("\n")).encode("utf-8")
            text = spec
        if self.f.dribble:
            for i in range(len(out)):
                self.sock.sendall(out[i:i + 1])
                time.sleep(self.f.dribble)
        else:
            self.sock.sendall(out)
        return text

    def run(self):
        self.reply("CONNECT")
        txn = None
        while True:
            line = self.read_line()
            self.s.lines.append(line)
            cmd = line.rstrip(b"\r\n").decode("latin-1")
            verb, _, arg = cmd.partition(" ")
            verb = verb.upper()
            if verb == "MAIL" and arg[:5].upper() != "FROM:" and ":" in cmd:
                arg = cmd[5:]
            if verb in ("EHLO", "HELO"):
                r = self.reply(verb, arg)
                if r.startswith("250"):
                    self.s.helo = cmd
                    txn = None
            elif verb == "MAIL":
                r = self.reply("MAIL", arg)
                if r.startswith("250"):
                    txn = Txn(line.rstrip(b"\r\n"))
                    self.s.txns.append(txn)
            elif verb == "RCPT":
                r = self.reply("RCPT", arg)
                if txn is not None:
                    (txn.rcpts if r.startswith("25") else txn.rejected).append(
                        line.rstrip(b"\r\n"))
            elif verb == "DATA":
                r = self.reply("DATA", arg)
                if r.startswith("354"):
                    data = self.read_data()
                    if txn is None:
                        txn = Txn(None)
                        self.s.txns.append(txn)
                    txn.data = data
                    r = self.reply("DOT")
                    txn.dot_reply = r
                    txn.accepted = re.match(r"2\d\d( |\r|$)", r) is not None
                    txn = None
            elif verb == "RSET":
                self.reply("RSET", arg)
                txn = None
            elif verb == "QUIT":
                self.reply("QUIT", arg)
                self.s.closed = "quit"
                return
            elif verb == "STARTTLS":
                r = self.reply("STARTTLS", arg)
                if r.startswith("220") and self.f.tls is not None and not self.s.tls:
                    self.s.after_starttls = self.buf
                    self.buf = b""
                    try:
                        self.sock = self.f.tls.wrap_socket(self.sock, server_side=True)
                    except (ssl.SSLError, OSError) as e:
                        self.s.tls_error = repr(e)
                        raise _Closed("error: TLS handshake: %r" % e)
                    self.s.tls = True
                    self.s.tls_version = self.sock.version()
                    self.s.helo = None
                    txn = None
            else:
                self.reply(verb if verb in VERBS else "UNKNOWN", arg)


def server_ctx(cert, key):
    """server_ctx - a server-side SSLContext for FakeMX(tls=...)"""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def self_signed(tc, dns, name="selfsigned"):
    """self_signed - (cert, key) paths of a self-signed certificate for dns"""
    tool = tc.need_tool("openssl")
    d = tc.make_tmpdir(name)
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    r = subprocess.run([tool, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=%s" % dns,
                        "-addext", "subjectAltName=DNS:%s" % dns],
                       capture_output=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("openssl: %s" % r.stderr.decode(errors="replace"))
    return cert, key


# ----------------------------------------------------------------- smtp-sink

_LIVE = set()  # smtp-sink processes not yet stopped


def _kill_live():
    """_kill_live - at interpreter exit (an interrupted run that skipped
    the cleanups), kill the smtp-sink processes still running"""
    for p in list(_LIVE):
        try:
            if p.poll() is None:
                p.kill()
                p.wait(5)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
    _LIVE.clear()


atexit.register(_kill_live)

class Sink:
    """Sink - smtp-sink on addr:port, every transaction dumped to a file
    in .dir (smtp-sink's dump format: its X-* lines, a Received: header,
    then the message with LF line ends)."""

    def __init__(self, tc, addr, port, opts=(), name="sink", backlog=256):
        self.tool = tc.need_tool("smtp-sink")
        self.dir = tc.make_tmpdir(name)
        self.addr, self.port = addr, port
        argv = [self.tool]
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("nobody")
            except KeyError:
                tc.skipTest("skipped: smtp-sink as root needs the user nobody")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            argv += ["-u", "nobody"]
        argv += ["-d", os.path.join(self.dir, "%H%M%S."), "-h", name] + list(opts)
        argv += ["[%s]:%d" % (addr, port) if ":" in addr else "%s:%d" % (addr, port),
                 str(backlog)]
        self.log_path = os.path.join(self.dir, "..", name + ".log")
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     start_new_session=True)
        _LIVE.add(self.proc)
        log.close()
        tc.addCleanup(self.stop)
        if not wait_for(self._listening, 10):
            raise RuntimeError("smtp-sink not listening on %s:%d" % (addr, port))

    def _listening(self):
        if self.proc.poll() is not None:
            raise RuntimeError("smtp-sink exited: %s" % self.log())
        return listening(self.addr, self.port)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def files(self):
        try:
            return sorted(os.path.join(self.dir, n) for n in os.listdir(self.dir))
        except OSError:
            return []

    def messages(self):
        out = []
        for p in self.files():
            try:
                with open(p, "rb") as f:
                    out.append(f.read())
            except OSError:
                pass
        return out

    def count(self):
        return len(self.files())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        _LIVE.discard(self.proc)


def listening(addr, port):
    """listening - is a TCP socket listening on exactly addr:port?
    (/proc/net/tcp[6]; True when that cannot be read)"""
    if ":" in addr:
        raw = socket.inet_pton(socket.AF_INET6, addr)
        want = "".join("%08X" % struct.unpack("<I", raw[i:i + 4])[0] for i in range(0, 16, 4))
        path = "/proc/net/tcp6"
    else:
        want = "%08X" % struct.unpack("<I", socket.inet_aton(addr))[0]
        path = "/proc/net/tcp"
    want += ":%04X" % port
    try:
        with open(path) as f:
            rows = f.read().splitlines()[1:]
    except OSError:
        return True
    return any(r.split()[1] == want and r.split()[3] == "0A" for r in rows)


def wait_count(fn, n, timeout):
    """wait_count - wait until fn() >= n; returns the last value"""
    deadline = time.monotonic() + timeout
    v = fn()
    while v < n and time.monotonic() < deadline:
        time.sleep(0.1)
        v = fn()
    return v
