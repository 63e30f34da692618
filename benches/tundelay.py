#!/usr/bin/python3
"""Userspace delay line between two TUN devices (the kernel has no sch_netem).

    tundelay.py NS_A TUN_A NS_B TUN_B MS [CONTROL_FILE]

NS_* is a named network namespace (/run/netns/NAME) or "-" for the namespace this process was
started in (the root namespace when started by benches/bench.py). The TUN devices must exist
(`ip tuntap add dev NAME mode tun`, in their namespace). Every packet read from one device is
written to the other MS milliseconds later (so a ping over it sees 2*MS). On SIGHUP the delay is
re-read from CONTROL_FILE (milliseconds, a float), so one link can be measured at 0 and 25 ms.
Runs until killed. From /work/shared/test-infra.md section 4 (verified there: 25 ms -> ping 50.6 ms).
"""
import ctypes
import fcntl
import heapq
import os
import selectors
import signal
import struct
import sys
import time

CLONE_NEWNET, TUNSETIFF, IFF_TUN, IFF_NO_PI = 0x40000000, 0x400454CA, 0x0001, 0x1000
libc = ctypes.CDLL("libc.so.6", use_errno=True)
HOME_NS = os.open("/proc/self/ns/net", os.O_RDONLY)


def setns(fd):
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")


def open_tun(ns, name):
    # TUNSETIFF resolves the name in the caller's netns; the fd stays bound to its device after.
    if ns == "-":
        setns(HOME_NS)
    else:
        fd = os.open("/run/netns/" + ns, os.O_RDONLY)
        setns(fd)
        os.close(fd)
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


ns_a, tun_a, ns_b, tun_b, ms = sys.argv[1:6]
control = sys.argv[6] if len(sys.argv) > 6 else None
fa, fb = open_tun(ns_a, tun_a), open_tun(ns_b, tun_b)
setns(HOME_NS)
delay = float(ms) / 1000


def reread(*_):
    global delay
    if control:
        delay = float(open(control).read().strip()) / 1000


signal.signal(signal.SIGHUP, reread)
peer, q, seq = {fa: fb, fb: fa}, [], 0
sel = selectors.DefaultSelector()
sel.register(fa, selectors.EVENT_READ)
sel.register(fb, selectors.EVENT_READ)
print("ready", flush=True)
while True:
    for key, _ in sel.select(max(0.0, q[0][0] - time.monotonic()) if q else None):
        while True:
            try:
                pkt = os.read(key.fd, 65535)
            except BlockingIOError:
                break
            heapq.heappush(q, (time.monotonic() + delay, seq, peer[key.fd], pkt))
            seq += 1
    while q and q[0][0] <= time.monotonic():
        _, _, out, pkt = heapq.heappop(q)
        try:
            os.write(out, pkt)
        except OSError:
            pass
