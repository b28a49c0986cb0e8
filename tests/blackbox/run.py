#!/usr/bin/python3
"""run - run mailport's black-box tests (tests/blackbox/test_*.py).

usage: run.py [-j JOBS] [FILTER...]

Every test runs against its own server, port and temp dir, so the modules
are spread over JOBS worker processes (default 2, or $MAILPORT_TEST_JOBS).
A FILTER is a substring of a test id ("test_data", "SmugglingTests",
"test_bdat_zero"); with several, a test runs when any matches.

Output: one line per test ("ok", "FAIL", "ERROR" or "skip", the test id,
seconds), then the details of every failure with the tail of the server's
stderr, then "skipped: N" when tests were skipped, and as the last line
exactly "N passed, N failed".  Exit status 1 if anything failed.

Environment: MAILPORT_BIN (the binary, see harness.py), MAILPORT_TEST_JOBS
(worker processes, default 2), MAILPORT_TEST_TIMEOUT (seconds per test,
default 300), MAILPORT_TEST_SOURCE_MSGS (smtp-source load, default 2000),
MAILPORT_KEEP_TMP=1 (keep the temp dirs of failed tests).
"""

import importlib
import multiprocessing as mp
import os
import signal
import sys
import time
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TEST_TIMEOUT = int(os.environ.get("MAILPORT_TEST_TIMEOUT", "300"))  # per test, seconds
LOG_TAIL_LINES = 80
# Slow modules first, so that two workers finish at about the same time.
SLOW_FIRST = ["test_clients", "test_durability", "test_limits", "test_signals", "test_data"]


class TestTimeout(Exception):
    pass


def discover():
    names = sorted(f[:-3] for f in os.listdir(HERE)
                   if f.startswith("test_") and f.endswith(".py"))
    return sorted(names, key=lambda n: (SLOW_FIRST.index(n) if n in SLOW_FIRST
                                        else len(SLOW_FIRST), n))


def selected(test_id, filters):
    return not filters or any(f in test_id for f in filters)


def iter_tests(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from iter_tests(t)
        else:
            yield t


class EventResult(unittest.TestResult):
    """EventResult - collects the outcome of one test and emits one event
    when the test (tearDown included) is over"""

    def __init__(self, emit):
        super().__init__()
        self.emit = emit
        self.cur = None

    def startTest(self, test):
        super().startTest(test)
        self.cur = {"status": "ok", "details": [], "t0": time.monotonic(), "skip": None}

    def _bad(self, status, test, err, label=""):
        if self.cur["status"] != "FAIL":
            self.cur["status"] = status
        self.cur["details"].append(label + self._exc_info_to_string(err, test))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._bad("FAIL", test, err)

    def addError(self, test, err):
        super().addError(test, err)
        kind = "FAIL" if err[0] is not None and issubclass(err[0], AssertionError) else "ERROR"
        self._bad(kind, test, err)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            kind = "FAIL" if issubclass(err[0], test.failureException) else "ERROR"
            self._bad(kind, test, err, "[%s]\n" % subtest._subDescription())

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        if self.cur["status"] == "ok":
            self.cur["status"] = "skip"
        self.cur["skip"] = reason

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.cur["status"] = "FAIL"
        self.cur["details"].append("unexpected success\n")

    def stopTest(self, test):
        super().stopTest(test)
        c = self.cur
        detail = "".join(c["details"])
        if c["status"] in ("FAIL", "ERROR"):
            for name, data in getattr(test, "server_logs", []):
                lines = data.decode("utf-8", "replace").splitlines()
                detail += "--- %s stderr (last %d of %d lines) ---\n%s\n" % (
                    name, min(len(lines), LOG_TAIL_LINES), len(lines),
                    "\n".join(lines[-LOG_TAIL_LINES:]))
        self.emit(("test", c["status"], test.id(), time.monotonic() - c["t0"],
                   detail, c["skip"]))


def on_alarm(signum, frame):
    raise TestTimeout("test took longer than %ds" % TEST_TIMEOUT)


def run_module(name, filters, emit):
    """run_module - run the selected tests of one module, one at a time"""
    try:
        mod = importlib.import_module(name)
        suite = unittest.defaultTestLoader.loadTestsFromModule(mod)
    except Exception:  # noqa: BLE001 - an import error is a test error
        emit(("test", "ERROR", name, 0.0, traceback.format_exc(), None))
        return
    result = EventResult(emit)
    for t in iter_tests(suite):
        if not selected(t.id(), filters):
            continue
        signal.alarm(TEST_TIMEOUT)
        try:
            t(result)
        except TestTimeout:
            emit(("test", "ERROR", t.id(), TEST_TIMEOUT, "timeout outside the test body\n", None))
        finally:
            signal.alarm(0)


def worker(tasks, events, filters):
    sys.path.insert(0, HERE)
    signal.signal(signal.SIGALRM, on_alarm)
    os.chdir(HERE)
    try:
        while True:
            name = tasks.get()
            if name is None:
                return
            events.put(("start", os.getpid(), name))
            try:
                run_module(name, filters, events.put)
            except Exception:  # noqa: BLE001
                events.put(("test", "ERROR", name, 0.0, traceback.format_exc(), None))
            events.put(("done", os.getpid(), name))
    finally:
        harness = sys.modules.get("harness")
        if harness is not None:
            harness.kill_all()


def main(argv):
    jobs = int(os.environ.get("MAILPORT_TEST_JOBS", "2"))
    filters = []
    i = 0
    while i < len(argv):
        if argv[i] == "-j" and i + 1 < len(argv):
            jobs = max(1, int(argv[i + 1]))
            i += 2
            continue
        if argv[i] in ("-h", "--help"):
            print(__doc__)
            return 0
        filters.append(argv[i])
        i += 1
    names = discover()
    tasks = mp.Queue()
    # SimpleQueue writes at once (no feeder thread): events are not lost
    # when a worker dies abruptly.
    events = mp.SimpleQueue()
    for n in names:
        tasks.put(n)
    procs = {}

    def spawn():
        tasks.put(None)
        p = mp.Process(target=worker, args=(tasks, events, filters), daemon=True)
        p.start()
        procs[p.pid] = p

    for _ in range(min(jobs, len(names))):
        spawn()

    counts = {"ok": 0, "FAIL": 0, "ERROR": 0, "skip": 0}
    failures = []
    inflight = {}  # pid -> module
    finished = set()
    respawns = 0
    t0 = time.monotonic()
    last_check = time.monotonic()
    while len(finished) < len(names):
        if events.empty():
            time.sleep(0.05)
            if time.monotonic() - last_check < 1.0:
                continue
            last_check = time.monotonic()
            for pid, p in list(procs.items()):
                if p.is_alive() or not events.empty():
                    continue
                del procs[pid]
                mod = inflight.pop(pid, None)
                if mod is not None and mod not in finished:
                    finished.add(mod)
                    counts["ERROR"] += 1
                    print("ERROR %s (worker died, exit status %s)" % (mod, p.exitcode), flush=True)
                    failures.append(("ERROR", mod, "worker process died with status %s\n" % p.exitcode))
                if len(finished) < len(names) and respawns < 10:
                    respawns += 1
                    spawn()
            if not procs:
                for n in names:
                    if n not in finished:
                        finished.add(n)
                        counts["ERROR"] += 1
                        print("ERROR %s (not run)" % n, flush=True)
                        failures.append(("ERROR", n, "not run: no worker left\n"))
            continue
        ev = events.get()
        if ev[0] == "start":
            inflight[ev[1]] = ev[2]
        elif ev[0] == "done":
            inflight.pop(ev[1], None)
            finished.add(ev[2])
        elif ev[0] == "test":
            _, status, tid, secs, detail, skip = ev
            counts[status] += 1
            line = "%-5s %s (%.2fs)" % (status, tid, secs)
            if status == "skip":
                line += " %s" % (skip if skip.startswith("skipped:") else "skipped: " + skip)
            print(line, flush=True)
            if status in ("FAIL", "ERROR"):
                failures.append((status, tid, detail))
    for p in procs.values():
        p.join(5)
    for status, tid, detail in failures:
        print("\n" + "=" * 70)
        print("%s: %s" % (status, tid))
        print("-" * 70)
        print(detail.rstrip())
    print("\n%.0fs" % (time.monotonic() - t0))
    if counts["skip"]:
        print("skipped: %d" % counts["skip"])
    failed = counts["FAIL"] + counts["ERROR"]
    print("%d passed, %d failed" % (counts["ok"], failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
