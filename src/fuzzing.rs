//! Entry points for the fuzz targets (`tests/fuzz`), compiled only with the
//! `fuzzing` feature: they feed untrusted bytes to the decoders the joiner
//! exposes to the network and must never panic or over-allocate.

use crate::fsutil::RelPath;
use crate::protocol::frame::{self, HEADER_LEN};
use crate::protocol::{Frame, Kind};

/// Decodes `data` as a sequence of frames, as a connection would: each
/// header is checked before its body is taken.
pub fn frames(data: &[u8]) {
    let mut rest = data;
    while rest.len() >= HEADER_LEN {
        let header: [u8; HEADER_LEN] = match rest[..HEADER_LEN].try_into() {
            Ok(h) => h,
            Err(_) => return,
        };
        let Ok((kind, len)) = frame::parse_header(&header) else {
            return;
        };
        assert!(
            len <= kind.max_len(),
            "a header passed with an oversized body"
        );
        let body_end = HEADER_LEN + len as usize;
        if rest.len() < body_end {
            return;
        }
        if let Ok(decoded) = Frame::decode(kind, &rest[HEADER_LEN..body_end]) {
            // What decodes must encode back to the same bytes.
            let mut again = Vec::new();
            if decoded.encode(&mut again).is_ok() {
                assert_eq!(
                    &again[..],
                    &rest[..body_end],
                    "{kind:?} does not round-trip"
                );
            }
            if let Frame::Block { data, .. } = decoded {
                assert!(data.len() <= Kind::Block.max_len() as usize);
            }
        }
        rest = &rest[body_end..];
    }
}

/// Validates `data` as a peer-supplied path; what passes must be safe.
pub fn path(data: &[u8]) {
    if let Ok(rel) = RelPath::parse(data) {
        let wire = rel.to_bytes();
        assert_eq!(wire, data, "a valid path changes on the way back");
        assert!(!wire.starts_with(b"/"));
        for part in rel.components() {
            let bytes = part.as_encoded_bytes();
            assert!(!bytes.is_empty() && bytes != b"." && bytes != b"..");
            assert!(!bytes.contains(&b'/') && !bytes.contains(&0));
        }
    }
}

/// Parses `data` as an InnoDB redo log file (`ib_logfile0`), as the
/// donor's redo log index reads the one its server writes: whatever the
/// bytes, an error or what the records touch, never a panic.
pub fn redo(data: &[u8]) {
    crate::transfer::redo::fuzz(data);
}
