//! The probe between two nodes: `check --listen` on one, `check --peer`
//! on the other. Nothing is written and no data file is read or sent:
//! only a greeting, a TLS handshake and two small JSON lines.
//!
//! The listening node binds the SST port exactly as its joiner would and
//! plays the joiner (TLS server); the probing node plays the donor (TLS
//! client), with each node's own TLS settings for that role, so the probe
//! succeeds only if a real SST could connect and agree on TLS.
//!
//! The exchange (a greeting, an answer, then hello lines under TLS) is
//! written down in `wire`, which alone reads and writes its lines. Every
//! step must finish within 10 s. A real rsrsync joiner in the middle of an
//! SST refuses the probe at once and logs it; the SST goes on. The
//! listener answers one probe and exits; it tells whoever connects its
//! host name, versions and byte counts per class, nothing else (no paths,
//! no secrets).

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use super::output::notice;
use super::report::{Report, TransferSet};
use super::resolve::Node;
use super::space::{Room, judge, rooms};
use super::wire::{
    Hello, RoomVerdict, answer_line, cn_of, greeting_line, hello_json, is_answer, is_greeting,
    parse_hello, parse_room, read_json, read_plain, room_json, tls_of, write_line,
};
use crate::cli::Role;
use crate::config::tls;
use crate::fsutil::human_bytes;
use crate::net::address::{SstAddress, listen_addresses, resolve};
use crate::net::{Listener, TimedStream, Transport};
use crate::protocol::VERSION;
use crate::signals::Stop;
use crate::tls::{Tls, TlsSettings};

/// Longest wait for any one step once connected.
const STEP: Duration = Duration::from_secs(10);
const TOPIC: &str = "probe";

fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "?".into())
}

fn own_hello(mine: Option<&TransferSet>) -> Hello {
    Hello {
        rsrsync: env!("CARGO_PKG_VERSION").to_string(),
        protocol: u64::from(VERSION),
        host: hostname(),
        files: mine.map_or(0, TransferSet::files),
        bytes: mine.map(TransferSet::class_bytes).unwrap_or_default(),
    }
}

fn verdict_of(rooms: &[Room]) -> RoomVerdict {
    let used: Vec<&Room> = rooms.iter().filter(|r| r.needed > 0).collect();
    RoomVerdict {
        fits: used.iter().all(|r| r.fits()),
        needed: used.iter().map(|r| r.needed).sum(),
        available: used
            .iter()
            .map(|r| r.free.saturating_add(r.reclaimable))
            .sum(),
    }
}

fn mode_name(tls: &TlsSettings) -> &'static str {
    tls.mode.name()
}

/// Records the comparison of versions.
fn compare_versions(peer: &Hello, report: &mut Report) {
    if peer.protocol != u64::from(VERSION) {
        report.fail(
            TOPIC,
            format!(
                "{} runs rsrsync {} speaking protocol {}, this node speaks {VERSION}: an SST \
                 between them would stop with exit 71",
                peer.host, peer.rsrsync, peer.protocol
            ),
            "install the same rsrsync version on all nodes",
        );
    } else if peer.rsrsync != env!("CARGO_PKG_VERSION") {
        report.warn(
            TOPIC,
            format!(
                "{} runs rsrsync {}, this node {} (same protocol {VERSION})",
                peer.host,
                peer.rsrsync,
                env!("CARGO_PKG_VERSION")
            ),
            "install the same rsrsync version on all nodes when convenient",
        );
    }
}

/// Records what the other side found about receiving this node's data.
fn their_verdict(peer: &Hello, verdict: Option<RoomVerdict>, report: &mut Report) {
    match verdict {
        Some(v) if v.needed == 0 => report.info(
            "free space",
            format!("an SST from this node to {}: nothing to send", peer.host),
        ),
        Some(v) if v.fits => report.ok(
            "free space",
            format!(
                "an SST from this node to {}: it reports room (needs up to {}, has {})",
                peer.host,
                human_bytes(v.needed),
                human_bytes(v.available)
            ),
        ),
        Some(v) => report.fail(
            "free space",
            format!(
                "an SST from this node to {}: it needs up to {} but has {}",
                peer.host,
                human_bytes(v.needed),
                human_bytes(v.available)
            ),
            format!(
                "free space on {} (its check lists the filesystem)",
                peer.host
            ),
        ),
        None => report.warn(
            "free space",
            format!(
                "{} did not say whether it has room for this node's data",
                peer.host
            ),
            "run check on that node",
        ),
    }
}

/// `check --listen`: waits for one probe on the joiner's SST address.
pub(crate) fn listen(
    node: &Node,
    mine: Option<&TransferSet>,
    timeout: Duration,
    report: &mut Report,
) {
    let Ok(tls) = tls::resolve(&node.config, Role::Joiner).map(|t| t.settings) else {
        report.fail(
            TOPIC,
            "cannot answer a probe: this node's TLS settings do not resolve",
            "fix the TLS problem reported above",
        );
        return;
    };
    let (context, cn) = match Tls::joiner(&tls) {
        Ok(pair) => pair,
        Err(err) => {
            report.fail(
                TOPIC,
                format!("cannot answer a probe without a working TLS setup: {err:#}"),
                "fix the TLS problem reported above",
            );
            return;
        }
    };
    let address = &node.address;
    let listener = match listen_addresses(address.host_unescaped(), address.port)
        .and_then(|addrs| Listener::bind(&addrs))
    {
        Ok(listener) => listener,
        Err(err) => {
            report.fail(
                TOPIC,
                format!("cannot listen for a probe: {err:#}"),
                "free the SST port (see the SST port finding)",
            );
            return;
        }
    };
    report.ok(
        "SST port",
        format!(
            "{}:{}: listening as a joiner would, for the probe",
            address.host,
            listener.port()
        ),
    );
    notice(&format!(
        "listening on {}:{} as a joiner would; on the other node run: \
         wsrep_sst_rsrsync check --peer {}:{} (waiting up to {} s)",
        address.host,
        listener.port(),
        address.host,
        listener.port(),
        timeout.as_secs()
    ));
    let stop = Stop::new();
    let deadline = Instant::now() + timeout;
    loop {
        match listener.accept(&stop, deadline) {
            Ok(Some((tcp, from))) => {
                match answer(tcp, from, node, mine, &tls, &context, &cn, report) {
                    Ok(()) => return,
                    Err(err) => log::warn!("ignored a connection from {from}: {err:#}"),
                }
            }
            Ok(None) => {
                report.fail(
                    TOPIC,
                    format!("no probe arrived within {} s", timeout.as_secs()),
                    format!(
                        "run `wsrep_sst_rsrsync check --peer {}:{}` on the other node while \
                         this one listens, and open the port between them",
                        address.host,
                        listener.port()
                    ),
                );
                return;
            }
            Err(err) => {
                report.fail(TOPIC, format!("waiting for a probe: {err:#}"), "retry");
                return;
            }
        }
    }
}

/// Answers one connection. `Err`: it was not a probe (ignored); once it
/// is one, every outcome is a finding.
#[allow(clippy::too_many_arguments)]
fn answer(
    tcp: TcpStream,
    from: SocketAddr,
    node: &Node,
    mine: Option<&TransferSet>,
    tls: &TlsSettings,
    context: &Tls,
    cn: &str,
    report: &mut Report,
) -> Result<()> {
    let mut stream = TimedStream::new(tcp, STEP)?;
    stream.set_deadline(Instant::now() + STEP);
    let line = read_plain(&mut stream)?.context("closed at once")?;
    ensure!(
        is_greeting(&line),
        "not a probe (it began with {:?})",
        line.chars().take(16).collect::<String>()
    );
    let theirs = tls_of(&line).to_string();
    write_line(&mut stream, &answer_line(mode_name(tls), cn))?;
    if (theirs != "DISABLED") != tls.enabled() {
        report.fail(
            TOPIC,
            format!(
                "the node at {from} uses ssl-mode={theirs}, this node {}: an SST between \
                 them would fail",
                mode_name(tls)
            ),
            "set the same ssl-mode (and certificates) on every node",
        );
        return Ok(());
    }
    if let Err(err) = exchange_as_joiner(stream, node, mine, context, from, report) {
        report.fail(
            TOPIC,
            format!("the probe from {from} failed: {err:#}"),
            "if the error names a certificate, both nodes' certificates must be issued \
             by the CA the other trusts; otherwise retry",
        );
    }
    Ok(())
}

fn exchange_as_joiner(
    stream: TimedStream,
    node: &Node,
    mine: Option<&TransferSet>,
    context: &Tls,
    from: SocketAddr,
    report: &mut Report,
) -> Result<()> {
    let mut transport = context.wrap(stream)?;
    transport.timed_mut().set_deadline(Instant::now() + STEP);
    let first = match read_json(&mut transport) {
        Err(err) if is_eof(&err) => bail!(
            "the prober closed the connection during the TLS handshake: it refused this \
             node's certificate or its own TLS setup failed (its report says which)"
        ),
        other => other.context("during the TLS handshake or hello")?,
    };
    let peer = parse_hello(&first)?;
    let own = mine.map(TransferSet::class_bytes).unwrap_or_default();
    let rooms = rooms(&node.settings, &peer.bytes, &own)?;
    let verdict = verdict_of(&rooms);
    let hello = hello_json(&own_hello(mine), Some(&verdict));
    write_line(&mut transport, &hello.to_string())?;
    let theirs = read_json(&mut transport)?;
    close(transport);
    report.ok(
        TOPIC,
        format!(
            "answered {} ({from}): rsrsync {}, protocol {}, TLS {}",
            peer.host,
            peer.rsrsync,
            peer.protocol,
            if matches!(context, Tls::Off) {
                "off"
            } else {
                "handshake ok"
            }
        ),
    );
    compare_versions(&peer, report);
    judge(&rooms, &format!("from {} to this node", peer.host), report);
    their_verdict(&peer, parse_room(&theirs), report);
    Ok(())
}

/// Whether the peer hung up (rather than sent garbage).
/// The peer hung up, or refused the handshake with a TLS alert (which of
/// the two arrives first depends on timing).
fn is_eof(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        let text = e.to_string();
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::UnexpectedEof)
            || text.contains("closed the connection")
            || text.contains("received fatal alert")
    })
}

fn close(mut transport: Transport) {
    transport.close();
}

/// `check --peer host[:port]`: probes a node running `check --listen`.
pub(crate) fn probe(
    node: &Node,
    mine: Option<&TransferSet>,
    peer: &str,
    timeout: Duration,
    report: &mut Report,
) {
    if let Err(err) = probe_inner(node, mine, peer, timeout, report) {
        let message = format!("{err:#}");
        let fix = if ["certificate", "alert", "TLS", "handshake"]
            .iter()
            .any(|word| message.contains(word))
        {
            "both nodes' certificates must be issued by a CA the other trusts (ssl-ca), \
             and in VERIFY_IDENTITY the joiner's certificate must name it; run check on \
             each node for its own certificate"
                .to_string()
        } else {
            format!(
                "on {peer} run `wsrep_sst_rsrsync check --listen`, open its SST port to \
                 this node, then run this again"
            )
        };
        report.fail(TOPIC, format!("probing {peer}: {message}"), fix);
    }
}

fn probe_inner(
    node: &Node,
    mine: Option<&TransferSet>,
    peer: &str,
    timeout: Duration,
    report: &mut Report,
) -> Result<()> {
    let address = SstAddress::parse(peer).context("reading --peer")?;
    let tls = tls::resolve(&node.config, Role::Donor)
        .map(|t| t.settings)
        .map_err(|problem| anyhow::anyhow!("{}; {}", problem.message, problem.fix))
        .context("this node's TLS settings (as a donor)")?;
    let targets = resolve(address.host_unescaped(), address.port)?;
    let tcp = connect(&targets, timeout)?;
    let mut stream = TimedStream::new(tcp, STEP)?;
    stream.set_deadline(Instant::now() + STEP);
    write_line(&mut stream, &greeting_line(mode_name(&tls)))?;
    let shown = format!("{}:{}", address.host, address.port);
    let line = match read_plain(&mut stream) {
        Ok(Some(line)) => line,
        Ok(None) | Err(_) => bail!(
            "{shown} closed the connection without answering: it is not in `check --listen` \
             (a joiner in the middle of an SST refuses probes)"
        ),
    };
    if line.starts_with("@RSYNCD:") {
        bail!("an rsync daemon answers at {shown} (the stock rsync method's joiner?), not rsrsync");
    }
    ensure!(
        is_answer(&line),
        "{shown} answered {:?}: it is not rsrsync's `check --listen`",
        line.chars().take(32).collect::<String>()
    );
    let theirs = tls_of(&line).to_string();
    let cn = cn_of(&line).to_string();
    if (theirs != "DISABLED") != tls.enabled() {
        report.fail(
            TOPIC,
            format!(
                "{shown} uses ssl-mode={theirs}, this node {}: an SST between them would fail",
                mode_name(&tls)
            ),
            "set the same ssl-mode (and certificates) on every node",
        );
        return Ok(());
    }
    let context = Tls::donor(&tls, &address, &cn)?;
    let tls_on = !matches!(context, Tls::Off);
    let mut transport = context.wrap(stream)?;
    transport.timed_mut().set_deadline(Instant::now() + STEP);
    let own = mine.map(TransferSet::class_bytes).unwrap_or_default();
    write_line(
        &mut transport,
        &hello_json(&own_hello(mine), None).to_string(),
    )
    .context("during the TLS handshake")?;
    let reply = read_json(&mut transport).context("during the TLS handshake or hello")?;
    let peer_hello = parse_hello(&reply)?;
    let rooms = rooms(&node.settings, &peer_hello.bytes, &own)?;
    let verdict = verdict_of(&rooms);
    write_line(&mut transport, &room_json(&verdict).to_string())?;
    close(transport);
    report.ok(
        TOPIC,
        format!(
            "{} ({shown}) answered: rsrsync {}, protocol {}, TLS {}",
            peer_hello.host,
            peer_hello.rsrsync,
            peer_hello.protocol,
            if tls_on {
                format!("handshake ok (ssl-mode={})", mode_name(&tls))
            } else {
                "off on both".to_string()
            }
        ),
    );
    compare_versions(&peer_hello, report);
    their_verdict(&peer_hello, parse_room(&reply), report);
    judge(
        &rooms,
        &format!("from {} to this node", peer_hello.host),
        report,
    );
    Ok(())
}

/// Connects to the first target that accepts, retrying refusals until
/// `timeout` (the other node may start listening a moment later).
fn connect(targets: &[SocketAddr], timeout: Duration) -> Result<TcpStream> {
    let deadline = Instant::now() + timeout;
    let mut told = false;
    loop {
        let mut last = None;
        for target in targets {
            match TcpStream::connect_timeout(target, STEP) {
                Ok(tcp) => return Ok(tcp),
                Err(e) => last = Some((target, e)),
            }
        }
        if let Some((target, err)) = last {
            if Instant::now() >= deadline {
                return Err(err).with_context(|| format!("connecting to {target}"));
            }
            if !told {
                notice(&format!(
                    "nothing answers at {target} yet ({err}); retrying for up to {} s",
                    timeout.as_secs()
                ));
                told = true;
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}
