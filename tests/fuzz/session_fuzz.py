"""session_fuzz - mutated SMTP sessions against the sanitizer build, by hand:

    make san && python3 tests/fuzz/session_fuzz.py [SEED] [SECONDS]

Each session sends a random mix of mutated commands, DATA/BDAT content,
AUTH exchanges and smuggling fragments in random-sized writes.  At the end
the server must still be running, exit 0 on SIGTERM, and its log must hold
no AddressSanitizer/UBSan/LeakSanitizer report.  Loopback only (port 2811),
bounded in time.  Not part of `make test` (random, and it wants minutes).
"""
import os, random, socket, subprocess, sys, tempfile, time
BIN = os.environ.get("MAILPORT_BIN", "build-san/mailport")
d = tempfile.mkdtemp(prefix="mailport-fuzz-"); os.chmod(d, 0o755)
users = subprocess.run([BIN, "passwd"], input=b"pw", capture_output=True).stdout.decode().strip()
open(d + "/users", "w").write("alice@example.test:%s\n" % users)
os.chmod(d + "/users", 0o644)
open(d + "/m.conf", "w").write("""[server]
hostname = mx.example.test
listen = 127.0.0.1:2811
spool = %s/spool
timeout = 3
max_errors = 1000
max_connections_per_ip = 1000
[local]
domains = example.test
mailboxes = %s/mail
users = %s/users
[tls]
allow_plaintext_auth = yes
""" % (d, d, d))
log = open(d + "/log", "wb")
env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0")
p = subprocess.Popen([BIN, "serve", "-c", d + "/m.conf"], stdout=log, stderr=log, env=env)
time.sleep(1)
seeds = [b"EHLO x\r\n", b"HELO x\r\n", b"MAIL FROM:<a@b.c>\r\n", b"MAIL FROM:<> SIZE=10 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=a+2Bb\r\n",
         b"RCPT TO:<alice@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;alice+40example.test\r\n",
         b"RCPT TO:<\"a b\"@example.test>\r\n", b"RCPT TO:<@x,@y:alice@example.test>\r\n", b"DATA\r\n",
         b"Subject: x\r\n\r\nbody\r\n.\r\n", b"BDAT 5\r\nhello", b"BDAT 0 LAST\r\n", b"RSET\r\n", b"NOOP\r\n",
         b"VRFY x\r\n", b"AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABwdw==\r\n", b"AUTH LOGIN\r\n", b"YWxpY2U=\r\n",
         b"*\r\n", b"STARTTLS\r\n", b"QUIT\r\n", b"\r\n.\r\n", b"..\r\n", b"\n.\n", b"\x00", b"\xff\xfe"]
def mutate(b):
    b = bytearray(b)
    for _ in range(random.randint(0, 4)):
        op = random.randint(0, 4)
        if not b: b += bytes([random.randint(0, 255)]); continue
        i = random.randrange(len(b))
        if op == 0: b[i] = random.randint(0, 255)
        elif op == 1: del b[i]
        elif op == 2: b[i:i] = bytes([random.choice(b"\r\n.:<>@\"\\ +=0\x00")])
        elif op == 3: b[i:i] = b[i:i+random.randint(1, 40)] * random.randint(1, 50)
        else: b[i:i] = random.choice(seeds)
    return bytes(b)
random.seed(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
deadline = time.time() + float(sys.argv[2] if len(sys.argv) > 2 else 120)
n = 0
while time.time() < deadline and p.poll() is None:
    try:
        s = socket.create_connection(("127.0.0.1", 2811), timeout=2)
        s.recv(1000)
        payload = b"".join(mutate(random.choice(seeds)) for _ in range(random.randint(1, 12)))
        for i in range(0, len(payload), random.randint(1, 400)):
            s.sendall(payload[i:i+400])
        s.settimeout(0.2)
        try:
            while s.recv(65536): pass
        except Exception: pass
        s.close()
    except Exception:
        pass
    n += 1
alive = p.poll() is None
p.terminate(); p.wait(20)
txt = open(d + "/log", "rb").read()
bad = [k for k in (b"AddressSanitizer", b"runtime error:", b"LeakSanitizer") if k in txt]
print("sessions", n, "alive", alive, "exit", p.returncode, "sanitizer", bad, "log", d + "/log")
sys.exit(0 if alive and p.returncode == 0 and not bad else 1)
