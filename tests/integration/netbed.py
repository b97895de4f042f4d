# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""netbed: the integration test bed of docs/design.md ("Test bed").

    with Bed("curl") as bed:            # netns shunt-app-<id> + shunt-peer-<id>,
        bed.spawn_peer([...], "http")   #   shuntd in the peer netns, tap configured,
        bed.wait_port(bed.peer, 8080)   #   control socket up
        r = bed.run_shunt(["curl", ...])
        bed.check(r.returncode == 0, "curl failed")   # failure text carries shuntd's
                                                      # counters and log
    # everything is gone here, whatever happened inside

Topology (only addresses inside the namespaces we create are ever used):

    netns shunt-app-<id>: lo only. The program under test runs here through the
        `shunt` launcher, so a socket that wrongly falls back to the kernel has no
        route and fails instead of reaching anything.
    netns shunt-peer-<id>: lo, and the tap sht<id> that shuntd's net_tap creates:
        10.77.0.1/24 is the kernel peer, 10.77.0.2/24 is shuntd's stack.

Teardown runs on every exit: normal, exception, SIGTERM (meson's timeout: it gives
the test 0.5 s before SIGKILLing the group, so that path only SIGKILLs and deletes),
SIGINT/SIGHUP, and an atexit hook. Children stay in our process group, so a
group-wide signal reaches them too; `ip netns pids` is the backstop for anything
left inside our namespaces. Python 3 standard library only.

A -Dsanitize=true build (meson sets SHUNT_SANITIZE=1 for the tests): every process
the test starts, ours and the programs under shunt alike, writes its ASan, LSan and
UBSan reports into one directory of the test (log_path), not onto a stderr that a
test compares or ignores; main() fails the test if any report is there and prints
them all.
"""

import atexit
import hashlib
import itertools
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import traceback

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("SHUNT_BUILD") or os.path.join(REPO, "build")
SHUNTD = os.environ.get("SHUNT_SHUNTD") or os.path.join(BUILD, "dataplane", "shuntd")
LAUNCHER = os.environ.get("SHUNT_LAUNCHER") or os.path.join(BUILD, "launcher", "shunt")
HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = sys.executable or "python3"

PEER_IP = "10.77.0.1"   # the kernel, on the tap, in the peer netns
STACK_IP = "10.77.0.2"  # shuntd's stack
PREFIX = 24

SANITIZE = bool(os.environ.get("SHUNT_SANITIZE"))
_san_dir = None         # where sanitizer reports go (SANITIZE only)

_ids = itertools.count(1)
_live = []              # beds not yet torn down, for signals and atexit
_interrupted = False    # a signal arrived: teardown must be fast
_handlers_installed = False


class BedError(AssertionError):
    """A test failure; the message already carries the diagnostics."""


def _on_signal(signum, _frame):
    global _interrupted
    _interrupted = True
    # Raising unwinds through every `with Bed()`, whose __exit__ tears down.
    raise SystemExit(128 + signum)


def _teardown_all():
    for bed in list(_live):
        bed.teardown()


def _install_handlers():
    global _handlers_installed
    if _handlers_installed:
        return
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, _on_signal)
    atexit.register(_teardown_all)
    _handlers_installed = True


def _sanitizer_setup():
    """Point every process we start at our report directory (inherited through
    ASAN_OPTIONS and UBSAN_OPTIONS, after what the caller set; LSan uses ASan's)."""
    global _san_dir
    if not SANITIZE or _san_dir is not None:
        return
    # shunt-bed-<pid>-*: tools/clean.sh removes it if we die without our atexit hook
    _san_dir = tempfile.mkdtemp(prefix="shunt-bed-%d-san-" % os.getpid())
    for var, name in (("ASAN_OPTIONS", "asan"), ("UBSAN_OPTIONS", "ubsan")):
        old = os.environ.get(var, "")
        os.environ[var] = "%slog_path=%s" % (old + ":" if old else "",
                                            os.path.join(_san_dir, name))
    atexit.register(_sanitizer_cleanup)


def _sanitizer_cleanup():
    if _san_dir and os.environ.get("SHUNT_KEEP_TMP"):
        print("netbed: keeping %s" % _san_dir, file=sys.stderr)
    elif _san_dir:
        shutil.rmtree(_san_dir, ignore_errors=True)


def sanitizer_reports():
    """Every sanitizer report written so far, as text ('' if none)."""
    if _san_dir is None:
        return ""
    parts = []
    for f in sorted(os.listdir(_san_dir)):
        path = os.path.join(_san_dir, f)
        try:
            with open(path, "rb") as fh:
                text = fh.read().decode(errors="replace").strip()
        except OSError as e:
            text = "(cannot read: %s)" % e
        parts.append("--- sanitizer report %s:\n%s" % (f, text or "(empty)"))
    return "\n".join(parts)


def sh(argv, timeout=10, check=True):
    """Run a short setup command (ip ...); raise BedError with its output on failure."""
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BedError("timed out after %ss: %s" % (timeout, " ".join(argv)))
    if check and r.returncode != 0:
        raise BedError("failed (exit %d): %s\n%s" % (
            r.returncode, " ".join(argv), r.stderr.decode(errors="replace").strip()))
    return r


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def random_file(path, size):
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 1 << 20)
            f.write(os.urandom(n))
            left -= n
    return sha256_file(path)


def tail(path, lines=60):
    try:
        with open(path, "rb") as f:
            text = f.read().decode(errors="replace")
    except OSError as e:
        return "(cannot read %s: %s)" % (path, e)
    out = text.splitlines()[-lines:]
    return "\n".join(out) if out else "(empty)"


def counter(text, name):
    """A counter of shuntd's SIGUSR1 dump (printed only when non-zero: 0 if absent)."""
    m = re.search(r"^\s*%s\s+(\d+)\s*$" % name, text, re.M)
    return int(m.group(1)) if m else 0


def proc_kb(pid, key):
    """A kB field of /proc/PID/status (VmRSS, RssAnon, RssShmem...), -1 if absent."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def region_rss_kb(pid):
    """Rss (kB) of PID's mappings of shunt regions (the "shunt-region" memfds): a
    program's own region, or in shuntd every attached program's."""
    rss, inside = 0, False
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                inside = "shunt-region" in line
            elif inside and line.startswith("Rss:"):
                rss += int(line.split()[1])
    return rss


def clean_env(extra=None):
    """Our environment without proxies (curl would otherwise try one) or preloads."""
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
           and k not in ("LD_PRELOAD", "SHUNT_CONTROL", "SHUNT_LOG")}
    env.update(extra or {})
    return env


class Proc:
    """A background process in one of our namespaces, output in the temp dir."""

    def __init__(self, name, popen, out, err):
        self.name, self.popen, self.out, self.err = name, popen, out, err

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def wait(self, timeout):
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def describe(self):
        rc = self.popen.poll()
        state = "running" if rc is None else "exited %d" % rc
        return "--- %s (pid %d, %s) stdout:\n%s\n--- %s stderr:\n%s" % (
            self.name, self.pid, state, tail(self.out, 20), self.name, tail(self.err, 20))


class Bed:
    """The two namespaces, shuntd and the kernel peers of one test."""

    def __init__(self, name="bed", shuntd=True, shuntd_args=(), start_timeout=20,
                 veth=False):
        n = next(_ids)
        self.name = name
        self.id = "%d-%d" % (os.getpid(), n)
        self.app = "shunt-app-" + self.id
        self.peer = "shunt-peer-" + self.id
        self.tap = "sht%dx%d" % (os.getpid(), n)          # <= 15 chars
        self.file_prefix = "shunt%dx%d" % (os.getpid(), n)
        self.want_shuntd = shuntd
        # veth: the kernel twin of the bed (diffbed.py): no shuntd; the app netns
        # owns STACK_IP on one end of a veth pair whose other end is PEER_IP.
        self.veth = ("shv%dx%d" % (os.getpid(), n)) if veth else None
        self.shuntd_args = list(shuntd_args)
        self.start_timeout = start_timeout
        self.tmp = None
        self.control = None
        self.shuntd = None
        self.shuntd_log = None
        self._procs = []
        self._made_ns = []
        self._torn = False

    # ---------------------------------------------------------------- setup
    def __enter__(self):
        _install_handlers()
        _live.append(self)
        try:
            self._setup()
        except BaseException:
            self.teardown()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        problems = self.teardown()
        if problems and exc_type is None:
            raise BedError("teardown found problems:\n" + "\n".join(problems))
        if problems:
            print("netbed: teardown also found:\n" + "\n".join(problems), file=sys.stderr)
        return False

    def _setup(self):
        if os.geteuid() != 0:
            raise BedError("the test bed needs root (network namespaces, tap)")
        self.tmp = tempfile.mkdtemp(prefix="shunt-bed-%s-" % self.id)
        self.control = os.path.join(self.tmp, "ctl.sock")
        for ns in (self.app, self.peer):
            sh(["ip", "netns", "add", ns])
            self._made_ns.append(ns)
            sh(["ip", "-n", ns, "link", "set", "lo", "up"])
        if self.veth:
            self._setup_veth()
        if self.want_shuntd:
            self.start_shuntd()

    def _setup_veth(self):
        """app netns STACK_IP/PREFIX <-> peer netns PEER_IP/PREFIX; no other route."""
        sh(["ip", "-n", self.app, "link", "add", self.veth, "type", "veth",
            "peer", "name", self.veth + "p", "netns", self.peer])
        for ns, dev, ip in ((self.app, self.veth, STACK_IP),
                            (self.peer, self.veth + "p", PEER_IP)):
            sh(["ip", "-n", ns, "addr", "add", "%s/%d" % (ip, PREFIX), "dev", dev])
            sh(["ip", "-n", ns, "link", "set", dev, "up"])

    def add_netns(self, role):
        """One more namespace, shunt-ROLE-<id> with lo up, removed at teardown like
        the bed's own (for a test that routes through the peer namespace)."""
        ns = "shunt-%s-%s" % (role, self.id)
        sh(["ip", "netns", "add", ns])
        self._made_ns.append(ns)
        sh(["ip", "-n", ns, "link", "set", "lo", "up"])
        return ns

    def eal(self):
        # --in-memory is refused with --no-huge by DPDK 22.11 ("--legacy-mem is not
        # compatible with --in-memory": --no-huge implies legacy memory); --no-shconf
        # gives the same "no files" behaviour. EAL still makes /var/run/dpdk/<prefix>,
        # which teardown removes.
        return ("--no-huge -m 256 --no-pci --no-shconf --file-prefix=%s "
                "--vdev=net_tap0,iface=%s -l 0 --log-level=*:error"
                % (self.file_prefix, self.tap))

    def start_shuntd(self):
        """Start shuntd in the peer netns, configure its tap, wait for the control socket."""
        if not (os.path.isfile(SHUNTD) and os.access(SHUNTD, os.X_OK)):
            raise BedError("shuntd is not built: %s does not exist (ninja -C %s)"
                           % (SHUNTD, BUILD))
        self.shuntd_log = os.path.join(self.tmp, "shuntd.log")
        argv = ["ip", "netns", "exec", self.peer, SHUNTD,
                "--eal=" + self.eal(), "--ip=%s/%d" % (STACK_IP, PREFIX),
                "--control=" + self.control, "--log=info"] + self.shuntd_args
        with open(self.shuntd_log, "wb") as log:
            log.write(("$ " + " ".join(argv) + "\n").encode())
            log.flush()
            self.shuntd = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                           stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.start_timeout
        tap_ready = False
        while True:
            rc = self.shuntd.poll()
            if rc is not None:
                raise BedError("shuntd exited with status %d before serving "
                               "(tap %s %s, control socket %s)\n--- shuntd log:\n%s"
                               % (rc, self.tap, "was configured" if tap_ready
                                  else "never appeared", self.control,
                                  tail(self.shuntd_log)))
            if not tap_ready and sh(["ip", "-n", self.peer, "link", "show", "dev",
                                     self.tap], check=False).returncode == 0:
                sh(["ip", "-n", self.peer, "addr", "add", "%s/%d" % (PEER_IP, PREFIX),
                    "dev", self.tap])
                sh(["ip", "-n", self.peer, "link", "set", self.tap, "up"])
                tap_ready = True
            if tap_ready and self._control_up():
                return
            if time.monotonic() > deadline:
                raise BedError("shuntd did not come up within %ds (tap %s: %s, control "
                               "socket %s: %s)\n--- shuntd log:\n%s"
                               % (self.start_timeout, self.tap,
                                  "configured" if tap_ready else "absent", self.control,
                                  "present" if self._control_up() else "absent",
                                  tail(self.shuntd_log)))
            time.sleep(0.02)

    def _control_up(self):
        try:
            return stat.S_ISSOCK(os.stat(self.control).st_mode)
        except OSError:
            return False

    # ------------------------------------------------------------ processes
    def spawn(self, ns, argv, name, stdin=None, env=None):
        """Start a background process in netns `ns`; killed at teardown. stdin: a
        file path, or subprocess.PIPE (then write to proc.popen.stdin)."""
        out = os.path.join(self.tmp, name + ".out")
        err = os.path.join(self.tmp, name + ".err")
        path = isinstance(stdin, str)
        fin = open(stdin, "rb") if path else subprocess.DEVNULL if stdin is None else stdin
        try:
            with open(out, "wb") as fo, open(err, "wb") as fe:
                p = subprocess.Popen(["ip", "netns", "exec", ns] + list(argv), stdin=fin,
                                     stdout=fo, stderr=fe, env=clean_env(env))
        finally:
            if path:
                fin.close()
        proc = Proc(name, p, out, err)
        self._procs.append(proc)
        return proc

    def spawn_peer(self, argv, name, **kw):
        return self.spawn(self.peer, argv, name, **kw)

    def wait_reachable(self, port, proc, timeout=15):
        """Until a kernel client in the peer namespace can connect to the stack's
        address on `port` (a server under shunt listens in shuntd, where /proc
        cannot see it), while proc lives; bounded."""
        probe = ("import socket,sys,time\n"
                 "end=time.monotonic()+%d\n"
                 "while True:\n"
                 "  try:\n"
                 "    socket.create_connection((%r,%d),timeout=1).close(); break\n"
                 "  except OSError as e:\n"
                 "    if time.monotonic()>end: sys.exit('not listening: %%s'%%e)\n"
                 "    time.sleep(0.05)\n" % (timeout, STACK_IP, port))
        r = self.run(self.peer, [PYTHON, "-c", probe], timeout=timeout + 5)
        self.check(r.returncode == 0 and proc.alive(), "%s is not reachable on port %d: %s"
                   % (proc.name, port, r.stderr.decode(errors="replace")))

    def wait_port(self, ns, port, timeout=10, proc=None, proto="tcp"):
        """Wait until something listens on TCP (or is bound to UDP) `port` in `ns`."""
        want = ":%04X" % port
        state = "0A" if proto == "tcp" else "07"
        deadline = time.monotonic() + timeout
        while True:
            r = sh(["ip", "netns", "exec", ns, "cat", "/proc/net/%s" % proto,
                    "/proc/net/%s6" % proto], check=False)
            for line in r.stdout.decode().splitlines()[1:]:
                f = line.split()
                if len(f) > 3 and f[1].endswith(want) and f[3] == state:
                    return
            if proc is not None and not proc.alive():
                self.fail("%s exited before listening on port %d" % (proc.name, port))
            if time.monotonic() > deadline:
                self.fail("nothing listens on port %d in %s after %ds" % (port, ns, timeout))
            time.sleep(0.05)

    def run(self, ns, argv, timeout=60, env=None, stdin=None, stdout=None, input=None):
        """Run argv in netns `ns` to completion; returns CompletedProcess (bytes).

        stdin/stdout may be file paths (for big transfers); otherwise output is
        captured. A timeout is a failure with diagnostics."""
        fin = open(stdin, "rb") if stdin else (None if input is not None
                                               else subprocess.DEVNULL)
        fout = open(stdout, "wb") if stdout else subprocess.PIPE
        full = ["ip", "netns", "exec", ns] + list(argv)
        try:
            return subprocess.run(full, stdin=fin, stdout=fout, stderr=subprocess.PIPE,
                                  input=input, timeout=timeout, env=clean_env(env))
        except subprocess.TimeoutExpired as e:
            err = (e.stderr or b"").decode(errors="replace")
            self.fail("timed out after %ss: %s\n--- its stderr:\n%s"
                      % (timeout, " ".join(argv), err[-3000:]))
        finally:
            if stdin:
                fin.close()
            if stdout:
                fout.close()

    def shunt_argv(self, argv):
        if not (os.path.isfile(LAUNCHER) and os.access(LAUNCHER, os.X_OK)):
            self.fail("the shunt launcher is not built: %s does not exist" % LAUNCHER)
        return [LAUNCHER, "--control", self.control, "--"] + list(argv)

    def run_shunt(self, argv, ns=None, **kw):
        """Run an unmodified program under `shunt` (in the app netns by default)."""
        return self.run(ns or self.app, self.shunt_argv(argv), **kw)

    # ---------------------------------------------------------- diagnostics
    def counters(self, wait=1.0):
        """SIGUSR1 shuntd and return what it printed (its counters)."""
        if self.shuntd is None or self.shuntd.poll() is not None:
            return "(shuntd not running)"
        before = os.path.getsize(self.shuntd_log)
        os.kill(self.shuntd.pid, signal.SIGUSR1)
        deadline = time.monotonic() + wait
        size = before
        while time.monotonic() < deadline:
            time.sleep(0.05)
            now = os.path.getsize(self.shuntd_log)
            if now > before and now == size:
                break  # grew, then stopped growing
            size = now
        with open(self.shuntd_log, "rb") as f:
            f.seek(before)
            text = f.read().decode(errors="replace").strip()
        return text or "(shuntd printed nothing on SIGUSR1)"

    def diagnostics(self):
        parts = []
        if self.shuntd is not None:
            rc = self.shuntd.poll()
            parts.append("--- shuntd: %s" % ("running" if rc is None
                                              else "EXITED with status %d" % rc))
            if rc is None:
                parts.append("--- shuntd counters (SIGUSR1):\n" + self.counters())
            parts.append("--- shuntd log (tail):\n" + tail(self.shuntd_log))
        elif self.want_shuntd:
            parts.append("--- shuntd: never started")
        for p in self._procs:
            parts.append(p.describe())
        return "\n".join(parts)

    def fail(self, msg):
        raise BedError("%s\n%s" % (msg, self.diagnostics()))

    def check(self, cond, msg):
        if not cond:
            self.fail(msg)

    # ------------------------------------------------------------- teardown
    def teardown(self):
        """Kill what we started, delete our namespaces and files. Idempotent.

        Returns problems found on the way (shuntd not exiting cleanly...)."""
        if self._torn:
            return []
        self._torn = True
        old = {}
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            old[s] = signal.signal(s, signal.SIG_IGN)  # finish the job first
        problems = []
        fast = _interrupted
        try:
            for p in reversed(self._procs):
                if p.alive():
                    p.popen.kill()
                p.wait(2)
            if self.shuntd is not None:
                problems += self._stop_shuntd(fast)
            for ns in self._made_ns:
                r = sh(["ip", "netns", "pids", ns], check=False)
                for pid in r.stdout.decode().split():
                    try:
                        os.kill(int(pid), signal.SIGKILL)  # only in our own namespace
                    except (OSError, ValueError):
                        pass
                r = sh(["ip", "netns", "del", ns], check=False)
                if r.returncode != 0:
                    problems.append("ip netns del %s: %s" % (
                        ns, r.stderr.decode(errors="replace").strip()))
            shutil.rmtree(os.path.join("/var/run/dpdk", self.file_prefix),
                          ignore_errors=True)
            if self.tmp and os.environ.get("SHUNT_KEEP_TMP"):
                print("netbed: keeping %s" % self.tmp, file=sys.stderr)
            elif self.tmp:
                shutil.rmtree(self.tmp, ignore_errors=True)
        finally:
            if self in _live:
                _live.remove(self)
            for s, h in old.items():
                signal.signal(s, h)
        return problems

    def _stop_shuntd(self, fast):
        problems = []
        rc = self.shuntd.poll()
        if rc is not None:
            return ["shuntd died during the test with status %d\n--- shuntd log:\n%s"
                    % (rc, tail(self.shuntd_log))]
        self.shuntd.send_signal(signal.SIGTERM)
        try:
            rc = self.shuntd.wait(0.3 if fast else 10)
        except subprocess.TimeoutExpired:
            self.shuntd.kill()
            self.shuntd.wait(2)
            return ["shuntd did not exit within 10 s of SIGTERM"]
        if rc != 0:
            problems.append("shuntd exited with status %d on SIGTERM\n--- shuntd log:\n%s"
                            % (rc, tail(self.shuntd_log)))
        if os.path.exists(self.control):
            problems.append("shuntd left its control socket %s behind" % self.control)
        return problems


def _sanitizer_failed(name):
    """Print every sanitizer report; True if there was any."""
    reports = sanitizer_reports()
    if reports:
        print("%s: sanitizer reports (ASan/LSan/UBSan):\n%s" % (name, reports), flush=True)
    return bool(reports)


def main(test, name=None):
    """Run test() and exit 0 (pass) or 1 (fail). Never 77: meson would call it a skip.
    Under -Dsanitize=true any sanitizer report of any process fails the test."""
    name = name or os.path.basename(sys.argv[0])
    try:
        test()
    except BedError as e:
        print("FAIL %s: %s" % (name, e), flush=True)
        _sanitizer_failed(name)
        sys.exit(1)
    except SystemExit as e:
        if e.code not in (0, None):
            print("FAIL %s: interrupted (exit %s), torn down" % (name, e.code), flush=True)
            _sanitizer_failed(name)
            sys.exit(1)
        raise
    except BaseException:
        traceback.print_exc()
        print("FAIL %s: unexpected error" % name, flush=True)
        _sanitizer_failed(name)
        sys.exit(1)
    if _sanitizer_failed(name):
        print("FAIL %s: the sanitizers reported errors (above)" % name, flush=True)
        sys.exit(1)
    print("PASS %s" % name, flush=True)
    sys.exit(0)


def _cli():
    """`python3 netbed.py up`: build the bed, print how to use it, wait for Ctrl-C."""
    if sys.argv[1:] != ["up"]:
        sys.exit("usage: netbed.py up    (as root; Ctrl-C tears down)")
    with Bed("manual") as bed:
        print("app netns:  %s   (ip netns exec %s %s --control %s -- PROGRAM)"
              % (bed.app, bed.app, LAUNCHER, bed.control))
        print("peer netns: %s   kernel %s on %s, shuntd stack %s"
              % (bed.peer, PEER_IP, bed.tap, STACK_IP))
        print("shuntd pid %d, log %s; Ctrl-C to tear down" % (bed.shuntd.pid, bed.shuntd_log),
              flush=True)
        while bed.shuntd.poll() is None:
            time.sleep(0.5)
        print("shuntd exited with status %d" % bed.shuntd.returncode)


_sanitizer_setup()

if __name__ == "__main__":
    _cli()
