#!/usr/bin/python3
"""python-x2go reference for benches/run.sh part 6: one process holding N control sessions.

  /usr/bin/python3 pyx2go_scale.py PORT USER KEY IDLE_SECONDS

Connects X2GoControlSession objects (python-x2go's control session, as X2GoClient uses one per
profile) one after the other, as python-x2go does, records RSS after 0/1/10/100 connections and
the process CPU over IDLE_SECONDS with 100 connected; prints one JSON line.
"""
import json, os, re, sys, time

port, user, key, idle = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])

import x2go  # noqa: E402  (gevent monkey-patching happens here)
from x2go.backends.control.plain import X2GoControlSession  # noqa: E402


def rss_mib():
    return int(re.search(r"VmRSS:\s+(\d+)", open("/proc/self/status").read()).group(1)) / 1024


out = {"rss_mib": {"0": rss_mib()}}
sessions = []
t0 = time.perf_counter()
for i in range(100):
    c = X2GoControlSession(profile_name="p%d" % i, known_hosts=os.path.expanduser("~/.ssh/known_hosts"),
                           logger=None)
    ok = c.connect("127.0.0.1", port=port, username=user, key_filename=key, look_for_keys=False,
                   allow_agent=False)
    if not ok:
        raise SystemExit("connect %d failed" % i)
    sessions.append(c)
    n = len(sessions)
    if n == 1:
        out["connect_first_s"] = time.perf_counter() - t0
    if n in (1, 10, 100):
        out["rss_mib"][str(n)] = rss_mib()
out["connect_all_s"] = time.perf_counter() - t0
alive = sum(1 for c in sessions if c.is_alive())
out["alive"] = alive
c0 = os.times()
time.sleep(idle)  # gevent: the paramiko transports' threads/greenlets keep running
c1 = os.times()
out["idle_cpu_pct"] = (c1.user + c1.system - c0.user - c0.system) / idle * 100
for c in sessions:
    try:
        c.disconnect()
    except Exception:
        pass
print(json.dumps(out))
