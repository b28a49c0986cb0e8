#!/usr/bin/env python3
"""check_dsn - parse delivery status notifications made by src/msg/dsn.c
with Python's standard `email` package and check their structure
(RFC 3464, RFC 6522, RFC 3834), independently of the C code.

Usage: check_dsn.py FILE...   (each file one report, CRLF or LF lines)
Prints "ok FILE" or "FAIL FILE: why" per file; exit status 0 when all are
ok, 1 otherwise.  test_msg_dsn runs it over the reports it builds when
python3 is installed; run it by hand over tests/unit/golden/dsn_*.eml.

Checks: line ends not mixed, no bare CR, no line over 998 octets; no parser
defects anywhere; multipart/report with report-type=delivery-status, the
headers of a report (From MAILER-DAEMON, To, Subject matching the worst
action, Date, Message-ID, Auto-Submitted: auto-replied, MIME-Version);
part 1 text/plain, part 2 message/delivery-status with a per-message block
(Reporting-MTA: dns; ...) and per-recipient blocks (Final-Recipient,
Action, Status, optional Original-Recipient, Remote-MTA, Diagnostic-Code,
dates that parse); part 3, if any, message/rfc822 or text/rfc822-headers.
"""
import email
import email.policy
import email.utils
import re
import sys

SUBJECTS = {
    "failed": "Undelivered Mail Returned to Sender",
    "delayed": "Delayed Mail (still being retried)",
    "success": "Successful Mail Delivery Report",
}
ACTIONS = {"failed", "delayed", "delivered", "relayed", "expanded"}
STATUS = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")
TYPED = re.compile(r"^[A-Za-z0-9-]+;\s*\S")


def check_lines(raw):
    """check_lines - line ends and lengths of the raw bytes"""
    crlf = raw.count(b"\r\n")
    lf = raw.count(b"\n")
    if crlf and crlf != lf:
        return "mixed line ends"
    if raw.count(b"\r") != crlf:
        return "bare CR"
    for n, line in enumerate(raw.split(b"\n"), 1):
        if len(line.rstrip(b"\r")) > 998:
            return "line %d longer than 998 octets" % n
    return None


def defects(msg):
    """defects - every parser defect in the message and its parts"""
    found = []
    for part in msg.walk():
        found.extend(part.defects)
    return found


def check_date(value, what):
    """check_date - value parses as an RFC 5322 date"""
    try:
        if email.utils.parsedate_to_datetime(value) is None:
            raise ValueError
    except (TypeError, ValueError):
        raise AssertionError("%s does not parse as a date: %r" % (what, value))


def check_rcpt(block):
    """check_rcpt - one per-recipient block; its action"""
    for name in ("Final-Recipient", "Action", "Status"):
        if block[name] is None:
            raise AssertionError("recipient block without %s" % name)
    if not TYPED.match(block["Final-Recipient"]):
        raise AssertionError("Final-Recipient: %r" % block["Final-Recipient"])
    action = block["Action"].strip().lower()
    if action not in ACTIONS:
        raise AssertionError("Action: %r" % action)
    if not STATUS.match(block["Status"].strip()):
        raise AssertionError("Status: %r" % block["Status"])
    for name in ("Original-Recipient", "Diagnostic-Code"):
        if block[name] is not None and not TYPED.match(block[name]):
            raise AssertionError("%s: %r" % (name, block[name]))
    if block["Remote-MTA"] is not None and \
            not block["Remote-MTA"].lower().startswith("dns;"):
        raise AssertionError("Remote-MTA: %r" % block["Remote-MTA"])
    for name in ("Last-Attempt-Date", "Will-Retry-Until"):
        if block[name] is not None:
            check_date(block[name], name)
    return action


def check_report(msg):
    """check_report - the whole structure; raises AssertionError"""
    if msg.get_content_type() != "multipart/report":
        raise AssertionError("not multipart/report: %s" % msg.get_content_type())
    if msg.get_param("report-type") != "delivery-status":
        raise AssertionError("report-type: %r" % msg.get_param("report-type"))
    if (msg["Auto-Submitted"] or "").strip() != "auto-replied":
        raise AssertionError("Auto-Submitted: %r" % msg["Auto-Submitted"])
    if "MAILER-DAEMON@" not in (msg["From"] or ""):
        raise AssertionError("From: %r" % msg["From"])
    for name in ("To", "Subject", "Message-ID", "Date", "MIME-Version"):
        if msg[name] is None:
            raise AssertionError("no %s:" % name)
    check_date(msg["Date"], "Date")
    parts = msg.get_payload()
    if not isinstance(parts, list) or len(parts) not in (2, 3):
        raise AssertionError("expected 2 or 3 parts")
    if parts[0].get_content_type() != "text/plain":
        raise AssertionError("part 1: %s" % parts[0].get_content_type())
    if parts[1].get_content_type() != "message/delivery-status":
        raise AssertionError("part 2: %s" % parts[1].get_content_type())
    blocks = parts[1].get_payload()
    if not isinstance(blocks, list) or len(blocks) < 2:
        raise AssertionError("delivery-status: no recipient block")
    if not (blocks[0]["Reporting-MTA"] or "").lower().startswith("dns;"):
        raise AssertionError("Reporting-MTA: %r" % blocks[0]["Reporting-MTA"])
    if blocks[0]["Arrival-Date"] is not None:
        check_date(blocks[0]["Arrival-Date"], "Arrival-Date")
    actions = [check_rcpt(b) for b in blocks[1:]]
    kind = "failed" if "failed" in actions else \
        "delayed" if "delayed" in actions else "success"
    if msg["Subject"] != SUBJECTS[kind]:
        raise AssertionError("Subject %r for a %s report" % (msg["Subject"], kind))
    if len(parts) == 3:
        ctype = parts[2].get_content_type()
        if ctype not in ("message/rfc822", "text/rfc822-headers"):
            raise AssertionError("part 3: %s" % ctype)
        if ctype == "message/rfc822" and \
                not isinstance(parts[2].get_payload(0), email.message.Message):
            raise AssertionError("part 3: no message inside")


def check_file(path):
    """check_file - None when the report in path is fine, else why not"""
    with open(path, "rb") as f:
        raw = f.read()
    why = check_lines(raw)
    if why:
        return why
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    if defects(msg):
        return "parser defects: %r" % defects(msg)
    try:
        check_report(msg)
    except AssertionError as e:
        return str(e)
    return None


def main(argv):
    """main - check every file named"""
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    bad = 0
    for path in argv[1:]:
        why = check_file(path)
        if why:
            bad += 1
            print("FAIL %s: %s" % (path, why))
        else:
            print("ok %s" % path)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
