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

use anyhow::Result;

use crate::cli::Role;
use crate::config::Config;
use crate::exit::{Exit, fail};
use crate::tls::{SslMode, TlsSettings};

const SERVER_OR_SST: &str = "--mysqld|sst";

/// The options that name the CA, CA path, certificate and key for `role`,
/// with the rsync method's precedence: legacy `[sst]` `tca`, `tcapath`,
/// `tcert`, `tkey` if any is set, else `ssl-ca`, `ssl-capath`, `ssl-cert`,
/// `ssl-key`; then each `ssl-server-*` (joiner) or `ssl-client-*` (donor)
/// that is set. `lookup(groups, key)` gives what the caller wants to know
/// of an option (its value, or where it is written). Also says whether
/// legacy keys hid different server keys.
pub(crate) fn pick_files<T: PartialEq>(
    role: Role,
    lookup: impl Fn(&str, &str) -> Option<T>,
) -> ([Option<T>; 4], bool) {
    let legacy = ["tca", "tcapath", "tcert", "tkey"].map(|key| lookup("sst", key));
    let modern =
        ["ssl-ca", "ssl-capath", "ssl-cert", "ssl-key"].map(|key| lookup(SERVER_OR_SST, key));
    let hidden = legacy.iter().any(Option::is_some)
        && modern.iter().any(Option::is_some)
        && modern != legacy;
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
/// `VERIFY_*` mode without a CA, is exit 22 like the scripts.
pub(crate) fn resolve_tls(config: &Config, role: Role) -> Result<TlsSettings> {
    let ([mut ca, mut capath, cert, key], hidden) =
        pick_files(role, |groups, key| config.get(groups, key));
    if hidden {
        log::info!(
            "new ssl configuration options (ssl-ca[path], ssl-cert and ssl-key) are \
             ignored by SST due to presence of the tca[path], tcert and/or tkey in the \
             [sst] section"
        );
    }
    if let Some(value) = ca.take() {
        if value.ends_with('/') || std::path::Path::new(&value).is_dir() {
            capath = Some(value);
        } else {
            ca = Some(value);
        }
    }
    let mode = match config.get(SERVER_OR_SST, "ssl-mode") {
        Some(text) => match text.to_ascii_uppercase().as_str() {
            "DISABLED" => SslMode::Disabled,
            "REQUIRED" => SslMode::Required,
            "VERIFY_CA" => SslMode::VerifyCa,
            "VERIFY_IDENTITY" => SslMode::VerifyIdentity,
            _ => {
                return Err(fail(
                    Exit::Invalid,
                    format!("Unrecognized ssl-mode option: '{text}'"),
                ));
            }
        },
        None if ca.is_some() || capath.is_some() => SslMode::VerifyCa,
        None if cert.is_some() && key.is_some() => SslMode::Required,
        None => SslMode::Disabled,
    };
    if matches!(mode, SslMode::VerifyCa | SslMode::VerifyIdentity)
        && ca.is_none()
        && capath.is_none()
    {
        return Err(fail(
            Exit::Invalid,
            format!(
                "Can't have ssl-mode='{}' without CA file or path",
                mode.name()
            ),
        ));
    }
    Ok(TlsSettings {
        mode,
        ca: ca.map(PathBuf::from),
        capath: capath.map(PathBuf::from),
        cert: cert.map(PathBuf::from),
        key: key.map(PathBuf::from),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(cnf: &str, role: Role) -> Result<TlsSettings> {
        resolve_tls(&Config::from_cnf_bytes(cnf.as_bytes(), None)?, role)
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
            let err = resolve(cnf, Role::Joiner).expect_err("must fail");
            assert_eq!(crate::exit::exit_of(&err), Some(Exit::Invalid), "{cnf}");
        }
    }
}
