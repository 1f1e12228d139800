//! How the donor judges the joiner's certificate.
//!
//! `VERIFY_CA` checks the chain only, never a name (MDEV-28239).
//! `VERIFY_IDENTITY` also checks a name: the user part the joiner
//! published (its certificate's CN) when there is one, else the address
//! (and `localhost` for a local address), against the subject alternative
//! names or, failing those, the subject CN (mtr's certificates have no SAN).
//! `REQUIRED` encrypts without judging (as stunnel did).

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{CertificateError, DigitallySignedStruct, Error, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::material::common_name;

/// A name no certificate carries: verifying with it checks the chain and
/// then fails on the name, which tells a good chain from a bad one.
const PROBE: &str = "rsrsync-chain-probe.invalid";

/// The donor's verifier of the joiner's certificate.
#[derive(Debug)]
pub(crate) struct JoinerVerifier {
    /// `None`: any certificate (REQUIRED). `Some`: chain against the CAs.
    chain: Option<Arc<WebPkiServerVerifier>>,
    /// Names of which one must match; empty: chain only (VERIFY_CA).
    names: Vec<String>,
    provider: Arc<CryptoProvider>,
}

impl JoinerVerifier {
    pub(crate) fn new(
        chain: Option<Arc<WebPkiServerVerifier>>,
        names: Vec<String>,
        provider: Arc<CryptoProvider>,
    ) -> JoinerVerifier {
        JoinerVerifier {
            chain,
            names,
            provider,
        }
    }
}

fn is_name_error(err: &Error) -> bool {
    matches!(
        err,
        Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        )
    )
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

impl ServerCertVerifier for JoinerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let Some(verifier) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match check(verifier, end_entity, intermediates, PROBE, now) {
            Ok(()) => return Ok(ServerCertVerified::assertion()),
            Err(e) if is_name_error(&e) => {}
            Err(e) => return Err(e),
        }
        if self.names.is_empty() {
            return Ok(ServerCertVerified::assertion());
        }
        for name in &self.names {
            if check(verifier, end_entity, intermediates, name, now).is_ok() {
                return Ok(ServerCertVerified::assertion());
            }
        }
        let cn = common_name(end_entity).unwrap_or_default();
        if self.names.iter().any(|n| n.eq_ignore_ascii_case(&cn)) {
            return Ok(ServerCertVerified::assertion());
        }
        log::error!(
            "the joiner's certificate (CN {cn:?}) is not valid for {}",
            self.names.join(" or ")
        );
        Err(Error::InvalidCertificate(CertificateError::NotValidForName))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
