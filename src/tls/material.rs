//! Certificates, keys and CAs from the files my.cnf names, checked the way
//! the rsync method checks them before it starts stunnel: the key matches
//! the certificate, the certificate is issued by the CA. Any problem is
//! exit 22 with the file named.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::legacy;
use crate::exit::{Exit, fail};

/// A certificate chain (leaf first) with its private key, ready to be
/// presented.
#[derive(Debug)]
pub(crate) struct Identity {
    pub(crate) certified: Arc<CertifiedKey>,
}

impl Identity {
    pub(crate) fn chain(&self) -> &[CertificateDer<'static>] {
        &self.certified.cert
    }
}

/// Most certificates loaded from one CA file or CA directory.
const MAX_CERTS: usize = 10_000;

fn invalid(message: String) -> anyhow::Error {
    fail(Exit::Invalid, message)
}

/// Loads a certificate chain and its key and checks that they match (any
/// X.509 version: see [`legacy`](super::legacy)).
pub(crate) fn load_identity(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<Identity> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.take(MAX_CERTS).collect())
        .map_err(|e| {
            invalid(format!(
                "cannot read the certificate {}: {e}",
                cert.display()
            ))
        })?;
    if chain.is_empty() {
        return Err(invalid(format!("no certificate in {}", cert.display())));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        invalid(format!(
            "cannot read the private key {}: {e}",
            key.display()
        ))
    })?;
    let signing = provider
        .key_provider
        .load_private_key(key_der)
        .map_err(|e| invalid(format!("cannot use the private key {}: {e}", key.display())))?;
    let leaf_key = legacy::spki(&chain[0])
        .ok_or_else(|| invalid(format!("cannot parse the certificate {}", cert.display())))?;
    if signing.public_key().is_some_and(|k| k != leaf_key) {
        return Err(invalid(format!(
            "the private key {} does not match the certificate {}",
            key.display(),
            cert.display()
        )));
    }
    Ok(Identity {
        certified: Arc::new(CertifiedKey::new(chain, signing)),
    })
}

/// The configured CAs: as trust anchors for webpki, and as certificates
/// for the version-1 check.
#[derive(Debug, Clone)]
pub(crate) struct Roots {
    pub(crate) store: Arc<RootCertStore>,
    pub(crate) certs: Arc<[CertificateDer<'static>]>,
}

/// The trust anchors from a CA file and/or a CA directory (every
/// certificate file in it, like an OpenSSL hash directory).
pub(crate) fn load_roots(ca: Option<&Path>, capath: Option<&Path>) -> Result<Roots> {
    let mut roots = RootCertStore::empty();
    let mut all = Vec::new();
    if let Some(ca) = ca {
        let certs = read_certs(ca)
            .map_err(|e| invalid(format!("cannot read the CA file {}: {e:#}", ca.display())))?;
        all.extend(certs.iter().cloned());
        add_roots(&mut roots, certs, ca)?;
    }
    if let Some(dir) = capath {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| invalid(format!("cannot read the CA path {}: {e}", dir.display())))?;
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths.into_iter().take(MAX_CERTS) {
            // Hash directories also hold CRLs and stray files: take what parses.
            if let Ok(certs) = read_certs(&path) {
                for cert in certs {
                    if roots.add(cert.clone()).is_ok() {
                        all.push(cert);
                    }
                }
            }
        }
    }
    if roots.is_empty() {
        let shown = [ca, capath]
            .iter()
            .flatten()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(invalid(format!("no CA certificate found in {shown}")));
    }
    Ok(Roots {
        store: Arc::new(roots),
        certs: all.into(),
    })
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)?
        .take(MAX_CERTS)
        .collect::<Result<_, _>>()?;
    anyhow::ensure!(!certs.is_empty(), "no PEM certificate in it");
    Ok(certs)
}

fn add_roots(
    roots: &mut RootCertStore,
    certs: Vec<CertificateDer<'static>>,
    from: &Path,
) -> Result<()> {
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| invalid(format!("bad CA certificate in {}: {e}", from.display())))?;
    }
    Ok(())
}

/// The subject common name of a certificate, if it has one.
pub(crate) fn common_name(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let cn = parsed.subject().iter_common_name().next()?;
    cn.as_str().ok().map(str::to_string)
}

/// The user part the joiner publishes before its secret in `VERIFY_*`
/// modes: its certificate's CN, as the rsync method publishes it, so that
/// mariadbd applies its own check of the request (MDEV-39413 rejects a
/// shell-hostile CN with `Bad remote auth string`, and mtr's
/// `galera_sst_cn_injection` expects exactly that). The value never
/// reaches a shell on our side. Only a CN that would corrupt the line
/// itself (control characters) is left out, with a warning.
pub(crate) fn published_user(identity: Option<&Identity>) -> String {
    let cn = identity
        .and_then(|id| id.chain().first())
        .and_then(common_name)
        .unwrap_or_default();
    // X.509 bounds a CN at 64 characters; longer ones would also strain
    // mariadbd's 512-byte line.
    if cn.chars().any(char::is_control) || cn.len() > 64 {
        log::warn!(
            "the certificate's common name {cn:?} has control characters or is over 64 bytes; \
             publishing no user name (the secret still authenticates the donor)"
        );
        return String::new();
    }
    cn
}

/// Reads the files `what` names, or says which is missing.
pub(crate) fn require<'a>(path: Option<&'a Path>, what: &str, mode: &str) -> Result<&'a Path> {
    path.with_context(|| format!("ssl-mode={mode} needs {what}"))
        .map_err(|e| invalid(format!("{e:#}")))
}
