#!/usr/bin/python3
"""Checks, from inside x2god's unit, that each sandbox option the unit claims is in force.

tests/systemd.rs adds this as `ExecStartPre=` through a drop-in, so it runs with exactly the
unit's sandbox (ExecStartPre shares the [Service] settings), just before x2god itself. Every
check is one the same user passes outside the sandbox (the test runs this script there too and
expects the opposite verdicts), so a check that holds says the option did it.

Prints one line per check: `x2god-probe <check> <sandboxed|open|n/a> <detail>`; exits 0.
Arguments: the host's UTS namespace (`readlink /proc/1/ns/uts` outside), then the directories
the unit makes writable (the home and the runtime directory).
"""

import ctypes
import errno
import os
import socket
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]

# The same on every architecture (the unified numbering of Linux 5.1 and later).
SYS_PIDFD_OPEN = 434
SYS_PIDFD_GETFD = 438
CLONE_NEWUSER = 0x10000000
PER_LINUX32 = 0x0008


def report(check, sandboxed, detail):
    verdict = "n/a" if sandboxed is None else "sandboxed" if sandboxed else "open"
    print(f"x2god-probe {check} {verdict} {detail}", flush=True)


def err_name(e):
    return errno.errorcode.get(e, str(e))


def status_field(name):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].strip()
    return ""


def mount_options():
    """Mount point -> its per-mount options, the last mount on a point winning."""
    points = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            points[fields[4]] = fields[5].split(",")
    return points


def write_fails_with(path):
    """None when writing a new file at `path` works (the file is removed again), else errno."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as e:
        return e.errno
    os.close(fd)
    os.unlink(path)
    return None


def main():
    host_uts, writable = sys.argv[1], sys.argv[2:]
    tag = f"x2god-probe-{os.getpid()}"

    # ProtectSystem=strict: /var/tmp is writable by every user, except in the sandbox.
    e = write_fails_with(f"/var/tmp/{tag}")
    report("protect-system", e == errno.EROFS, f"/var/tmp:{err_name(e) if e else 'writable'}")

    # ReadWritePaths=: what x2god writes (profiles, ~/.x2go, the runtime directory) stays so.
    bad = [d for d in writable if write_fails_with(os.path.join(d, tag)) is not None]
    report("read-write-paths", not bad, f"not-writable:{','.join(bad) or '-'}")

    # UMask=0077: files x2god creates (nxproxy's options with the session cookie) are private.
    path = os.path.join(writable[0], tag)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    os.close(fd)
    mode = os.stat(path).st_mode & 0o777
    # RestrictSUIDSGID=: even the owner may not set the set-user-ID bit.
    try:
        os.chmod(path, 0o4700)
        suid = "allowed"
    except OSError as e:
        suid = err_name(e.errno)
    os.unlink(path)
    report("umask", mode == 0o600, f"mode:{mode:o}")
    report("restrict-suid-sgid", suid == "EPERM", f"chmod-u+s:{suid}")

    # PrivateUsers=: only our own uid is mapped; root's files show as owned by nobody.
    with open("/proc/self/uid_map") as f:
        uid_map = f.read().split()
    owner = os.stat("/etc/passwd").st_uid
    report("private-users", uid_map[:2] != ["0", "0"] and owner == 65534,
           f"uid_map:{'/'.join(uid_map)} /etc/passwd-owner:{owner}")

    # PrivateDevices=: a /dev of its own, without block devices or /dev/kmsg.
    blocks = [n for n in os.listdir("/dev")
              if os.path.exists(f"/dev/{n}") and os.stat(f"/dev/{n}", follow_symlinks=False).st_mode & 0o170000 == 0o060000]
    report("private-devices", not blocks and not os.path.exists("/dev/kmsg"),
           f"block-devices:{len(blocks)} kmsg:{os.path.exists('/dev/kmsg')}")

    mounts = mount_options()
    # ProtectKernelTunables=, ProtectControlGroups=: read-only /proc/sys and cgroup tree.
    for check, point in (("protect-kernel-tunables", "/proc/sys"),
                         ("protect-control-groups", "/sys/fs/cgroup")):
        opts = mounts.get(point, [])
        report(check, "ro" in opts, f"{point}:{','.join(opts) or 'no-mount'}")
    # ProtectKernelLogs=: /proc/kmsg is covered by an inaccessible node.
    report("protect-kernel-logs", "/proc/kmsg" in mounts,
           f"/proc/kmsg-mounted-over:{'/proc/kmsg' in mounts}")

    # ProtectKernelModules=: the module directories are covered (where the machine has them).
    dirs = [d for d in ("/usr/lib/modules", "/lib/modules") if os.path.lexists(d)]
    report("protect-kernel-modules", all(d in mounts for d in dirs) if dirs else None,
           f"covered:{','.join(d for d in dirs if d in mounts) or '-'} of:{','.join(dirs) or '-'}")

    # ProtectClock=: adjtimex() only *reads* the clock state with modes 0, which any user may.
    buf = ctypes.create_string_buffer(512)
    rc = libc.adjtimex(buf)
    e = ctypes.get_errno()
    report("protect-clock", rc == -1 and e == errno.EPERM,
           f"adjtimex:{err_name(e) if rc == -1 else 'allowed'}")

    # NoNewPrivileges=, CapabilityBoundingSet=: read back from the kernel.
    nnp, capbnd = status_field("NoNewPrivs"), status_field("CapBnd")
    report("no-new-privileges", nnp == "1", f"NoNewPrivs:{nnp}")
    report("capability-bounding-set", int(capbnd or "1", 16) == 0, f"CapBnd:{capbnd}")

    # RestrictNamespaces=: a new user namespace is otherwise open to every user here.
    rc = libc.unshare(CLONE_NEWUSER)
    e = ctypes.get_errno()
    report("restrict-namespaces", rc == -1 and e == errno.EPERM,
           f"unshare-user:{err_name(e) if rc == -1 else 'allowed'}")

    # LockPersonality=: switching to the 32-bit personality is refused.
    old = libc.personality(0xFFFFFFFF)
    rc = libc.personality(PER_LINUX32)
    e = ctypes.get_errno()
    if rc != -1:
        libc.personality(old)
    report("lock-personality", rc == -1, f"personality:{err_name(e) if rc == -1 else 'allowed'}")

    # SystemCallFilter=@system-service: pidfd_getfd (@debug) on our own fd 0 works otherwise.
    pidfd = libc.syscall(SYS_PIDFD_OPEN, os.getpid(), 0)
    rc = libc.syscall(SYS_PIDFD_GETFD, pidfd, 0, 0)
    e = ctypes.get_errno()
    for fd in (rc, pidfd):
        if fd >= 0:
            os.close(fd)
    report("system-call-filter", rc == -1 and e == errno.EPERM,
           f"pidfd_getfd:{err_name(e) if rc == -1 else 'allowed'}")

    # MemoryDenyWriteExecute=: no mapping both writable and executable.
    prot = 0x1 | 0x2 | 0x4  # PROT_READ | PROT_WRITE | PROT_EXEC
    addr = libc.mmap(None, 4096, prot, 0x02 | 0x20, -1, 0)  # MAP_PRIVATE | MAP_ANONYMOUS
    e = ctypes.get_errno()
    failed = addr in (None, ctypes.c_void_p(-1).value)
    if not failed:
        libc.munmap(ctypes.c_void_p(addr), 4096)
    report("memory-deny-write-execute", failed, f"mmap-wx:{err_name(e) if failed else 'allowed'}")

    # RestrictAddressFamilies=: packet sockets are refused by the filter (EAFNOSUPPORT) before
    # the kernel's own permission check (EPERM) is reached; Internet sockets stay.
    try:
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW).close()
        packet = "allowed"
    except OSError as e:
        packet = err_name(e.errno)
    socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
    report("restrict-address-families", packet == "EAFNOSUPPORT", f"AF_PACKET:{packet}")

    # ProtectHostname=: a UTS namespace of its own (the test compares with the host's).
    uts = os.readlink("/proc/self/ns/uts")
    report("protect-hostname", uts != host_uts, f"uts:{uts}")


if __name__ == "__main__":
    main()
