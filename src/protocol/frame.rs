//! Frames: the messages of the protocol, as bytes. Knows nothing of sockets.
//!
//! [`Frame::encode`] appends header and body to a buffer; [`parse_header`]
//! checks a header before the body is read (unknown kind, oversized body);
//! [`Frame::decode`] parses a body that borrows from the read buffer,
//! through the field reader of `body`.

use anyhow::{Context, Result, bail, ensure};

use super::body::{Body, put_bytes};
use super::{Class, MAX_BLOCK, PAGES};

/// Bytes of a frame header: kind (1) and body length (4).
pub(crate) const HEADER_LEN: usize = 5;

/// Bytes before the payload of a `Block` frame: header, id, offset, hash.
pub(crate) const BLOCK_PREFIX: usize = HEADER_LEN + 4 + 8 + 16;

/// Largest body of any frame but `Block`: a path plus a few fields.
const SMALL_MAX: u32 = 8 << 10;

macro_rules! kinds {
    ($($name:ident = $code:literal),* $(,)?) => {
        /// The frame kinds; the numbers are the wire codes.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Kind { $($name = $code),* }

        impl Kind {
            fn from_code(code: u8) -> Option<Kind> {
                match code {
                    $($code => Some(Kind::$name),)*
                    _ => None,
                }
            }
        }
    };
}

kinds! {
    Hello = 1, Challenge = 2, Proof = 3, Welcome = 4, Refuse = 5,
    Begin = 6, Dir = 7, File = 8, ManifestEnd = 9, Ready = 10,
    Block = 11, Hole = 12, Digest = 13, End = 14,
    Complete = 15, Done = 16, Ping = 17,
    Have = 18, Check = 19, Ask = 20, Answer = 21, Round = 22, Vanished = 23,
    Packed = 24, Pages = 25, Patch = 26, Mended = 27, Link = 28,
}

impl Kind {
    /// The largest body this kind may have; checked before allocating.
    pub(crate) fn max_len(self) -> u32 {
        match self {
            Kind::Block => (BLOCK_PREFIX - HEADER_LEN) as u32 + MAX_BLOCK,
            Kind::Packed => (BLOCK_PREFIX - HEADER_LEN) as u32 + 5 + MAX_BLOCK,
            Kind::Patch => 4 + 8 + MAX_BLOCK / PAGES,
            _ => SMALL_MAX,
        }
    }
}

/// Which connection a handshake opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Channel {
    Control = 1,
    Data = 2,
}

/// Whether the donor sends a snapshot or only the state (IST, `--bypass`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Sst = 1,
    Bypass = 2,
}

/// One protocol message. Variable-length fields borrow from the buffer
/// the frame was read into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Frame<'a> {
    Hello {
        min_version: u16,
        max_version: u16,
        channel: Channel,
        nonce: [u8; 16],
    },
    Challenge {
        version: u16,
        nonce: [u8; 16],
        proof: [u8; 32],
    },
    Proof {
        proof: [u8; 32],
    },
    Welcome,
    Refuse {
        reason: &'a [u8],
    },
    Begin {
        mode: Mode,
        streams: u16,
        block_size: u32,
        /// A live round comes first and a locked round follows.
        live: bool,
    },
    Dir {
        class: Class,
        mode: u32,
        path: &'a [u8],
    },
    File {
        id: u32,
        class: Class,
        size: u64,
        mode: u32,
        path: &'a [u8],
    },
    /// A database entry that points to `External` file `target`: an
    /// InnoDB `.isl` file naming it, or (`symlink`) a MyISAM/Aria symbolic
    /// link to it. The joiner writes it itself, naming its own path.
    Link {
        target: u32,
        symlink: bool,
        path: &'a [u8],
    },
    ManifestEnd {
        files: u32,
        bytes: u64,
    },
    Ready,
    Block {
        id: u32,
        offset: u64,
        hash: u128,
        data: &'a [u8],
    },
    Hole {
        id: u32,
        offset: u64,
        len: u32,
    },
    Digest {
        id: u32,
        digest: u128,
    },
    End,
    Complete {
        bypass: bool,
        state: &'a [u8],
    },
    Done,
    Ping,
    /// Joiner: I hold file `id` already, with `size` bytes; check its
    /// blocks before sending them.
    Have {
        id: u32,
        size: u64,
    },
    /// Donor: block `offset` of file `id` hashes to `hash` here.
    Check {
        id: u32,
        offset: u64,
        hash: u128,
    },
    /// Donor: answer the checks since the last `Ask`.
    Ask,
    /// Joiner: bit i of `needed` set = the i-th of those `checks` differs.
    Answer {
        checks: u8,
        needed: u64,
    },
    /// Donor: the next round's file list follows; `live` while the
    /// donor's server still runs (another pre-copy), else under the lock.
    Round {
        live: bool,
    },
    /// Donor, in a live round: file `id` changed under me; the next round
    /// settles it.
    Vanished {
        id: u32,
    },
    /// A block compressed with `codec`; `len` bytes once unpacked, whose
    /// XXH3-128 is `hash`.
    Packed {
        id: u32,
        offset: u64,
        hash: u128,
        codec: u8,
        len: u32,
        data: &'a [u8],
    },
    /// Donor: block `offset` of file `id`, which the joiner holds, differs;
    /// these are the hashes of its pages, for the joiner to answer which
    /// pages it lacks.
    Pages {
        id: u32,
        offset: u64,
        hashes: PageHashes<'a>,
    },
    /// Donor: one page of a block whose `Pages` the joiner answered.
    Patch {
        id: u32,
        offset: u64,
        data: &'a [u8],
    },
    /// Donor: the pages the joiner lacked of block `offset` were patched;
    /// the block now hashes to `hash`.
    Mended {
        id: u32,
        offset: u64,
        hash: u128,
    },
}

/// The page hashes of a `Pages` frame as they travel: 1 to [`PAGES`]
/// XXH3-128 values, 16 big-endian bytes each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PageHashes<'a>(&'a [u8]);

impl<'a> PageHashes<'a> {
    /// Wraps `bytes` (the encoded hashes); fails on a length that is not
    /// 1 to [`PAGES`] whole hashes.
    pub(crate) fn new(bytes: &'a [u8]) -> Result<Self> {
        ensure!(
            !bytes.is_empty() && bytes.len() % 16 == 0 && bytes.len() <= PAGES as usize * 16,
            "page hashes of {} bytes (1 to {PAGES} hashes of 16 bytes expected)",
            bytes.len()
        );
        Ok(PageHashes(bytes))
    }

    /// How many pages.
    pub(crate) fn len(&self) -> usize {
        self.0.len() / 16
    }

    /// The hashes in page order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = u128> + 'a {
        self.0
            .chunks_exact(16)
            .map(|h| u128::from_be_bytes(h.try_into().unwrap_or_default()))
    }
}

/// Checks a frame header; returns the kind and the body length.
pub(crate) fn parse_header(header: &[u8; HEADER_LEN]) -> Result<(Kind, u32)> {
    let kind =
        Kind::from_code(header[0]).with_context(|| format!("unknown frame kind {}", header[0]))?;
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
    ensure!(
        len <= kind.max_len(),
        "{kind:?} frame of {len} bytes exceeds the limit of {}",
        kind.max_len()
    );
    Ok((kind, len))
}

/// The prefix of a `Block` frame whose payload the caller places right
/// after it, so a block read from disk is sent without copying.
pub(crate) fn block_prefix(id: u32, offset: u64, hash: u128, len: u32) -> [u8; BLOCK_PREFIX] {
    let mut out = [0u8; BLOCK_PREFIX];
    out[0] = Kind::Block as u8;
    out[1..5].copy_from_slice(&(len + (BLOCK_PREFIX - HEADER_LEN) as u32).to_be_bytes());
    out[5..9].copy_from_slice(&id.to_be_bytes());
    out[9..17].copy_from_slice(&offset.to_be_bytes());
    out[17..33].copy_from_slice(&hash.to_be_bytes());
    out
}

impl Frame<'_> {
    /// The frame's kind.
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Frame::Hello { .. } => Kind::Hello,
            Frame::Challenge { .. } => Kind::Challenge,
            Frame::Proof { .. } => Kind::Proof,
            Frame::Welcome => Kind::Welcome,
            Frame::Refuse { .. } => Kind::Refuse,
            Frame::Begin { .. } => Kind::Begin,
            Frame::Dir { .. } => Kind::Dir,
            Frame::File { .. } => Kind::File,
            Frame::Link { .. } => Kind::Link,
            Frame::ManifestEnd { .. } => Kind::ManifestEnd,
            Frame::Ready => Kind::Ready,
            Frame::Block { .. } => Kind::Block,
            Frame::Hole { .. } => Kind::Hole,
            Frame::Digest { .. } => Kind::Digest,
            Frame::End => Kind::End,
            Frame::Complete { .. } => Kind::Complete,
            Frame::Done => Kind::Done,
            Frame::Ping => Kind::Ping,
            Frame::Have { .. } => Kind::Have,
            Frame::Check { .. } => Kind::Check,
            Frame::Ask => Kind::Ask,
            Frame::Answer { .. } => Kind::Answer,
            Frame::Round { .. } => Kind::Round,
            Frame::Vanished { .. } => Kind::Vanished,
            Frame::Packed { .. } => Kind::Packed,
            Frame::Pages { .. } => Kind::Pages,
            Frame::Patch { .. } => Kind::Patch,
            Frame::Mended { .. } => Kind::Mended,
        }
    }

    /// Appends header and body to `out`. Fails only for a field longer
    /// than its limit (a bug of ours, never of the peer).
    pub(crate) fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        out.push(self.kind() as u8);
        out.extend_from_slice(&[0; 4]);
        match self {
            Frame::Hello {
                min_version,
                max_version,
                channel,
                nonce,
            } => {
                out.extend_from_slice(&min_version.to_be_bytes());
                out.extend_from_slice(&max_version.to_be_bytes());
                out.push(*channel as u8);
                out.extend_from_slice(nonce);
            }
            Frame::Challenge {
                version,
                nonce,
                proof,
            } => {
                out.extend_from_slice(&version.to_be_bytes());
                out.extend_from_slice(nonce);
                out.extend_from_slice(proof);
            }
            Frame::Proof { proof } => out.extend_from_slice(proof),
            Frame::Refuse { reason } => put_bytes(out, reason)?,
            Frame::Begin {
                mode,
                streams,
                block_size,
                live,
            } => {
                out.push(*mode as u8);
                out.extend_from_slice(&streams.to_be_bytes());
                out.extend_from_slice(&block_size.to_be_bytes());
                out.push(u8::from(*live));
            }
            Frame::Round { live } => out.push(u8::from(*live)),
            Frame::Dir { class, mode, path } => {
                out.push(*class as u8);
                out.extend_from_slice(&mode.to_be_bytes());
                put_bytes(out, path)?;
            }
            Frame::File {
                id,
                class,
                size,
                mode,
                path,
            } => {
                out.extend_from_slice(&id.to_be_bytes());
                out.push(*class as u8);
                out.extend_from_slice(&size.to_be_bytes());
                out.extend_from_slice(&mode.to_be_bytes());
                put_bytes(out, path)?;
            }
            Frame::Link {
                target,
                symlink,
                path,
            } => {
                out.extend_from_slice(&target.to_be_bytes());
                out.push(u8::from(*symlink));
                put_bytes(out, path)?;
            }
            Frame::ManifestEnd { files, bytes } => {
                out.extend_from_slice(&files.to_be_bytes());
                out.extend_from_slice(&bytes.to_be_bytes());
            }
            Frame::Block {
                id,
                offset,
                hash,
                data,
            } => {
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&offset.to_be_bytes());
                out.extend_from_slice(&hash.to_be_bytes());
                out.extend_from_slice(data);
            }
            Frame::Hole { id, offset, len } => {
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&offset.to_be_bytes());
                out.extend_from_slice(&len.to_be_bytes());
            }
            Frame::Digest { id, digest } => {
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&digest.to_be_bytes());
            }
            Frame::Complete { bypass, state } => {
                out.push(u8::from(*bypass));
                put_bytes(out, state)?;
            }
            Frame::Have { id, size } => {
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&size.to_be_bytes());
            }
            Frame::Check { id, offset, hash } | Frame::Mended { id, offset, hash } => {
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&offset.to_be_bytes());
                out.extend_from_slice(&hash.to_be_bytes());
            }
            Frame::Pages {
                id,
                offset,
                hashes: PageHashes(data),
            }
            | Frame::Patch { id, offset, data } => {
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&offset.to_be_bytes());
                out.extend_from_slice(data);
            }
            Frame::Answer { checks, needed } => {
                out.push(*checks);
                out.extend_from_slice(&needed.to_be_bytes());
            }
            Frame::Vanished { id } => out.extend_from_slice(&id.to_be_bytes()),
            Frame::Packed {
                id,
                offset,
                hash,
                codec,
                len,
                data,
            } => {
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&offset.to_be_bytes());
                out.extend_from_slice(&hash.to_be_bytes());
                out.push(*codec);
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(data);
            }
            Frame::Welcome | Frame::Ready | Frame::End | Frame::Done | Frame::Ping | Frame::Ask => {
            }
        }
        let len = out.len() - start - HEADER_LEN;
        let kind = self.kind();
        ensure!(
            len <= kind.max_len() as usize,
            "{kind:?} frame of {len} bytes exceeds the limit"
        );
        out[start + 1..start + HEADER_LEN].copy_from_slice(&(len as u32).to_be_bytes());
        Ok(())
    }
}

impl<'a> Frame<'a> {
    /// Parses the body of a frame whose header [`parse_header`] accepted.
    pub(crate) fn decode(kind: Kind, body: &'a [u8]) -> Result<Frame<'a>> {
        let mut b = Body::new(body);
        let frame = match kind {
            Kind::Hello => Frame::Hello {
                min_version: b.u16()?,
                max_version: b.u16()?,
                channel: match b.u8()? {
                    1 => Channel::Control,
                    2 => Channel::Data,
                    other => bail!("unknown channel {other}"),
                },
                nonce: b.array()?,
            },
            Kind::Challenge => Frame::Challenge {
                version: b.u16()?,
                nonce: b.array()?,
                proof: b.array()?,
            },
            Kind::Proof => Frame::Proof { proof: b.array()? },
            Kind::Welcome => Frame::Welcome,
            Kind::Refuse => Frame::Refuse { reason: b.bytes()? },
            Kind::Begin => Frame::Begin {
                mode: match b.u8()? {
                    1 => Mode::Sst,
                    2 => Mode::Bypass,
                    other => bail!("unknown transfer mode {other}"),
                },
                streams: b.u16()?,
                block_size: b.u32()?,
                live: b.flag()?,
            },
            Kind::Dir => Frame::Dir {
                class: Class::from_code(b.u8()?)?,
                mode: b.u32()?,
                path: b.path()?,
            },
            Kind::File => Frame::File {
                id: b.u32()?,
                class: Class::from_code(b.u8()?)?,
                size: b.u64()?,
                mode: b.u32()?,
                path: b.path()?,
            },
            Kind::Link => Frame::Link {
                target: b.u32()?,
                symlink: b.flag()?,
                path: b.path()?,
            },
            Kind::ManifestEnd => Frame::ManifestEnd {
                files: b.u32()?,
                bytes: b.u64()?,
            },
            Kind::Ready => Frame::Ready,
            Kind::Block => Frame::Block {
                id: b.u32()?,
                offset: b.u64()?,
                hash: u128::from_be_bytes(b.array()?),
                data: b.rest(),
            },
            Kind::Hole => Frame::Hole {
                id: b.u32()?,
                offset: b.u64()?,
                len: b.u32()?,
            },
            Kind::Digest => Frame::Digest {
                id: b.u32()?,
                digest: u128::from_be_bytes(b.array()?),
            },
            Kind::End => Frame::End,
            Kind::Complete => Frame::Complete {
                bypass: b.flag()?,
                state: b.bytes()?,
            },
            Kind::Done => Frame::Done,
            Kind::Ping => Frame::Ping,
            Kind::Have => Frame::Have {
                id: b.u32()?,
                size: b.u64()?,
            },
            Kind::Check => Frame::Check {
                id: b.u32()?,
                offset: b.u64()?,
                hash: u128::from_be_bytes(b.array()?),
            },
            Kind::Ask => Frame::Ask,
            Kind::Answer => Frame::Answer {
                checks: b.u8()?,
                needed: b.u64()?,
            },
            Kind::Round => Frame::Round { live: b.flag()? },
            Kind::Vanished => Frame::Vanished { id: b.u32()? },
            Kind::Packed => Frame::Packed {
                id: b.u32()?,
                offset: b.u64()?,
                hash: u128::from_be_bytes(b.array()?),
                codec: b.u8()?,
                len: b.u32()?,
                data: b.rest(),
            },
            Kind::Pages => Frame::Pages {
                id: b.u32()?,
                offset: b.u64()?,
                hashes: PageHashes::new(b.rest())?,
            },
            Kind::Patch => Frame::Patch {
                id: b.u32()?,
                offset: b.u64()?,
                data: b.rest(),
            },
            Kind::Mended => Frame::Mended {
                id: b.u32()?,
                offset: b.u64()?,
                hash: u128::from_be_bytes(b.array()?),
            },
        };
        ensure!(
            b.left() == 0,
            "{kind:?} frame has {} trailing bytes",
            b.left()
        );
        Ok(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(frame: &Frame<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        frame.encode(&mut out).expect("encodes");
        let header: [u8; HEADER_LEN] = out[..HEADER_LEN].try_into().expect("header");
        let (kind, len) = parse_header(&header).expect("valid header");
        assert_eq!(len as usize, out.len() - HEADER_LEN);
        let decoded = Frame::decode(kind, &out[HEADER_LEN..]).expect("decodes");
        assert_eq!(&decoded, frame);
        out
    }

    #[test]
    fn hello_exact_bytes() {
        let bytes = round_trip(&Frame::Hello {
            min_version: 1,
            max_version: 2,
            channel: Channel::Data,
            nonce: [0xab; 16],
        });
        let mut want = vec![1, 0, 0, 0, 21, 0, 1, 0, 2, 2];
        want.extend_from_slice(&[0xab; 16]);
        assert_eq!(bytes, want);
    }

    #[test]
    fn file_exact_bytes() {
        let bytes = round_trip(&Frame::File {
            id: 7,
            class: Class::Data,
            size: 0x0102,
            mode: 0o640,
            path: b"db/t#P#p0.ibd",
        });
        let mut want = vec![8, 0, 0, 0, 32];
        want.extend_from_slice(&[0, 0, 0, 7, 1]);
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 1, 2]);
        want.extend_from_slice(&0o640u32.to_be_bytes());
        want.extend_from_slice(&[0, 13]);
        want.extend_from_slice(b"db/t#P#p0.ibd");
        assert_eq!(bytes, want);
    }

    #[test]
    fn block_prefix_matches_encode() {
        let data = [7u8; 10];
        let frame = Frame::Block {
            id: 3,
            offset: 1 << 20,
            hash: 0x0011_2233_4455_6677_8899_aabb_ccdd_eeff,
            data: &data,
        };
        let bytes = round_trip(&frame);
        let prefix = block_prefix(3, 1 << 20, 0x0011_2233_4455_6677_8899_aabb_ccdd_eeff, 10);
        assert_eq!(&bytes[..BLOCK_PREFIX], &prefix);
        assert_eq!(&bytes[BLOCK_PREFIX..], &data);
    }

    #[test]
    fn every_kind_round_trips() {
        let frames = [
            Frame::Challenge {
                version: 1,
                nonce: [1; 16],
                proof: [2; 32],
            },
            Frame::Proof { proof: [3; 32] },
            Frame::Welcome,
            Frame::Refuse {
                reason: b"bad proof",
            },
            Frame::Begin {
                mode: Mode::Bypass,
                streams: 4,
                block_size: 1 << 20,
                live: true,
            },
            Frame::Dir {
                class: Class::Data,
                mode: 0o700,
                path: b"db",
            },
            Frame::Link {
                target: 4,
                symlink: true,
                path: b"db/t.MYD",
            },
            Frame::ManifestEnd {
                files: 9,
                bytes: 1 << 40,
            },
            Frame::Ready,
            Frame::Hole {
                id: 1,
                offset: 2,
                len: 3,
            },
            Frame::Digest { id: 5, digest: 6 },
            Frame::End,
            Frame::Complete {
                bypass: true,
                state: b"6d1f4a2c-0000-0000-0000-000000009b1e:42 0",
            },
            Frame::Done,
            Frame::Ping,
            Frame::Have { id: 3, size: 9 },
            Frame::Check {
                id: 1,
                offset: 1 << 20,
                hash: 77,
            },
            Frame::Ask,
            Frame::Answer {
                checks: 64,
                needed: 1 << 63,
            },
            Frame::Round { live: true },
            Frame::Round { live: false },
            Frame::Vanished { id: 8 },
            Frame::Packed {
                id: 1,
                offset: 0,
                hash: 5,
                codec: 2,
                len: 100,
                data: b"packed",
            },
            Frame::Pages {
                id: 2,
                offset: 1 << 20,
                hashes: PageHashes::new(&[9; 64 * 16]).expect("64 hashes"),
            },
            Frame::Patch {
                id: 2,
                offset: (1 << 20) + (16 << 10),
                data: b"page",
            },
            Frame::Mended {
                id: 2,
                offset: 1 << 20,
                hash: 11,
            },
        ];
        for frame in &frames {
            round_trip(frame);
        }
    }

    #[test]
    fn headers_are_checked_before_allocating() {
        assert!(parse_header(&[0, 0, 0, 0, 0]).is_err(), "kind 0");
        assert!(parse_header(&[200, 0, 0, 0, 0]).is_err(), "unknown kind");
        let too_big = (SMALL_MAX + 1).to_be_bytes();
        let header = [
            Kind::File as u8,
            too_big[0],
            too_big[1],
            too_big[2],
            too_big[3],
        ];
        assert!(parse_header(&header).is_err(), "oversized file frame");
        let max = Kind::Block.max_len().to_be_bytes();
        assert!(parse_header(&[Kind::Block as u8, max[0], max[1], max[2], max[3]]).is_ok());
    }

    #[test]
    fn malformed_bodies_are_errors_not_panics() {
        assert!(Frame::decode(Kind::Hello, &[0, 1]).is_err(), "short");
        assert!(Frame::decode(Kind::Ready, &[0]).is_err(), "trailing");
        assert!(Frame::decode(Kind::Dir, &[9, 0, 0]).is_err(), "bad class");
        assert!(
            Frame::decode(Kind::Dir, &[1, 0, 5, b'a']).is_err(),
            "short path"
        );
        assert!(
            Frame::decode(Kind::Complete, &[2, 0, 0]).is_err(),
            "bad flag"
        );
        let pages = |hashes: usize| {
            let mut body = vec![0u8; 12];
            body.resize(12 + hashes, 7);
            Frame::decode(Kind::Pages, &body).is_ok()
        };
        assert!(pages(16 * 64), "64 page hashes");
        assert!(!pages(0), "no page hash");
        assert!(!pages(17), "part of a hash");
        assert!(!pages(16 * 65), "more pages than a block has");
        // Every prefix of every valid body, and arbitrary bytes, must not panic.
        let mut rng = crate::testutil::Rng(0x9e37_79b9_7f4a_7c15);
        for code in 1..=27u8 {
            let kind = Kind::from_code(code).expect("known kind");
            for len in 0..64 {
                let _ = Frame::decode(kind, &rng.bytes(len));
            }
        }
    }
}
