//! Who is on the other end of a loopback TCP connection: the uid that owns the peer's socket,
//! from the kernel's socket tables (`/proc/net/tcp`, `/proc/net/tcp6`). A local forward lets
//! in only our own processes: any local user can connect to a port on 127.0.0.1.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The uid owning the socket at `peer` that is connected to our socket at `ours`, if the
/// kernel lists it. Reads small `/proc` files: call it off the async workers.
pub(super) fn loopback_peer_uid(peer: SocketAddr, ours: SocketAddr) -> Option<u32> {
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().find_map(|f| {
        let table = std::fs::read_to_string(f).ok()?;
        find_uid(&table, peer, ours)
    })
}

/// This process's uid (the owner of `/proc/self`).
pub(super) fn own_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// The uid column of the row of `table` whose local address is `peer` and whose remote one
/// is `ours`: the peer's own socket, not our accepted one (which has them the other way).
fn find_uid(table: &str, peer: SocketAddr, ours: SocketAddr) -> Option<u32> {
    table.lines().skip(1).find_map(|row| {
        let f: Vec<&str> = row.split_whitespace().collect();
        let local = parse_addr(f.get(1)?)?;
        let remote = parse_addr(f.get(2)?)?;
        (same(local, peer) && same(remote, ours)).then(|| f.get(7)?.parse().ok())?
    })
}

/// Equal, counting an IPv4-mapped IPv6 address as its IPv4 one.
fn same(a: SocketAddr, b: SocketAddr) -> bool {
    let canon = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    a.port() == b.port() && canon(a.ip()) == canon(b.ip())
}

/// `0100007F:1F90`: the address as the kernel prints it (32-bit words of the address bytes in
/// host order, `%08X` each), then the port in hex.
fn parse_addr(s: &str) -> Option<SocketAddr> {
    let (addr, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let mut bytes = Vec::with_capacity(16);
    for i in (0..addr.len()).step_by(8) {
        let word = u32::from_str_radix(addr.get(i..i + 8)?, 16).ok()?;
        bytes.extend_from_slice(&word.to_ne_bytes());
    }
    let ip = match bytes.len() {
        4 => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        16 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_peer_socket_of_a_real_loopback_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let ours = listener.local_addr().unwrap();
        let client = std::net::TcpStream::connect(ours).unwrap();
        let (_accepted, peer) = listener.accept().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        assert_eq!(loopback_peer_uid(peer, ours), own_uid());
        assert!(own_uid().is_some());
        // A peer that is not connected to us is not found.
        let elsewhere: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert_eq!(loopback_peer_uid(peer, elsewhere), None);
    }

    #[test]
    fn parses_kernel_rows() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:D431 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1002        0 12345 1\n";
        let peer: SocketAddr = "127.0.0.1:54321".parse().unwrap();
        let ours: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        if cfg!(target_endian = "little") {
            assert_eq!(find_uid(table, peer, ours), Some(1002));
        }
        assert_eq!(find_uid("garbage\n0: zz:yy", peer, ours), None);
    }
}
