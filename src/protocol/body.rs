//! The fields of a frame body: a bounds-checked reader ([`Body`]) of
//! big-endian integers, flags and `u16`-length-prefixed bytes, and the
//! writer of those bytes. Knows no frame kind; `frame` says which fields
//! each kind has.

use anyhow::{Context, Result, bail, ensure};

use super::MAX_PATH;

/// Appends `bytes` with their `u16` length before them.
pub(super) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) -> Result<()> {
    let len = u16::try_from(bytes.len()).context("field longer than 65535 bytes")?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

/// A cursor over a frame body; every read is bounds-checked.
#[derive(Debug)]
pub(super) struct Body<'a> {
    buf: &'a [u8],
}

impl<'a> Body<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Body { buf }
    }

    /// Bytes not read yet.
    pub(super) fn left(&self) -> usize {
        self.buf.len()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        ensure!(self.buf.len() >= n, "frame body too short");
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub(super) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(super) fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    pub(super) fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(super) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(super) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    pub(super) fn flag(&mut self) -> Result<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            other => bail!("bad flag {other}"),
        }
    }

    /// Bytes written by [`put_bytes`].
    pub(super) fn bytes(&mut self) -> Result<&'a [u8]> {
        let len = self.u16()?;
        self.take(len.into())
    }

    /// A path: bytes of at most [`MAX_PATH`].
    pub(super) fn path(&mut self) -> Result<&'a [u8]> {
        let path = self.bytes()?;
        ensure!(path.len() <= MAX_PATH, "path of {} bytes", path.len());
        Ok(path)
    }

    /// All that is left.
    pub(super) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_back_what_was_written() {
        let mut out = vec![1, 0, 0, 0, 0, 0, 0, 2, 0];
        put_bytes(&mut out, b"db/t.ibd").expect("short field");
        out.extend_from_slice(b"tail");
        assert_eq!(&out[9..11], &[0, 8], "u16 length, big endian");
        let mut b = Body::new(&out);
        assert!(b.flag().expect("flag"));
        assert_eq!(b.u64().expect("u64"), 2 << 8);
        assert_eq!(b.path().expect("path"), b"db/t.ibd");
        assert_eq!(b.left(), 4);
        assert_eq!(b.rest(), b"tail");
        assert_eq!(b.left(), 0);
    }

    #[test]
    fn bounds_are_errors() {
        let err = |r: Result<()>| format!("{:#}", r.expect_err("must fail"));
        assert_eq!(
            err(Body::new(&[0, 1]).u32().map(drop)),
            "frame body too short"
        );
        assert_eq!(err(Body::new(&[2]).flag().map(drop)), "bad flag 2");
        assert_eq!(
            err(Body::new(&[0, 3, b'a']).bytes().map(drop)),
            "frame body too short"
        );
        let mut long = vec![0x10, 0x01];
        long.resize(2 + MAX_PATH + 1, b'a');
        assert_eq!(
            err(Body::new(&long).path().map(drop)),
            format!("path of {} bytes", MAX_PATH + 1)
        );
        let too_long = err(put_bytes(&mut Vec::new(), &vec![0; 65536]));
        assert!(
            too_long.starts_with("field longer than 65535 bytes"),
            "{too_long}"
        );
    }
}
