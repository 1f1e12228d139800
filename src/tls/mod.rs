//! TLS for the SST's connections: the contexts (rustls, `Tls`) built from
//! the settings `config::tls` resolved, the certificate material and the
//! peer verifiers. Nothing here reads the configuration.

use std::path::PathBuf;

mod context;
mod legacy;
mod material;
mod verify;

pub(crate) use context::Tls;

/// The `ssl-mode` values the rsync method knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SslMode {
    Disabled,
    Required,
    VerifyCa,
    VerifyIdentity,
}

/// The resolved TLS configuration of this side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsSettings {
    pub(crate) mode: SslMode,
    pub(crate) ca: Option<PathBuf>,
    pub(crate) capath: Option<PathBuf>,
    pub(crate) cert: Option<PathBuf>,
    pub(crate) key: Option<PathBuf>,
}

impl TlsSettings {
    /// Whether the transfer must be encrypted.
    pub(crate) fn enabled(&self) -> bool {
        self.mode != SslMode::Disabled
    }
}

impl SslMode {
    /// The name as written in my.cnf.
    pub(crate) fn name(self) -> &'static str {
        match self {
            SslMode::Disabled => "DISABLED",
            SslMode::Required => "REQUIRED",
            SslMode::VerifyCa => "VERIFY_CA",
            SslMode::VerifyIdentity => "VERIFY_IDENTITY",
        }
    }
}
