//! The joiner: listen, publish `ready` with a fresh secret, accept only
//! the donor that proves it, receive and verify, replace binlogs (SST
//! only), sync, then print the state line.

use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

use anyhow::{Context, Result, bail, ensure};

use super::acceptor::{next_connection, spawn_acceptor};
use super::binlogs::replace_binlogs;
use super::oracle;
use super::pidfile::PidFile;
use super::reporter::Reporter;
use super::{Report, is_state_line, remove_quietly, with_keepalive};
use crate::config::Settings;
use crate::exit::Exit;
use crate::fsutil::DataDir;
use crate::net::address::listen_addresses;
use crate::net::{Connection, Listener, Transport};
use crate::progress::Progress;
use crate::protocol::auth::{Key, new_secret};
use crate::protocol::{
    Channel, Class, Frame, MAX_BLOCK, MIN_BLOCK, MODULE, Mode, NO_USER, VERSION,
};
use crate::signals::Stop;
use crate::sst_io::Mariadbd;
use crate::tls::Tls;
use crate::transfer::manifest::{Memory, receive_manifest};
use crate::transfer::receive::{Receiver, RoundKind};
use crate::transfer::{BINLOG_STAGING, Layout};

/// Most data streams a donor may open.
const MAX_STREAMS: u16 = 256;

/// Removes `sst_in_progress` and the binlog staging directory on every
/// exit path.
#[derive(Debug)]
struct JoinerFiles<'a> {
    layout: &'a Layout,
}

impl JoinerFiles<'_> {
    fn create(layout: &Layout) -> Result<JoinerFiles<'_>> {
        let files = JoinerFiles { layout };
        files.remove_staging();
        let progress = layout.datadir.join("sst_in_progress");
        std::fs::write(&progress, b"")
            .with_context(|| format!("creating {}", progress.display()))?;
        Ok(files)
    }

    fn remove_staging(&self) {
        let staging = self.layout.datadir.join(BINLOG_STAGING);
        match std::fs::remove_dir_all(&staging) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => log::warn!("cannot remove {}: {e}", staging.display()),
        }
    }
}

impl Drop for JoinerFiles<'_> {
    fn drop(&mut self) {
        self.remove_staging();
        remove_quietly(&self.layout.datadir.join("sst_in_progress"));
    }
}

pub(super) fn run(settings: &Settings, stop: &Arc<Stop>, out: &mut Mariadbd) -> Result<Report> {
    let method = &settings.method;
    log::info!("{method} SST started on joiner");
    let layout = &settings.layout;
    std::fs::create_dir_all(&layout.datadir)
        .with_context(|| format!("creating the datadir {}", layout.datadir.display()))?;
    let _pid = PidFile::acquire(&layout.datadir, stop)?;
    // Leftovers of the stock method's interrupted runs.
    remove_quietly(&layout.datadir.join("rsync_sst_complete"));
    remove_quietly(&layout.datadir.join("wsrep_sst_binlog.tar"));
    let _files = JoinerFiles::create(layout)?;
    for dir in [&layout.sys, &layout.redo, &layout.undo, &layout.aria] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }

    let (tls, cn) = Tls::joiner(&settings.tls)?;
    let user = if cn.is_empty() {
        NO_USER.to_string()
    } else {
        cn
    };
    let address = &settings.address;
    let listener = Listener::bind(&listen_addresses(address.host_unescaped(), address.port)?)?;
    let secret = new_secret()?;
    let key = Key::from_secret(&secret);
    let module = address.module.as_deref().unwrap_or(MODULE);
    let port = listener.port();
    let finished = Arc::new(AtomicBool::new(false));
    let incoming = spawn_acceptor(
        listener,
        tls,
        key,
        settings.timeouts.idle,
        Arc::clone(stop),
        Arc::clone(&finished),
    )?;
    // The user part is the certificate's CN in VERIFY_* modes (the donor
    // checks the joiner's name against it), else a fixed name; the secret
    // is what every donor connection must prove.
    out.ready(&format!(
        "{user}:{secret}@{}:{port}/{module}//{VERSION}",
        address.host
    ))?;
    let result = session(settings, stop, &incoming, out);
    finished.store(true, Ordering::SeqCst);
    let (state, received) = result?;
    if let (Some(dir), Some(_)) = (&settings.test_hold, &received) {
        oracle::hold_joiner(dir, stop)?;
    }

    if !settings.joiner_delay.is_zero() {
        log::info!(
            "delaying the final line by {} s (MTR_SST_JOINER_DELAY)",
            settings.joiner_delay.as_secs()
        );
        std::thread::sleep(settings.joiner_delay);
    }
    stop.check()?;
    log::info!("Galera co-ords from recovery: {state}");
    out.state(&state)?;
    let kind = if received.is_none() { "IST" } else { "SST" };
    log::info!("{method} {kind} completed on joiner");
    Ok(received
        .as_deref()
        .map(|rounds| Report::of(rounds, None))
        .unwrap_or_default())
}

/// What the transfer produced: the state line, and for an SST (not an
/// IST) the counters of its rounds.
type Outcome = (String, Option<Vec<Arc<Progress>>>);

/// Everything from the donor's first connection to our `Done`; `out`
/// gets `total`/`complete` lines when mariadbd asked for them.
fn session(
    settings: &Settings,
    stop: &Stop,
    incoming: &mpsc::Receiver<(Channel, Connection<Transport>)>,
    out: &Mariadbd,
) -> Result<Outcome> {
    let initial = settings.timeouts.initial;
    let mut control =
        next_connection(incoming, Channel::Control, initial, stop).with_context(|| {
            format!(
                "no donor connected within {} s (rsrsync-initial-timeout in [sst])",
                initial.as_secs()
            )
        })?;
    log::info!("donor connected from {}", control.peer());
    let (mode, streams, block_size, live) =
        match control.expect_frame("the donor's first message")? {
            Frame::Begin {
                mode,
                streams,
                block_size,
                live,
            } => (mode, streams, block_size, live),
            other => bail!("expected Begin from the donor, got {:?}", other.kind()),
        };
    if mode == Mode::Bypass {
        let state = match next_step(&mut control)? {
            Step::Complete {
                state,
                bypass: true,
            } => state,
            _ => bail!("the donor announced IST but completed otherwise"),
        };
        control.send(&Frame::Done)?;
        return Ok((state, None));
    }
    ensure!(
        block_size.is_power_of_two() && (MIN_BLOCK..=MAX_BLOCK).contains(&block_size),
        "the donor asked for blocks of {block_size} bytes"
    );
    ensure!(
        (1..=MAX_STREAMS).contains(&streams),
        "the donor asked for {streams} data streams"
    );
    // Live rounds (the donor's server running) and then a locked round,
    // or the locked round alone. Each round checks every block the one
    // before left here; the locked round against the donor's locked state.
    let mut live_round = live;
    let mut memory: Option<Memory> = None;
    let mut rounds: Vec<Arc<Progress>> = Vec::new();
    loop {
        let manifest = receive_manifest(
            &mut control,
            &settings.layout,
            settings.delta,
            memory.as_ref(),
        )?;
        control.send(&Frame::Ready)?;
        let kind = RoundKind {
            live: live_round,
            remember: live_round,
        };
        let receiver = Receiver::new(manifest, block_size, kind);
        let progress = Arc::clone(receiver.progress());
        let reporter = Reporter::start(
            Arc::clone(&progress),
            settings.progress.then(|| out.clone()),
        );
        let step = receive_streams(&receiver, &mut control, streams, settings, stop, incoming)?;
        drop(reporter);
        let known = receiver.finish()?;
        let name = if live_round { "live" } else { "locked" };
        log::info!("{name} round: {}", progress.totals());
        rounds.push(progress);
        match step {
            Step::Round { live } if live_round => {
                live_round = live;
                memory = Some(known);
            }
            Step::Complete {
                state,
                bypass: false,
            } if !live_round => {
                let binlogs = receiver.names_of(Class::Binlog);
                with_keepalive(&mut control, || {
                    let outside = receiver.place_links()?;
                    match &settings.binlog {
                        Some(binlog) => replace_binlogs(binlog, &settings.layout, &binlogs)?,
                        None if !binlogs.is_empty() => log::info!(
                            "ignoring {} binlog files from the donor: binary logging is off here",
                            binlogs.len()
                        ),
                        None => {}
                    }
                    sync_all(settings, &outside)
                })?;
                control.send(&Frame::Done)?;
                return Ok((state, Some(rounds)));
            }
            _ => bail!("the donor broke the sequence of rounds"),
        }
    }
}

/// What the donor does after a round's data.
enum Step {
    /// Another round follows a live one: live again, or locked.
    Round { live: bool },
    /// The end, with the state line.
    Complete { state: String, bypass: bool },
}

/// Takes the donor's data streams, receives them all, and returns what
/// the donor says next on the control connection. The first failure on any
/// stream stops the others (through `stop`) and is the one returned.
fn receive_streams(
    receiver: &Receiver,
    control: &mut Connection<Transport>,
    streams: u16,
    settings: &Settings,
    stop: &Stop,
    incoming: &mpsc::Receiver<(Channel, Connection<Transport>)>,
) -> Result<Step> {
    std::thread::scope(|scope| {
        let mut workers = Vec::new();
        let mut failure = None;
        for _ in 0..streams {
            match next_connection(incoming, Channel::Data, settings.timeouts.idle, stop) {
                Ok(mut conn) => workers.push(scope.spawn(move || {
                    let result = receiver.receive_stream(&mut conn);
                    // The donor waits for this clean end.
                    conn.stream_mut().close();
                    if let Err(e) = &result {
                        stop.trigger(Exit::Pipe, format!("{e:#}"));
                    }
                    result
                })),
                Err(e) => {
                    stop.trigger(Exit::Pipe, format!("{e:#}"));
                    failure = Some(e.context("waiting for the donor's data streams"));
                    break;
                }
            }
        }
        let next = match failure {
            Some(e) => Err(e),
            None => next_step(control),
        };
        let mut worker_error = None;
        for worker in workers {
            let result = worker
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("a receiving thread panicked")));
            if let Err(e) = result {
                worker_error.get_or_insert(e);
            }
        }
        match worker_error {
            Some(e) => Err(e),
            None => next,
        }
    })
}

/// Reads the donor's next step: another round, or `Complete` with its
/// state line (checked).
fn next_step(control: &mut Connection<Transport>) -> Result<Step> {
    match control.expect_frame("the end of the transfer")? {
        Frame::Round { live } => Ok(Step::Round { live }),
        Frame::Complete { bypass, state } => {
            let state = String::from_utf8_lossy(state).into_owned();
            ensure!(
                is_state_line(&state),
                "the donor sent a malformed state line {state:?}"
            );
            Ok(Step::Complete { state, bypass })
        }
        other => bail!("expected the donor's completion, got {:?}", other.kind()),
    }
}

/// Flushes every filesystem the transfer wrote to, once each: this node's
/// directories and those `outside` the datadir that tables' files went to.
fn sync_all(settings: &Settings, outside: &[PathBuf]) -> Result<()> {
    let mut seen = Vec::new();
    let mut dirs = vec![
        settings.layout.datadir.clone(),
        settings.layout.sys.clone(),
        settings.layout.redo.clone(),
        settings.layout.undo.clone(),
        settings.layout.aria.clone(),
    ];
    if let Some(binlog) = &settings.binlog {
        dirs.push(binlog.dir.clone());
    }
    dirs.extend_from_slice(outside);
    for dir in dirs {
        let Ok(handle) = DataDir::open(&dir, false) else {
            continue;
        };
        let device = handle.device()?;
        if !seen.contains(&device) {
            seen.push(device);
            handle.sync_filesystem()?;
        }
    }
    Ok(())
}
