//! X.509 version 1 end-entity certificates.
//!
//! `openssl x509 -req` without extensions, as in MariaDB's own how-to,
//! makes version-1 certificates; stunnel (OpenSSL) takes them, webpki does
//! not. So that an operator's working rsync setup keeps working, a v1 leaf
//! is accepted when a configured CA signed it directly (a v1 certificate
//! cannot carry the extensions a longer chain needs) and it is within its
//! validity period. Everything else still goes through webpki. Handshake
//! signatures of a v1 peer are checked against the key in its certificate
//! (TLS 1.3 only, which both ends of an rsrsync SST speak).

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, verify_tls13_signature, verify_tls13_signature_with_raw_key};
use rustls::{CertificateError, DigitallySignedStruct, Error};
use rustls_pki_types::{CertificateDer, SubjectPublicKeyInfoDer, UnixTime};
use x509_parser::prelude::{FromDer, X509Certificate, X509Version};

/// Whether `cert` parses as an X.509 version 1 certificate.
pub(crate) fn is_v1(cert: &CertificateDer<'_>) -> bool {
    X509Certificate::from_der(cert.as_ref()).is_ok_and(|(_, c)| c.version() == X509Version::V1)
}

/// The public key of a certificate of any version, as DER.
pub(crate) fn spki(cert: &CertificateDer<'_>) -> Option<SubjectPublicKeyInfoDer<'static>> {
    let (_, parsed) = X509Certificate::from_der(cert.as_ref()).ok()?;
    Some(SubjectPublicKeyInfoDer::from(
        parsed.public_key().raw.to_vec(),
    ))
}

/// Verifies a version-1 leaf: valid at `now` and signed by one of `cas`.
pub(crate) fn verify_v1(
    leaf: &CertificateDer<'_>,
    cas: &[CertificateDer<'_>],
    now: UnixTime,
) -> Result<(), Error> {
    let (_, cert) = X509Certificate::from_der(leaf.as_ref())
        .map_err(|_| Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    let validity = cert.validity();
    if secs < validity.not_before.timestamp() {
        return Err(Error::InvalidCertificate(CertificateError::NotValidYet));
    }
    if secs > validity.not_after.timestamp() {
        return Err(Error::InvalidCertificate(CertificateError::Expired));
    }
    let signed = cas.iter().any(|ca| {
        X509Certificate::from_der(ca.as_ref()).is_ok_and(|(_, ca)| {
            ca.subject().as_raw() == cert.issuer().as_raw()
                && cert.verify_signature(Some(ca.public_key())).is_ok()
        })
    });
    if signed {
        Ok(())
    } else {
        Err(Error::InvalidCertificate(CertificateError::UnknownIssuer))
    }
}

/// TLS 1.3 handshake signature check that also serves v1 certificates.
pub(crate) fn verify_signature(
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
    provider: &CryptoProvider,
) -> Result<HandshakeSignatureValid, Error> {
    let algorithms = &provider.signature_verification_algorithms;
    match verify_tls13_signature(message, cert, dss, algorithms) {
        Err(_) if is_v1(cert) => {
            let key = spki(cert).ok_or(Error::InvalidCertificate(CertificateError::BadEncoding))?;
            verify_tls13_signature_with_raw_key(message, &key, dss, algorithms)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::pem::PemObject;
    use std::process::Command;

    /// A CA (v3, from openssl req -x509) and a v1 leaf it signs (openssl
    /// x509 -req without extensions), in `dir`.
    pub(crate) fn openssl_v1_pki(dir: &std::path::Path, cn: &str) -> bool {
        let run = |args: &[&str]| {
            Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .is_ok_and(|o| o.status.success())
        };
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=v1 test CA",
            "-keyout",
            "ca-key.pem",
            "-out",
            "ca.pem",
        ]) && run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            &format!("/CN={cn}"),
            "-keyout",
            "leaf-key.pem",
            "-out",
            "leaf.csr",
        ]) && run(&[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-days",
            "30",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-set_serial",
            "01",
            "-out",
            "leaf-cert.pem",
        ])
    }

    fn cert(path: std::path::PathBuf) -> CertificateDer<'static> {
        CertificateDer::from_pem_file(path).expect("pem")
    }

    #[test]
    fn a_v1_leaf_signed_by_the_ca_is_accepted() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(
            openssl_v1_pki(dir.path(), "localhost"),
            "openssl is part of Debian's base"
        );
        let (ca, leaf) = (
            cert(dir.path().join("ca.pem")),
            cert(dir.path().join("leaf-cert.pem")),
        );
        assert!(is_v1(&leaf) && !is_v1(&ca));
        assert!(spki(&leaf).is_some());
        verify_v1(&leaf, std::slice::from_ref(&ca), UnixTime::now()).expect("signed by the CA");
        let later = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            UnixTime::now().as_secs() + 60 * 86_400,
        ));
        assert!(verify_v1(&leaf, &[ca], later).is_err(), "expired");
        let other = tempfile::tempdir().expect("tempdir");
        assert!(openssl_v1_pki(other.path(), "x"));
        let stranger = cert(other.path().join("ca.pem"));
        assert_eq!(
            verify_v1(&leaf, &[stranger], UnixTime::now()),
            Err(Error::InvalidCertificate(CertificateError::UnknownIssuer))
        );
    }
}
