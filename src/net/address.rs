//! SST addresses: parsing `--address`, building the `ready` address,
//! resolving host names without NSS, and the "is this host local" rule.
//!
//! Grammar (spec §3): `[user:secret@]host[:port][/module[/lsn[/sst_ver]]]`,
//! where `host` is an IPv4 literal, a name, or an IPv6 literal in
//! brackets. The brackets stay in everything we print and are stripped for
//! binding and connecting. IP literals are parsed here; names are looked up
//! in `/etc/hosts` first, because a static glibc binary cannot load the NSS
//! modules that `getaddrinfo` needs (the resolver is only the fallback).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

use anyhow::{Context, Result, bail, ensure};

/// Port the rsync method uses when the address has none.
pub(crate) const DEFAULT_PORT: u16 = 4444;

/// A parsed `--address`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SstAddress {
    /// The host as given, brackets kept for IPv6.
    pub(crate) host: String,
    /// The port, or [`DEFAULT_PORT`].
    pub(crate) port: u16,
    /// `module`, `lsn`, `sst_ver` path fields, when present.
    pub(crate) module: Option<String>,
    pub(crate) sst_ver: Option<String>,
    /// `user:secret` found before an `@` in the address itself.
    pub(crate) auth: Option<String>,
}

impl SstAddress {
    /// Parses an address as `wsrep_sst_common` does (with the default port
    /// filled in); an `@` splits off the auth part, at the last `@`.
    pub(crate) fn parse(text: &str) -> Result<SstAddress> {
        let text = text.trim();
        let (auth, rest) = match text.rfind('@') {
            Some(at) => (Some(text[..at].to_string()), &text[at + 1..]),
            None => (None, text),
        };
        ensure!(!rest.is_empty(), "empty SST address");
        if let Ok(v6) = rest.parse::<Ipv6Addr>() {
            // A bare IPv6 literal (`wsrep_node_address=::1`, as
            // galera_3nodes.galera_ipv6_rsync sets it; mariadbd takes it
            // as a host without a port) cannot carry a port: a trailing
            // `:n` would be part of the address. Bracket it like mariadbd.
            return Ok(SstAddress {
                host: format!("[{v6}]"),
                port: DEFAULT_PORT,
                module: None,
                sst_ver: None,
                auth,
            });
        }
        let (host, after) = if let Some(v6) = rest.strip_prefix('[') {
            let close = v6
                .find(']')
                .with_context(|| format!("unterminated '[' in SST address '{text}'"))?;
            (&rest[..close + 2], &v6[close + 1..])
        } else {
            let end = rest.find([':', '/']).unwrap_or(rest.len());
            (&rest[..end], &rest[end..])
        };
        ensure!(
            !host.is_empty() && host != "[]",
            "no host in SST address '{text}'"
        );
        let (port, path) = match after.strip_prefix(':') {
            Some(p) => {
                let end = p.find('/').unwrap_or(p.len());
                // Port 0 is accepted: a joiner then binds any free port and
                // publishes it (tests use this).
                let port = p[..end]
                    .parse::<u16>()
                    .ok()
                    .with_context(|| format!("bad port '{}' in SST address '{text}'", &p[..end]))?;
                (port, &p[end..])
            }
            None if after.is_empty() || after.starts_with('/') => (DEFAULT_PORT, after),
            None => bail!("unexpected '{after}' after the host in SST address '{text}'"),
        };
        let mut fields = path.strip_prefix('/').unwrap_or("").split('/');
        let module = fields.next().filter(|m| !m.is_empty()).map(str::to_string);
        let _lsn = fields.next();
        let sst_ver = fields.next().filter(|v| !v.is_empty()).map(str::to_string);
        Ok(SstAddress {
            host: host.to_string(),
            port,
            module,
            sst_ver,
            auth,
        })
    }

    /// The host without IPv6 brackets.
    pub(crate) fn host_unescaped(&self) -> &str {
        unbracket(&self.host)
    }
}

/// `host` without the brackets of an IPv6 literal.
fn unbracket(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// Parses an IP literal (IPv6 with or without brackets; zone ids refused).
pub(crate) fn ip_literal(host: &str) -> Option<IpAddr> {
    unbracket(host).parse::<IpAddr>().ok()
}

/// Resolves a host to addresses: IP literals directly, `localhost`, then
/// `/etc/hosts`, then the system resolver.
pub(crate) fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>> {
    if let Some(ip) = ip_literal(host) {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let from_hosts = hosts_lookup(host, &read_etc_hosts());
    if !from_hosts.is_empty() {
        return Ok(from_hosts
            .into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect());
    }
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(vec![SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port)]);
    }
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .with_context(|| {
            format!(
                "cannot resolve host name '{host}': not an IP address and not in /etc/hosts \
                 (use an IP address in wsrep_sst_receive_address or wsrep_node_address)"
            )
        })?
        .collect();
    ensure!(!addrs.is_empty(), "host name '{host}' has no addresses");
    Ok(addrs)
}

fn read_etc_hosts() -> String {
    // A missing or unreadable /etc/hosts only means no entries.
    std::fs::read("/etc/hosts")
        .map(|b| String::from_utf8_lossy(&b[..b.len().min(1 << 20)]).into_owned())
        .unwrap_or_default()
}

/// The addresses `/etc/hosts` text gives a name, in file order.
fn hosts_lookup(name: &str, hosts: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for line in hosts.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let Some(ip) = words.next().and_then(|w| w.parse::<IpAddr>().ok()) else {
            continue;
        };
        if words.any(|w| w.eq_ignore_ascii_case(name)) && !out.contains(&ip) {
            out.push(ip);
        }
    }
    out
}

/// The joiner's listening rule (spec §3.4): listen only on the given host
/// when it is local (loopback, this machine's name, an address of one of
/// its interfaces), otherwise on every interface (NAT, a public address).
pub(crate) fn is_local(host: &str) -> bool {
    let bare = unbracket(host);
    if bare.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match ip_literal(bare) {
        Some(ip) => ip.is_loopback() || interface_addresses().contains(&ip),
        None => is_own_name(bare),
    }
}

fn is_own_name(name: &str) -> bool {
    let Ok(own) = nix::unistd::gethostname() else {
        return false;
    };
    let own = own.to_string_lossy();
    let short = own.split('.').next().unwrap_or(&own);
    name.eq_ignore_ascii_case(&own) || name.eq_ignore_ascii_case(short)
}

fn interface_addresses() -> Vec<IpAddr> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    addrs
        .filter_map(|a| a.address)
        .filter_map(|sa| {
            if let Some(v4) = sa.as_sockaddr_in() {
                Some(IpAddr::V4(v4.ip()))
            } else {
                sa.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
            }
        })
        .collect()
}

/// The addresses the joiner binds for `host`: the host's own addresses
/// when it is local, every interface otherwise.
pub(crate) fn listen_addresses(host: &str, port: u16) -> Result<Vec<SocketAddr>> {
    if is_local(host) {
        return resolve(host, port);
    }
    Ok(vec![
        SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port),
        SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SstAddress {
        SstAddress::parse(text).expect("valid address")
    }

    #[test]
    fn plain_forms() {
        let a = addr("10.0.0.2");
        assert_eq!((a.host.as_str(), a.port), ("10.0.0.2", 4444));
        assert_eq!(a.module, None);
        let a = addr(" 127.0.0.1:16005 ");
        assert_eq!((a.host.as_str(), a.port), ("127.0.0.1", 16005));
        let a = addr("node-2.example:4444/rsrsync_sst");
        assert_eq!(a.host, "node-2.example");
        assert_eq!(a.module.as_deref(), Some("rsrsync_sst"));
    }

    #[test]
    fn ipv6_keeps_brackets_for_printing() {
        let a = addr("[::1]:16008/rsrsync_sst//1");
        assert_eq!(a.host, "[::1]");
        assert_eq!(a.host_unescaped(), "::1");
        assert_eq!(a.port, 16008);
        assert_eq!(a.module.as_deref(), Some("rsrsync_sst"));
        assert_eq!(a.sst_ver.as_deref(), Some("1"));
        let a = addr("[fe80::1]");
        assert_eq!((a.host.as_str(), a.port), ("[fe80::1]", 4444));
    }

    #[test]
    fn bare_ipv6_is_a_host_without_port() {
        // wsrep_node_address=::1 (galera_ipv6_rsync), check --peer ::1.
        let a = addr("::1");
        assert_eq!((a.host.as_str(), a.port), ("[::1]", 4444));
        assert_eq!(a.host_unescaped(), "::1");
        let a = addr(" fd00::7 ");
        assert_eq!((a.host.as_str(), a.port), ("[fd00::7]", 4444));
        let a = addr("u:s@::1");
        assert_eq!((a.auth.as_deref(), a.host.as_str()), (Some("u:s"), "[::1]"));
        // Every colon belongs to the address: a port needs brackets.
        assert_eq!(addr("::1:4445").host, "[::1:4445]");
        assert_eq!(addr("[::1]:4445").port, 4445);
        assert!(SstAddress::parse("::1/rsrsync_sst").is_err());
        assert!(SstAddress::parse("fe80::1%eth0").is_err());
    }

    #[test]
    fn auth_is_split_at_the_last_at() {
        let a = addr("localhost:0f3a@x@127.0.0.1:4444/rsrsync_sst//1");
        assert_eq!(a.auth.as_deref(), Some("localhost:0f3a@x"));
        assert_eq!(a.host, "127.0.0.1");
    }

    #[test]
    fn bad_addresses_are_errors() {
        for bad in [
            "",
            "[::1",
            "host:port",
            "host:70000",
            "[::1]x",
            "[]:4444",
            "@",
        ] {
            assert!(SstAddress::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn literals_and_hosts_file() {
        assert_eq!(ip_literal("[::1]"), Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert_eq!(ip_literal("fe80::1%eth0"), None);
        let hosts = "127.0.0.1 localhost\n# 10.9.9.9 node2\n10.0.0.2\tnode2 node2.lan # db\n::1 ip6-localhost\n";
        assert_eq!(
            hosts_lookup("NODE2", hosts),
            vec![IpAddr::from([10, 0, 0, 2])]
        );
        assert_eq!(hosts_lookup("node3", hosts), Vec::<IpAddr>::new());
        let r = resolve("[::1]", 5).expect("literal");
        assert_eq!(r, vec!["[::1]:5".parse().expect("socket address")]);
    }

    #[test]
    fn local_rule() {
        assert!(is_local("127.0.0.2"));
        assert!(is_local("[::1]"));
        assert!(is_local("localhost"));
        assert!(!is_local("192.0.2.55"), "TEST-NET address is never ours");
        let wild = listen_addresses("192.0.2.55", 4444).expect("wildcard");
        assert!(wild.iter().all(|a| a.ip().is_unspecified()));
        let own = listen_addresses("127.0.0.3", 4444).expect("local");
        assert_eq!(own, vec!["127.0.0.3:4444".parse().expect("socket address")]);
    }
}
