#!/usr/bin/python3
"""x2god benchmark driver, run by benches/run.sh (as root, with the lab up).

Measures x2god next to the reference clients in one run and prints a results table:
  1 warm list   2 cold list   3 lifecycle   4 change->signal + watcher CPU
  6 scale (1/10/100 profiles, 1000 calls, python-x2go)   7 growth (1/10/50 sessions)
  5 rtt (BENCH_ONLY=rtt): lists and lifecycle with the server behind a 0 / 50 ms RTT delay line
    (namespace x2god-far, benches/tundelay.py), with the far sshd's channel counts per operation
  8 share (BENCH_ONLY=share, opt-in): a client folder mounted on the server; x2god's
    Session.ShareFolder next to pyhoca-cli -F and plain sshfs
  9 sound (BENCH_ONLY=sound): a tone played in a session through the lab's PulseAudio; client
    CPU, dropouts and the time to the first sample, x2god next to pyhoca-cli --sound pulse
Everything runs as the lab's SECOND user (x2gotest2) so tests using x2gotest are not disturbed
(except part 8: sshfs is the first user's only), on a private dbus-daemon and a private Xvfb;
every session started here is terminated here.
"""
import json
import os
import re
import signal
import shutil
import subprocess
import sys
import tempfile
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(BENCH)
LABDIR = os.environ.get("X2GOD_LAB_DIR", "/tmp/x2god-lab")
X2GOD = os.environ["X2GOD_BIN"]
CLIENT = os.environ["X2GOD_BENCH_CLIENT"]
QUICK = os.environ.get("BENCH_QUICK") == "1"
ONLY = set(filter(None, os.environ.get("BENCH_ONLY", "").split(",")))
RESULTS = os.environ.get("BENCH_RESULTS", os.path.join(BENCH, "results"))

# ---------------------------------------------------------------------------- helpers


def log(*a):
    print("[bench %s]" % time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def read_env(path):
    env = {}
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, v = line.split("=", 1)
        env[k.strip()] = v.strip().strip("'\"")
    return env


LAB = read_env(os.path.join(LABDIR, "lab.env"))
PORT = LAB["SSH_PORT"]
KEY = LAB["SSH_KEY"]
USER = LAB["SSH_USER2"]  # x2gotest2: leaves x2gotest to the tests
KH = LAB["KNOWN_HOSTS"]
WORK = tempfile.mkdtemp(prefix="x2god-bench.")
os.chmod(WORK, 0o755)
CLEANUPS = []  # callables run at exit, last first
MY_SESSIONS = set()  # server sessions started by this run (terminated at exit)


def stats(xs):
    xs = sorted(xs)
    if not xs:
        return {"n": 0}

    def p(q):
        return xs[min(len(xs) - 1, int(round((len(xs) - 1) * q)))]

    return {"n": len(xs), "median": p(0.5), "min": xs[0], "max": xs[-1], "p10": p(0.1), "p90": p(0.9)}


def fmt_s(st, unit="s"):
    if not st or st.get("n", 0) == 0:
        return "n/a"
    if unit == "ms":
        f = lambda v: "%.1f" % (v * 1000)
    else:
        f = lambda v: "%.3f" % v
    spread = "%s–%s" % (f(st["min"]), f(st["max"])) if st["n"] < 10 else "p10 %s, p90 %s" % (f(st["p10"]), f(st["p90"]))
    return "%s %s (%s, n=%d)" % (f(st["median"]), unit, spread, st["n"])


def timed(cmd, check=True, **kw):
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    dt = time.perf_counter() - t
    if check and r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s %s" % (cmd[:6], r.returncode, r.stdout[-500:], r.stderr[-1500:]))
    return dt, r


SSH_BASE = ["ssh", "-F", "/dev/null", "-i", KEY, "-p", PORT, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + KH,
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10"]
CM = os.path.join(WORK, "cm.sock")


def ssh(cmd, fresh=True, check=True):
    """Runs cmd as USER: over a fresh OpenSSH connection, or over our ControlMaster."""
    args = SSH_BASE + ([] if fresh else ["-S", CM, "-o", "ControlMaster=no"]) + [USER + "@127.0.0.1", cmd]
    return timed(args, check=check)


def start_control_master():
    subprocess.run(SSH_BASE + ["-M", "-S", CM, "-o", "ControlPersist=no", "-N", "-f", USER + "@127.0.0.1"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    CLEANUPS.append(lambda: subprocess.run(SSH_BASE + ["-S", CM, "-O", "exit", USER + "@127.0.0.1"],
                                           stderr=subprocess.DEVNULL))


def floor_env(both=False):
    """x2golistsessions run on the server as the user, no SSH (runuser). `both`: with
    x2golistshadowsessions, as x2god (and python-x2go) list when the server has the feature."""
    cmd = ["sh", "-c", "x2golistsessions && x2golistshadowsessions"] if both else ["x2golistsessions"]
    return ["runuser", "-u", USER, "--", "env", "-i", "HOME=/home/" + USER, "USER=" + USER, "LOGNAME=" + USER,
            "PATH=/usr/local/bin:/usr/bin:/bin"] + cmd


def agent_state(sid):
    """The first line of session sid's agent state file ("" if unreadable), read as root."""
    try:
        with open("/tmp/.x2go-%s/C-%s/state" % (USER, sid)) as f:
            return f.read().strip()
    except OSError:
        return ""


def server_sessions():
    _, r = ssh("x2golistsessions", fresh=False)
    return [l.split("|")[1] for l in r.stdout.splitlines() if "|" in l]


def terminate_sessions(names):
    # Eight at a time: sshd refuses more than MaxSessions (10) channels on the ControlMaster.
    for i in range(0, len(names), 8):
        procs = [subprocess.Popen(SSH_BASE + ["-S", CM, "-o", "ControlMaster=no", USER + "@127.0.0.1",
                                              "x2goterminate-session " + n], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for n in names[i:i + 8]]
        for p in procs:
            p.wait()
    for n in names:
        MY_SESSIONS.discard(n)


def wait_for(what, f, timeout, every=0.05):
    deadline = time.perf_counter() + timeout
    while True:
        v = f()
        if v:
            return v
        if time.perf_counter() > deadline:
            raise RuntimeError("timed out waiting for " + what)
        time.sleep(every)


# ---------------------------------------------------------------------------- X, bus, daemon


class Xvfb:
    """A private Xvfb, so windows of concurrently running tests on the lab display don't count."""

    def __init__(self):
        n = 93
        while os.path.exists("/tmp/.X11-unix/X%d" % n) or os.path.exists("/tmp/.X%d-lock" % n):
            n += 1
        self.display = ":%d" % n
        self.auth = os.path.join(WORK, "xauth")
        cookie = subprocess.run(["mcookie"], stdout=subprocess.PIPE, text=True, check=True).stdout.strip()
        subprocess.run(["xauth", "-f", self.auth, "add", self.display, ".", cookie], check=True)
        os.chmod(self.auth, 0o644)
        # -noreset, as the lab's Xvfb and any desktop's X server: without it Xvfb resets whenever
        # its last client leaves (a suspended session's nxproxy, each xwininfo poll), and an
        # nxproxy reconnecting on resume during a reset is refused ("Display failure detected"),
        # which broke 2 of 3 raw OpenSSH resumes.
        self.p = subprocess.Popen(["Xvfb", self.display, "-screen", "0", "1280x1024x24", "-nolisten", "tcp", "-noreset",
                                   "-auth", self.auth], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        CLEANUPS.append(self.stop)
        wait_for("Xvfb", lambda: os.path.exists("/tmp/.X11-unix/X%d" % n), 10)
        time.sleep(0.2)

    def env(self):
        return {"DISPLAY": self.display, "XAUTHORITY": self.auth}

    def stop(self):
        self.p.terminate()
        self.p.wait()

    def xterms(self):
        env = dict(os.environ, **self.env())
        tree = subprocess.run(["xwininfo", "-root", "-children"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True).stdout
        ids = [l.split()[0] for l in tree.splitlines() if '"XTerm")' in l]
        out = []
        for i in ids:
            info = subprocess.run(["xwininfo", "-id", i], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True).stdout
            if "Map State: IsViewable" in info:
                out.append(i)
        return out


class Bus:
    def __init__(self):
        d = tempfile.mkdtemp(prefix="bus-", dir=WORK)
        conf = os.path.join(d, "bus.conf")
        open(conf, "w").write("""<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:path=%s/sock</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/>
<allow own="*"/></policy>
<!-- as /usr/share/dbus-1/session.conf: the built-in default of 128 pending replies per connection
     would refuse most of 1000 concurrent calls with LimitsExceeded -->
<limit name="max_replies_per_connection">50000</limit>
<limit name="max_incoming_bytes">1000000000</limit><limit name="max_outgoing_bytes">1000000000</limit>
<limit name="max_message_size">1000000000</limit><limit name="reply_timeout">300000</limit>
</busconfig>""" % d)
        self.p = subprocess.Popen(["dbus-daemon", "--config-file=" + conf, "--nofork", "--print-address=1"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.address = self.p.stdout.readline().strip()
        CLEANUPS.append(self.stop)

    def stop(self):
        self.p.terminate()
        self.p.wait()


def busctl(addr, path, iface, method, *args, check=True):
    return timed(["busctl", "--address=" + addr, "--timeout=180", "call", "org.x2go.Control1", path,
                  "org.x2go.Control1." + iface, method] + list(args), check=check)


def ppath(name):
    return "/org/x2go/Control1/profile/" + "".join(c if c.isalnum() and c.isascii() else "_%02x" % ord(c)
                                                   for c in name)


class Daemon:
    """A real x2god with a fresh HOME (lab host keys trusted) on `bus`."""

    def __init__(self, bus, xvfb=None, rust_log="x2god=info", tag="d", kh=KH, extra_env=None):
        # A bus of its own, always: two daemons on one bus would fight over the name.
        bus = Bus()
        self.bus = bus
        self.home = tempfile.mkdtemp(prefix="home-", dir=WORK)
        os.makedirs(os.path.join(self.home, ".ssh"))
        shutil.copy(kh, os.path.join(self.home, ".ssh", "known_hosts"))
        self.log = os.path.join(WORK, "x2god-%s-%d.log" % (tag, len(CLEANUPS)))
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": self.home,
               "XDG_CONFIG_HOME": os.path.join(self.home, ".config"), "USER": "x2god-bench",
               "DBUS_SESSION_BUS_ADDRESS": bus.address, "RUST_LOG": rust_log}
        if xvfb:
            env.update(xvfb.env())
        env.update(extra_env or {})
        self.t_spawn = time.perf_counter()
        self.p = subprocess.Popen([X2GOD], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=open(self.log, "w"))
        CLEANUPS.append(self.stop)

    def wait_name(self):
        def owned():
            r = subprocess.run(["busctl", "--address=" + self.bus.address, "status", "org.x2go.Control1"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if self.p.poll() is not None:
                raise RuntimeError("x2god exited: " + open(self.log).read()[-2000:])
            return r.returncode == 0
        wait_for("x2god's bus name", owned, 20, 0.01)
        return self

    def profile(self, name, connect=True, host="127.0.0.1", port=PORT, user=USER):
        busctl(self.bus.address, "/org/x2go/Control1", "Manager", "CreateProfile", "sa{sv}", name, "6",
               "hostname", "s", host, "port", "q", port, "username", "s", user, "key_filename", "s", KEY,
               "look_for_keys", "b", "false", "allow_agent", "b", "false")
        if connect:
            busctl(self.bus.address, ppath(name), "Profile", "Connect", "a{sv}", "0")
        return ppath(name)

    def usage(self):
        return proc_usage(self.p.pid)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.bus.stop()


TCK = os.sysconf("SC_CLK_TCK")


def proc_usage(pid):
    """(rss KiB, cpu seconds incl. reaped children) of one process."""
    st = open("/proc/%d/status" % pid).read()
    rss = int(re.search(r"VmRSS:\s+(\d+)", st).group(1))
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return rss, (int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])) / TCK


def user_cpu(user):
    """{pid: cpu seconds incl. reaped children} of every process of `user` (server side)."""
    import pwd
    uid = pwd.getpwnam(user).pw_uid
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if os.stat("/proc/" + d).st_uid != uid:
                continue
            f = open("/proc/%s/stat" % d).read().rsplit(")", 1)[1].split()
            cmd = open("/proc/%s/cmdline" % d).read().replace("\0", " ")
            out[int(d)] = ((int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])) / TCK, cmd)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


def cpu_delta(a, b, match=None):
    return sum(b[p][0] - a[p][0] for p in a if p in b and (match is None or match in b[p][1]))


# ---------------------------------------------------------------------------- pyhoca-cli


class Pyhoca:
    def __init__(self, xvfb, host="127.0.0.1", port=PORT, kh=KH, user=USER, sound="none"):
        self.host, self.port, self.user, self.sound = host, port, user, sound
        self.home = tempfile.mkdtemp(prefix="pyhoca-", dir=WORK)
        os.makedirs(os.path.join(self.home, ".ssh"))
        if sound == "pulse":  # python-x2go uploads the cookie of its HOME and forwards to TCP 4713
            os.makedirs(os.path.join(self.home, ".config", "pulse"))
            shutil.copy(LAB["PULSE_COOKIE"], os.path.join(self.home, ".config", "pulse", "cookie"))
        shutil.copy(KEY, os.path.join(self.home, ".ssh", "id_ed25519"))  # it ignores -i (recipe §10)
        shutil.copy(kh, os.path.join(self.home, ".ssh", "known_hosts"))
        self.env = dict({"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": self.home}, **xvfb.env())
        self.bg = []
        CLEANUPS.append(self.stop)

    def cmd(self, *args):
        return ["/usr/bin/pyhoca-cli", "--server", self.host, "-p", self.port, "-l", self.user,
                "--sound", self.sound] + list(args)

    def run(self, *args):
        dt, r = timed(self.cmd(*args), check=False, env=self.env, cwd=self.home, stdin=subprocess.DEVNULL)
        out = r.stdout + r.stderr
        if "rror" in out and "Session" not in out:
            raise RuntimeError("pyhoca-cli %s: %s" % (args, out[-1500:]))
        return dt, out

    def spawn(self, *args):
        logf = open(os.path.join(self.home, "bg-%d.log" % len(self.bg)), "w")
        p = subprocess.Popen(self.cmd(*args), env=self.env, cwd=self.home, stdin=subprocess.DEVNULL, stdout=logf,
                             stderr=logf, start_new_session=True)
        self.bg.append(p)
        return p

    def stop(self):
        for p in self.bg:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


# ---------------------------------------------------------------------------- benchmarks

R = {}  # results


def client(*args, **kw):
    return timed([CLIENT] + list(args), **kw)


def bench_warm(bus, xvfb):
    log("1. warm list")
    n = 15 if QUICK else 30
    d = Daemon(bus, tag="warm").wait_name()
    bus = d.bus
    path = d.profile("warm")
    time.sleep(1.5)  # the watcher's first listing
    busctl(bus.address, path, "Profile", "ListSessions")
    R["warm_busctl"] = stats([busctl(bus.address, path, "Profile", "ListSessions")[0] for _ in range(n)])
    _, r = client("list", bus.address, path, str(n))
    R["warm_rust_inproc"] = stats([float(x) for x in r.stdout.split()])
    R["warm_rust_process"] = stats([client("once", bus.address, path)[0] for _ in range(n)])
    timed(floor_env())
    R["floor_runuser"] = stats([timed(floor_env())[0] for _ in range(n)])
    R["floor_both_runuser"] = stats([timed(floor_env(True))[0] for _ in range(n)])
    R["floor_controlmaster"] = stats([ssh("x2golistsessions", fresh=False)[0] for _ in range(n)])
    py = Pyhoca(xvfb)
    runs = []
    for _ in range(3):
        dt, out = py.run("-L")
        if "No running/suspended sessions" not in out and "Session Name" not in out and "Session" not in out:
            raise RuntimeError("pyhoca-cli -L printed no listing: " + out[-1500:])
        runs.append(dt)
    R["pyhoca_L"] = stats(runs)
    return d, path


def bench_cold(bus):
    log("2. cold list")
    runs, parts = [], []
    for i in range(3 if QUICK else 5):
        d = Daemon(bus, tag="cold")
        t0 = d.t_spawn
        _, r = client("cold", d.bus.address, "cold%d" % i, PORT, USER, KEY)
        total = time.perf_counter() - t0
        runs.append(total)
        parts.append(dict(kv.split("=") for kv in r.stdout.split()))
        d.stop()
    R["cold_x2god"] = stats(runs)
    R["cold_x2god_parts"] = {k: stats([float(p[k]) - (float(p[prev]) if prev else 0) for p in parts])
                             for k, prev in [("name", None), ("create", "name"), ("connect", "create"),
                                             ("list", "connect")]}
    R["cold_ssh"] = stats([ssh("x2golistsessions")[0] for _ in range(5 if QUICK else 10)])
    R["cold_ssh_true"] = stats([ssh("true")[0] for _ in range(5)])


def wait_window(xvfb, present, timeout=60):
    return wait_for("xterm window %s" % ("shown" if present else "gone"),
                    lambda: bool(xvfb.xterms()) == present, timeout, 0.05)


def new_session(before):
    return wait_for("the new session in the listing", lambda: [s for s in server_sessions() if s not in before],
                    30, 0.2)[0]


RAW_DIR = os.path.join(WORK, "rawclient")


def raw_env(xvfb):
    return dict({"PATH": "/usr/bin:/bin", "HOME": RAW_DIR, "NX_CLIENT": "/bin/true", "NX_ROOT": RAW_DIR}, **xvfb.env())


def attach(xvfb, sid, cookie, disp, gr):
    """ssh -L to the agent's graphics port + nxproxy (lab recipe §8), each a fresh process."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    lport = s.getsockname()[1]
    s.close()
    fwd = subprocess.Popen(SSH_BASE + [USER + "@127.0.0.1", "-N", "-o", "ExitOnForwardFailure=yes", "-L",
                                       "127.0.0.1:%d:127.0.0.1:%s" % (lport, gr)])
    CLEANUPS.append(lambda: fwd.poll() is None and (fwd.kill(), fwd.wait()))
    wait_for("forward", lambda: subprocess.run(["ss", "-ltnH", "sport = :%d" % lport], stdout=subprocess.PIPE,
                                               text=True).stdout.strip(), 15, 0.02)
    os.makedirs(os.path.join(RAW_DIR, "S-" + sid), exist_ok=True)
    nx = subprocess.Popen(["/usr/bin/nxproxy", "-S",
                           "nx/nx,retry=5,composite=1,connect=127.0.0.1,clipboard=1,cookie=%s,port=%d,errors=%s:%s"
                           % (cookie, lport, os.path.join(RAW_DIR, "S-" + sid, "session.err"), disp)],
                          env=raw_env(xvfb), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    CLEANUPS.append(lambda: nx.poll() is None and (nx.kill(), nx.wait()))
    return fwd, nx


def detach(fwd, nx):
    try:
        nx.wait(20)
    except subprocess.TimeoutExpired:
        nx.kill()
        nx.wait()
    fwd.kill()
    fwd.wait()


def raw_start(xvfb):
    """x2gostartagent, attach, wait for agent RUNNING, x2goruncommand: every step a new ssh."""
    _, r = ssh("X2GO_XINERAMA=false x2gostartagent 800x600 adsl 16m-jpeg-9 unix-kde-depth_24 null auto 1 R "
               "xterm both")
    ln = r.stdout.split("\n")
    disp, cookie, agent, sid, gr, snd = ln[0], ln[1], ln[2], ln[3], ln[4], ln[5]
    MY_SESSIONS.add(sid)
    fwd, nx = attach(xvfb, sid, cookie, disp, gr)
    wait_for("agent RUNNING", lambda: "RUNNING" in ssh("/usr/lib/x2go/x2gogetagentstate " + sid)[1].stdout,
             30, 0.01)
    ssh("setsid x2goruncommand %s %s %s %s xterm none R 1>/dev/null 2>/dev/null & exit" % (disp, agent, sid, snd))
    return sid, cookie, disp, fwd, nx


def lifecycle_x2god(xvfb, runs, res, debug_log, host="127.0.0.1", port=PORT, kh=KH, far=None, counts=None):
    """x2god: Start → window, Suspend, Resume → window, Terminate (busctl), `runs` times; times appended
    to res[op]. With `far`, the far sshd's channel counts of each step are appended to counts[op]."""
    d = Daemon(None, xvfb, rust_log="x2god=debug", tag="life", kh=kh).wait_name()
    try:
        path = d.profile("life", host=host, port=port)
        a = d.bus.address
        mark = lambda: far.mark() if far else None
        count = lambda op, m: far and counts[op].append(far.count(m))
        time.sleep(1.0)  # the connect's own follow-ups (feature probe, watcher) out of the first step
        for _ in range(runs):
            m = mark()
            t0 = time.perf_counter()
            _, r = busctl(a, path, "Profile", "Start", "a{sv}", "3", "cmd", "s", "xterm", "session_type", "s",
                          "application", "geometry", "s", "800x600")
            name = r.stdout.split('"')[1]
            MY_SESSIONS.add(name)
            wait_window(xvfb, True)
            res["new"].append(time.perf_counter() - t0)
            count("new", m)
            m = mark()
            res["suspend"].append(busctl(a, path, "Profile", "Suspend", "s", name)[0])
            count("suspend", m)
            wait_window(xvfb, False)
            m = mark()
            t0 = time.perf_counter()
            busctl(a, path, "Profile", "Resume", "sa{sv}", name, "0")
            wait_window(xvfb, True)
            res["resume"].append(time.perf_counter() - t0)
            count("resume", m)
            m = mark()
            res["terminate"].append(busctl(a, path, "Profile", "Terminate", "sa{sv}", name, "0")[0])
            count("terminate", m)
            MY_SESSIONS.discard(name)
            wait_window(xvfb, False)
    finally:
        shutil.copy(d.log, debug_log)
        d.stop()


def lifecycle_pyhoca(xvfb, runs, res, host="127.0.0.1", port=PORT, kh=KH, far=None, counts=None):
    """pyhoca-cli: -N → window, -S, -R → window, -T, `runs` times (as lifecycle_x2god)."""
    py = Pyhoca(xvfb, host, port, kh)
    mark = lambda: far.mark() if far else None
    count = lambda op, m: far and counts[op].append(far.count(m))
    for _ in range(runs):
        before = server_sessions()
        m = mark()
        t0 = time.perf_counter()
        pn = py.spawn("-N", "-c", "xterm", "-g", "800x600")
        wait_window(xvfb, True)
        res["new"].append(time.perf_counter() - t0)
        count("new", m)
        name = new_session(before)
        MY_SESSIONS.add(name)
        m = mark()
        res["suspend"].append(py.run("-S", name)[0])
        count("suspend", m)
        wait_window(xvfb, False)
        try:
            pn.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(pn.pid, signal.SIGKILL)
        m = mark()
        t0 = time.perf_counter()
        pr = py.spawn("-R", name, "-g", "800x600")
        wait_window(xvfb, True)
        res["resume"].append(time.perf_counter() - t0)
        count("resume", m)
        m = mark()
        res["terminate"].append(py.run("-T", name)[0])
        count("terminate", m)
        MY_SESSIONS.discard(name)
        wait_window(xvfb, False)
        try:
            pr.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(pr.pid, signal.SIGKILL)


def bench_lifecycle(bus, xvfb):
    log("3. lifecycle")
    runs = 2  # three runs of the three clients took two minutes: the bench's budget is ten
    res = {k: {"new": [], "suspend": [], "resume": [], "terminate": []} for k in ("x2god", "pyhoca", "raw")}
    if xvfb.xterms():
        raise RuntimeError("private Xvfb already shows an xterm")
    lifecycle_x2god(xvfb, runs, res["x2god"], os.path.join(RESULTS, "x2god-lifecycle-debug.log"))
    lifecycle_pyhoca(xvfb, runs, res["pyhoca"])
    R["lifecycle"] = {k: {op: stats(v) for op, v in ops.items()} for k, ops in res.items()}
    os.makedirs(RAW_DIR, exist_ok=True)
    raw_failures = []
    for _ in range(runs):
      try:
          t0 = time.perf_counter()
          sid, cookie, disp, fwd, nx = raw_start(xvfb)
          wait_window(xvfb, True)
          res["raw"]["new"].append(time.perf_counter() - t0)
          res["raw"]["suspend"].append(ssh("x2gosuspend-session " + sid)[0])
          detach(fwd, nx)
          wait_window(xvfb, False)
          wait_for("agent SUSPENDED", lambda: "SUSPENDED" in ssh("/usr/lib/x2go/x2gogetagentstate " + sid,
                                                                  fresh=False)[1].stdout, 30, 0.2)
          t0 = time.perf_counter()
          _, r = ssh("x2goresume-session %s 800x600 adsl 16m-jpeg-9 null auto 1 both False" % sid)
          gr = re.search(r"gr_port=(\d+)", r.stdout).group(1)
          fwd, nx = attach(xvfb, sid, cookie, disp, gr)
          wait_window(xvfb, True, 25)
          res["raw"]["resume"].append(time.perf_counter() - t0)
          res["raw"]["terminate"].append(ssh("x2goterminate-session " + sid)[0])
          MY_SESSIONS.discard(sid)
          detach(fwd, nx)
          wait_window(xvfb, False)
      except Exception as e:  # the raw reference is a script of ours: note its failure, keep going
        raw_failures.append(str(e)[:200])
        log("raw run failed:", e)
        terminate_sessions([sid for sid in list(MY_SESSIONS)])
        for f in reversed(CLEANUPS[-4:]):  # this run's forwards and nxproxies
            try:
                f()
            except Exception:
                pass
        try:
            wait_window(xvfb, False, 20)
        except Exception:
            pass
    R["raw_failures"] = raw_failures
    R["lifecycle"] = {k: {op: stats(v) for op, v in ops.items()} for k, ops in res.items()}


def bench_signal(bus, xvfb, d, path):
    log("4. change -> signal, watcher CPU")
    a = d.bus.address
    # Sessions shown by ANOTHER client (raw OpenSSH + nxproxy), so x2god learns of the suspend only
    # through its server-side watcher (a session never attached disappears on suspend instead).
    os.makedirs(RAW_DIR, exist_ok=True)
    names, attached = [], []
    for _ in range(2 if QUICK else 3):
        sid, cookie, disp, fwd, nx = raw_start(xvfb)
        names.append(sid)
        attached.append((fwd, nx))
        wait_for("agent RUNNING", lambda: "RUNNING" in ssh("/usr/lib/x2go/x2gogetagentstate " + sid)[1].stdout,
                 30, 0.05)
    busctl(a, path, "Profile", "ListSessions")
    time.sleep(1)
    lines = []
    mon = subprocess.Popen([CLIENT, "signal", a], stdout=subprocess.PIPE, text=True)
    CLEANUPS.append(lambda: mon.poll() is None and (mon.kill(), mon.wait()))
    assert mon.stdout.readline().strip() == "READY"

    def reader():
        for line in mon.stdout:
            lines.append((time.perf_counter(), line.split()))
    threading.Thread(target=reader, daemon=True).start()
    from_start, from_end, from_agent, agent_at = [], [], [], []
    for n in names:
        # When the agent's state file leaves RUNNING (the suspend takes effect; x2golistsessions
        # shows S from then on), read here as root every 1 ms: the part of the delay that is
        # the other client's command, not x2god.
        seen = []

        def agent_watch(n=n):
            end = time.perf_counter() + 15
            while time.perf_counter() < end and not seen:
                if agent_state(n).startswith("SUSPEND"):
                    seen.append(time.perf_counter())
                time.sleep(0.001)
        watcher = threading.Thread(target=agent_watch, daemon=True)
        watcher.start()
        t0 = time.perf_counter()
        dt, _ = ssh("x2gosuspend-session " + n, fresh=False)
        t1 = t0 + dt
        ts = wait_for("SessionStateChanged for " + n,
                      lambda: [t for t, w in lines if w[:3] == [n, "running", "suspended"]], 15, 0.005)[0]
        watcher.join()
        from_start.append(ts - t0)
        from_end.append(ts - t1)
        if seen:
            agent_at.append(seen[0] - t0)
            from_agent.append(ts - seen[0])
    R["signal_from_cmd_start"] = stats(from_start)
    R["signal_from_cmd_end"] = stats(from_end)
    R["signal_agent_from_cmd_start"] = stats(agent_at)
    R["signal_from_agent"] = stats(from_agent)
    mon.kill()
    mon.wait()
    terminate_sessions(names)
    for fwd, nx in attached:
        detach(fwd, nx)
    wait_for("no sessions of " + USER, lambda: not server_sessions(), 30, 0.5)
    # CPU of watching: x2god's watcher vs polling x2golistsessions every 5 s. The kernel counts CPU
    # time in 10 ms ticks: the window is long enough for a few dozen of them. The sessions just
    # ended keep the server busy for a while (x2gocleansessions, and the listings the watcher runs
    # on what it does, ~20 s later), so the profile is connected anew: one idle watched profile.
    win = 20
    busctl(a, path, "Profile", "Disconnect")
    busctl(a, path, "Profile", "Connect", "a{sv}", "0")
    time.sleep(5)
    a0 = user_cpu(USER)
    time.sleep(win)
    a1 = user_cpu(USER)
    R["cpu_window_s"] = win
    R["cpu_x2god_user_total"] = cpu_delta(a0, a1) * 60 / win
    R["cpu_x2god_watch"] = cpu_delta(a0, a1, "x2god-watch") * 60 / win
    R["watch_procs"] = [c for p, (_, c) in a1.items() if "x2god-watch" in c][:3]
    busctl(a, path, "Profile", "Disconnect")
    time.sleep(1)
    b0 = user_cpu(USER)
    c0 = os.times()
    t0 = time.perf_counter()
    k = 0
    while time.perf_counter() - t0 < win - 0.01:
        ssh("x2golistsessions", fresh=False)  # pyhoca-gui's poll: one command over its control connection
        subprocess.run(floor_env(), stdout=subprocess.DEVNULL)  # the same, server side only (children CPU)
        k += 1
        time.sleep(max(0, t0 + 5 * k - time.perf_counter()))
    c1 = os.times()
    b1 = user_cpu(USER)
    # the ssh-channel polls are seen under the ControlMaster's sshd (reaped children); the runuser ones in
    # our own children times (runuser itself included, ssh client too: an upper bound).
    R["cpu_poll_server_sshd"] = cpu_delta(b0, b1) * 60 / win
    R["cpu_poll_children"] = (c1.children_user + c1.children_system - c0.children_user - c0.children_system) * 60 / win
    R["cpu_polls"] = k
    busctl(a, path, "Profile", "Connect", "a{sv}", "0")


def bench_scale(bus):
    log("6. scale")
    idle = 6
    out = {}

    def idle_measure(d, label):
        time.sleep(3)
        r0, c0 = d.usage()
        s0 = user_cpu(USER)
        time.sleep(idle)
        r1, c1 = d.usage()
        s1 = user_cpu(USER)
        out[label] = {"rss_mib": r1 / 1024, "cpu_pct": (c1 - c0) / idle * 100,
                      "server_cpu_pct": cpu_delta(s0, s1) / idle * 100}

    d = Daemon(bus, tag="scale1").wait_name()
    _, r = client("connect", d.bus.address, "p", "0", "1", PORT, USER, KEY)
    idle_measure(d, "1")
    _, r = client("connect", d.bus.address, "p", "1", "10", PORT, USER, KEY)
    idle_measure(d, "10")
    d.stop()
    d = Daemon(bus, tag="scale100").wait_name()
    _, r = client("connect", d.bus.address, "q", "0", "100", PORT, USER, KEY)
    out["connect100"] = dict(kv.split("=") for kv in r.stdout.split())
    idle_measure(d, "100")
    _, r = client("calls", d.bus.address, "q", "100", "1000")
    out["calls"] = dict(kv.split("=") for kv in r.stdout.split())
    out["calls_errors"] = r.stderr.strip()[:600]
    out["rss_after_calls_mib"] = d.usage()[0] / 1024
    d.stop()
    # python-x2go: X2GoControlSession objects in one process, connected one after the other
    home = tempfile.mkdtemp(prefix="pyx2go-", dir=WORK)
    os.makedirs(os.path.join(home, ".ssh"))
    shutil.copy(KEY, os.path.join(home, ".ssh", "id_ed25519"))
    shutil.copy(KH, os.path.join(home, ".ssh", "known_hosts"))
    _, r = timed(["/usr/bin/python3", os.path.join(BENCH, "pyx2go_scale.py"), PORT, USER, KEY, str(idle)],
                 env={"HOME": home, "PATH": "/usr/bin:/bin"}, cwd=home)
    out["python"] = json.loads(r.stdout.strip().splitlines()[-1])
    R["scale"] = out


def park_session(xvfb):
    """A suspended session of USER that stays: x2gostartagent (no command), nxproxy attached
    straight to the agent's port (the lab server is this machine) and killed once the agent
    runs: the agent suspends itself on the lost link within 0.3 s (x2gosuspend-session took
    1 s, and the agent up to 5 s more to let go). Sessions no client ever attached to end after
    about a minute; suspended ones stay until terminated. Returns the session name, or None
    if the start lost a race for a display."""
    _, r = ssh("X2GO_XINERAMA=false x2gostartagent 800x600 lan 16m-jpeg-9 unix-kde-depth_24 null auto 1 R "
               "xterm both", fresh=False, check=False)
    ln = r.stdout.split("\n")
    if r.returncode != 0 or len(ln) < 6 or not ln[0].isdigit():
        return None
    disp, cookie, sid, gr = ln[0], ln[1], ln[3], ln[4]
    MY_SESSIONS.add(sid)
    err = os.path.join(RAW_DIR, "S-" + sid)
    os.makedirs(err, exist_ok=True)
    nx = subprocess.Popen(["/usr/bin/nxproxy", "-S",
                           "nx/nx,retry=5,composite=1,connect=127.0.0.1,cookie=%s,port=%s,errors=%s:%s"
                           % (cookie, gr, os.path.join(err, "session.err"), disp)],
                          env=raw_env(xvfb), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for("agent of %s RUNNING" % sid, lambda: agent_state(sid) == "RUNNING", 30, 0.02)
    finally:
        nx.kill()
        nx.wait()
    wait_for("agent of %s SUSPENDED" % sid, lambda: agent_state(sid) == "SUSPENDED", 30, 0.02)
    return sid


def bench_growth(bus, d, path, xvfb):
    log("7. growth")
    a = d.bus.address
    res = {}
    have = []
    os.makedirs(RAW_DIR, exist_ok=True)

    def start_n(k):
        # Four at a time (x2gostartagent is mostly Perl start-up, nxproxy's handshake mostly
        # waiting). A start can lose a race for a display: count what the server lists, and give
        # up a level after a few extra starts (the table says how many were listed).
        from concurrent.futures import ThreadPoolExecutor
        tries, limit = 0, k - len(server_sessions()) + 6
        with ThreadPoolExecutor(4) as pool:
            while len(server_sessions()) < k and tries < limit:
                batch = min(4, k - len(server_sessions()))
                tries += batch
                for sid in pool.map(lambda _: park_session(xvfb), range(batch)):
                    if sid:
                        have.append(sid)

    levels = [1, 10] if QUICK else [1, 10, 50]
    for k in levels:
        t0 = time.perf_counter()
        start_n(k)
        parked = time.perf_counter() - t0
        log("  %d sessions parked in %.1f s" % (k, parked))
        n_listed = len(server_sessions())
        busctl(a, path, "Profile", "ListSessions")
        _, r = client("list", a, path, "10" if QUICK else "15")
        x = stats([float(v) for v in r.stdout.split()])
        fl = stats([timed(floor_env())[0] for _ in range(5 if QUICK else 10)])
        py_runs = [GROWTH_PY.run("-L")[0] for _ in range(2)]
        res[str(k)] = {"listed": n_listed, "x2god": x, "floor": fl, "pyhoca": stats(py_runs), "park_s": parked}
    terminate_sessions(list(have))
    R["growth"] = res


# ---------------------------------------------------------------------------- rtt: a far server

FAR_NS = "x2god-far"  # namespace of the far sshd
FAR_TUN_ROOT, FAR_TUN_NS = "x2god-fr", "x2god-ff"  # TUN devices: root namespace end, far end
FAR_ROOT_ADDR, FAR_ADDR = "10.231.5.1", "10.231.5.2"  # inside the lab's guarded range, not 10.231.2/3
NET_RANGE = LAB.get("NET_RANGE", "10.231.0.0/16")


def sh(*cmd, check=True):
    return subprocess.run(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=check)


class Far:
    """The lab server's x2goserver behind a delay line: namespace x2god-far joined to the root
    namespace by two TUN devices and benches/tundelay.py (test-infra §4; the kernel has no netem),
    with its own sshd (configured like the lab's target sshd, LogLevel DEBUG1 to count channels).
    The guard route `unreachable NET_RANGE` must exist (the lab adds it) and stays; the /32 peer
    route on the TUN device is more specific. Everything is removed by down() (also on failure)."""

    def __init__(self):
        if not sh("ip", "-4", "route", "show", "type", "unreachable", NET_RANGE).stdout.strip():
            raise RuntimeError("guard route `unreachable %s` missing in the root namespace: refusing to add "
                               "addresses of that range (the lab's setup.sh adds it)" % NET_RANGE)
        self.dir = os.path.join(WORK, "far")
        os.makedirs(self.dir)
        self.delayline = None
        self.down()  # leftovers of an interrupted run of ours (our names only)
        CLEANUPS.append(self.down)
        sh("ip", "netns", "add", FAR_NS)
        sh("ip", "-n", FAR_NS, "link", "set", "lo", "up")
        sh("ip", "netns", "exec", FAR_NS, "sysctl", "-qw", "net.ipv4.ip_forward=0")
        sh("ip", "tuntap", "add", "dev", FAR_TUN_ROOT, "mode", "tun")
        sh("ip", "-n", FAR_NS, "tuntap", "add", "dev", FAR_TUN_NS, "mode", "tun")
        sh("ip", "addr", "add", FAR_ROOT_ADDR, "peer", FAR_ADDR, "dev", FAR_TUN_ROOT)
        sh("ip", "-n", FAR_NS, "addr", "add", FAR_ADDR, "peer", FAR_ROOT_ADDR, "dev", FAR_TUN_NS)
        sh("ip", "link", "set", FAR_TUN_ROOT, "up")
        sh("ip", "-n", FAR_NS, "link", "set", FAR_TUN_NS, "up")
        self.control = os.path.join(self.dir, "delay_ms")
        open(self.control, "w").write("0\n")
        self.delayline = subprocess.Popen(["/usr/bin/python3", os.path.join(BENCH, "tundelay.py"), "-", FAR_TUN_ROOT,
                                           FAR_NS, FAR_TUN_NS, "0", self.control], stdout=subprocess.PIPE, text=True)
        if self.delayline.stdout.readline().strip() != "ready":
            raise RuntimeError("tundelay.py did not start")
        # sshd: like the lab's target sshd (same users and keys), its own host key
        hk = os.path.join(self.dir, "ssh_host_ed25519_key")
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "x2god-far", "-f", hk)
        self.kh = os.path.join(self.dir, "known_hosts")
        pub = open(hk + ".pub").read().split()
        open(self.kh, "w").write(open(KH).read().rstrip("\n") + "\n%s %s %s\n" % (FAR_ADDR, pub[0], pub[1]))
        os.chmod(self.kh, 0o644)
        self.pidfile = os.path.join(self.dir, "sshd.pid")
        self.log = os.path.join(self.dir, "sshd.log")
        conf = os.path.join(self.dir, "sshd_config")
        open(conf, "w").write("""# x2god bench far sshd (benches/bench.py, part rtt): as the lab's target sshd
ListenAddress %s
Port 22
AddressFamily inet
HostKey %s
PidFile %s
AllowUsers x2gotest x2gotest2
PermitRootLogin no
UsePAM yes
AllowTcpForwarding yes
AllowAgentForwarding yes
X11Forwarding no
UseDNS no
# DEBUG1: one line per channel open (ctype session / direct-tcpip) and per channel request (exec, subsystem)
LogLevel DEBUG1
Subsystem sftp /usr/lib/openssh/sftp-server
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
""" % (FAR_ADDR, hk, self.pidfile))
        sh("/usr/sbin/sshd", "-t", "-f", conf)
        sh("ip", "netns", "exec", FAR_NS, "/usr/sbin/sshd", "-f", conf, "-E", self.log)
        wait_for("far sshd", lambda: sh("ip", "netns", "exec", FAR_NS, "ss", "-ltnH", "sport = :22").stdout.strip(),
                 10, 0.05)
        self.ssh_base = ["ssh", "-F", "/dev/null", "-i", KEY, "-p", "22", "-o", "IdentitiesOnly=yes", "-o",
                         "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + self.kh,
                         "-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10"]
        self.cm = None

    def set_delay(self, ms):
        open(self.control, "w").write("%s\n" % ms)
        self.delayline.send_signal(signal.SIGHUP)
        time.sleep(0.3)  # packets queued at the old delay drain

    def ping(self, n=20):
        """RTT as the time of a TCP connect to the far sshd (SYN → SYN-ACK: one round trip). The
        machine has no ping binary (iputils-ping is not installed); this needs nothing else."""
        import socket
        out = []
        for _ in range(n):
            c = socket.socket()
            t = time.perf_counter()
            c.connect((FAR_ADDR, 22))
            out.append(time.perf_counter() - t)
            c.close()
            time.sleep(0.1)
        return stats(out)

    def ssh(self, cmd, fresh=True, check=True):
        args = self.ssh_base + ([] if fresh else ["-S", self.cm, "-o", "ControlMaster=no"]) + \
            [USER + "@" + FAR_ADDR, cmd]
        return timed(args, check=check)

    def master(self, tag):
        self.cm = os.path.join(self.dir, "cm-%s.sock" % tag)
        subprocess.run(self.ssh_base + ["-M", "-S", self.cm, "-o", "ControlPersist=no", "-N", "-f",
                                        USER + "@" + FAR_ADDR], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        cm = self.cm
        stop = lambda: subprocess.run(self.ssh_base + ["-S", cm, "-O", "exit", USER + "@" + FAR_ADDR],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        CLEANUPS.append(stop)
        return stop

    def mark(self):
        return os.path.getsize(self.log)

    def count(self, since):
        """What the far sshd logged since `since`: TCP connections, session channels, exec and
        subsystem (sftp) requests, direct-tcpip (port-forward) channels."""
        time.sleep(0.05)
        with open(self.log, "rb") as f:
            f.seek(since)
            t = f.read().decode(errors="replace")
        return {"conn": t.count("Connection from "), "session": t.count("ctype session "),
                "exec": t.count(" req exec"), "sftp": t.count(" req subsystem"),
                "fwd": t.count("ctype direct-tcpip ")}

    def down(self):
        if self.delayline and self.delayline.poll() is None:
            self.delayline.kill()
            self.delayline.wait()
        try:
            pid = int(open(os.path.join(self.dir, "sshd.pid")).read())
            os.kill(pid, signal.SIGTERM)
        except (OSError, ValueError):
            pass
        if os.path.exists("/run/netns/" + FAR_NS):
            # what is left inside: sshd children, agents of sessions started through it (terminated before)
            for _ in range(40):
                pids = [int(x) for x in sh("ip", "netns", "pids", FAR_NS, check=False).stdout.split()]
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGTERM if _ < 30 else signal.SIGKILL)
                    except OSError:
                        pass
                time.sleep(0.05)
        sh("ip", "link", "del", FAR_TUN_ROOT, check=False)
        if os.path.exists("/run/netns/" + FAR_NS):
            sh("ip", "-n", FAR_NS, "link", "del", FAR_TUN_NS, check=False)
            sh("ip", "netns", "del", FAR_NS, check=False)


def per_op(counts, n):
    """Mean per operation of the count dicts (summed over n operations)."""
    if isinstance(counts, list):
        tot = {}
        for c in counts:
            for k, v in c.items():
                tot[k] = tot.get(k, 0) + v
        n = len(counts) or 1
        counts = tot
    return {k: v / n for k, v in counts.items()}


def bench_rtt(xvfb):
    log("5. rtt: the server behind a delay line")
    far = Far()
    try:
        out = {"far": "%s (ns %s) via %s, %s" % (FAR_ADDR, FAR_NS, FAR_TUN_ROOT, NET_RANGE)}
        lifecycle = os.environ.get("BENCH_RTT_LIFECYCLE", "1") == "1"
        for ms in (0, 25):
            out[str(ms)] = rtt_phase(far, xvfb, ms, lifecycle)
            R["rtt"] = out
            json.dump(R, open(os.path.join(RESULTS, "results.json"), "w"), indent=1)
        shutil.copy(far.log, os.path.join(RESULTS, "far-sshd.log"))
    finally:
        far.down()
        CLEANUPS.remove(far.down)
    left = [x for x in (sh("ip", "netns", "list").stdout + sh("ip", "link").stdout).split() if "x2god-f" in x]
    if left:
        raise RuntimeError("far namespace/TUN still present after teardown: %s" % left)


ENVELOPE_LIST = ("echo X2GODATABEGIN:0123456789abcdef; /bin/sh -c 'PATH=/usr/local/bin:/usr/bin:/bin; export PATH; "
                 "sh -c '\\''x2golistsessions && x2golistshadowsessions'\\''; exit $?'; x2god_rc=$?; "
                 "echo X2GODATAEND:0123456789abcdef; exit $x2god_rc")


def rtt_phase(far, xvfb, ms, lifecycle):
    log("5. rtt: delay %d ms each way" % ms)
    n, k = (8, 3) if QUICK else (10, 4)
    far.set_delay(ms)
    o = {"ping": far.ping()}
    log("   ping median %.1f ms" % (o["ping"]["median"] * 1000))
    env_far = dict(os.environ, X2GOD_BENCH_HOST=FAR_ADDR)
    # floor, server side only (never crosses the link)
    timed(floor_env())
    o["floor"] = stats([timed(floor_env())[0] for _ in range(n)])
    o["floor_both"] = stats([timed(floor_env(True))[0] for _ in range(n)])  # what x2god runs when listing
    # OpenSSH: one command over an existing ControlMaster; a whole fresh connection
    stop = far.master("d%d" % ms)
    far.ssh("x2golistsessions", fresh=False)
    m = far.mark()
    o["ssh_cm"] = stats([far.ssh("x2golistsessions", fresh=False)[0] for _ in range(n)])
    o["ssh_cm_counts"] = per_op(far.count(m), n)
    # the command x2god's ListSessions runs, bare and inside x2god's exec envelope (marker lines
    # around an inner /bin/sh, daemon/src/x2go/envelope.rs), over the same ControlMaster
    o["ssh_cm_both"] = stats([far.ssh("x2golistsessions && x2golistshadowsessions", fresh=False)[0]
                              for _ in range(n)])
    o["ssh_cm_envelope"] = stats([far.ssh(ENVELOPE_LIST, fresh=False)[0] for _ in range(n)])
    stop()
    m = far.mark()
    o["ssh_fresh"] = stats([far.ssh("x2golistsessions")[0] for _ in range(k)])
    o["ssh_fresh_counts"] = per_op(far.count(m), k)
    o["ssh_true"] = stats([far.ssh("true")[0] for _ in range(k)])
    # x2god warm
    d = Daemon(None, tag="rtt-warm-%d" % ms, kh=far.kh, rust_log="x2god=debug").wait_name()
    try:
        path = d.profile("far", host=FAR_ADDR, port="22")
        time.sleep(2.0)  # the feature probe and the watcher's first listing
        busctl(d.bus.address, path, "Profile", "ListSessions")
        m = far.mark()
        o["x2god_warm_busctl"] = stats([busctl(d.bus.address, path, "Profile", "ListSessions")[0]
                                        for _ in range(n)])
        o["x2god_warm_counts"] = per_op(far.count(m), n)
        _, r = client("list", d.bus.address, path, str(n))
        o["x2god_warm_rust"] = stats([float(x) for x in r.stdout.split()])
    finally:
        d.stop()
        shutil.copy(d.log, os.path.join(RESULTS, "x2god-rtt%d-warm-debug.log" % ms))
    # x2god cold: spawn → CreateProfile → Connect → ListSessions
    runs, parts, counts = [], [], []
    for i in range(k):
        d = Daemon(None, tag="rtt-cold-%d" % ms, kh=far.kh, rust_log="x2god=debug")
        try:
            m = far.mark()
            _, r = client("cold", d.bus.address, "cold%d" % i, "22", USER, KEY, env=env_far)
            runs.append(time.perf_counter() - d.t_spawn)
            counts.append(far.count(m))
            parts.append(dict(kv.split("=") for kv in r.stdout.split()))
        finally:
            d.stop()
            if i == 0:
                shutil.copy(d.log, os.path.join(RESULTS, "x2god-rtt%d-cold-debug.log" % ms))
    o["x2god_cold"] = stats(runs)
    o["x2god_cold_counts"] = per_op(counts, k)
    o["x2god_cold_parts"] = {key: stats([float(p[key]) - (float(p[prev]) if prev else 0) for p in parts])
                             for key, prev in [("name", None), ("create", "name"), ("connect", "create"),
                                               ("list", "connect")]}
    # pyhoca-cli -L (always cold)
    py = Pyhoca(xvfb, FAR_ADDR, "22", far.kh)
    pr, counts = [], []
    for _ in range(3):
        m = far.mark()
        dt, outp = py.run("-L")
        if "ession" not in outp:
            raise RuntimeError("pyhoca-cli -L printed no listing: " + outp[-1500:])
        pr.append(dt)
        counts.append(far.count(m))
    o["pyhoca_L"] = stats(pr)
    o["pyhoca_L_counts"] = per_op(counts, 3)
    if ms:  # one more, untimed, with python-x2go's debug output: the commands it runs
        open(os.path.join(RESULTS, "pyhoca-rtt-L-libdebug.log"), "w").write(py.run("-L", "--libdebug")[1])
    if lifecycle:
        runs = 1  # each run is ~15 s (x2god) and ~30 s (pyhoca-cli) at 50 ms RTT: the bench's budget
        ops = ("new", "suspend", "resume", "terminate")
        for who, f in (("x2god", lifecycle_x2god), ("pyhoca", lifecycle_pyhoca)):
            res, cnt = {op: [] for op in ops}, {op: [] for op in ops}
            try:
                if who == "x2god":
                    f(xvfb, runs, res, os.path.join(RESULTS, "x2god-rtt%d-lifecycle-debug.log" % ms), FAR_ADDR,
                      "22", far.kh, far, cnt)
                else:
                    f(xvfb, runs, res, FAR_ADDR, "22", far.kh, far, cnt)
            except Exception as e:
                o["lifecycle_%s_error" % who] = str(e)[:300]
                log("rtt lifecycle %s failed: %s" % (who, e))
                terminate_sessions(sorted(MY_SESSIONS))
            o["lifecycle_" + who] = {op: stats(v) for op, v in res.items()}
            o["lifecycle_%s_counts" % who] = {op: per_op(v, 0) for op, v in cnt.items()}
    return o


# ---------------------------------------------------------------------------- 8 share: client folders on the server

# The part runs as the lab user who may use sshfs (FUSE); the lab denies it to the other one.
SHARE_USER = LAB.get("SSHFS_AVAILABLE_USER", "")
SHARE_MIB = 256  # sequential write and read
SHARE_ENTRIES = 10000  # `ls` of one directory
SHARE_TREE = (50, 100, 2048)  # `tar c`: directories, files in each, bytes per file (5,000 small files)
SHARE_EXTRA = 3  # more folders shared next to the measured one: RSS with 4 shares
# pyhoca-cli's share needs ~45 ms per small file (4 minutes for one `tar` of the tree, 2026-12-07):
# it reads 5 of the 50 folders of the tree, its time is scaled ×10, and it runs at most 2
# repetitions; BENCH_SHARE_PYHOCA_FULL=1 has it read the whole tree in every repetition.
SHARE_PYHOCA_FULL = os.environ.get("BENCH_SHARE_PYHOCA_FULL") == "1"

# One repetition, run as the session user on the server, through the mount M. Every repetition
# uses folders and files of its own (many-I, tree-I, read-I.bin) that this mount has never
# touched, so each `ls` and `tar` is cold without waiting out sshfs's 20 s attribute and
# directory caches (/work/shared/recipes/fsbench.sh slept 25 s instead). tar writes into a pipe:
# GNU tar does not read the files at all when its archive is /dev/null; it takes the folders of
# tree-I given as $4 (default: all of it). Prints "<op> <ns> <n>".
SHARE_OPS = r'''
M=$1 i=$2 mib=$3 dirs=${4:-.}
now() { date +%s%N; }
t=$(now); n=$(ls "$M/many-$i" | wc -l); echo "ls $(($(now) - t)) $n"
# $dirs unquoted: a list of folders
t=$(now); n=$(tar cf - -C "$M/tree-$i" $dirs | wc -c); echo "tar $(($(now) - t)) $n"
t=$(now); out=$(dd if=/dev/zero of="$M/write-$i.bin" bs=1M count="$mib" conv=fsync 2>&1) || { echo "$out" >&2; exit 1; }
echo "write $(($(now) - t)) $(echo "$out" | tail -n 1 | cut -d' ' -f1)"
t=$(now); out=$(dd if="$M/read-$i.bin" of=/dev/null bs=1M 2>&1) || { echo "$out" >&2; exit 1; }
echo "read $(($(now) - t)) $(echo "$out" | tail -n 1 | cut -d' ' -f1)"
rm -f "$M/write-$i.bin"
'''


def as_user(user, *cmd):
    """cmd run on the server as user, with the environment of a login and no SSH (runuser)."""
    import pwd
    home = pwd.getpwnam(user).pw_dir
    return ["runuser", "-u", user, "--", "env", "-i", "HOME=" + home, "USER=" + user, "LOGNAME=" + user,
            "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"] + list(cmd)


def x2go_mount_point(user, folder):
    """Where x2gomountdirs mounts a client folder: / and blanks become _ (x2go-protocol.md §2.12)."""
    return "/tmp/.x2go-%s/media/disk/%s" % (user, folder.replace("/", "_").replace(" ", "_"))


def sshfs_mounted(mp):
    with open("/proc/mounts") as f:
        return any(len(p) > 2 and p[1] == mp and p[2] == "fuse.sshfs" for p in (l.split() for l in f))


def user_sessions(user):
    _, r = timed(as_user(user, "x2golistsessions"))
    return [l.split("|")[1] for l in r.stdout.splitlines() if "|" in l]


def terminate_as(user, name):
    subprocess.run(as_user(user, "x2goterminate-session", name), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class ShareTree:
    """The client folder (created here, on the client side; owned by the session user, so the plain
    sshfs side, whose sftp-server runs as that user, may write too) and SHARE_EXTRA small ones."""

    def __init__(self, user, reps):
        import pwd
        pw = pwd.getpwnam(user)
        self.dir = os.path.join(WORK, "share")
        self.extra = [os.path.join(WORK, "share-extra-%d" % i) for i in range(1, SHARE_EXTRA + 1)]
        t = time.perf_counter()
        for d in [self.dir] + self.extra:
            os.makedirs(d)
            open(os.path.join(d, "hello.txt"), "w").write("hello from the client side\n")
        ndirs, nfiles, size = SHARE_TREE
        for i in range(1, reps + 1):
            many = os.path.join(self.dir, "many-%d" % i)
            os.makedirs(many)
            for k in range(SHARE_ENTRIES):
                os.close(os.open(os.path.join(many, "f%05d" % k), os.O_CREAT | os.O_WRONLY, 0o644))
            for j in range(ndirs):
                sub = os.path.join(self.dir, "tree-%d" % i, "d%02d" % j)
                os.makedirs(sub)
                for k in range(nfiles):
                    open(os.path.join(sub, "f%03d" % k), "wb").write(os.urandom(size))
            with open(os.path.join(self.dir, "read-%d.bin" % i), "wb") as f:
                for _ in range(SHARE_MIB):
                    f.write(os.urandom(1 << 20))
        for d in [self.dir] + self.extra:
            subprocess.run(["chown", "-R", "%d:%d" % (pw.pw_uid, pw.pw_gid), d], check=True)
        log("   client folder %s: %d × (%d entries, %d files, %d MiB) in %.1f s"
            % (self.dir, reps, SHARE_ENTRIES, ndirs * nfiles, SHARE_MIB, time.perf_counter() - t))


def share_ops(user, mp, reps, tar_dirs=None):
    """The figures through mount point mp: SHARE_OPS once per repetition, checked and collected.
    With tar_dirs (a number), tar reads only that many of tree-I's folders and its time is scaled
    to the whole tree (files are alike, so the time per file is what counts)."""
    res = {"ls": [], "tar": [], "write_mbps": [], "read_mbps": []}
    ndirs, nfiles, size = SHARE_TREE
    dirs = " ".join("d%02d" % j for j in range(tar_dirs)) if tar_dirs else "."
    scale = ndirs / tar_dirs if tar_dirs else 1
    for i in range(1, reps + 1):
        _, r = timed(as_user(user, "bash", "-c", SHARE_OPS, "share-ops", mp, str(i), str(SHARE_MIB), dirs),
                     timeout=900)
        got = {w[0]: (int(w[1]) / 1e9, int(w[2])) for w in (l.split() for l in r.stdout.splitlines()) if len(w) == 3}
        want_bytes = SHARE_MIB << 20
        if got.get("ls", (0, 0))[1] != SHARE_ENTRIES or got.get("tar", (0, 0))[1] < ndirs / scale * nfiles * size or \
                got.get("write", (0, 0))[1] != want_bytes or got.get("read", (0, 0))[1] != want_bytes:
            raise RuntimeError("share ops through %s, repetition %d, gave %s (stderr %s)" % (mp, i, got, r.stderr[-300:]))
        res["ls"].append(got["ls"][0])
        res["tar"].append(got["tar"][0] * scale)
        res["write_mbps"].append(want_bytes / 1e6 / got["write"][0])
        res["read_mbps"].append(want_bytes / 1e6 / got["read"][0])
        log("   %s #%d: ls %.0f ms, tar %.2f s, write %.1f MB/s, read %.1f MB/s"
            % (mp, i, got["ls"][0] * 1000, got["tar"][0], res["write_mbps"][-1], res["read_mbps"][-1]))
    out = {k: stats(v) for k, v in res.items()}
    out["tar_files_read"] = (tar_dirs or ndirs) * nfiles
    return out


def check_readable(user, mps):
    """Each mount point shows the client's hello.txt to the session user (FUSE mounts are private
    to their user: root cannot look)."""
    for mp in mps:
        _, r = timed(as_user(user, "cat", os.path.join(mp, "hello.txt")), check=False)
        if r.stdout != "hello from the client side\n":
            raise RuntimeError("%s/hello.txt as %s: %r %s" % (mp, user, r.stdout[:100], r.stderr[-300:]))


def wait_unmounted(mps, user=None, timeout=30):
    """Until no mps is mounted; then, with user, the empty mount point folders x2goumount-session
    leaves in /tmp/.x2go-<user>/media/disk are removed (as that user: the folder is 0700)."""
    wait_for("unmount of " + ", ".join(mps), lambda: not any(sshfs_mounted(m) for m in mps), timeout, 0.1)
    if user:
        subprocess.run(as_user(user, "rmdir", "--ignore-fail-on-non-empty", *mps), stderr=subprocess.DEVNULL)


def share_sshfs(tree, user, reps):
    """Plain sshfs by the session user to the lab sshd's OpenSSH sftp-server over loopback, with
    the sshfs options x2gomountdirs uses (recipe §3.2); the lab key is copied for the user."""
    import pwd
    pw = pwd.getpwnam(user)
    d = os.path.join(WORK, "sshfs")
    os.makedirs(d)
    mp, key = os.path.join(d, "mnt"), os.path.join(d, "id")
    os.makedirs(mp)
    shutil.copy(KEY, key)
    os.chmod(key, 0o600)
    for p in (d, mp, key):
        os.chown(p, pw.pw_uid, pw.pw_gid)
    cmd = as_user(user, "sshfs", "-o", "idmap=user,uid=%d,gid=%d,default_permissions,ServerAliveInterval=300,"
                  "IdentityFile=%s,UserKnownHostsFile=%s,BatchMode=yes" % (pw.pw_uid, pw.pw_gid, key, KH),
                  "%s@127.0.0.1:%s" % (user, tree.dir), mp, "-p", PORT)
    dt, _ = timed(cmd)
    CLEANUPS.append(lambda: sshfs_mounted(mp) and subprocess.run(as_user(user, "fusermount3", "-u", mp)))
    try:
        check_readable(user, [mp])
        out = share_ops(user, mp, reps)
        out["mount_s"] = dt
        return out
    finally:
        subprocess.run(as_user(user, "fusermount3", "-u", mp), check=True)
        wait_unmounted([mp])


class UserSshConfig:
    """~user/.ssh/config with extra lines for a while; restore() puts back exactly what was there
    (or nothing). python-x2go's embedded SSH server sends no server-sig-algs, so OpenSSH's ssh, run
    by sshfs on the server, finds no signature algorithm for its RSA throw-away key without
    `PubkeyAcceptedAlgorithms +ssh-rsa` (recipe, top of session-features.md)."""

    def __init__(self, user, extra):
        import pwd
        self.pw = pwd.getpwnam(user)
        self.path = os.path.join(self.pw.pw_dir, ".ssh", "config")
        try:
            st = os.stat(self.path)
            self.orig = (open(self.path, "rb").read(), st.st_mode & 0o7777, st.st_uid, st.st_gid)
        except FileNotFoundError:
            self.orig = None
        body = (self.orig[0] + b"\n" if self.orig else b"") + extra.encode()
        self.done = False
        CLEANUPS.append(self.restore)
        self._write(body, 0o600, self.pw.pw_uid, self.pw.pw_gid)

    def _write(self, body, mode, uid, gid):
        tmp = self.path + ".x2god-bench.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, body)
        os.close(fd)
        os.chown(tmp, uid, gid)
        os.chmod(tmp, mode)
        os.rename(tmp, self.path)

    def restore(self):
        if self.done:
            return
        self.done = True
        if self.orig is None:
            os.unlink(self.path)
        else:
            self._write(*self.orig)


def share_pyhoca(xvfb, tree, user, reps):
    """pyhoca-cli -N -F <folder> (python-x2go's embedded SFTP server through a reverse forward),
    as recipe §3.1; the session is found by its mount and terminated with -T."""
    mp = x2go_mount_point(user, tree.dir)
    if sshfs_mounted(mp):
        raise RuntimeError(mp + " is mounted already")
    cfg = UserSshConfig(user, "Host 127.0.0.1\n  PubkeyAcceptedAlgorithms +ssh-rsa\n")
    py = Pyhoca(xvfb, user=user)
    name = None
    try:
        before = set(user_sessions(user))
        t0 = time.perf_counter()
        p = py.spawn("-N", "-c", "xterm", "-g", "800x600", "-F", tree.dir)

        def up():
            if p.poll() is not None:
                raise RuntimeError("pyhoca-cli exited (%s): %s" % (p.returncode, open(
                    os.path.join(py.home, "bg-0.log")).read()[-1500:]))
            return sshfs_mounted(mp)
        wait_for("pyhoca-cli's share " + mp, up, 90, 0.02)
        mount_s = time.perf_counter() - t0

        def mine():
            for s in set(user_sessions(user)) - before:
                _, r = timed(as_user(user, "x2golistmounts", s), check=False)
                if any(l.split("|")[-1] == mp for l in r.stdout.splitlines()):
                    return s
        name = wait_for("the session with " + mp, mine, 20, 0.5)
        stop = lambda: terminate_as(user, name)
        CLEANUPS.append(stop)
        check_readable(user, [mp])
        if SHARE_PYHOCA_FULL:
            out = share_ops(user, mp, reps)
        else:
            out = share_ops(user, mp, min(reps, 2), tar_dirs=5)
        out["mount_s"] = mount_s
        out["session"] = name
        return out
    finally:
        try:
            if name:
                py.run("-T", name)
                CLEANUPS.remove(stop)
        finally:
            py.stop()
            try:
                wait_unmounted([mp], user)
            finally:
                cfg.restore()


def share_x2god(xvfb, tree, user, reps):
    """x2god: Start (an xterm), then Session.ShareFolder for the measured folder and SHARE_EXTRA
    more: the time from each call's return until its mount is in /proc/mounts (polled every 2 ms),
    the daemon's RSS with no share and with 4, the figures through the first one; Terminate.
    (Start's option share_local_folders shares while starting; ShareFolder can be timed alone.)"""
    folders = [tree.dir] + tree.extra
    mps = [x2go_mount_point(user, f) for f in folders]
    if any(sshfs_mounted(m) for m in mps):
        raise RuntimeError("mounted already: %s" % [m for m in mps if sshfs_mounted(m)])
    d = Daemon(None, xvfb, tag="share").wait_name()
    name = None
    out = {}
    try:
        a = d.bus.address
        path = d.profile("share", user=user)
        time.sleep(1.0)  # the connect's own follow-ups (feature probe, watcher)
        _, r = busctl(a, path, "Profile", "Start", "a{sv}", "3", "cmd", "s", "xterm", "session_type", "s",
                      "application", "geometry", "s", "800x600")
        q = r.stdout.split('"')
        name, spath = q[1], q[3]
        stop = lambda: terminate_as(user, name)
        CLEANUPS.append(stop)
        time.sleep(2.0)
        out["rss_none_mib"] = d.usage()[0] / 1024
        calls, visible = [], []
        for f, mp in zip(folders, mps):
            t0 = time.perf_counter()
            busctl(a, spath, "Session", "ShareFolder", "sa{sv}", f, "0")
            t1 = time.perf_counter()
            wait_for("x2god's share " + mp, lambda: sshfs_mounted(mp), 30, 0.002)
            t2 = time.perf_counter()
            calls.append(t1 - t0)
            visible.append(t2 - t1)
        out["share_call"], out["share_visible"] = stats(calls), stats(visible)
        _, r = timed(as_user(user, "x2golistmounts", name))
        listed = [l.split("|")[-1] for l in r.stdout.splitlines() if "|" in l]
        if not set(mps) <= set(listed):  # (a print spool or MIME box mount may be listed too)
            raise RuntimeError("x2golistmounts %s printed %s, expected %s" % (name, listed, mps))
        check_readable(user, mps)
        time.sleep(2.0)
        out["rss_4_mib"] = d.usage()[0] / 1024
        out.update(share_ops(user, mps[0], reps))
        out["rss_after_mib"] = d.usage()[0] / 1024
        return out
    finally:
        try:
            if name:
                busctl(a, path, "Profile", "Terminate", "sa{sv}", name, "0")
                CLEANUPS.remove(stop)
                wait_unmounted(mps, user)
        finally:
            d.stop()


def bench_share(xvfb):
    log("8. share: a client folder mounted on the server")
    if not SHARE_USER:
        raise RuntimeError("lab.env names no SSHFS_AVAILABLE_USER: sshfs is not usable on the lab server")
    if not shutil.which("sshfs"):
        raise RuntimeError("sshfs is missing (the lab setup installs it)")
    reps = 2 if QUICK else 3
    out = {"user": SHARE_USER, "reps": reps, "mib": SHARE_MIB, "entries": SHARE_ENTRIES,
           "tree_files": SHARE_TREE[0] * SHARE_TREE[1], "errors": {}}
    R["share"] = out
    tree = ShareTree(SHARE_USER, reps)
    for side, f, args in (("sshfs", share_sshfs, ()), ("pyhoca", share_pyhoca, (xvfb,)),
                          ("x2god", share_x2god, (xvfb,))):
        log("8. share: " + side)
        try:
            out[side] = f(*args, tree, SHARE_USER, reps)
        except Exception as e:  # one side failing leaves the others' figures
            import traceback
            traceback.print_exc()
            msg = str(e)
            out["errors"][side] = msg[msg.find("Call failed:"):] if "Call failed:" in msg else msg[-400:]
        json.dump(R, open(os.path.join(RESULTS, "results.json"), "w"), indent=1)


# ---------------------------------------------------------------------------- 9 sound

SOUND_SECONDS = 20 if QUICK else 60
SOUND_RATE = 48000
SOUND_CMD = "xterm -e x2god-sndloop"  # the lab's player (tests/lab/pulse.sh), in a window
SOUND_GAP_MS = 20  # a dropout: this long (or longer) without sound inside the tone


def pulse_env():
    return {"PULSE_SERVER": LAB["PULSE_SERVER"], "PULSE_COOKIE": LAB["PULSE_COOKIE"]}


class Parec:
    """Records the lab sink's monitor (raw s16le, 48 kHz stereo) until stopped; the time of its
    last sample is taken as the moment it is stopped, so each sample's time is known."""

    def __init__(self):
        self.file = os.path.join(WORK, "parec-%d.raw" % len(CLEANUPS))
        env = dict(pulse_env(), PATH="/usr/bin:/bin", HOME=LAB["PULSE_HOME"],
                   XDG_RUNTIME_DIR=LAB["PULSE_RUNTIME_DIR"])
        self.p = subprocess.Popen(["parec", "-d", LAB["PULSE_SINK"] + ".monitor", "--rate=%d" % SOUND_RATE,
                                   "--channels=2", "--format=s16le", "--latency-msec=10"], env=env,
                                  stdout=open(self.file, "wb"), stderr=subprocess.DEVNULL)
        CLEANUPS.append(self.kill)
        time.sleep(0.3)

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()

    def stop(self):
        """(left-channel samples, time of the last one)."""
        self.p.send_signal(signal.SIGINT)
        t_end = time.perf_counter()
        self.p.wait()
        import array
        a = array.array("h")
        a.frombytes(open(self.file, "rb").read()[: (os.path.getsize(self.file) // 4) * 4])
        return a[0::2], t_end


def tone_figures(left, t_end):
    """First and last audible sample, recorded length, and the dropouts inside (runs of
    SOUND_GAP_MS or more below a small threshold: a sine is near zero for a sample or two only)."""
    loud = 256
    first = next((i for i, v in enumerate(left) if abs(v) > loud), None)
    if first is None:
        raise RuntimeError("nothing was recorded from the sink")
    last = len(left) - 1 - next(i for i, v in enumerate(reversed(left)) if abs(v) > loud)
    gap_min = SOUND_RATE * SOUND_GAP_MS // 1000
    gaps, run = [], 0
    for v in left[first:last + 1]:
        if abs(v) <= loud:
            run += 1
        else:
            if run >= gap_min:
                gaps.append(run * 1000.0 / SOUND_RATE)
            run = 0
    return {"t_first": t_end - (len(left) - first) / SOUND_RATE,
            "recorded_s": (last - first + 1) / SOUND_RATE,
            "dropouts": len(gaps), "longest_dropout_ms": max(gaps) if gaps else 0.0}


def sound_session_dir(user, name):
    _, r = timed(as_user(user, "sh", "-c", 'printf %s "$HOME"'))
    return "%s/.x2god-snd/%s" % (r.stdout, name)


def sound_wait_done(user, name, timeout):
    done = sound_session_dir(user, name) + "/autoplay.done"
    wait_for("the session's tone to end", lambda: timed(as_user(user, "test", "-s", done), check=False)[1].returncode == 0,
             timeout, 0.2)
    _, r = timed(as_user(user, "cat", done))
    if r.stdout.strip() != "0":
        raise RuntimeError("paplay in the session failed: " + timed(as_user(
            user, "cat", sound_session_dir(user, name) + "/autoplay.log"), check=False)[1].stdout[-300:])


def sound_x2god(xvfb):
    d = Daemon(None, xvfb, tag="sound", extra_env=pulse_env()).wait_name()
    out, name = {}, None
    try:
        a = d.bus.address
        path = d.profile("sound")
        time.sleep(1.0)
        rec = Parec()
        before = set(xvfb.xterms())
        t0 = time.perf_counter()
        _, r = busctl(a, path, "Profile", "Start", "a{sv}", "3", "cmd", "s", SOUND_CMD, "session_type", "s",
                      "application", "geometry", "s", "640x480")
        t_ret = time.perf_counter()
        name = r.stdout.split('"')[1]
        MY_SESSIONS.add(name)
        wait_for("x2god's window", lambda: set(xvfb.xterms()) - before, 30, 0.01)
        t_win = time.perf_counter()
        cpu0 = d.usage()[1]
        sound_wait_done(USER, name, SOUND_SECONDS + 30)
        cpu1 = d.usage()[1]
        t_done = time.perf_counter()
        left, t_end = rec.stop()
        f = tone_figures(left, t_end)
        out.update(f, start_call_s=t_ret - t0, first_after_return_s=f["t_first"] - t_ret,
                   first_after_window_s=f["t_first"] - t_win, cpu_s=cpu1 - cpu0, cpu_window_s=t_done - t_win)
        return out
    finally:
        if name:
            busctl(d.bus.address, path, "Profile", "Terminate", "sa{sv}", name, "0", check=False)
            MY_SESSIONS.discard(name)
        d.stop()


def sound_pyhoca(xvfb):
    py = Pyhoca(xvfb, sound="pulse")
    before_s = set(server_sessions())
    rec = Parec()
    before = set(xvfb.xterms())
    p = py.spawn("-N", "-c", SOUND_CMD, "-g", "640x480")
    t0 = time.perf_counter()
    try:
        wait_for("pyhoca-cli's window", lambda: set(xvfb.xterms()) - before, 60, 0.01)
        t_win = time.perf_counter()
        cpu0 = proc_usage(p.pid)[1]
        name = wait_for("pyhoca-cli's session", lambda: (set(server_sessions()) - before_s or {None}).pop(), 30)
        MY_SESSIONS.add(name)
        sound_wait_done(USER, name, SOUND_SECONDS + 30)
        cpu1 = proc_usage(p.pid)[1]
        t_done = time.perf_counter()
        left, t_end = rec.stop()
        f = tone_figures(left, t_end)
        out = dict(f, window_after_launch_s=t_win - t0, first_after_window_s=f["t_first"] - t_win,
                   cpu_s=cpu1 - cpu0, cpu_window_s=t_done - t_win)
        terminate_sessions([name])
        return out
    finally:
        py.stop()


def bench_sound(xvfb):
    log("9. sound: %d s of 48 kHz stereo played in a session, x2god vs pyhoca-cli --sound pulse" % SOUND_SECONDS)
    for k in ("PULSE_SERVER", "PULSE_COOKIE", "PULSE_SINK"):
        if k not in LAB:
            raise RuntimeError("lab.env has no %s: the lab's sound server is missing (tests/lab/setup.sh)" % k)
    _, r = timed(as_user(USER, "sh", "-c", 'mkdir -p "$HOME/.x2god-snd" && sox -n -r 48000 -c 2 -b 16 '
                         '"$HOME/.x2god-snd/autoplay.wav" synth %d sine 440 vol 0.5' % SOUND_SECONDS))
    out = {"seconds": SOUND_SECONDS, "errors": {}}
    R["sound"] = out
    try:
        for side, f in (("x2god", sound_x2god), ("pyhoca", sound_pyhoca)):
            log("9. sound: " + side)
            try:
                out[side] = f(xvfb)
            except Exception as e:
                import traceback
                traceback.print_exc()
                out["errors"][side] = str(e)[-400:]
            json.dump(R, open(os.path.join(RESULTS, "results.json"), "w"), indent=1)
    finally:
        timed(as_user(USER, "sh", "-c", 'rm -rf "$HOME/.x2god-snd"'), check=False)


GROWTH_PY = None
# Parts that run only when BENCH_ONLY names them (none at present; "share" joined the default
# run once x2god's Session.ShareFolder worked).
OPT_IN = set()


def main():
    global GROWTH_PY
    os.makedirs(RESULTS, exist_ok=True)
    t_all = time.perf_counter()
    start_control_master()
    leftovers = server_sessions()
    if leftovers:
        log("NOTE: %s already has %d session(s) on the server: %s" % (USER, len(leftovers), leftovers))
    R["leftover_sessions_at_start"] = len(leftovers)
    xvfb = Xvfb()
    bus = Bus()
    want = lambda k: k in ONLY if ONLY else k not in OPT_IN
    R["errors"] = {}

    def part(name, f, *a):
        if not want(name):
            return None
        try:
            return f(*a)
        except Exception as e:  # report and go on with the other parts
            import traceback
            traceback.print_exc()
            R["errors"][name] = str(e)[:300]
            return None
        finally:
            json.dump(R, open(os.path.join(RESULTS, "results.json"), "w"), indent=1)

    d = path = None
    if want("warm") or want("signal") or want("growth"):
        d, path = part("warm", bench_warm, bus, xvfb) or (None, None)
        if d is None:
            d = Daemon(bus, tag="warm").wait_name()
            path = d.profile("warm")
    part("cold", bench_cold, bus)
    part("lifecycle", bench_lifecycle, bus, xvfb)
    part("signal", bench_signal, bus, xvfb, d, path)
    part("scale", bench_scale, bus)
    part("rtt", bench_rtt, xvfb)
    GROWTH_PY = Pyhoca(xvfb)
    part("growth", bench_growth, bus, d, path, xvfb)
    part("share", bench_share, xvfb)
    part("sound", bench_sound, xvfb)
    R["wall_s"] = time.perf_counter() - t_all
    json.dump(R, open(os.path.join(RESULTS, "results.json"), "w"), indent=1)
    report = render()
    open(os.path.join(RESULTS, "results.md"), "w").write(report)
    print(report)


# ---------------------------------------------------------------------------- report


def med(st):
    return st["median"] if st and st.get("n") else float("nan")


def verdict(ok):
    return "**met**" if ok else "**missed**"


def render():
    L = []
    w = L.append
    w("| # | measurement | x2god | reference | ratio | goal | |")
    w("|---|---|---|---|---|---|---|")
    if "warm_busctl" in R:
        fl = med(R["floor_runuser"])
        for key, lab in [("warm_busctl", "busctl call (whole process)"),
                         ("warm_rust_inproc", "Rust client, in-process call"),
                         ("warm_rust_process", "Rust client, whole process")]:
            x = med(R[key])
            w("| 1 | warm ListSessions, %s | %s | floor `x2golistsessions` via runuser: %s | %.2f× floor | ≤ 1.15× | %s |"
              % (lab, fmt_s(R[key], "ms"), fmt_s(R["floor_runuser"], "ms"), x / fl, verdict(x / fl <= 1.15)))
        x = med(R["warm_rust_inproc"])
        w("| 1 | warm ListSessions (Rust in-process) vs the same two commands x2god runs (`x2golistsessions && x2golistshadowsessions`, runuser) | %s | %s | %.2f× | (info) | |"
          % (fmt_s(R["warm_rust_inproc"], "ms"), fmt_s(R["floor_both_runuser"], "ms"), x / med(R["floor_both_runuser"])))
        x = med(R["warm_busctl"])
        w("| 1 | warm ListSessions (busctl) vs floor over an ssh ControlMaster | %s | %s | %.2f× | (info) | |"
          % (fmt_s(R["warm_busctl"], "ms"), fmt_s(R["floor_controlmaster"], "ms"), x / med(R["floor_controlmaster"])))
        for key, lab in [("warm_busctl", "busctl"), ("warm_rust_inproc", "Rust in-process")]:
            x = med(R[key])
            sp = med(R["pyhoca_L"]) / x
            w("| 1 | warm ListSessions (%s) vs `pyhoca-cli -L` | %s | %s | %.1f× faster | ≥ 15× faster | %s |"
              % (lab, fmt_s(R[key], "ms"), fmt_s(R["pyhoca_L"]), sp, verdict(sp >= 15)))
    if "cold_x2god" in R:
        x = med(R["cold_x2god"])
        s = med(R["cold_ssh"])
        parts = ", ".join("%s %.0f ms" % (k, med(v) * 1000) for k, v in R["cold_x2god_parts"].items())
        w("| 2 | cold: spawn x2god → CreateProfile → Connect → ListSessions (%s) | %s | `ssh host x2golistsessions`: %s | %.2f× | ≤ 1.0× OpenSSH | %s |"
          % (parts, fmt_s(R["cold_x2god"]), fmt_s(R["cold_ssh"]), x / s, verdict(x / s <= 1.0)))
        if "pyhoca_L" in R:
            w("| 2 | cold list vs `pyhoca-cli -L` (always cold) | %s | %s | %.2f× | (info) | |"
              % (fmt_s(R["cold_x2god"]), fmt_s(R["pyhoca_L"]), x / med(R["pyhoca_L"])))
    if "lifecycle" in R:
        lc = R["lifecycle"]
        goals = {"new": 0.75, "resume": 0.55, "suspend": 0.3, "terminate": 0.3}  # issue 8: new, resume, suspend, terminate
        what = {"new": "new → xterm window", "suspend": "suspend (call / pyhoca -S process)",
                "resume": "resume → window", "terminate": "terminate (call / pyhoca -T process)"}
        for op, g in goals.items():
            x, p, r = med(lc["x2god"][op]), med(lc["pyhoca"][op]), med(lc["raw"][op])
            w("| 3 | %s | %s | pyhoca-cli: %s; raw OpenSSH+nxproxy: %s | %.2f× pyhoca, %.2f× raw | ≤ %.2f× pyhoca | %s |"
              % (what[op], fmt_s(lc["x2god"][op]), fmt_s(lc["pyhoca"][op]), fmt_s(lc["raw"][op]), x / p, x / r, g,
                 verdict(x / p <= g)))
    if "signal_from_cmd_start" in R:
        a, b = R["signal_from_cmd_start"], R["signal_from_cmd_end"]
        w("| 4 | OpenSSH `x2gosuspend-session` → `SessionStateChanged` seen | from command start %s; from command exit %s | polling every 5 s: 2.5 s mean | | ≤ 1 s | %s |"
          % (fmt_s(a), fmt_s(b), verdict(med(a) <= 1.0)))
        if R.get("signal_from_agent", {}).get("n"):
            w("| 4 | … of which the other client's command until its suspend takes effect (agent `state` file leaves RUNNING) / x2god from then until the signal | %s / %s | | | (info) | |"
              % (fmt_s(R["signal_agent_from_cmd_start"]), fmt_s(R["signal_from_agent"], "ms")))
        x = R["cpu_x2god_user_total"]
        pol = R["cpu_poll_server_sshd"]
        w("| 4 | server CPU per minute watching one idle profile | %.3f s (x2god-watch alone %.3f s) | poll `x2golistsessions` every 5 s: %.3f s over ssh (server, %d polls/%d s; runuser-only: %.3f s) | %s | ≤ 1/10 | %s |"
          % (x, R["cpu_x2god_watch"], pol, R["cpu_polls"], R["cpu_window_s"], R["cpu_poll_children"],
             ("1/%.0f" % (pol / x)) if x > 0 else "< 1/%d (0 ticks)" % int(pol * 100 + 0.5), verdict(x <= pol / 10)))
    if "scale" in R:
        s = R["scale"]
        for k in ("1", "10", "100"):
            w("| 6 | idle with %s connected profile(s) | RSS %.1f MiB, daemon CPU %.2f %% | server CPU (all x2gotest2 procs) %.2f %% | | (info) | |"
              % (k, s[k]["rss_mib"], s[k]["cpu_pct"], s[k]["server_cpu_pct"]))
        c = s["connect100"]
        py = s["python"]
        w("| 6 | connect 100 profiles at once | %.2f s (per profile p50 %.2f s, max %.2f s; ok %s, errors %s) | python-x2go, 100 X2GoControlSession one after the other: %.2f s (first %.2f s) | | (info) | |"
          % (float(c["total"]), float(c["p50"]), float(c["max"]), c["ok"], c["errors"], py["connect_all_s"], py["connect_first_s"]))
        w("| 6 | RSS with 1 / 10 / 100 connections | %.1f / %.1f / %.1f MiB | python-x2go: %.1f / %.1f / %.1f MiB (baseline after import %.1f) | %.1f× less at 100 | (info) | |"
          % (s["1"]["rss_mib"], s["10"]["rss_mib"], s["100"]["rss_mib"], py["rss_mib"]["1"], py["rss_mib"]["10"],
             py["rss_mib"]["100"], py["rss_mib"]["0"], py["rss_mib"]["100"] / s["100"]["rss_mib"]))
        w("| 6 | idle client CPU with 100 connections | %.2f %% | python-x2go: %.2f %% | | (info) | |"
          % (s["100"]["cpu_pct"], py["idle_cpu_pct"]))
        cl = s["calls"]
        w("| 6 | 1000 concurrent `IsAlive` over 100 profiles | %.0f calls/s, p50 %.0f ms, p99 %.0f ms, max %.0f ms (ok %s, failed %s) | | | (info) | |"
          % (float(cl["per_s"]), float(cl["p50"]) * 1000, float(cl["p99"]) * 1000, float(cl["max"]) * 1000, cl["ok"], cl["failed"]))
        if s.get("calls_errors"):
            w("|   | failures of those calls | %s | | | | |" % s["calls_errors"].replace("\n", "; ").replace("|", "/"))
    if "growth" in R:
        for k, g in R["growth"].items():
            x, f, p = med(g["x2god"]), med(g["floor"]), med(g["pyhoca"])
            w("| 7 | warm ListSessions with %s session(s) (%d listed) | %s | floor %s; pyhoca-cli -L %s | %.2f× floor, %.0f× faster than pyhoca | (info) | |"
              % (k, g["listed"], fmt_s(g["x2god"], "ms"), fmt_s(g["floor"], "ms"), fmt_s(g["pyhoca"]), x / f, p / x))
    if "share" in R:
        L.extend(render_share())
    if "sound" in R:
        L.extend(render_sound())
    w("")
    if "rtt" in R:
        L.extend(render_rtt())
    for k, e in R.get("errors", {}).items():
        w("**%s failed**: %s  " % (k, e))
    if R.get("raw_failures"):
        w("Raw OpenSSH+nxproxy lifecycle runs that failed (left out of its figures): %s  " % "; ".join(R["raw_failures"]))
    w("Run wall time: %.0f s." % R.get("wall_s", 0))
    return "\n".join(L)


def render_share():
    """Part 8 rows: each figure of the three sides, as speed ratios (higher is better for x2god)."""
    sh = R["share"]
    L = []
    w = L.append
    x, p, s = sh.get("x2god"), sh.get("pyhoca"), sh.get("sshfs")

    def fmt(st, unit):
        if not st or not st.get("n"):
            return "n/a"
        k = 1000 if unit == "ms" else 1
        f = (lambda v: "%.0f" % (v * k)) if unit == "ms" else (lambda v: "%.2f" % v if unit == "s" else "%.1f" % v)
        return "%s %s (%s–%s, n=%d)" % (f(st["median"]), unit, f(st["min"]), f(st["max"]), st["n"])

    def speed(a, b, key, higher_better):
        """How many times a is as fast as b on key (None when either is missing)."""
        if not a or not b or not a.get(key, {}).get("n") or not b.get(key, {}).get("n"):
            return None
        return med(a[key]) / med(b[key]) if higher_better else med(b[key]) / med(a[key])

    figures = [("write_mbps", "MB/s", True, "%d MiB sequential write (`dd bs=1M conv=fsync`)" % sh["mib"], True),
               ("read_mbps", "MB/s", True, "%d MiB sequential read of a client-side file (`dd bs=1M`)" % sh["mib"], True),
               ("ls", "ms", False, "`ls` of %d entries, cold" % sh["entries"], False),
               ("tar", "s", False, "`tar c` of %d small files into a pipe, cold" % sh["tree_files"], False)]
    for key, unit, hb, what, throughput in figures:
        xp, xs, ps = speed(x, p, key, hb), speed(x, s, key, hb), speed(p, s, key, hb)
        goal = "≥ 5× pyhoca" + (", ≥ 0.8× sshfs" if throughput else "")
        if xp is None:
            ratio = "pyhoca-cli %s sshfs" % ("%.2f×" % ps if ps else "n/a")
            ok = "not run"
        else:
            ratio = "%.1f× pyhoca, %.2f× sshfs" % (xp, xs) if xs else "%.1f× pyhoca" % xp
            ok = verdict(xp >= 5 and (not throughput or (xs or 0) >= 0.8))
        w("| 8 | share (as %s, through the mount): %s | %s | pyhoca-cli -F: %s; plain sshfs: %s | %s | %s | %s |"
          % (sh["user"], what, fmt((x or {}).get(key), unit), fmt((p or {}).get(key), unit),
             fmt((s or {}).get(key), unit), ratio, goal, ok))
    if x and x.get("share_visible"):
        v = x["share_visible"]
        w("| 8 | `Session.ShareFolder` returned → mount in /proc/mounts (%d folders, one after the other; the call itself %s) | median %s, max %s | | | ≤ 1 s | %s |"
          % (v["n"], fmt(x["share_call"], "ms"), fmt(v, "ms"), "%.0f ms" % (v["max"] * 1000), verdict(v["max"] <= 1.0)))
        dr = x["rss_4_mib"] - x["rss_none_mib"]
        w("| 8 | x2god RSS with a session and %d shares vs none (after the figures: %.1f MiB) | %.1f → %.1f MiB (%+.2f MiB) | | | ≤ +2 MiB | %s |"
          % (1 + SHARE_EXTRA, x["rss_after_mib"], x["rss_none_mib"], x["rss_4_mib"], dr, verdict(dr <= 2.0)))
    else:
        w("| 8 | `Session.ShareFolder` returned → mount visible; x2god RSS with 4 shares vs none | not run | | | ≤ 1 s; ≤ +2 MiB | not run |")
    refs = []
    if p:
        refs.append("pyhoca-cli -N -F launched → mount %.1f s" % p["mount_s"])
    if s:
        refs.append("plain sshfs mount %.0f ms" % (s["mount_s"] * 1000))
    if refs:
        w("| 8 | (info) time to mount | | %s | | (info) | |" % "; ".join(refs))
    if p and p.get("tar_files_read", sh["tree_files"]) < sh["tree_files"]:
        w("|   | pyhoca-cli's `tar c` read %d of the %d files; its time is scaled to all of them | | | | | |"
          % (p["tar_files_read"], sh["tree_files"]))
    for side, e in sh.get("errors", {}).items():
        w("|   | share, %s side failed | %s | | | | |" % (side, e.replace("|", "/").replace("\n", " ")))
    return L


def render_sound():
    """Part 9 rows: client CPU while playing, dropouts, and the time to the first sample."""
    so = R["sound"]
    L = []
    w = L.append
    x, p = so.get("x2god") or {}, so.get("pyhoca") or {}
    n = so["seconds"]
    if x and p:
        cx, cp = x["cpu_s"] / x["cpu_window_s"], p["cpu_s"] / p["cpu_window_s"]
        ratio = cp / cx if cx > 0 else float("inf")
        w("| 9 | sound: client CPU while %d s of 48 kHz stereo play (the client process, window shown → tone played; its live nxproxy not counted) | %.2f s in %.0f s (%.2f %%) | pyhoca-cli: %.2f s in %.0f s (%.2f %%) | %s | ≤ 1/3 of pyhoca | %s |"
          % (n, x["cpu_s"], x["cpu_window_s"], 100 * cx, p["cpu_s"], p["cpu_window_s"], 100 * cp,
             "%.1f× less" % ratio if cx > 0 else "no CPU tick", verdict(cx <= cp / 3)))
    for side, f in (("x2god", x), ("pyhoca-cli", p)):
        if not f:
            continue
        ok = f["longest_dropout_ms"] <= SOUND_GAP_MS and abs(f["recorded_s"] - n) <= 0.05 * n
        w("| 9 | sound through %s: recorded length of the %d s tone; dropouts of ≥ %d ms | %.3f s; %d (longest %.0f ms) | | | no dropout > 20 ms | %s |"
          % (side, n, SOUND_GAP_MS, f["recorded_s"], f["dropouts"], f["longest_dropout_ms"], verdict(ok)))
    if x:
        w("| 9 | sound: first audible sample after `Start` returned (%.2f s call) / after the window appeared | %.2f s / %.2f s | pyhoca-cli: after its window %s | | ≤ 0.5 s after the window | %s |"
          % (x["start_call_s"], x["first_after_return_s"], x["first_after_window_s"],
             "%.2f s" % p["first_after_window_s"] if p else "n/a", verdict(x["first_after_window_s"] <= 0.5)))
    for side, e in so.get("errors", {}).items():
        w("|   | sound, %s side failed | %s | | | | |" % (side, e.replace("|", "/").replace("\n", " ")))
    return L


def render_rtt():
    """Part 5: times at 0 and 25 ms each way, the round trips they imply, and the far sshd's counts."""
    rt = R["rtt"]
    a, b = rt.get("0"), rt.get("25")
    if not a or not b:
        return ["**rtt incomplete**: phases %s" % sorted(k for k in rt if k.isdigit()), ""]
    L = []
    w = L.append
    rtt = med(b["ping"]) - med(a["ping"])
    w("Part 5, server behind a delay line (%s): ping %s at 0 ms, %s at 25 ms each way; "
      "RTT added = %.1f ms." % (rt["far"], fmt_s(a["ping"], "ms"), fmt_s(b["ping"], "ms"), rtt * 1000))
    w("")
    w("| # | measurement | 0 ms delay | 25 ms each way | Δ | Δ / RTT | far sshd per operation (25 ms run): TCP conn / session ch. / exec / sftp / fwd |")
    w("|---|---|---|---|---|---|---|")

    def cnt(c):
        if not c:
            return ""
        return " / ".join(("%.1f" % c.get(k, 0)).rstrip("0").rstrip(".") for k in ("conn", "session", "exec", "sftp", "fwd"))

    def row(label, key, counts=None, sub=None):
        x, y = (a.get(key), b.get(key)) if sub is None else (a.get(key, {}).get(sub), b.get(key, {}).get(sub))
        if not x or not y or not x.get("n") or not y.get("n"):
            return
        dl = med(y) - med(x)
        unit = "ms" if med(y) < 1 else "s"
        w("| 5 | %s | %s | %s | %+.0f ms | %.1f | %s |" % (label, fmt_s(x, unit), fmt_s(y, unit), dl * 1000, dl / rtt,
                                                        cnt(counts)))

    row("floor: `x2golistsessions` via runuser (no network)", "floor")
    row("(info) `x2golistsessions && x2golistshadowsessions` via runuser (x2god's listing command)", "floor_both")
    row("OpenSSH: `ssh -S cm host x2golistsessions` (existing ControlMaster)", "ssh_cm", b.get("ssh_cm_counts"))
    row("OpenSSH: the same over the ControlMaster, `x2golistsessions && x2golistshadowsessions` (x2god's command)",
        "ssh_cm_both")
    row("OpenSSH: x2god's whole exec line (envelope: marker echos around `/bin/sh -c '…both…'`) over the ControlMaster",
        "ssh_cm_envelope")
    row("x2god warm `ListSessions`, busctl (whole process)", "x2god_warm_busctl", b.get("x2god_warm_counts"))
    row("x2god warm `ListSessions`, Rust client in-process", "x2god_warm_rust", b.get("x2god_warm_counts"))
    row("OpenSSH cold: `ssh host x2golistsessions` (fresh connection)", "ssh_fresh", b.get("ssh_fresh_counts"))
    row("OpenSSH cold: `ssh host true` (the connection alone)", "ssh_true")
    row("x2god cold: spawn → CreateProfile → Connect → ListSessions", "x2god_cold", b.get("x2god_cold_counts"))
    for part, lab in (("connect", "`Connect` call"), ("list", "first `ListSessions` after it")):
        row("… x2god cold, %s" % lab, "x2god_cold_parts", sub=part)
    row("`pyhoca-cli -L` (always cold)", "pyhoca_L", b.get("pyhoca_L_counts"))
    what = {"new": "new → xterm window", "suspend": "suspend (call / `-S` process)",
            "resume": "resume → window", "terminate": "terminate (call / `-T` process)"}
    for op in ("new", "suspend", "resume", "terminate"):
        for who, lab in (("x2god", "x2god"), ("pyhoca", "pyhoca-cli")):
            key = "lifecycle_" + who
            if key in a and key in b:
                row("lifecycle, %s: %s" % (lab, what[op]), key, b.get(key + "_counts", {}).get(op), sub=op)
    for ph in (a, b):
        for who in ("x2god", "pyhoca"):
            if ph.get("lifecycle_%s_error" % who):
                w("|   | lifecycle %s failed | %s | | | | |" % (who, ph["lifecycle_%s_error" % who].replace("|", "/")))
    w("")
    fl = med(b["floor"])
    for key, lab in (("x2god_warm_rust", "Rust in-process"), ("x2god_warm_busctl", "busctl")):
        x = med(b[key])
        w("Goal warm list ≤ floor + 1 RTT (%s): %.1f ms vs %.1f + %.1f = %.1f ms: %s (%.2f RTT above the floor).  "
          % (lab, x * 1000, fl * 1000, rtt * 1000, (fl + rtt) * 1000, verdict(x <= fl + rtt), (x - fl) / rtt))
    w("")
    return L


def cleanup():
    try:
        if MY_SESSIONS and os.path.exists(CM):
            log("terminating sessions left by this run:", sorted(MY_SESSIONS))
            terminate_sessions(sorted(MY_SESSIONS))
    except Exception as e:  # keep cleaning
        log("cleanup:", e)
    for f in reversed(CLEANUPS):
        try:
            f()
        except Exception as e:
            log("cleanup:", e)
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    try:
        if len(sys.argv) > 1 and sys.argv[1] == "--render":
            R.update(json.load(open(sys.argv[2])))
            print(render())
        else:
            main()
    finally:
        cleanup()
