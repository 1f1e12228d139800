//! The TLS context of one side, built once from [`TlsSettings`], and the
//! wrapping of each new connection. The joiner is the TLS server, the
//! donor the TLS client, as with stunnel in the rsync method.

use std::sync::Arc;

use anyhow::Result;
use rustls::crypto::CryptoProvider;
use rustls::server::NoClientAuth;
use rustls::sign::SingleCertAndKey;
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};
use rustls_pki_types::{ServerName, UnixTime};

use super::material::{Identity, Roots, load_identity, load_roots, published_user, require};
use super::verify::{DonorVerifier, JoinerVerifier};
use super::{SslMode, TlsSettings};
use crate::exit::{Exit, fail};
use crate::net::address::{SstAddress, is_local};
use crate::net::{TimedStream, Transport};

/// How this side wraps its connections.
#[derive(Debug)]
pub(crate) enum Tls {
    Off,
    Server(Arc<ServerConfig>),
    Client {
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
    },
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn verifying(mode: SslMode) -> bool {
    matches!(mode, SslMode::VerifyCa | SslMode::VerifyIdentity)
}

/// The CAs, when configured (required for `VERIFY_*`).
fn roots(settings: &TlsSettings) -> Result<Option<Roots>> {
    if settings.ca.is_none() && settings.capath.is_none() {
        return Ok(None);
    }
    load_roots(settings.ca.as_deref(), settings.capath.as_deref()).map(Some)
}

fn announce(settings: &TlsSettings) {
    let shown = |p: &Option<std::path::PathBuf>| {
        p.as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    };
    log::info!(
        "Using TLS for SST encryption: CA: '{}', CAPATH='{}', ssl-mode='{}'",
        shown(&settings.ca),
        shown(&settings.capath),
        settings.mode.name()
    );
    if settings.mode == SslMode::VerifyCa {
        log::info!("Verifying peer certificate chain for ssl-mode=VERIFY_CA");
    }
}

fn tls_error(e: rustls::Error, doing: &str) -> anyhow::Error {
    fail(Exit::Invalid, format!("{doing}: {e}"))
}

/// Checks that `identity` chains to `roots` (the rsync method's
/// `verify_ca_matches_cert`).
fn check_issued(identity: &Identity, roots: &Roots, provider: &Arc<CryptoProvider>) -> Result<()> {
    let checker = JoinerVerifier::new(Some(roots), Vec::new(), Arc::clone(provider))
        .map_err(|e| fail(Exit::Invalid, format!("{e}")))?;
    let probe = ServerName::try_from("localhost").map_err(|e| anyhow::anyhow!("{e}"))?;
    let chain = identity.chain();
    rustls::client::danger::ServerCertVerifier::verify_server_cert(
        &checker,
        &chain[0],
        &chain[1..],
        &probe,
        &[],
        UnixTime::now(),
    )
    .map(drop)
    .map_err(|e| {
        fail(
            Exit::Invalid,
            format!("this node's certificate is not issued by the configured CA: {e}"),
        )
    })
}

impl Tls {
    /// The joiner's context and the user name to publish before the
    /// secret (the certificate's CN in `VERIFY_*` modes, else empty).
    pub(crate) fn joiner(settings: &TlsSettings) -> Result<(Tls, String)> {
        if !settings.enabled() {
            return Ok((Tls::Off, String::new()));
        }
        let mode = settings.mode.name();
        let provider = provider();
        let cert = require(
            settings.cert.as_deref(),
            "a certificate (ssl-cert or tcert)",
            mode,
        )?;
        let key = require(
            settings.key.as_deref(),
            "a private key (ssl-key or tkey)",
            mode,
        )?;
        let identity = load_identity(cert, key, &provider)?;
        let roots = roots(settings)?;
        if let Some(roots) = &roots {
            check_issued(&identity, roots, &provider)?;
        }
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| tls_error(e, "setting up TLS"))?;
        let builder = match (&roots, verifying(settings.mode)) {
            (Some(roots), true) => builder.with_client_cert_verifier(Arc::new(
                DonorVerifier::new(roots, Arc::clone(&provider))
                    .map_err(|e| tls_error(e, "setting up TLS"))?,
            )),
            (None, true) => {
                return Err(fail(
                    Exit::Invalid,
                    format!("Can't have ssl-mode='{mode}' without CA file or path"),
                ));
            }
            (_, false) => builder.with_client_cert_verifier(Arc::new(NoClientAuth)),
        };
        let user = if verifying(settings.mode) {
            published_user(Some(&identity))
        } else {
            String::new()
        };
        let config =
            builder.with_cert_resolver(Arc::new(SingleCertAndKey::from(identity.certified)));
        announce(settings);
        Ok((Tls::Server(Arc::new(config)), user))
    }

    /// The donor's context for connecting to `address`; `remote_user` is
    /// the name the joiner published (its CN), checked in `VERIFY_IDENTITY`.
    pub(crate) fn donor(
        settings: &TlsSettings,
        address: &SstAddress,
        remote_user: &str,
    ) -> Result<Tls> {
        if !settings.enabled() {
            return Ok(Tls::Off);
        }
        let mode = settings.mode.name();
        let provider = provider();
        let identity = match (settings.cert.as_deref(), settings.key.as_deref()) {
            (Some(cert), Some(key)) => Some(load_identity(cert, key, &provider)?),
            _ if verifying(settings.mode) => {
                return Err(fail(
                    Exit::Invalid,
                    format!(
                        "ssl-mode={mode} needs a certificate and key (ssl-cert/ssl-key or tcert/tkey) on the donor"
                    ),
                ));
            }
            _ => None,
        };
        let roots = roots(settings)?;
        if let (Some(roots), Some(identity)) = (&roots, &identity) {
            check_issued(identity, roots, &provider)?;
        }
        let chain = match (&roots, verifying(settings.mode)) {
            (Some(roots), true) => Some(roots),
            (None, true) => {
                return Err(fail(
                    Exit::Invalid,
                    format!("Can't have ssl-mode='{mode}' without CA file or path"),
                ));
            }
            (_, false) => None,
        };
        let host = address.host_unescaped();
        let names = if settings.mode != SslMode::VerifyIdentity {
            Vec::new()
        } else if !remote_user.is_empty() {
            vec![remote_user.to_string()]
        } else {
            let mut names = vec![host.to_string()];
            if is_local(host) {
                names.push("localhost".to_string());
            }
            names
        };
        let verifier = JoinerVerifier::new(chain, names, Arc::clone(&provider))
            .map_err(|e| tls_error(e, "setting up TLS"))?;
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| tls_error(e, "setting up TLS"))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier));
        let config = match identity {
            Some(identity) => builder
                .with_client_cert_resolver(Arc::new(SingleCertAndKey::from(identity.certified))),
            None => builder.with_no_client_auth(),
        };
        let name = ServerName::try_from(host.to_string())
            .or_else(|_| ServerName::try_from("localhost".to_string()))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        announce(settings);
        Ok(Tls::Client {
            config: Arc::new(config),
            name,
        })
    }

    /// Wraps a new connection; the TLS handshake happens on first use,
    /// under the stream's deadline.
    pub(crate) fn wrap(&self, stream: TimedStream) -> Result<Transport> {
        Ok(match self {
            Tls::Off => Transport::Plain(stream),
            Tls::Server(config) => Transport::Server(Box::new(rustls::StreamOwned::new(
                ServerConnection::new(Arc::clone(config))?,
                stream,
            ))),
            Tls::Client { config, name } => Transport::Client(Box::new(rustls::StreamOwned::new(
                ClientConnection::new(Arc::clone(config), name.clone())?,
                stream,
            ))),
        })
    }
}
