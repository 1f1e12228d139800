//! The rsrsync wire protocol, version 4 (1 had one live round at most; 2
//! sent a differing block whole; 3 sent a `DATA DIRECTORY` table's `.isl`
//! without its data).
//!
//! # Connections
//!
//! The joiner listens on the SST port and publishes
//! `[user]:<secret>@<host>:<port>/rsrsync_sst//<version>` in its `ready`
//! line. The donor opens one **control** connection, and, after the joiner
//! accepted the file list, N **data** connections. Every connection starts
//! with the same handshake; nothing else is accepted before it succeeds.
//!
//! # Framing
//!
//! Every message is a frame: a 5-byte header `kind: u8, len: u32 (big
//! endian)` and `len` bytes of body. Each kind has a maximum body length
//! ([`Kind::max_len`]) checked before anything is allocated; an unknown kind
//! or an oversized length ends the connection. Integers are big endian;
//! strings and paths are `u16` length + bytes (paths are raw bytes, never
//! trusted: the joiner validates every one).
//!
//! # Handshake (per connection)
//!
//! ```text
//! donor  -> Hello     { min_version, max_version, channel, donor_nonce }
//! joiner -> Challenge { version, joiner_nonce, joiner_proof }   or Refuse
//! donor  -> Proof     { donor_proof }
//! joiner -> Welcome                                             or Refuse
//! ```
//!
//! Proofs are BLAKE3 keyed hashes under a key derived from the per-SST
//! secret ([`auth`]), over both nonces, the version and the channel, and
//! each side's role: the donor proves it knows the secret the joiner
//! published, and the joiner proves the same back, so neither a stranger
//! nor a stale listener can take part. The joiner answers a bad proof with
//! `Refuse` and closes; the first read of each handshake step is bounded by
//! a timeout.
//!
//! # Control connection (after the handshake)
//!
//! ```text
//! donor  -> Begin { mode: Sst | Bypass, streams, block_size, live }
//! (Sst)     then rounds: the locked one alone, or when `live` one to
//!           three live rounds and the locked one:
//! donor  -> (Dir | File | Link)* ManifestEnd { files, bytes }  a round's files
//! joiner -> Have { id, size }*  Ready      (old files deleted; data may flow)
//!           ... N data connections carry the round's data ...
//! donor  -> Round { live }                 (after a live round: another
//!                                           round's file list follows)
//! donor  -> Complete { bypass, state }     (after the last round)
//! joiner -> Done                           (verified and synced) or Refuse
//! either -> Ping                           (keepalive, any time, ignored)
//! ```
//!
//! With `live`, the first rounds run while the donor's server is writing
//! (files may change under them; each live round after the first sends
//! what changed during the one before); the donor then takes FLUSH TABLES
//! WITH READ LOCK, and the locked round compares every block again and
//! sends only what differs, so every byte the joiner keeps was compared
//! under the lock and the lock lasts for the differences, not the copy.
//!
//! A table whose files live outside the datadir (`DATA DIRECTORY`,
//! `INDEX DIRECTORY`) travels as a `File` of class `External`, named by the
//! donor's absolute path without its leading `/`, followed by a `Link` that
//! names it from the database directory: the InnoDB `.isl` file, or the
//! MyISAM/Aria symbolic link. The joiner maps the path (its
//! `rsrsync-data-dir-map`), checks that it may write there, receives the
//! data like any other file's, and once every file is verified writes the
//! `.isl` or the link itself, naming the file it placed.
//!
//! # Data connections
//!
//! ```text
//! donor  -> (Block | Hole | Check* Ask [Pages* (Patch* Mended)*]
//!            | Digest | Vanished)* End
//! joiner -> Answer                         (one per Ask, one per Pages)
//! ```
//!
//! A file is cut into blocks of `block_size` bytes (the last one shorter).
//! `Block` carries one block with the XXH3-128 hash of its bytes; `Hole`
//! stands for a block of zeros the donor's file does not store (sparse
//! files stay sparse). For a file the joiner announced with `Have`, the
//! donor first sends `Check` (the block's hash) for blocks within the
//! joiner's size, then `Ask`; the joiner compares with its own block (read
//! and hashed, or remembered from the live round) and answers with a bitmap
//! of the blocks it lacks (delta transfer). A block the joiner lacks is
//! compared again page by page ([`PAGES`] pages of `block_size / PAGES`
//! bytes): the donor sends `Pages` (the hashes of its pages) for each, the
//! joiner answers each with the bitmap of the pages that differ, and the
//! donor sends those pages as `Patch` frames, then `Mended` with the hash of
//! the whole block, which the joiner checks against what its file now
//! holds. A page changed in the meantime (live rounds) is sent too. Pages
//! are never compressed. A connection sends the blocks, checks and `Ask`
//! of piece after piece (of 64 blocks) without waiting, up to a window of
//! pieces asked about, and settles the oldest (its `Pages`, `Patch`es and
//! `Mended`) once the window is full: the joiner compares while the donor
//! reads, and a compare costs a round trip per window, not per piece. The
//! joiner answers in the order it reads, so the donor reads the answers to
//! every `Ask` it sent before the `Pages` of the piece it settles, then
//! those of the `Pages`. The joiner takes at most 64 checks per `Ask` and
//! 64 blocks being mended at once per connection (a donor keeps one
//! piece's at most); the window is the donor's alone (this was so in
//! version 4 already: one piece asked about at a time was a donor's choice,
//! not a rule of the joiner).
//!
//! `Digest` carries the file digest: XXH3-128 over the concatenated block
//! hashes in block order ([`digest`]). `Vanished` (live rounds only) gives a
//! file up that changed under the donor; the locked round settles it. The
//! joiner drops the blocks of it being mended on that connection; checks of
//! it that went out are still asked about and answered.
//! Blocks of one file may travel on several data connections; the joiner
//! accepts a file only when every block is in place once, each with a
//! matching hash, and the digest it computed equals the donor's.

pub(crate) mod auth;
mod body;
mod class;
pub(crate) mod digest;
pub(crate) mod frame;

pub(crate) use class::Class;
pub(crate) use frame::{Channel, Frame, Kind, Mode};

/// The protocol versions this build speaks.
pub(crate) const VERSION: u16 = 4;

/// The module name published in the `ready` address.
pub(crate) const MODULE: &str = "rsrsync_sst";

/// The user part the joiner publishes when it has no certificate name to
/// publish: MariaDB 11.x hands the donor the joiner's secret only when the
/// user part is not empty.
pub(crate) const NO_USER: &str = "rsrsync";

/// Largest block a peer may announce (and the largest `Block` body).
pub(crate) const MAX_BLOCK: u32 = 4 << 20;

/// Pages per block for the page compare of a differing block (one bit each
/// in an `Answer`): 16 KiB pages in the 1 MiB blocks we send, InnoDB's
/// default page size.
pub(crate) const PAGES: u32 = 64;

/// Smallest block a peer may announce.
pub(crate) const MIN_BLOCK: u32 = 4 << 10;

/// Longest path accepted on the wire (Linux `PATH_MAX`).
pub(crate) const MAX_PATH: usize = 4096;
