//! The donor: connect and prove the joiner's secret, `flush tables`, wait
//! for mariadbd's `tables_flushed`, send the file set, `continue`, then
//! complete and print `done`, the copy after `continue` at idle I/O
//! priority ([`super::priority`]). With `--bypass` (IST) only the state goes.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use super::oracle;
use super::pidfile::PidFile;
use super::rate::DonorLimit;
use super::reporter::Reporter;
use super::{Report, is_state_line, read_small, remove_quietly};
use crate::config::{Binlog, Settings, Streams};
use crate::exit::{Exit, fail};
use crate::net::address::resolve;
use crate::net::{Connection, TimedStream, Transport, handshake};
use crate::progress::Progress;
use crate::protocol::auth::Key;
use crate::protocol::{Channel, Class, Frame, Mode, VERSION};
use crate::signals::Stop;
use crate::sst_io::Mariadbd;
use crate::tls::Tls;
use crate::transfer::BLOCK_SIZE;
use crate::transfer::plan::{Controls, Plan, send_manifest};
use crate::transfer::redo::{LockIndex, Quiet};
use crate::transfer::send::{Release, Round, Unlock, send_data};
use crate::transfer::snapshot::{self, Stamps};
use crate::transfer::walk::{Entry, EntryKind, walk};

/// How long the donor keeps retrying to reach the joiner's port.
const CONNECT_PATIENCE: Duration = Duration::from_secs(10);

/// How often the wait for `tables_flushed` says it is still waiting.
const FLUSH_LOG_EVERY: Duration = Duration::from_secs(10);

pub(super) fn run(settings: &Settings, stop: &Arc<Stop>, out: &mut Mariadbd) -> Result<Report> {
    let method = &settings.method;
    let kind = if settings.bypass { "IST" } else { "SST" };
    log::info!("{method} {kind} started on donor");
    let datadir = &settings.layout.datadir;
    let _pid = PidFile::acquire(datadir, stop)?;
    let flushed = datadir.join("tables_flushed");
    let error = datadir.join("sst_error");
    remove_quietly(&flushed);
    remove_quietly(&error);

    if let Some(version) = &settings.address.sst_ver {
        if version != &VERSION.to_string() {
            return Err(fail(
                Exit::Protocol,
                format!(
                    "the joiner speaks rsrsync protocol version {version}, this donor speaks \
                     {VERSION}: install the same rsrsync version on all nodes"
                ),
            ));
        }
    }
    let (user, secret) = settings.remote_auth.as_ref().ok_or_else(|| {
        fail(
            Exit::Invalid,
            "mariadbd passed no secret from the joiner (neither WSREP_SST_OPT_REMOTE_AUTH nor \
             sst_remote_password on stdin): the joiner published none, so it is not running \
             rsrsync; install rsrsync on every node",
        )
    })?;
    let key = Key::from_secret(secret);
    let tls = Tls::donor(&settings.tls, &settings.address, user)?;
    let limit = DonorLimit::new(settings);
    let open = |channel| open_channel(settings, &tls, &key, channel, stop, &limit);
    let (mut control, round_trip) = open(Channel::Control)?;
    let connect = |channel| open(channel).map(|(conn, _)| conn);

    if settings.bypass {
        log::info!("Bypassing state dump.");
        let state = settings
            .gtid_state
            .clone()
            .filter(|s| is_state_line(s))
            .ok_or_else(|| fail(Exit::Invalid, "--bypass without a valid --gtid"))?;
        control.send(&Frame::Begin {
            mode: Mode::Bypass,
            streams: 0,
            block_size: BLOCK_SIZE,
            live: false,
        })?;
        out.resume()?;
        finish(&mut control, out, &state, true)?;
        log::info!("{method} IST completed on donor");
        return Ok(Report::default());
    }

    limit.announce();
    let streams = settings.streams.for_round_trip(round_trip);
    log::info!(
        "round trip to the joiner {:.1} ms (its TCP connect): {streams} data streams ({})",
        round_trip.as_secs_f64() * 1e3,
        match settings.streams {
            Streams::Set(_) => "backup-threads",
            Streams::PerCore(cores) if streams > cores => {
                "more than one per core: each TCP stream's rate falls with the round trip; \
                 set backup-threads to choose"
            }
            Streams::PerCore(_) => "one per core",
        }
    );
    let live = settings.short_lock && !snapshot_covers(settings)?;
    control.send(&Frame::Begin {
        mode: Mode::Sst,
        streams: streams as u16,
        block_size: BLOCK_SIZE,
        live,
    })?;
    let rounds = Rounds {
        settings,
        stop,
        streams,
        progress: settings.progress.then(|| out.clone()),
        limit: &limit,
    };
    // With every file cloned under the lock, a live round would only read
    // the datadir once more: the one round comes after `continue`.
    let mut done: Vec<Arc<Progress>> = Vec::new();
    let mut laps: Vec<Lap> = Vec::new();
    // Started before the first round reads a file (see transfer::redo).
    let mut index = if live && settings.redo_index {
        LockIndex::start(&settings.layout.redo)
    } else {
        None
    };
    if live {
        // Copy while the server runs, again while that pays (see
        // worth_another_live_round); what changes meanwhile is settled under
        // the lock, which therefore lasts only for the differences.
        let given = settings.idle_copy.then(super::priority::yield_io_from_here);
        loop {
            let round = rounds.run(&mut control, &connect, &[], None, index.as_mut())?;
            laps.push(Lap {
                unsettled: round.unsettled(),
                secs: round.elapsed(),
            });
            done.push(round);
            if let (Some(dir), 1) = (&settings.test_hold, laps.len()) {
                oracle::hold_live(dir, stop)?;
            }
            let again = worth_another_live_round(&laps, settings.live_settled);
            if !again {
                break;
            }
            control.send(&Frame::Round { live: true })?;
        }
        if let Some(given) = given {
            super::priority::restore_io(given);
        }
    }
    out.flush_tables()?;
    let locked = Instant::now();
    let state = wait_flushed(
        &flushed,
        &error,
        &mut control,
        stop,
        settings.timeouts.flush,
    )?;
    let flush_secs = locked.elapsed().as_secs_f64();
    log::info!("Tables flushed: mariadbd took {flush_secs:.3} s to take the lock");
    let binlogs = binlogs_of(settings)?;
    if live {
        control.send(&Frame::Round { live: false })?;
    }
    let lock = OnceLock::new();
    let mut resume = out.clone();
    let release = Box::new(|| {
        resume.resume()?;
        let secs = locked.elapsed().as_secs_f64();
        log::info!("Lock released after {secs:.3} s ({flush_secs:.3} s of them mariadbd's flush)");
        // The rest of the copy must not slow the server's commits.
        if settings.idle_copy {
            super::priority::yield_io();
        } else {
            log::info!("copy at the I/O priority mariadbd gave (rsrsync-io-priority=normal)");
        }
        let _ = lock.set(secs);
        limit.unlocked();
        Ok(())
    });
    done.push(rounds.run(
        &mut control,
        &connect,
        &binlogs,
        Some(release),
        index.as_mut(),
    )?);
    drop(index);
    log::info!("Transfer of data done");
    limit.report();
    finish(&mut control, out, &state, false)?;
    log::info!("{method} SST completed on donor");
    Ok(Report::of(&done, lock.get().copied()))
}

/// Whether the locked round could clone every file (see
/// [`crate::transfer::snapshot`]), asked before the first round; says why
/// not.
fn snapshot_covers(settings: &Settings) -> Result<bool> {
    if !settings.snapshot {
        return Ok(false);
    }
    let entries = transfer_entries(settings)?;
    let plan = Plan::new(&entries)?;
    match snapshot::covers(&plan.sources()) {
        Ok(()) => {
            log::info!("snapshot: every file can be cloned under the lock: no live round");
            Ok(true)
        }
        Err(why) => {
            log::info!("snapshot: not for every file ({why}): live rounds first");
            Ok(false)
        }
    }
}

/// Live rounds at most before the lock.
const MAX_LIVE_ROUNDS: usize = 3;

/// A live round as the rule for another one sees it: the bytes it found
/// the joiner lacking (see [`Progress::unsettled`]) and how long it took.
#[derive(Debug, Clone, Copy)]
struct Lap {
    unsettled: u64,
    secs: f64,
}

/// Whether to copy again before the lock, given the live rounds so far
/// (`laps`, the last one last). Each live round sends what changed during
/// the one before, so the locked round sends what changed during the last:
/// another round pays when the last one spent at least `settled` copying
/// (long enough for the server to change much), and the rounds still
/// shrink: a round that found nothing shows a quiet server, one that found
/// more than half of what the round before it found a server that rewrites
/// its pages about as fast as we copy them; either goes to the lock.
///
/// Only the time spent copying counts, not the rest of the round: walking,
/// hashing and the round trips of its compares cost every round as much
/// again, the locked one included, so a round that was mostly compares
/// cannot make the lock shorter, however long it took (on a WAN link of
/// 50 ms, rounds that sent nothing took 18 s each). The time spent copying
/// is the round's bytes at the best rate a round moved them; it must also
/// be at least the rest of the round, as the lock gains at most what the
/// round copied and another round costs at least its compares.
fn worth_another_live_round(laps: &[Lap], settled: Duration) -> bool {
    let Some(last) = laps.last() else {
        return false;
    };
    let shrinking = match laps {
        [.., before, last] => {
            last.unsettled > 0 && last.unsettled.saturating_mul(2) <= before.unsettled
        }
        _ => last.unsettled > 0,
    };
    let rate = laps
        .iter()
        .map(|lap| lap.unsettled as f64 / lap.secs.max(1e-3))
        .fold(0.0, f64::max);
    let copying = if rate > 0.0 {
        (last.unsettled as f64 / rate).min(last.secs)
    } else {
        0.0
    };
    laps.len() < MAX_LIVE_ROUNDS
        && shrinking
        && copying >= settled.as_secs_f64()
        && copying * 2.0 >= last.secs
}

/// Opens a connection of a channel to the joiner.
type Connect<'a> = dyn Fn(Channel) -> Result<Connection<Transport>> + Sync + 'a;

/// Data streams opened at once: each costs a few round trips (TCP, TLS,
/// the proof of the secret), so a round on a WAN link would otherwise wait
/// a second for its streams, the locked round too. Half of what the joiner
/// lets handshake at once.
const CONNECTS_AT_ONCE: usize = 8;

/// A round's `count` data streams, [`CONNECTS_AT_ONCE`] at a time.
fn open_streams(connect: &Connect<'_>, count: usize) -> Result<Vec<Connection<Transport>>> {
    crate::parallel::map(count, CONNECTS_AT_ONCE, |_| connect(Channel::Data))
        .into_iter()
        .map(|opened| opened.unwrap_or_else(|| bail!("opening a data stream panicked")))
        .collect()
}

/// What every round of one SST shares.
struct Rounds<'a> {
    settings: &'a Settings,
    stop: &'a Stop,
    streams: usize,
    /// mariadbd's stdout, when it asked for progress lines.
    progress: Option<Mariadbd>,
    limit: &'a DonorLimit<'a>,
}

impl<'a> Rounds<'a> {
    /// One round: walk, file list, the joiner's `Have`s, data; live while
    /// the server runs (files may change), else under the lock, which
    /// `release` ends as soon as every file is read or cloned. With the
    /// redo log `index`, the blocks it vouches for go unread.
    fn run(
        &self,
        control: &mut Connection<Transport>,
        connect: &Connect<'_>,
        binlogs: &[PathBuf],
        release: Option<Release<'_>>,
        mut index: Option<&mut LockIndex>,
    ) -> Result<Arc<Progress>> {
        let live = release.is_none();
        let _limited = self.limit.round(live);
        let name = if live { "live" } else { "locked" };
        let quiet = match (&mut index, live) {
            (Some(index), false) => Some(index.settle()),
            _ => None,
        };
        let controls = Controls::read(&self.settings.layout)?;
        let entries = walk(&self.settings.layout, binlogs, !live)?;
        let mut plan = Plan::new(&entries)?;
        plan.hold(controls);
        let unlock = release.map(|release| self.locked_work(&entries, &mut plan, release, quiet));
        // Everything cloned: the lock can go before the file list does.
        if let (Some(unlock), 0) = (&unlock, plan.locked_files()) {
            unlock.release()?;
        }
        log::info!(
            "{name} round: sending {} files ({} bytes) over {} streams",
            plan.files(),
            plan.bytes(),
            self.streams
        );
        send_manifest(control, &entries, &plan)?;
        let held = read_haves(control, plan.files())?;
        let vouched = match &mut index {
            Some(index) => index.vouch(&plan, &held, live),
            None => Vec::new(),
        };
        let conns = open_streams(connect, self.streams)?;
        let progress = Progress::new("donor", plan.bytes(), plan.files());
        let reporter = Reporter::start(Arc::clone(&progress), self.progress.clone());
        let round = Round {
            held,
            live,
            codec: self.settings.compress,
            vouched,
            remember: live && index.is_some(),
        };
        let kept = send_data(
            &plan,
            &round,
            unlock.as_ref(),
            conns,
            control,
            &progress,
            self.stop,
        )?;
        if let (Some(index), true) = (index, live) {
            index.remember(&plan, kept);
        }
        if let Some(unlock) = &unlock {
            unlock.release()?;
        }
        drop(reporter);
        log::info!("{name} round: {}", progress.totals());
        Ok(progress)
    }

    /// The locked round's work before its data: the files stat'ed as the
    /// lock found them, cloned where they can be, and what ends the lock
    /// (the oracle's hold when asked, the re-stat, the redo log index's
    /// check that InnoDB stayed quiet, then `release`).
    fn locked_work<'e>(
        &self,
        entries: &'e [Entry],
        plan: &mut Plan<'e>,
        release: Release<'e>,
        quiet: Option<Quiet>,
    ) -> Unlock<'e>
    where
        'a: 'e,
    {
        // Aria's checkpoint may write its log and control file at any time,
        // lock or not (see `CONTROL_FILES` in transfer::plan): not a change
        // that tears the copy.
        let watched: Vec<(&Path, u64)> = entries
            .iter()
            .filter(|e| e.class != Class::AriaLog)
            .filter_map(|e| match &e.kind {
                EntryKind::File { source, size } => Some((source.as_path(), *size)),
                _ => None,
            })
            .collect();
        let stamps = Stamps::take(&watched);
        if self.settings.snapshot {
            let started = Instant::now();
            plan.adopt(snapshot::take(&plan.sources()));
            log::info!(
                "snapshot: {} of {} files cloned in {:.3} s",
                plan.files() - plan.locked_files(),
                plan.files(),
                started.elapsed().as_secs_f64()
            );
        }
        let hold = self.settings.test_hold.as_deref();
        let stop = self.stop;
        // The oracle's copy comes before the re-stat, which so covers the
        // copy too.
        Unlock::new(move || {
            if let Some(dir) = hold {
                oracle::hold_donor(dir, entries, stop)?;
            }
            stamps.verify(&watched)?;
            if let Some(quiet) = quiet {
                quiet.verify()?;
            }
            release()
        })
    }
}

/// The joiner's `Have`s up to its `Ready`: which files it holds, how big.
fn read_haves(control: &mut Connection<Transport>, files: u64) -> Result<Vec<Option<u64>>> {
    let mut held = vec![None; files as usize];
    loop {
        match control.expect_frame("the joiner to accept the file list")? {
            Frame::Have { id, size } => {
                let slot = held.get_mut(id as usize).with_context(|| {
                    format!("the joiner holds file id {id}, which we never listed")
                })?;
                ensure!(
                    slot.replace(size).is_none(),
                    "the joiner announced file id {id} twice"
                );
            }
            Frame::Ready => return Ok(held),
            Frame::Refuse { reason } => bail!(
                "the joiner refused the file list: {}",
                String::from_utf8_lossy(reason)
            ),
            other => bail!("expected Ready from the joiner, got {:?}", other.kind()),
        }
    }
}

/// Sends the completion, waits for the joiner's verdict, prints `done`.
fn finish(
    control: &mut Connection<Transport>,
    out: &mut Mariadbd,
    state: &str,
    bypass: bool,
) -> Result<()> {
    control.send(&Frame::Complete {
        bypass,
        state: state.as_bytes(),
    })?;
    match control.expect_frame("the joiner to verify the transfer")? {
        Frame::Done => out.done(state),
        Frame::Refuse { reason } => bail!(
            "the joiner rejected the transfer: {}",
            String::from_utf8_lossy(reason)
        ),
        other => bail!("expected Done from the joiner, got {:?}", other.kind()),
    }
}

/// Connects to the joiner (retrying briefly) and opens `channel`; with
/// the time the TCP connect took, one round trip.
fn open_channel(
    settings: &Settings,
    tls: &Tls,
    key: &Key,
    channel: Channel,
    stop: &Stop,
    limit: &DonorLimit<'_>,
) -> Result<(Connection<Transport>, Duration)> {
    let address = &settings.address;
    let (tcp, round_trip) = connect_any(&resolve(address.host_unescaped(), address.port)?, stop)?;
    stop.watch(&tcp)?;
    let peer = format!("{}:{}", address.host, address.port);
    let stream = tls.wrap(TimedStream::new(tcp, settings.timeouts.idle)?.limited(limit.wire()))?;
    let mut conn = Connection::new(stream, peer);
    handshake::open(&mut conn, key, channel)?;
    Ok((conn, round_trip))
}

/// Connects to the first reachable address, retrying for a few seconds
/// (a refused connection right after `ready` is not worth failing an SST).
/// With the time the successful connect took (SYN to SYN-ACK: one round
/// trip).
fn connect_any(targets: &[SocketAddr], stop: &Stop) -> Result<(TcpStream, Duration)> {
    let started = Instant::now();
    loop {
        stop.check()?;
        let mut last_error = None;
        for target in targets {
            let attempt = Instant::now();
            match TcpStream::connect_timeout(target, CONNECT_PATIENCE) {
                Ok(tcp) => return Ok((tcp, attempt.elapsed())),
                Err(e) => last_error = Some((target, e)),
            }
        }
        if let Some((target, e)) = last_error {
            if started.elapsed() >= CONNECT_PATIENCE {
                return Err(e).with_context(|| {
                    format!(
                        "connecting to the joiner at {target}: its SST port is not reachable \
                         from this node (check firewalls and wsrep_sst_receive_address)"
                    )
                });
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Waits for mariadbd to take the lock and write the state (spec §5.1),
/// keeping the joiner's connection alive; `sst_error` means it failed.
fn wait_flushed(
    flushed: &Path,
    error: &Path,
    control: &mut Connection<Transport>,
    stop: &Stop,
    limit: Duration,
) -> Result<String> {
    let started = Instant::now();
    let mut next_log = FLUSH_LOG_EVERY;
    loop {
        stop.check()?;
        if error.exists() {
            remove_quietly(error);
            return Err(fail(
                Exit::Failed,
                "mariadbd could not flush tables (it created sst_error); \
                 see the server's error log for the reason",
            ));
        }
        if let Ok(text) = read_small(flushed) {
            let line = text.lines().next().unwrap_or("").trim();
            if is_state_line(line) {
                let line = line.to_string();
                remove_quietly(flushed);
                return Ok(line);
            }
        }
        let waited = started.elapsed();
        if waited >= limit {
            return Err(fail(
                Exit::Failed,
                format!(
                    "mariadbd did not report flushed tables within {} s: FLUSH TABLES WITH \
                     READ LOCK is probably waiting for long-running queries; retry later or \
                     raise rsrsync-flush-timeout in [sst]",
                    limit.as_secs()
                ),
            ));
        }
        if waited >= next_log {
            log::info!(
                "still waiting for mariadbd to flush tables ({} s)",
                waited.as_secs()
            );
            next_log += FLUSH_LOG_EVERY;
        }
        control.keepalive()?;
        // The lock is held from here on: notice its state file quickly.
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Everything a donor with `settings` would send now (what `check` and the
/// dry run show): its files and its newest binlogs.
pub(crate) fn transfer_entries(settings: &Settings) -> Result<Vec<Entry>> {
    walk(&settings.layout, &binlogs_of(settings)?, false)
}

/// The binlogs a donor with `settings` sends under the lock.
fn binlogs_of(settings: &Settings) -> Result<Vec<PathBuf>> {
    binlogs_to_send(
        settings.binlog.as_ref(),
        settings.max_binlogs,
        &settings.layout.datadir,
    )
}

/// The newest `max` binlogs named in the index (all when negative), as
/// paths; relative names are relative to the datadir (spec §5.4).
pub(crate) fn binlogs_to_send(
    binlog: Option<&Binlog>,
    max: i64,
    datadir: &Path,
) -> Result<Vec<PathBuf>> {
    let Some(binlog) = binlog else {
        return Ok(Vec::new());
    };
    let index = match std::fs::read(&binlog.index) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(e)
                .with_context(|| format!("reading the binlog index {}", binlog.index.display()));
        }
    };
    let text = String::from_utf8_lossy(&index);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let take = if max < 0 {
        lines.len()
    } else {
        (max as usize).min(lines.len())
    };
    Ok(lines[lines.len() - take..]
        .iter()
        .map(|line| datadir.join(line))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_rounds_repeat_while_they_take_long_and_shrink() {
        let settled = Duration::from_secs(1);
        let laps = |laps: &[(u64, f64)]| -> Vec<Lap> {
            laps.iter()
                .map(|&(unsettled, secs)| Lap { unsettled, secs })
                .collect()
        };
        let again = |l: &[(u64, f64)]| worth_another_live_round(&laps(l), settled);
        assert!(again(&[(2 << 30, 6.0)]), "a long first copy");
        assert!(!again(&[(2 << 30, 0.5)]), "a short one: the lock");
        assert!(!again(&[(0, 3.0)]), "a re-join that found nothing changed");
        assert!(again(&[(2 << 30, 6.0), (500 << 20, 1.5)]), "shrinking");
        assert!(
            !again(&[(100 << 20, 1.5), (60 << 20, 1.5)]),
            "not shrinking"
        );
        assert!(
            !again(&[(2 << 30, 6.0), (500 << 20, 1.5), (100 << 20, 1.2)]),
            "three at most"
        );
        assert!(!again(&[]));
    }

    #[test]
    fn a_round_of_compares_does_not_count_as_copying() {
        let settled = Duration::from_secs(1);
        let again = |l: &[(u64, f64)]| {
            let laps: Vec<Lap> = l
                .iter()
                .map(|&(unsettled, secs)| Lap { unsettled, secs })
                .collect();
            worth_another_live_round(&laps, settled)
        };
        // The WAN link of docs/bench/wan.md before compares were pipelined:
        // 531 MB in 5.1 s, then 18 s of round trips for a few MB.
        assert!(!again(&[(531_000_000, 5.1), (20_000_000, 18.0)]));
        // Copying 2.5 s of a 4 s round: worth one more.
        assert!(again(&[(531_000_000, 5.1), (260_000_000, 4.0)]));
        // A re-join whose first round was mostly compares: its own rate
        // is the best known, so all of it counts as copying.
        assert!(again(&[(50_000_000, 20.0)]));
        assert!(!again(&[(50_000_000, 20.0), (20_000_000, 20.0)]));
    }

    #[test]
    fn newest_binlogs_from_the_index() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let index = tmp.path().join("mysql-bin.index");
        std::fs::write(
            &index,
            "./mysql-bin.000001\n./mysql-bin.000002\n\n/abs/b.000003\n",
        )
        .expect("write");
        let binlog = Binlog {
            dir: tmp.path().into(),
            base: "mysql-bin".into(),
            index,
            index_prefix: ".".into(),
        };
        let names = |max| -> Vec<String> {
            binlogs_to_send(Some(&binlog), max, Path::new("/d"))
                .expect("read")
                .iter()
                .map(|p| p.display().to_string())
                .collect()
        };
        assert_eq!(names(1), ["/abs/b.000003"]);
        assert_eq!(names(2), ["/d/./mysql-bin.000002", "/abs/b.000003"]);
        assert_eq!(names(0), Vec::<String>::new());
        assert_eq!(names(-1).len(), 3);
        assert_eq!(names(10).len(), 3);
    }
}
