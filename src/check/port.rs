//! The SST port: bound and released at once, on the addresses a joiner
//! would listen on, and when it is taken, which program holds it (from
//! `/proc/net/tcp*` and the holders' open files).

use std::path::Path;

use super::report::Report;
use crate::exit::{Exit, exit_of};
use crate::net::Listener;
use crate::net::address::{SstAddress, listen_addresses};

/// Tries the joiner's bind and reports the outcome.
pub(crate) fn check_bind(address: &SstAddress, user: &str, report: &mut Report) {
    let topic = "SST port";
    let shown = format!("{}:{}", address.host, address.port);
    let addrs = match listen_addresses(address.host_unescaped(), address.port) {
        Ok(addrs) => addrs,
        Err(err) => {
            report.fail(
                topic,
                format!("cannot work out where to listen for {shown}: {err:#}"),
                "use an IP address in wsrep_sst_receive_address (or --address)",
            );
            return;
        }
    };
    let on = addrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    match Listener::bind(&addrs) {
        Ok(listener) => {
            drop(listener);
            report.ok(
                topic,
                format!("{shown}: a joiner could listen on {on} (bound and released)"),
            );
        }
        Err(err) if exit_of(&err) == Some(Exit::Busy) => {
            let holders = holders(address.port);
            let who = if holders.is_empty() {
                "another program".to_string()
            } else {
                holders.join(", ")
            };
            let rsrsync = holders.iter().any(|h| h.contains("wsrep_sst_rsrsy"));
            report.fail(
                topic,
                format!(
                    "port {} ({on}) is taken by {who}; a joiner would stop with exit 16",
                    address.port
                ),
                if rsrsync {
                    "an SST (or check --listen) is using it now: wait for it to end".to_string()
                } else {
                    format!(
                        "stop that program, or give this node another SST port, e.g. \
                         wsrep_sst_receive_address = {}:{}",
                        address.host,
                        address.port.wrapping_add(1)
                    )
                },
            );
        }
        Err(err) => report.fail(
            topic,
            format!("cannot listen on {on}: {err:#}"),
            "set wsrep_sst_receive_address to an address of this machine",
        ),
    }
    if address.port != 0 && address.port < 1024 && user != "root" {
        report.fail(
            topic,
            format!(
                "port {} is below 1024, which user '{user}' (who runs mariadbd) may not bind",
                address.port
            ),
            "use a port above 1023 in wsrep_sst_receive_address",
        );
    }
}

/// `comm (PID n)` of every process with a socket listening on `port`.
pub(crate) fn holders(port: u16) -> Vec<String> {
    let inodes: Vec<u64> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|text| listening_inodes(&text, port))
        .collect();
    if inodes.is_empty() {
        return Vec::new();
    }
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for proc_dir in procs.flatten() {
        let name = proc_dir.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if holds_socket(&proc_dir.path(), &inodes) {
            let comm = std::fs::read_to_string(proc_dir.path().join("comm")).unwrap_or_default();
            out.push(format!("{} (PID {pid})", comm.trim()));
        }
    }
    out
}

/// Socket inodes in LISTEN state on `port` in a `/proc/net/tcp*` table.
fn listening_inodes(table: &str, port: u16) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local = fields.get(1)?;
            let (_, hex_port) = local.rsplit_once(':')?;
            let listening = *fields.get(3)? == "0A";
            (listening && u16::from_str_radix(hex_port, 16).ok()? == port)
                .then(|| fields.get(9)?.parse().ok())
                .flatten()
        })
        .collect()
}

fn holds_socket(proc_dir: &Path, inodes: &[u64]) -> bool {
    let Ok(fds) = std::fs::read_dir(proc_dir.join("fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path()).is_ok_and(|target| {
            let target = target.to_string_lossy();
            target
                .strip_prefix("socket:[")
                .and_then(|rest| rest.strip_suffix(']'))
                .and_then(|n| n.parse::<u64>().ok())
                .is_some_and(|inode| inodes.contains(&inode))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::report::Status;

    #[test]
    fn proc_net_tcp_lines() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:115C 00000000:0000 0A 00000000:00000000 00:00000000 00000000   102        0 1441847 1 0 100 0 0 10 0\n\
   1: 0100007F:115C 0100007F:9C40 01 00000000:00000000 00:00000000 00000000   102        0 1441848 1 0 100 0 0 10 0\n\
   2: 00000000:115D 00000000:0000 0A 00000000:00000000 00:00000000 00000000   102        0 99 1 0 100 0 0 10 0\n";
        assert_eq!(listening_inodes(table, 4444), [1_441_847]);
        assert_eq!(listening_inodes(table, 4445), [99]);
        assert!(listening_inodes(table, 80).is_empty());
        assert!(listening_inodes("garbage\nmore garbage", 1).is_empty());
    }

    #[test]
    fn a_taken_port_names_its_holder() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = taken.local_addr().expect("addr").port();
        let address = SstAddress::parse(&format!("127.0.0.1:{port}")).expect("address");
        let mut report = Report::default();
        check_bind(&address, "mysql", &mut report);
        let finding = &report.findings[0];
        assert_eq!(finding.status, Status::Fail, "{finding:?}");
        assert!(
            finding
                .message
                .contains(&format!("(PID {})", std::process::id())),
            "{finding:?}"
        );
        drop(taken);
        let mut report = Report::default();
        check_bind(&address, "mysql", &mut report);
        assert_eq!(
            report.findings[0].status,
            Status::Ok,
            "{:?}",
            report.findings
        );
    }

    #[test]
    fn privileged_ports_need_root() {
        let address = SstAddress::parse("127.0.0.1:0").expect("address");
        let mut low = address.clone();
        low.port = 444;
        let mut report = Report::default();
        check_bind(&low, "mysql", &mut report);
        assert!(
            report
                .findings
                .iter()
                .any(|f| f.message.contains("below 1024"))
        );
    }
}
