//! How each side judges the other's certificate.
//!
//! The donor ([`JoinerVerifier`]): `VERIFY_CA` checks the chain only, never
//! a name (MDEV-28239). `VERIFY_IDENTITY` also checks a name: the user
//! part the joiner published (its certificate's CN) when there is one,
//! else the address (and `localhost` for a local address), against the
//! subject alternative names or, failing those, the subject CN (mtr's
//! certificates have no SAN). `REQUIRED` encrypts without judging (as
//! stunnel did).
//!
//! The joiner ([`DonorVerifier`], `VERIFY_*` modes): the donor must present
//! a certificate that chains to the CA; no name.
//!
//! Both accept a version-1 leaf signed directly by a CA (see [`legacy`]).

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, Error, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::legacy;
use super::material::{Roots, common_name};

/// A name no certificate carries: verifying with it checks the chain and
/// then fails on the name, which tells a good chain from a bad one.
const PROBE: &str = "rsrsync-chain-probe.invalid";

fn is_name_error(err: &Error) -> bool {
    matches!(
        err,
        Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        )
    )
}

/// The handshake signature checks, alike in both verifiers (their traits
/// differ, these methods do not): TLS 1.2 refused, TLS 1.3 checked with
/// the provider's algorithms, a version-1 leaf's key included (see
/// [`legacy`]). The schemes are the provider's, which is also what the
/// WebPKI verifiers built from it announce.
macro_rules! signature_checks {
    () => {
        fn verify_tls12_signature(
            &self,
            _message: &[u8],
            _cert: &CertificateDer<'_>,
            _dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            Err(Error::General("rsrsync speaks TLS 1.3 only".into()))
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            legacy::verify_signature(message, cert, dss, &self.provider)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.provider
                .signature_verification_algorithms
                .supported_schemes()
        }
    };
}

/// The donor's verifier of the joiner's certificate.
#[derive(Debug)]
pub(crate) struct JoinerVerifier {
    /// `None`: any certificate (REQUIRED). `Some`: chain against the CAs.
    chain: Option<(Arc<WebPkiServerVerifier>, Roots)>,
    /// Names of which one must match; empty: chain only (VERIFY_CA).
    names: Vec<String>,
    provider: Arc<CryptoProvider>,
}

impl JoinerVerifier {
    pub(crate) fn new(
        roots: Option<&Roots>,
        names: Vec<String>,
        provider: Arc<CryptoProvider>,
    ) -> Result<JoinerVerifier, Error> {
        let chain = match roots {
            Some(roots) => Some((
                WebPkiServerVerifier::builder_with_provider(
                    Arc::clone(&roots.store),
                    Arc::clone(&provider),
                )
                .build()
                .map_err(|e| Error::General(format!("building the CA verifier: {e}")))?,
                roots.clone(),
            )),
            None => None,
        };
        Ok(JoinerVerifier {
            chain,
            names,
            provider,
        })
    }

    /// Checks `end_entity` against the chain verifier with `name`.
    fn check(
        verifier: &WebPkiServerVerifier,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &str,
        now: UnixTime,
    ) -> Result<(), Error> {
        let name = ServerName::try_from(name.to_string())
            .map_err(|_| Error::InvalidCertificate(CertificateError::NotValidForName))?;
        verifier
            .verify_server_cert(end_entity, intermediates, &name, &[], now)
            .map(drop)
    }
}

impl ServerCertVerifier for JoinerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let Some((verifier, roots)) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        let v1 = legacy::is_v1(end_entity);
        if v1 {
            legacy::verify_v1(end_entity, &roots.certs, now)?;
        } else {
            match Self::check(verifier, end_entity, intermediates, PROBE, now) {
                Ok(()) => return Ok(ServerCertVerified::assertion()),
                Err(e) if is_name_error(&e) => {}
                Err(e) => return Err(e),
            }
        }
        if self.names.is_empty() {
            return Ok(ServerCertVerified::assertion());
        }
        let san_match = !v1
            && self
                .names
                .iter()
                .any(|n| Self::check(verifier, end_entity, intermediates, n, now).is_ok());
        let cn = common_name(end_entity).unwrap_or_default();
        if san_match || self.names.iter().any(|n| n.eq_ignore_ascii_case(&cn)) {
            return Ok(ServerCertVerified::assertion());
        }
        log::error!(
            "the joiner's certificate (CN {cn:?}) is not valid for {}",
            self.names.join(" or ")
        );
        Err(Error::InvalidCertificate(CertificateError::NotValidForName))
    }

    signature_checks!();
}

/// The joiner's verifier of the donor's certificate (`VERIFY_*` modes).
#[derive(Debug)]
pub(crate) struct DonorVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    roots: Roots,
    provider: Arc<CryptoProvider>,
}

impl DonorVerifier {
    pub(crate) fn new(
        roots: &Roots,
        provider: Arc<CryptoProvider>,
    ) -> Result<DonorVerifier, Error> {
        let inner = WebPkiClientVerifier::builder_with_provider(
            Arc::clone(&roots.store),
            Arc::clone(&provider),
        )
        .build()
        .map_err(|e| Error::General(format!("building the client verifier: {e}")))?;
        Ok(DonorVerifier {
            inner,
            roots: roots.clone(),
            provider,
        })
    }
}

impl ClientCertVerifier for DonorVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        if legacy::is_v1(end_entity) {
            legacy::verify_v1(end_entity, &self.roots.certs, now)?;
            return Ok(ClientCertVerified::assertion());
        }
        self.inner
            .verify_client_cert(end_entity, intermediates, now)
    }

    signature_checks!();
}
