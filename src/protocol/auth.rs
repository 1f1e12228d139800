//! The per-SST secret and the handshake proofs.
//!
//! The joiner makes a fresh secret for every SST and publishes it in its
//! `ready` address; mariadbd hands it to the donor in
//! `WSREP_SST_OPT_REMOTE_AUTH`. The secret itself never crosses the SST
//! port: each side proves knowledge with a BLAKE3 keyed hash of both
//! handshake nonces, so a captured handshake cannot be replayed on another
//! connection and a stranger learns nothing from being refused.

use anyhow::{Context, Result};

use super::Channel;

/// Domain separation for the key derived from the secret.
const KEY_CONTEXT: &str = "rsrsync 2026-11 per-SST secret v1";

/// Which side a proof speaks for; the two proofs of one handshake differ.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Side {
    Joiner,
    Donor,
}

/// 16 random bytes as 32 lowercase hex digits (`wsrep_gen_secret`'s shape),
/// which passes mariadbd's character check of the SST request.
pub(crate) fn new_secret() -> Result<String> {
    let bytes: [u8; 16] = random()?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A fresh handshake nonce.
pub(crate) fn new_nonce() -> Result<[u8; 16]> {
    random()
}

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("reading random bytes from the kernel")?;
    Ok(out)
}

/// The key both sides derive from the published secret.
#[derive(Clone)]
pub(crate) struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    pub(crate) fn from_secret(secret: &str) -> Key {
        Key(blake3::derive_key(KEY_CONTEXT, secret.as_bytes()))
    }

    /// The proof `side` sends in a handshake with these parameters.
    pub(crate) fn proof(
        &self,
        side: Side,
        version: u16,
        channel: Channel,
        donor_nonce: &[u8; 16],
        joiner_nonce: &[u8; 16],
    ) -> [u8; 32] {
        let mut mac = blake3::Hasher::new_keyed(&self.0);
        mac.update(match side {
            Side::Joiner => b"joiner",
            Side::Donor => b"donor!",
        });
        mac.update(&version.to_be_bytes());
        mac.update(&[channel as u8]);
        mac.update(donor_nonce);
        mac.update(joiner_nonce);
        *mac.finalize().as_bytes()
    }

    /// Checks a received proof in constant time.
    pub(crate) fn verify(
        &self,
        side: Side,
        version: u16,
        channel: Channel,
        donor_nonce: &[u8; 16],
        joiner_nonce: &[u8; 16],
        received: &[u8; 32],
    ) -> bool {
        let expected = self.proof(side, version, channel, donor_nonce, joiner_nonce);
        blake3::Hash::from_bytes(expected) == *received
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_fresh_hex() {
        let a = new_secret().expect("random");
        let b = new_secret().expect("random");
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
    }

    #[test]
    fn proofs_bind_secret_side_channel_and_nonces() {
        let key = Key::from_secret("0f3a9c2e5b7d4e1f8a6b0c9d2e4f6a8b");
        let (d, j) = ([1u8; 16], [2u8; 16]);
        let p = key.proof(Side::Donor, 1, Channel::Control, &d, &j);
        assert!(key.verify(Side::Donor, 1, Channel::Control, &d, &j, &p));
        assert!(!key.verify(Side::Joiner, 1, Channel::Control, &d, &j, &p));
        assert!(!key.verify(Side::Donor, 1, Channel::Data, &d, &j, &p));
        assert!(!key.verify(Side::Donor, 2, Channel::Control, &d, &j, &p));
        assert!(!key.verify(Side::Donor, 1, Channel::Control, &j, &d, &p));
        let other = Key::from_secret("0f3a9c2e5b7d4e1f8a6b0c9d2e4f6a8c");
        assert!(!other.verify(Side::Donor, 1, Channel::Control, &d, &j, &p));
    }
}
