//! Optional compression of blocks, for slow links (`[sst]
//! rsrsync-compress=lz4|zstd`, default none). The donor compresses a block
//! only when that saves at least an eighth of it, else sends it raw; the
//! joiner decompresses into a buffer bounded by the block's expected size
//! and checks the hash of the result, so a bad or hostile stream cannot
//! inflate memory or slip past the integrity check.

use anyhow::{Context, Result, bail, ensure};

/// Compression of a block on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    Lz4 = 1,
    Zstd = 2,
}

/// zstd level: fast enough to keep up with a gigabit link on one core.
const ZSTD_LEVEL: i32 = 3;

impl Codec {
    /// The codec for `[sst] rsrsync-compress`; `None` for "none".
    pub(crate) fn from_name(name: &str) -> Option<Codec> {
        match name {
            "lz4" => Some(Codec::Lz4),
            "zstd" => Some(Codec::Zstd),
            _ => None,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<Codec> {
        match code {
            1 => Some(Codec::Lz4),
            2 => Some(Codec::Zstd),
            _ => None,
        }
    }
}

/// The donor's compressor (one per stream).
pub(crate) struct Compressor {
    codec: Codec,
    zstd: Option<zstd::bulk::Compressor<'static>>,
    out: Vec<u8>,
}

impl std::fmt::Debug for Compressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compressor")
            .field("codec", &self.codec)
            .finish()
    }
}

impl Compressor {
    pub(crate) fn new(codec: Codec, max_block: usize) -> Result<Compressor> {
        let zstd = match codec {
            Codec::Zstd => Some(
                zstd::bulk::Compressor::new(ZSTD_LEVEL).context("setting up zstd compression")?,
            ),
            Codec::Lz4 => None,
        };
        let bound = match codec {
            Codec::Zstd => zstd::zstd_safe::compress_bound(max_block),
            Codec::Lz4 => lz4_flex::block::get_maximum_output_size(max_block),
        };
        Ok(Compressor {
            codec,
            zstd,
            out: vec![0; bound],
        })
    }

    pub(crate) fn codec(&self) -> Codec {
        self.codec
    }

    /// `data` compressed, when that saves at least an eighth of it.
    pub(crate) fn compress(&mut self, data: &[u8]) -> Option<&[u8]> {
        let len = match (&mut self.zstd, self.codec) {
            (Some(z), _) => z.compress_to_buffer(data, &mut self.out[..]).ok()?,
            (None, _) => lz4_flex::block::compress_into(data, &mut self.out).ok()?,
        };
        (len < data.len() - data.len() / 8).then(|| &self.out[..len])
    }
}

/// The joiner's decompressor (one per stream).
pub(crate) struct Decompressor {
    zstd: zstd::bulk::Decompressor<'static>,
    out: Vec<u8>,
}

impl std::fmt::Debug for Decompressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Decompressor")
    }
}

impl Decompressor {
    pub(crate) fn new(max_block: usize) -> Result<Decompressor> {
        Ok(Decompressor {
            zstd: zstd::bulk::Decompressor::new().context("setting up zstd decompression")?,
            out: vec![0; max_block],
        })
    }

    /// Decompresses `data` into exactly `len` bytes (at most the block size).
    pub(crate) fn decompress(&mut self, codec: Codec, data: &[u8], len: usize) -> Result<&[u8]> {
        ensure!(
            len <= self.out.len(),
            "a compressed block of {len} bytes exceeds the block size"
        );
        let out = &mut self.out[..len];
        let got = match codec {
            Codec::Lz4 => lz4_flex::block::decompress_into(data, out)
                .map_err(|e| anyhow::anyhow!("lz4: {e}"))?,
            Codec::Zstd => self
                .zstd
                .decompress_to_buffer(data, out)
                .map_err(|e| anyhow::anyhow!("zstd: {e}"))?,
        };
        if got != len {
            bail!("a compressed block expanded to {got} bytes, expected {len}");
        }
        Ok(&self.out[..len])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_raw_fallback() {
        let page: Vec<u8> = (0..1 << 20).map(|i| (i % 97) as u8).collect();
        let noise = crate::testutil::Rng(7).bytes(1 << 20);
        let mut d = Decompressor::new(1 << 20).expect("decompressor");
        for codec in [Codec::Lz4, Codec::Zstd] {
            let mut c = Compressor::new(codec, 1 << 20).expect("compressor");
            let packed = c.compress(&page).expect("compresses").to_vec();
            assert!(packed.len() < page.len() / 4, "{codec:?}: {}", packed.len());
            assert_eq!(
                d.decompress(codec, &packed, page.len()).expect("back"),
                &page[..]
            );
            assert!(c.compress(&noise).is_none(), "{codec:?}: noise goes raw");
            // A stream that lies about its length cannot overflow or pass.
            assert!(d.decompress(codec, &packed, 1000).is_err());
            assert!(d.decompress(codec, &packed, 2 << 20).is_err());
            assert!(d.decompress(codec, &noise[..5000], 1 << 20).is_err());
        }
        assert_eq!(Codec::from_name("zstd"), Some(Codec::Zstd));
        assert_eq!(Codec::from_name("none"), None);
        assert_eq!(Codec::from_code(3), None);
    }
}
