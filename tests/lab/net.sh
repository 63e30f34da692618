# shellcheck shell=bash
# Jump topology and keyboard-interactive sshd of the x2god lab: names and the
# functions setup.sh and teardown.sh share. Sourced after common.sh, never
# executed; sourcing only defines variables and functions.
#
#   root ns  10.231.2.1/30 [x2god-rj] ==veth== [x2god-jr] 10.231.2.2/30  ns x2god-jump   (sshd :22)
#   x2god-jump 10.231.3.1/30 [x2god-jt] ==veth== [x2god-tj] 10.231.3.2/30  ns x2god-target (sshd :22)
#
# Nothing routes between the veths (ip_forward=0 in every namespace), so the
# target is reachable only through an SSH hop on the jump (ssh -J / ProxyJump).
# The root namespace has a default route to the real network: without the
# guard route (unreachable 10.231.0.0/16, added before any lab address exists)
# a connect to the target would leave the machine via eth0 instead of failing.
# See /work/shared/test-infra.md section 4.

# shellcheck disable=SC2034  # used by the scripts that source this file
LAB_NET_RANGE=10.231.0.0/16
LAB_NS_JUMP=x2god-jump
LAB_NS_TARGET=x2god-target
# veth names (max. 15 chars): root<->jump and jump<->target.
LAB_VETH_ROOT=x2god-rj     # root ns end, 10.231.2.1/30
LAB_VETH_JUMP_UP=x2god-jr  # jump ns end, 10.231.2.2/30
LAB_VETH_JUMP_DOWN=x2god-jt # jump ns end, 10.231.3.1/30
LAB_VETH_TARGET=x2god-tj   # target ns end, 10.231.3.2/30
# shellcheck disable=SC2034
LAB_JUMP_ROOT_ADDR=10.231.2.1
LAB_JUMP_ADDR=10.231.2.2
LAB_JUMP_DOWN_ADDR=10.231.3.1
LAB_TARGET_ADDR=10.231.3.2
# PAM service of the keyboard-interactive sshd: OpenSSH uses the basename of
# argv[0] as PAM service name, so the lab starts sshd through a symlink of this
# name and /etc/pam.d/sshd stays untouched.
LAB_KBD_PAM_SERVICE=x2god-kbd
LAB_KBD_PAM_FILE="/etc/pam.d/$LAB_KBD_PAM_SERVICE"

# lab_net_guard_present: the guard route exists in the root namespace.
lab_net_guard_present() {
    [[ -n "$(ip -4 route show type unreachable "$LAB_NET_RANGE" 2>/dev/null)" ]]
}

# lab_net_guard_add: idempotent ('replace' also turns any other route for the
# exact range into the guard).
lab_net_guard_add() {
    ip -4 route replace unreachable "$LAB_NET_RANGE"
}

lab_net_guard_del() {
    if lab_net_guard_present; then
        ip -4 route del unreachable "$LAB_NET_RANGE"
    fi
}

lab_ns_exists() { [[ -e "/run/netns/$1" ]]; }

# lab_net_leftovers: print what of the topology / kbd sshd still exists
# (namespaces, root-side veth, guard route, PAM file); empty when clean.
lab_net_leftovers() {
    local ns
    for ns in "$LAB_NS_JUMP" "$LAB_NS_TARGET"; do
        lab_ns_exists "$ns" && printf 'netns %s\n' "$ns"
    done
    ip link show "$LAB_VETH_ROOT" >/dev/null 2>&1 && printf 'link %s\n' "$LAB_VETH_ROOT"
    lab_net_guard_present && printf 'route unreachable %s\n' "$LAB_NET_RANGE"
    [[ -e "$LAB_KBD_PAM_FILE" ]] && printf 'file %s\n' "$LAB_KBD_PAM_FILE"
    return 0
}

# lab_ns_kill NS: stop every process still inside the lab namespace NS (by pid,
# as listed by `ip netns pids`; they can only be lab sshds, their sessions and
# X2Go agents started through them). SIGTERM, up to 2 s, then SIGKILL for the
# pids that are still inside NS.
lab_ns_kill() {
    local ns="$1" pids i
    lab_ns_exists "$ns" || return 0
    pids="$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')"
    [[ -n "${pids// /}" ]] || return 0
    log "stopping processes left in netns $ns: $pids"
    # shellcheck disable=SC2086  # word splitting of the pid list is intended
    kill -TERM $pids 2>/dev/null || true
    for ((i = 0; i < 40; i++)); do
        pids="$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')"
        [[ -n "${pids// /}" ]] || return 0
        sleep 0.05
    done
    log "killing processes still in netns $ns after SIGTERM timeout: $pids"
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
}

# lab_net_down: remove the topology (not the guard route). The veths are
# deleted explicitly first: `ip netns del` alone destroys a namespace
# asynchronously, and the root-side peer can linger for seconds.
lab_net_down() {
    local ns i
    for ns in "$LAB_NS_TARGET" "$LAB_NS_JUMP"; do lab_ns_kill "$ns"; done
    ip link del "$LAB_VETH_ROOT" 2>/dev/null || true
    if lab_ns_exists "$LAB_NS_JUMP"; then
        ip -n "$LAB_NS_JUMP" link del "$LAB_VETH_JUMP_DOWN" 2>/dev/null || true
    fi
    for ns in "$LAB_NS_TARGET" "$LAB_NS_JUMP"; do
        if lab_ns_exists "$ns"; then
            ip netns del "$ns"
            log "deleted netns $ns"
        fi
    done
    for ((i = 0; i < 100; i++)); do
        ip link show "$LAB_VETH_ROOT" >/dev/null 2>&1 || return 0
        sleep 0.05
    done
    return 1
}

# lab_net_up: create both namespaces and the veths (the guard route must
# already exist). Expects a clean state (lab_net_down first).
lab_net_up() {
    local ns
    lab_net_guard_present || die "guard route for $LAB_NET_RANGE missing: refusing to create lab addresses"
    for ns in "$LAB_NS_JUMP" "$LAB_NS_TARGET"; do
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        # New namespaces start with 0; explicit, because the target must be
        # reachable only through an SSH hop, never by routing.
        ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=0
    done
    ip link add "$LAB_VETH_ROOT" type veth peer name "$LAB_VETH_JUMP_UP" netns "$LAB_NS_JUMP"
    ip -n "$LAB_NS_JUMP" link add "$LAB_VETH_JUMP_DOWN" type veth peer name "$LAB_VETH_TARGET" netns "$LAB_NS_TARGET"
    ip addr add "$LAB_JUMP_ROOT_ADDR/30" dev "$LAB_VETH_ROOT"
    ip -n "$LAB_NS_JUMP" addr add "$LAB_JUMP_ADDR/30" dev "$LAB_VETH_JUMP_UP"
    ip -n "$LAB_NS_JUMP" addr add "$LAB_JUMP_DOWN_ADDR/30" dev "$LAB_VETH_JUMP_DOWN"
    ip -n "$LAB_NS_TARGET" addr add "$LAB_TARGET_ADDR/30" dev "$LAB_VETH_TARGET"
    ip link set "$LAB_VETH_ROOT" up
    ip -n "$LAB_NS_JUMP" link set "$LAB_VETH_JUMP_UP" up
    ip -n "$LAB_NS_JUMP" link set "$LAB_VETH_JUMP_DOWN" up
    ip -n "$LAB_NS_TARGET" link set "$LAB_VETH_TARGET" up
}

# The TOTP secret of the keyboard-interactive sshd's user (base32, 20 bytes).
# Fixed, so lab.env consumers and humans can compute codes with
# `oathtool --totp -b SECRET` at any time.
# shellcheck disable=SC2034
LAB_KBD_TOTP_SECRET=X2GODLABKBDTOTPSECRETABCDEFGH234
