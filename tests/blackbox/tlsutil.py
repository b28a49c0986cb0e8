"""tlsutil - helpers for the TLS, AUTH, submission and sendmail tests.

What it gives the test modules:
  make_pki(tc)      a private test CA and a server certificate for
                    mx.example.test signed by it (openssl CLI, in the test's
                    temp dir): PKI with .ca .cert .key paths
  hash_password()   a crypt(3) hash made by `mailport passwd` (cached)
  user_lines()      users-file lines "addr:<hash>" from {addr: password}
  tls_server(tc)    a Server with [tls] cert/key, a users file (alice, bob)
                    and, on request, submission/submissions listeners on
                    reserved loopback ports (.sub_port, .subs_port); AUTH
                    on its MX port only with auth_on_mx="yes"
  client_ctx()      an SSLContext that verifies the test CA and the name
                    mx.example.test;  insecure_ctx() verifies nothing
  starttls()        STARTTLS on a harness Client: asserts the 220 and wraps
                    the socket (the Client then speaks SMTP over TLS)
  tls_client()      a harness Client on an implicit-TLS (submissions) port
  client_from()     a harness Client from another loopback source address
  unix_client()     a harness Client on the local socket <spool>/sendmail.sock
  tls_session()     MX-port (or given port) client after EHLO, STARTTLS, EHLO
  LoopbackSMTP, LoopbackSMTP_SSL   smtplib clients that connect to
                    127.0.0.1 but use mx.example.test for TLS verification
  plain(), b64()    SASL PLAIN / base64 strings

Only loopback is contacted; every socket operation has a timeout.
"""

import base64
import os
import smtplib
import socket
import ssl
import subprocess

from harness import HOST, IO_TIMEOUT, Client, binary, daemon_ids, reserve_port

PASSWORDS = {
    "alice@example.test": "Al1ce-s3cret-PW-7Qz",
    "bob@example.test": "b0b-Pass-phrase-X9",
}
ALICE = "alice@example.test"
BOB = "bob@example.test"

R_STARTTLS = "2.0.0 Ready to start TLS"
R_TLS_ACTIVE = "5.5.1 TLS already active"
R_AUTH_OK = "2.7.0 Authentication successful"
R_AUTH_FAILED = "5.7.8 Authentication credentials invalid"
R_AUTH_CANCEL = "5.0.0 Authentication cancelled"
R_AUTH_BAD = "5.5.2 Invalid authentication data"
R_AUTH_LONG = "5.5.6 Authentication exchange line is too long"
R_AUTH_MECH = "5.5.4 Unrecognized authentication type"
R_AUTH_TWICE = "5.5.1 Already authenticated"
R_AUTH_IN_TX = "5.5.1 AUTH not allowed during a mail transaction"
R_AUTH_UNAVAILABLE = "5.5.1 Authentication not available"
R_NEED_TLS = "5.7.0 Must issue a STARTTLS command first"
R_NEED_AUTH = "5.7.0 Authentication required"
R_AUTH_BLOCKED = "4.7.0 %s Too many authentication failures, closing transmission channel" % HOST
# "<login>" in the README may be a placeholder or literal brackets
R_NOT_OWNED_RE = r"5\.7\.1 Sender address rejected: not owned by user <?%s>?"
CHALLENGE_USER = "VXNlcm5hbWU6"  # "Username:"
CHALLENGE_PASS = "UGFzc3dvcmQ6"  # "Password:"


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def plain(authcid, password, authzid=""):
    """plain - base64 of the RFC 4616 PLAIN message authzid NUL authcid NUL passwd"""
    return b64("%s\0%s\0%s" % (authzid, authcid, password))


# ---------------------------------------------------------------- openssl

class PKI:
    def __init__(self, d):
        self.dir = d
        self.ca = os.path.join(d, "ca.pem")
        self.ca_key = os.path.join(d, "ca.key")
        self.cert = os.path.join(d, "cert.pem")
        self.key = os.path.join(d, "key.pem")


def _openssl(tc, args, cwd):
    tool = tc.need_tool("openssl")
    r = subprocess.run([tool] + args, cwd=cwd, capture_output=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(args[:2]), r.stderr.decode(errors="replace")))


def make_pki(tc, name="pki", dns=HOST, key_type="ec"):
    """make_pki - a test CA (ca.pem) and a server certificate for dns
    signed by it (cert.pem, leaf only; key.pem, given to the daemon user).
    key_type: "ec" (P-256, the default) or "rsa" (2048 bits, for the
    ECDHE-RSA-* TLS 1.2 cipher suites)"""
    d = tc.make_tmpdir(name)
    p = PKI(d)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    leaf = ["-newkey", "rsa:2048", "-nodes"] if key_type == "rsa" else ec
    _openssl(tc, ["req", "-x509"] + ec + ["-keyout", p.ca_key, "-out", p.ca, "-days", "3",
                                          "-subj", "/O=mailport tests/CN=mailport test CA",
                                          "-addext", "basicConstraints=critical,CA:TRUE",
                                          "-addext", "keyUsage=critical,keyCertSign,cRLSign"], d)
    csr = os.path.join(d, "server.csr")
    _openssl(tc, ["req", "-new"] + leaf + ["-keyout", p.key, "-out", csr,
                                           "-subj", "/O=mailport tests/CN=%s" % dns], d)
    ext = os.path.join(d, "server.ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,%s\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=DNS:%s\n"
                % ("digitalSignature,keyEncipherment" if key_type == "rsa" else "digitalSignature",
                   dns))
    _openssl(tc, ["x509", "-req", "-in", csr, "-CA", p.ca, "-CAkey", p.ca_key,
                  "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", "2",
                  "-extfile", ext, "-out", p.cert], d)
    os.chmod(p.cert, 0o644)
    os.chmod(p.ca, 0o644)
    os.chmod(p.key, 0o600)
    ids = daemon_ids()
    if ids:
        os.chown(p.key, *ids)
    return p


# ------------------------------------------------------------- passwords

_HASHES = {}


def run_passwd(password, method=None, timeout=30):
    """run_passwd - (exit status, stdout, stderr) of `mailport passwd`
    with password (bytes or str) on stdin"""
    argv = [binary(), "passwd"] + (["-m", method] if method else [])
    if isinstance(password, str):
        password = password.encode()
    r = subprocess.run(argv, input=password, capture_output=True, timeout=timeout)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def hash_password(password, method=None):
    key = (password, method)
    if key not in _HASHES:
        rc, out, err = run_passwd(password + "\n", method)
        if rc != 0 or not out.strip():
            raise RuntimeError("mailport passwd failed (%d): %s" % (rc, err))
        _HASHES[key] = out.strip()
    return _HASHES[key]


def user_lines(users=None, method=None):
    """user_lines - users-file lines; users: {addr: password or None}"""
    users = PASSWORDS if users is None else users
    out = []
    for addr, pw in users.items():
        out.append(addr if pw is None else "%s:%s" % (addr, hash_password(pw, method)))
    return out


# ---------------------------------------------------------------- servers

def track_clients(tc, s):
    """track_clients - every s.client()/s.session() is closed at teardown,
    before the server is stopped (an open idle session makes SIGTERM wait)"""
    orig = s.client

    def client(**kw):
        c = orig(**kw)
        tc.on_teardown(c.close)
        return c
    s.client = client
    return s


def _reserve(tc):
    port, fd = reserve_port()
    tc.addCleanup(os.close, fd)  # after tearDown has stopped the servers
    return port


def tls_server(tc, tls=True, users=None, submission=False, submissions=False,
               start=True, key_type="ec", **opts):
    """tls_server - a Server with [tls] (unless tls=False; key_type "ec" or
    "rsa" for its certificate), a users file (PASSWORDS unless users is
    given; users=False: no users file) and the requested submission
    listeners.  Keyword options go to the Server (e.g.
    allow_plaintext_auth="yes", max_auth_failures=3, timeout=2,
    auth_on_mx="yes": AUTH on the MX listener, which by default offers
    none, issue 6)."""
    pki = None
    if tls:
        pki = make_pki(tc, key_type=key_type)
        opts.setdefault("cert", pki.cert)
        opts.setdefault("key", pki.key)
    if users is not False:
        opts["users"] = user_lines(users)
    sub_port = subs_port = None
    if submission:
        sub_port = _reserve(tc)
        opts["submission"] = "127.0.0.1:%d" % sub_port
    if submissions:
        subs_port = _reserve(tc)
        opts["submissions"] = "127.0.0.1:%d" % subs_port
    s = tc.server(start=False, **opts)
    track_clients(tc, s)
    s.pki = pki
    s.sub_port = sub_port
    s.subs_port = subs_port
    if start:
        s.start()
    return s


# ---------------------------------------------------------------- clients

def client_ctx(pki):
    """client_ctx - verifies the test CA and the host name mx.example.test"""
    ctx = ssl.create_default_context(cafile=pki.ca)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def insecure_ctx():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def wrap(c, ctx, server_hostname=HOST):
    """wrap - run the TLS handshake on a harness Client's socket"""
    if c.buf:
        raise AssertionError("plaintext bytes after the 220 to STARTTLS: %r" % bytes(c.buf))
    c.sock.settimeout(c.timeout)
    c.sock = ctx.wrap_socket(c.sock, server_hostname=server_hostname)
    c.eof = False
    return c


def starttls(tc, c, ctx, server_hostname=HOST):
    """starttls - STARTTLS, assert the 220, handshake"""
    tc.assertCmd(c, b"STARTTLS", 220, R_STARTTLS)
    return wrap(c, ctx, server_hostname)


def tls_client(port, ctx, server_hostname=HOST, timeout=IO_TIMEOUT):
    """tls_client - a harness Client on an implicit-TLS port, banner read"""
    c = Client(port, timeout=timeout, read_banner=False)
    try:
        wrap(c, ctx, server_hostname)
        c.banner = c.reply()
    except Exception:
        c.close()
        raise
    return c


def client_from(port, source, timeout=IO_TIMEOUT):
    """client_from - a harness Client to 127.0.0.1:port from another
    loopback source address (127.0.0.0/8), banner read"""
    assert source.startswith("127."), source
    c = Client.__new__(Client)
    c.host = "127.0.0.1"
    c.port = port
    c.timeout = timeout
    c.buf = bytearray()
    c.eof = False
    c.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                      source_address=(source, 0))
    c.banner = c.reply()
    return c


def unix_client(path, timeout=IO_TIMEOUT):
    """unix_client - a harness Client on a Unix-domain socket, banner read"""
    c = Client.__new__(Client)
    c.host = path
    c.port = None
    c.timeout = timeout
    c.buf = bytearray()
    c.eof = False
    c.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.sock.settimeout(timeout)
    c.sock.connect(path)
    c.banner = c.reply()
    return c


def tls_session(tc, s, ctx=None, ehlo="client.test", port=None):
    """tls_session - client on the MX port (or port) after EHLO, STARTTLS,
    EHLO again"""
    c = s.client() if port is None else Client(port)
    tc.on_teardown(c.close)
    tc.assertEqual(c.banner.code, 220, c.banner)
    c.ehlo(ehlo)
    starttls(tc, c, ctx or client_ctx(s.pki))
    c.ehlo(ehlo)
    return c


def auth_plain(tc, c, user=ALICE, password=None):
    password = PASSWORDS[user] if password is None else password
    tc.assertCmd(c, "AUTH PLAIN " + plain(user, password), 235, R_AUTH_OK)


def ehlo_keywords(reply):
    """ehlo_keywords - the extension lines of an EHLO reply (no greeting)"""
    return reply.texts[1:]


class LoopbackSMTP(smtplib.SMTP):
    """LoopbackSMTP - smtplib.SMTP(HOST, port) that connects to 127.0.0.1,
    so that starttls() checks the certificate against mx.example.test"""

    def _get_socket(self, host, port, timeout):
        return socket.create_connection(("127.0.0.1", port), timeout)


class LoopbackSMTP_SSL(smtplib.SMTP_SSL):
    """LoopbackSMTP_SSL - implicit TLS to 127.0.0.1, verified as HOST"""

    def _get_socket(self, host, port, timeout):
        sock = socket.create_connection(("127.0.0.1", port), timeout)
        return self.context.wrap_socket(sock, server_hostname=host)


def close_quietly(x):
    try:
        x.close()
    except Exception:  # noqa: BLE001
        pass
