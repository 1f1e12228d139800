//! TLS settings: which mode and which files the configuration asks for,
//! resolved exactly as the rsync method resolves them.
//!
//! Legacy `[sst]` keys `tca`, `tcapath`, `tcert`, `tkey` win over the
//! server's `ssl-ca`, `ssl-capath`, `ssl-cert`, `ssl-key` (from the server
//! groups or `[sst]`); then the role's own `ssl-server-*` (joiner, the TLS
//! server) or `ssl-client-*` (donor) override each value. A CA that ends
//! with `/` or is a directory is a CA path. An empty `ssl-mode` is derived:
//! `VERIFY_CA` with a CA, `REQUIRED` with a certificate and key, else none.

use std::path::PathBuf;

use super::Config;
use super::source::{Problem, Severity, Source, Value};
use crate::cli::Role;
use crate::exit::Exit;
use crate::tls::{SslMode, TlsSettings};

const SERVER_OR_SST: &str = "--mysqld|sst";

/// Every key TLS is resolved from.
pub(crate) const TLS_KEYS: &[&str] = &[
    "ssl-mode",
    "ssl-ca",
    "ssl-capath",
    "ssl-cert",
    "ssl-key",
    "tca",
    "tcapath",
    "tcert",
    "tkey",
    "ssl-server-ca",
    "ssl-server-capath",
    "ssl-server-cert",
    "ssl-server-key",
    "ssl-client-ca",
    "ssl-client-capath",
    "ssl-client-cert",
    "ssl-client-key",
];

/// One role's TLS settings, with the rows that show them (`ssl-mode`,
/// then each file that is set) and what is worth saying about them.
#[derive(Debug)]
pub(crate) struct ResolvedTls {
    pub(crate) settings: TlsSettings,
    pub(crate) values: Vec<Value>,
    pub(crate) notes: Vec<Problem>,
}

/// The options that name the CA, CA path, certificate and key for `role`,
/// with the rsync method's precedence: legacy `[sst]` `tca`, `tcapath`,
/// `tcert`, `tkey` if any is set, else `ssl-ca`, `ssl-capath`, `ssl-cert`,
/// `ssl-key`; then each `ssl-server-*` (joiner) or `ssl-client-*` (donor)
/// that is set. Each as its value and source. Also says whether legacy
/// keys hid different server keys.
fn pick_files(config: &Config, role: Role) -> ([Option<(String, Source)>; 4], bool) {
    let lookup = |groups: &str, key: &str| {
        config
            .lookup(groups, key)
            .map(|(value, origin)| (value, Source::file(origin)))
    };
    let legacy = ["tca", "tcapath", "tcert", "tkey"].map(|key| lookup("sst", key));
    let modern =
        ["ssl-ca", "ssl-capath", "ssl-cert", "ssl-key"].map(|key| lookup(SERVER_OR_SST, key));
    let values = |slots: &[Option<(String, Source)>; 4]| {
        slots
            .iter()
            .map(|slot| slot.as_ref().map(|(value, _)| value.clone()))
            .collect::<Vec<_>>()
    };
    let hidden = legacy.iter().any(Option::is_some)
        && modern.iter().any(Option::is_some)
        && values(&modern) != values(&legacy);
    let mut slots = if legacy.iter().any(Option::is_some) {
        legacy
    } else {
        modern
    };
    let prefix = match role {
        Role::Joiner => "ssl-server",
        Role::Donor => "ssl-client",
    };
    for (slot, name) in slots.iter_mut().zip(["ca", "capath", "cert", "key"]) {
        if let Some(found) = lookup(SERVER_OR_SST, &format!("{prefix}-{name}")) {
            *slot = Some(found);
        }
    }
    (slots, hidden)
}

/// Resolves mode and files for `role`; an unknown `ssl-mode`, or a
/// `VERIFY_*` mode without a CA, is a problem that stops the SST with
/// exit 22, like the scripts.
pub(crate) fn resolve(config: &Config, role: Role) -> Result<ResolvedTls, Problem> {
    let ([mut ca, mut capath, cert, key], hidden) = pick_files(config, role);
    let mut notes = Vec::new();
    if hidden {
        notes.push(Problem::new(
            "TLS",
            Severity::Info,
            "new ssl configuration options (ssl-ca[path], ssl-cert and ssl-key) are \
             ignored by SST due to presence of the tca[path], tcert and/or tkey in the \
             [sst] section",
            "",
        ));
    }
    if let Some((value, source)) = ca.take() {
        if value.ends_with('/') || std::path::Path::new(&value).is_dir() {
            let how = Source::Derived(format!("{source} (a directory: a CA path)"));
            capath = Some((value, how));
        } else {
            ca = Some((value, source));
        }
    }
    let at = match Source::of(config, SERVER_OR_SST, "ssl-mode") {
        Source::Default => String::new(),
        source => format!(" at {source}"),
    };
    let mode = match config.lookup(SERVER_OR_SST, "ssl-mode") {
        Some((text, origin)) => {
            let mode = match text.to_ascii_uppercase().as_str() {
                "DISABLED" => SslMode::Disabled,
                "REQUIRED" => SslMode::Required,
                "VERIFY_CA" => SslMode::VerifyCa,
                "VERIFY_IDENTITY" => SslMode::VerifyIdentity,
                _ => {
                    return Err(Problem::new(
                        "TLS",
                        Severity::Stop(Exit::Invalid),
                        format!("Unrecognized ssl-mode option: '{text}'"),
                        format!(
                            "set ssl-mode{at} to DISABLED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY"
                        ),
                    ));
                }
            };
            (mode, Source::file(origin))
        }
        None if ca.is_some() || capath.is_some() => (
            SslMode::VerifyCa,
            Source::Derived("derived: a CA is set".into()),
        ),
        None if cert.is_some() && key.is_some() => (
            SslMode::Required,
            Source::Derived("derived: a certificate and key are set".into()),
        ),
        None => (
            SslMode::Disabled,
            Source::Derived("default: no TLS settings".into()),
        ),
    };
    if matches!(mode.0, SslMode::VerifyCa | SslMode::VerifyIdentity)
        && ca.is_none()
        && capath.is_none()
    {
        return Err(Problem::new(
            "TLS",
            Severity::Stop(Exit::Invalid),
            format!(
                "Can't have ssl-mode='{}' without CA file or path",
                mode.0.name()
            ),
            format!(
                "set ssl-ca (or tca in [sst]) to the CA certificate that issued both nodes' \
                 certificates, or lower ssl-mode{at} to REQUIRED"
            ),
        ));
    }
    let mut values = vec![Value::new("ssl-mode", mode.0.name(), mode.1)];
    for (name, slot) in [
        ("ssl-ca", &ca),
        ("ssl-capath", &capath),
        ("ssl-cert", &cert),
        ("ssl-key", &key),
    ] {
        if let Some((path, source)) = slot {
            values.push(Value::new(name, path.clone(), source.clone()));
        }
    }
    let path = |slot: Option<(String, Source)>| slot.map(|(value, _)| PathBuf::from(value));
    Ok(ResolvedTls {
        settings: TlsSettings {
            mode: mode.0,
            ca: path(ca),
            capath: path(capath),
            cert: path(cert),
            key: path(key),
        },
        values,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(cnf: &str, role: Role) -> Result<TlsSettings, Problem> {
        let config = Config::from_cnf_bytes(cnf.as_bytes(), None).expect("cnf");
        super::resolve(&config, role).map(|resolved| resolved.settings)
    }

    fn files(t: &TlsSettings) -> [Option<&str>; 4] {
        [&t.ca, &t.capath, &t.cert, &t.key].map(|p| p.as_ref().and_then(|p| p.to_str()))
    }

    #[test]
    fn mode_is_derived_from_the_files() {
        let t = resolve("", Role::Joiner).expect("nothing");
        assert_eq!(t.mode, SslMode::Disabled);
        assert!(!t.enabled());
        let t = resolve("[mysqld]\nssl-cert=/c\nssl-key=/k\n", Role::Joiner).expect("cert");
        assert_eq!(t.mode, SslMode::Required);
        let t = resolve(
            "[mysqld]\nssl-ca=/ca\nssl-cert=/c\nssl-key=/k\n",
            Role::Donor,
        )
        .expect("ca");
        assert_eq!(t.mode, SslMode::VerifyCa);
        let t = resolve(
            "[sst]\nssl_mode=disabled\n[mysqld]\nssl-ca=/ca\n",
            Role::Donor,
        )
        .expect("explicit");
        assert_eq!(t.mode, SslMode::Disabled);
    }

    #[test]
    fn legacy_keys_win_and_roles_override() {
        let cnf = "[mysqld]\nssl-ca=/new/ca\nssl-cert=/new/c\nssl-key=/new/k\n\
                   ssl-server-cert=/srv/c\nssl-client-key=/cli/k\n\
                   [sst]\ntca=/old/ca\ntcert=/old/c\ntkey=/old/k\n";
        let joiner = resolve(cnf, Role::Joiner).expect("joiner");
        assert_eq!(
            files(&joiner),
            [Some("/old/ca"), None, Some("/srv/c"), Some("/old/k")]
        );
        let donor = resolve(cnf, Role::Donor).expect("donor");
        assert_eq!(
            files(&donor),
            [Some("/old/ca"), None, Some("/old/c"), Some("/cli/k")]
        );
    }

    #[test]
    fn a_ca_directory_is_a_ca_path() {
        let t = resolve(
            "[mysqld]\nssl-ca=/etc/ssl/certs/\nssl-capath=\n",
            Role::Joiner,
        )
        .expect("capath");
        assert_eq!(files(&t), [None, Some("/etc/ssl/certs/"), None, None]);
        assert_eq!(t.mode, SslMode::VerifyCa);
    }

    #[test]
    fn bad_modes_are_exit_22() {
        for cnf in [
            "[sst]\nssl-mode=PREFERRED\n",
            "[sst]\nssl-mode=VERIFY_IDENTITY\n",
        ] {
            let problem = resolve(cnf, Role::Joiner).expect_err("must fail");
            assert_eq!(problem.severity, Severity::Stop(Exit::Invalid), "{cnf}");
        }
    }
}
