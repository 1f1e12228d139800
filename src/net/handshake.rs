//! The per-connection handshake (wire shape in `protocol`): version
//! agreement and mutual proof of the per-SST secret, bounded in time.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::{Connection, Transport};
use crate::exit::{Exit, fail};
use crate::protocol::auth::{Key, Side, new_nonce};
use crate::protocol::{Channel, Frame, VERSION};

/// The whole handshake must finish within this time.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Joiner side: answers a donor's handshake on an accepted connection and
/// returns the channel it opens. Any failure means the peer is not our
/// donor: the caller logs it and drops the connection.
pub(crate) fn answer(conn: &mut Connection<Transport>, key: &Key) -> Result<Channel> {
    conn.stream_mut()
        .timed_mut()
        .set_deadline(Instant::now() + HANDSHAKE_TIMEOUT);
    let (min, max, channel, donor_nonce) = match conn.expect_frame("a handshake")? {
        Frame::Hello {
            min_version,
            max_version,
            channel,
            nonce,
        } => (min_version, max_version, channel, nonce),
        other => bail!("expected a handshake, got a {:?} frame", other.kind()),
    };
    // We speak one version; the donor decides whether it can too.
    let joiner_nonce = new_nonce()?;
    let proof = key.proof(Side::Joiner, VERSION, channel, &donor_nonce, &joiner_nonce);
    conn.send(&Frame::Challenge {
        version: VERSION,
        nonce: joiner_nonce,
        proof,
    })?;
    if !(min..=max).contains(&VERSION) {
        return Err(fail(
            Exit::Protocol,
            format!(
                "the donor speaks protocol versions {min}..{max}, this joiner speaks {VERSION}: \
                 install the same rsrsync version on all nodes"
            ),
        ));
    }
    let donor_proof = match conn.expect_frame("the donor's proof")? {
        Frame::Proof { proof } => proof,
        other => bail!("expected a proof, got a {:?} frame", other.kind()),
    };
    if !key.verify(
        Side::Donor,
        VERSION,
        channel,
        &donor_nonce,
        &joiner_nonce,
        &donor_proof,
    ) {
        // Tell the peer; it may be a donor with a stale address.
        let _ = conn.send(&Frame::Refuse {
            reason: b"authentication failed: wrong SST secret",
        });
        bail!("it does not know this SST's secret");
    }
    conn.send(&Frame::Welcome)?;
    conn.stream_mut().timed_mut().clear_deadline()?;
    Ok(channel)
}

/// Donor side: opens `channel` on a fresh connection to the joiner.
pub(crate) fn open(conn: &mut Connection<Transport>, key: &Key, channel: Channel) -> Result<()> {
    conn.stream_mut()
        .timed_mut()
        .set_deadline(Instant::now() + HANDSHAKE_TIMEOUT);
    let donor_nonce = new_nonce()?;
    conn.send(&Frame::Hello {
        min_version: VERSION,
        max_version: VERSION,
        channel,
        nonce: donor_nonce,
    })?;
    let peer = conn.peer().to_string();
    let (joiner_nonce, proof) = match conn.expect_frame("the joiner's challenge")? {
        Frame::Challenge {
            version,
            nonce,
            proof,
        } => {
            if version != VERSION {
                return Err(fail(
                    Exit::Protocol,
                    format!(
                        "the joiner at {peer} speaks protocol version {version}, this donor \
                         speaks {VERSION}: install the same rsrsync version on all nodes"
                    ),
                ));
            }
            (nonce, proof)
        }
        Frame::Refuse { reason } => bail!(
            "the joiner at {peer} refused us: {}",
            String::from_utf8_lossy(reason)
        ),
        other => bail!(
            "{peer} answered with a {:?} frame: it is not an rsrsync joiner",
            other.kind()
        ),
    };
    if !key.verify(
        Side::Joiner,
        VERSION,
        channel,
        &donor_nonce,
        &joiner_nonce,
        &proof,
    ) {
        bail!(
            "the listener at {peer} does not know this SST's secret: it is not the joiner \
             that requested this SST (a stale or foreign process holds the port)"
        );
    }
    let proof = key.proof(Side::Donor, VERSION, channel, &donor_nonce, &joiner_nonce);
    conn.send(&Frame::Proof { proof })?;
    match conn.expect_frame("the joiner's welcome")? {
        Frame::Welcome => {}
        Frame::Refuse { reason } => bail!(
            "the joiner at {peer} refused us: {} (WSREP_SST_OPT_REMOTE_AUTH does not carry \
             the secret the joiner published)",
            String::from_utf8_lossy(reason)
        ),
        other => bail!(
            "expected a welcome from {peer}, got a {:?} frame",
            other.kind()
        ),
    }
    conn.stream_mut().timed_mut().clear_deadline()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Connection<Transport>, Connection<Transport>) {
        crate::testutil::connection_pair()
    }

    #[test]
    fn matching_secrets_open_the_channel() {
        let (mut donor, mut joiner) = pair();
        let key = Key::from_secret("0f3a9c2e5b7d4e1f8a6b0c9d2e4f6a8b");
        let joiner_key = key.clone();
        let answer =
            std::thread::spawn(move || answer(&mut joiner, &joiner_key).map_err(|e| e.to_string()));
        open(&mut donor, &key, Channel::Data).expect("donor side");
        assert_eq!(answer.join().expect("thread"), Ok(Channel::Data));
    }

    #[test]
    fn wrong_secret_is_refused_on_both_sides() {
        let (mut donor, mut joiner) = pair();
        let answer = std::thread::spawn(move || {
            answer(&mut joiner, &Key::from_secret("right")).map_err(|e| e.to_string())
        });
        let err =
            open(&mut donor, &Key::from_secret("wrong"), Channel::Control).expect_err("must fail");
        // The donor notices first: the joiner's proof does not match.
        assert!(
            err.to_string().contains("does not know this SST's secret"),
            "{err}"
        );
        drop(donor);
        assert!(answer.join().expect("thread").is_err());
    }
}
