//! `--role donor --dry-run`: the donor's plan for the arguments mariadbd
//! would pass, without doing any of it.
//!
//! It resolves the settings and the TLS context, reads the binlog index
//! and walks the file set exactly as a donor does, then prints the files,
//! their sizes and, with `--rate` or a rate limit (`rlimit`, the lower of
//! the two), the time the copy would take (under `rsrsync-lock=full`, the
//! time of the read lock, which the limit stretches only with
//! `rlimit-lock=on`; under `short`, of the live round before it). It never
//! prints `flush tables`, never connects to
//! the joiner, and writes nothing: no pid file, no `tables_flushed`
//! clean-up, no log into the datadir.

use std::ffi::OsStr;

use anyhow::Result;
use serde_json::json;

use super::args::DryRunArgs;
use super::output::{emit, settings_json, settings_table};
use super::report::{class_key, class_name};
use crate::cli::Role;
use crate::config::Config;
use crate::config::{Settings, Streams};
use crate::exit::{Exit, fail};
use crate::fsutil::human_bytes;
use crate::roles::donor::transfer_entries;
use crate::server_input::{RemoteAuth, read_remote_auth};
use crate::tls::Tls;
use crate::transfer::plan::Plan;
use crate::transfer::snapshot;
use crate::transfer::walk::{Entry, EntryKind};

/// Prints the donor's plan.
pub(crate) fn run(args: &DryRunArgs, program: &OsStr) -> Result<()> {
    let parsed = crate::cli::parse(args.sst_args.iter().cloned())
        .map_err(|e| fail(Exit::Invalid, e.to_string()))?;
    if parsed.role == Some(Role::Joiner) {
        return Err(fail(
            Exit::Invalid,
            "--dry-run shows what a donor would send; for a joiner run \
             'wsrep_sst_rsrsync check' (it tries the SST port and the free space)",
        ));
    }
    let config = Config::load(&Settings::defaults_options(&parsed))?;
    // As the donor: MariaDB 11.x writes the joiner's secret on stdin.
    let stdin = if std::env::var_os("WSREP_SST_OPT_REMOTE_AUTH").is_none_or(|v| v.is_empty()) {
        read_remote_auth()
    } else {
        RemoteAuth::default()
    };
    let settings = Settings::resolve(&parsed, program, &|k| std::env::var_os(k), &stdin, &config)?;
    let user = settings
        .remote_auth
        .as_ref()
        .map(|(user, _)| user.as_str())
        .unwrap_or("");
    // Loads and checks the certificate, key and CA as the donor would
    // before connecting; a problem is the donor's exit 22.
    Tls::donor(&settings.tls, &settings.address, user)?;
    let text = if settings.bypass {
        ist(&settings, args.json)
    } else {
        sst(&settings, &transfer_entries(&settings)?, args)?
    };
    emit(&text)
}

fn header(settings: &Settings) -> Vec<(String, String)> {
    let address = &settings.address;
    let mut rows = vec![
        (
            "joiner".to_string(),
            format!(
                "{}:{} (not contacted; a donor connects there and proves the joiner's secret)",
                address.host, address.port
            ),
        ),
        (
            "TLS".to_string(),
            format!(
                "ssl-mode={}{}",
                settings.tls.mode.name(),
                if settings.tls.enabled() {
                    " (certificate, key and CA loaded and checked)"
                } else {
                    ""
                }
            ),
        ),
    ];
    if let Some(limit) = &settings.rlimit {
        rows.push((
            "rlimit".to_string(),
            limit.describe(settings.short_lock, settings.rlimit_lock),
        ));
    }
    if settings.remote_auth.is_none() {
        rows.push((
            "secret".to_string(),
            "not given: a real donor gets the joiner's secret from mariadbd \
             (WSREP_SST_OPT_REMOTE_AUTH, or on stdin from MariaDB 11) and stops without it"
                .to_string(),
        ));
    }
    rows
}

fn ist(settings: &Settings, json_output: bool) -> String {
    let state = settings.gtid_state.clone().unwrap_or_default();
    if json_output {
        return format!(
            "{:#}\n",
            json!({
                "mode": "ist",
                "joiner": format!("{}:{}", settings.address.host, settings.address.port),
                "ssl_mode": settings.tls.mode.name(),
                "state": state,
                "settings": settings_json(&settings.values),
                "files": [],
            })
        );
    }
    let mut out = intro();
    for (key, value) in header(settings) {
        out.push_str(&format!("  {key:<14} {value}\n"));
    }
    out.push_str(&format!(
        "  {:<14} IST (--bypass): only the state '{state}' would be sent; no files, no \
         read lock\n\n",
        "mode"
    ));
    out.push_str(&settings_table(&settings.values));
    out
}

fn intro() -> String {
    "Dry run of the donor (nothing was locked, sent or written; mariadbd was not asked \
     to flush tables)\n\n"
        .to_string()
}

fn sst(settings: &Settings, entries: &[Entry], args: &DryRunArgs) -> Result<String> {
    let plan = Plan::new(entries)?;
    // What a loopback or LAN link gets; a long round trip may get more.
    let streams = settings.streams.least();
    let lock = if settings.short_lock { "short" } else { "full" };
    let dirs = entries
        .iter()
        .filter(|e| matches!(e.kind, EntryKind::Dir))
        .count();
    let rate = estimate_rate(settings, args.rate);
    let seconds = rate
        .as_ref()
        .map(|(rate, _)| plan.bytes() as f64 / *rate as f64);
    // What the donor would find before its first round (see
    // roles::donor): every file clonable means one round after the lock.
    let snapshot = if settings.snapshot {
        snapshot::covers(&plan.sources()).map_err(|why| why.to_string())
    } else {
        Err("rsrsync-snapshot=off or rsrsync-lock=full".to_string())
    };
    let files = entries.iter().filter_map(|e| match &e.kind {
        EntryKind::File { source, size } => Some((e, source, *size)),
        EntryKind::Dir | EntryKind::Link { .. } => None,
    });
    if args.json {
        let files: Vec<_> = files
            .map(|(e, source, size)| {
                json!({
                    "class": class_key(e.class),
                    "path": e.path.to_string(),
                    "source": source.display().to_string(),
                    "size": size,
                })
            })
            .collect();
        let document = json!({
            "mode": "sst",
            "joiner": format!("{}:{}", settings.address.host, settings.address.port),
            "ssl_mode": settings.tls.mode.name(),
            "streams": streams,
            "dirs": dirs,
            "total_files": plan.files(),
            "total_bytes": plan.bytes(),
            "rate": args.rate,
            "rlimit": settings.rlimit.as_ref().map(|l| l.rate),
            "rlimit_lock": settings.rlimit_lock,
            "estimate_rate": rate.as_ref().map(|(rate, _)| rate),
            "estimated_seconds": seconds,
            "lock": lock,
            "estimated_lock_seconds": if settings.short_lock { None } else { seconds },
            "snapshot": snapshot.is_ok(),
            "snapshot_refused": snapshot.as_ref().err(),
            "settings": settings_json(&settings.values),
            "files": files,
        });
        return Ok(format!("{document:#}\n"));
    }
    let mut out = intro();
    for (key, value) in header(settings) {
        out.push_str(&format!("  {key:<14} {value}\n"));
    }
    out.push_str(&format!(
        "  {:<14} SST, rsrsync-lock={lock}: {}\n",
        "mode",
        match (&snapshot, settings.short_lock) {
            (Ok(()), _) => "mariadbd would hold FLUSH TABLES WITH READ LOCK while the donor \
                clones the files below (reflink), then one round sends the clones and the \
                binlogs after the lock"
                .to_string(),
            (Err(why), true) => format!(
                "a live round would copy the files below while the server runs, then \
                 mariadbd would hold FLUSH TABLES WITH READ LOCK while a second round sends \
                 only what changed meanwhile, and the binlogs (no snapshot: {why})"
            ),
            (Err(_), false) => {
                "mariadbd would hold FLUSH TABLES WITH READ LOCK for the whole copy".to_string()
            }
        }
    ));
    out.push_str(&format!(
        "  {:<14} the joiner skips blocks it already holds (unless its rsrsync-delta=off): \
         sizes and times are upper bounds\n",
        "delta"
    ));
    out.push_str(&format!(
        "  {:<14} {streams}{} ({} files)\n\n",
        "data streams",
        match settings.streams {
            Streams::Set(_) => " (backup-threads)",
            Streams::PerCore(_) => {
                ", one per core; more on a link with a long round trip (the SST logs \
                 how many)"
            }
        },
        plan.files()
    ));
    out.push_str(&settings_table(&settings.values));
    out.push_str("\nFiles, in the order they would be announced\n");
    let mut rows: Vec<(String, String, String)> = files
        .map(|(e, source, size)| {
            (
                class_name(e.class).to_string(),
                source.display().to_string(),
                human_bytes(size),
            )
        })
        .collect();
    if rows.is_empty() {
        rows.push(("(none)".into(), String::new(), String::new()));
    }
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let path_width = rows
        .iter()
        .map(|r| r.1.chars().count())
        .max()
        .unwrap_or(0)
        .min(72);
    for (class, path, size) in rows {
        out.push_str(&format!(
            "  {class:<width$}  {path:<path_width$}  {size:>10}\n"
        ));
    }
    out.push_str(&format!(
        "\nTotal: {} files, {} ({} bytes), {dirs} database director{}\n",
        plan.files(),
        human_bytes(plan.bytes()),
        plan.bytes(),
        if dirs == 1 { "y" } else { "ies" }
    ));
    out.push_str(&match (&rate, seconds) {
        (Some((rate, why)), Some(secs)) if settings.short_lock => format!(
            "Estimated time at {}/s{why}: {} for the live round (no lock); the lock then \
             lasts only as long as the differences take\n",
            human_bytes(*rate),
            duration(secs)
        ),
        (Some((rate, why)), Some(secs)) => format!(
            "Estimated time at {}/s{why}: {} (the read lock would be held about as long)\n",
            human_bytes(*rate),
            duration(secs)
        ),
        _ => {
            "Estimated time: give --rate (e.g. --rate 200M for 200 MiB/s) to estimate\n".to_string()
        }
    });
    Ok(out)
}

/// The rate to estimate the copy with, and what it is when the rate limit
/// set it: the lower of `--rate` and the limit, when the limit holds for
/// the estimated round (the live one; the locked one only with
/// `rlimit-lock=on`).
fn estimate_rate(settings: &Settings, given: Option<u64>) -> Option<(u64, String)> {
    let limit = settings
        .rlimit
        .as_ref()
        .filter(|_| settings.short_lock || settings.rlimit_lock);
    match (given, limit) {
        (Some(given), Some(limit)) if given <= limit.rate => Some((given, String::new())),
        (_, Some(limit)) => Some((
            limit.rate,
            format!(" (the rate limit, rlimit={})", limit.value),
        )),
        (given, None) => given.map(|g| (g, String::new())),
    }
}

/// `7.3 s`, `12 min 5 s`, `2 h 3 min`.
pub(super) fn duration(secs: f64) -> String {
    if secs < 60.0 {
        return format!("{secs:.1} s");
    }
    let whole = secs.round() as u64;
    if whole < 3600 {
        return format!("{} min {} s", whole / 60, whole % 60);
    }
    format!("{} h {} min", whole / 3600, (whole % 3600) / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration(7.25), "7.2 s");
        assert_eq!(duration(725.0), "12 min 5 s");
        assert_eq!(duration(7380.0), "2 h 3 min");
    }
}
