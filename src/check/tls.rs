//! TLS as each role would set it up: the mode and files resolved as the
//! rsync method resolves them (with the place each came from), then the
//! files opened, the key matched to the certificate and the certificate
//! to the CA by the very code an SST runs ([`Tls::joiner`], [`Tls::donor`]),
//! and the certificate's validity dates.

use std::path::Path;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use super::report::Report;
use super::resolve::Node;
use crate::cli::Role;
use crate::config::tls::{ResolvedTls, resolve};
use crate::tls::{SslMode, Tls, TlsSettings};

/// A certificate this close to its end is a warning.
const EXPIRY_WARNING_DAYS: i64 = 30;

/// Checks both roles' TLS and adds their rows and findings.
pub(crate) fn check(node: &Node, report: &mut Report) {
    let joiner = resolve(&node.config, Role::Joiner);
    let donor = resolve(&node.config, Role::Donor);
    match (&joiner, &donor) {
        (Ok(j), Ok(d)) if j.settings == d.settings => {
            rows(j, "", "TLS", report);
            // Same files for both roles: judge them once; the donor's
            // context only adds its own requirements.
            if check_role(node, Role::Joiner, &j.settings, "TLS", report) {
                if let Err(err) = Tls::donor(&d.settings, &node.address, "") {
                    let message = format!("{err:#}");
                    report.fail(
                        "TLS",
                        format!("as the donor: {message}; an SST would stop with exit 22"),
                        advice(&message),
                    );
                }
            }
        }
        _ => {
            for (role, resolved, topic, suffix) in [
                (Role::Joiner, &joiner, "TLS (joiner)", " (joiner)"),
                (Role::Donor, &donor, "TLS (donor)", " (donor)"),
            ] {
                match resolved {
                    Ok(tls) => {
                        rows(tls, suffix, topic, report);
                        check_role(node, role, &tls.settings, topic, report);
                    }
                    Err(problem) => report.problem(topic, problem),
                }
            }
        }
    }
}

/// The settings rows and notes of one role (`suffix` tells the roles
/// apart when they differ).
fn rows(tls: &ResolvedTls, suffix: &str, topic: &str, report: &mut Report) {
    for value in &tls.values {
        report.setting(
            &format!("{}{suffix}", value.key),
            value.value.clone(),
            value.source.clone(),
        );
    }
    for note in &tls.notes {
        report.problem(topic, note);
    }
}

/// Checks one role's files and builds its TLS context; `true` when it
/// could be built.
fn check_role(
    node: &Node,
    role: Role,
    tls: &TlsSettings,
    topic: &str,
    report: &mut Report,
) -> bool {
    let side = match role {
        Role::Joiner => "joiner",
        Role::Donor => "donor",
    };
    if !tls.enabled() {
        report.info(
            topic,
            "ssl-mode is DISABLED (no TLS settings): every connection must prove the \
             per-SST secret, but data travels unencrypted",
        );
        return true;
    }
    let mut pair = true;
    for (what, path) in [("certificate", &tls.cert), ("private key", &tls.key)] {
        if let Some(path) = path {
            pair &= file_readable(path, what, topic, report);
        }
    }
    let mut authority = tls
        .ca
        .as_ref()
        .is_none_or(|ca| file_readable(ca, "CA file", topic, report));
    if let Some(dir) = &tls.capath {
        if !dir.is_dir() {
            authority = false;
            report.fail(
                topic,
                format!("the CA path {} is not a directory", dir.display()),
                "point ssl-capath (or ssl-ca ending in '/') at a directory of PEM CA certificates",
            );
        }
    }
    if !(pair && authority) {
        if pair && tls.cert.is_some() && tls.key.is_some() {
            // The CA is what is missing: still say whether the key and
            // certificate belong together, so one run shows both problems.
            let without_ca = TlsSettings {
                mode: SslMode::Required,
                ca: None,
                capath: None,
                ..tls.clone()
            };
            if let Err(err) = Tls::joiner(&without_ca) {
                let message = format!("{err:#}");
                report.fail(topic, message.clone(), advice(&message));
            }
        }
        return false;
    }
    let built = match role {
        Role::Joiner => Tls::joiner(tls).map(drop),
        Role::Donor => Tls::donor(tls, &node.address, "").map(drop),
    };
    let ok = built.is_ok();
    match built {
        Err(err) => {
            let message = format!("{err:#}");
            let fix = advice(&message);
            report.fail(
                topic,
                format!("as the {side}: {message}; an SST would stop with exit 22"),
                fix,
            );
        }
        Ok(()) => {
            let mut what = vec![format!("ssl-mode={}", tls.mode.name())];
            if tls.cert.is_some() {
                what.push("the key matches the certificate".into());
            }
            if tls.ca.is_some() || tls.capath.is_some() {
                what.push("the certificate chains to the CA".into());
            }
            report.ok(topic, format!("as the {side}: {}", what.join(", ")));
        }
    }
    if let Some(cert) = &tls.cert {
        validity(cert, topic, report);
    }
    if role == Role::Joiner && tls.mode == SslMode::Required && tls.ca.is_none() {
        report.info(
            topic,
            "REQUIRED encrypts without checking certificates; use VERIFY_CA with a CA on \
             networks you do not trust",
        );
    }
    ok
}

/// Fails unless `path` is a readable file.
fn file_readable(path: &Path, what: &str, topic: &str, report: &mut Report) -> bool {
    match std::fs::File::open(path) {
        Ok(_) if path.is_dir() => {
            report.fail(
                topic,
                format!("the {what} {} is a directory", path.display()),
                format!("point the setting at the {what} file itself"),
            );
            false
        }
        Ok(_) => true,
        Err(err) => {
            let fix = match err.kind() {
                std::io::ErrorKind::NotFound => {
                    format!("create the {what} there, or fix the path in the setting named above")
                }
                std::io::ErrorKind::PermissionDenied => format!(
                    "make the {what} readable by the user mariadbd runs as (chmod/chown), \
                     and run check as root or as that user"
                ),
                _ => format!("fix the {what} or the setting that names it"),
            };
            report.fail(
                topic,
                format!("cannot open the {what} {}: {err}", path.display()),
                fix,
            );
            false
        }
    }
}

/// What to do about an error from building the TLS context.
fn advice(message: &str) -> String {
    let pick = [
        (
            "does not match the certificate",
            "use the private key that belongs to the certificate: `openssl x509 -noout \
             -pubkey -in CERT` and `openssl pkey -pubout -in KEY` must print the same key",
        ),
        (
            "not issued by the configured CA",
            "use a certificate signed by the configured CA, or point ssl-ca at the CA that \
             signed it (`openssl verify -CAfile CA CERT` must say OK)",
        ),
        (
            "needs",
            "set the missing certificate/key settings, or lower ssl-mode",
        ),
        (
            "private key",
            "point ssl-key (or tkey) at a PEM private key (PKCS#8, PKCS#1 or SEC1)",
        ),
        (
            "CA",
            "point ssl-ca (or tca) at a PEM file of CA certificates, or ssl-capath at a \
             directory of them",
        ),
        (
            "certificate",
            "point ssl-cert (or tcert) at a PEM certificate",
        ),
    ];
    pick.iter()
        .find(|(needle, _)| message.contains(needle))
        .map_or("fix the TLS settings named above", |(_, fix)| fix)
        .to_string()
}

/// Warns about a certificate that expires soon; fails an expired one.
fn validity(cert: &Path, topic: &str, report: &mut Report) {
    let Ok(Some(Ok(der))) = CertificateDer::pem_file_iter(cert).map(|mut certs| certs.next())
    else {
        return;
    };
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(der.as_ref()) else {
        return;
    };
    let now = chrono::Utc::now().timestamp();
    let validity = parsed.validity();
    let (from, until) = (
        validity.not_before.timestamp(),
        validity.not_after.timestamp(),
    );
    let renew = "renew the certificate; nothing needs a restart, the next SST reads it";
    if until < now {
        report.fail(
            topic,
            format!(
                "the certificate {} expired on {}",
                cert.display(),
                validity.not_after
            ),
            renew,
        );
    } else if from > now {
        report.fail(
            topic,
            format!(
                "the certificate {} is not valid before {} (check the clock)",
                cert.display(),
                validity.not_before
            ),
            "fix the system clock or use a certificate valid now",
        );
    } else if until - now < EXPIRY_WARNING_DAYS * 86_400 {
        report.warn(
            topic,
            format!(
                "the certificate {} expires in {} days ({})",
                cert.display(),
                (until - now) / 86_400,
                validity.not_after
            ),
            renew,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::report::Status;

    #[test]
    fn advice_matches_the_errors_we_emit() {
        assert!(
            advice("the private key /k does not match the certificate /c: x").contains("pubkey")
        );
        assert!(
            advice("this node's certificate is not issued by the configured CA: x")
                .contains("openssl verify")
        );
        assert!(advice("cannot read the private key /k: x").contains("PEM private key"));
        assert!(advice("cannot read the CA file /ca: x").contains("ssl-ca"));
        assert!(advice("no certificate in /c").contains("ssl-cert"));
        assert!(advice("ssl-mode=REQUIRED needs a certificate").contains("missing"));
    }

    #[test]
    fn unreadable_files_fail_with_a_fix() {
        let mut report = Report::default();
        assert!(!file_readable(
            Path::new("/nonexistent/c.pem"),
            "certificate",
            "TLS",
            &mut report
        ));
        assert_eq!(report.findings[0].status, Status::Fail);
        assert!(
            report.findings[0]
                .fix
                .as_deref()
                .unwrap_or("")
                .contains("create the certificate")
        );
    }
}
