//! Which piece a data stream sends next.
//!
//! Files are cut into pieces of [`PIECE_BLOCKS`] blocks, fewer when the
//! round is small for its streams (see [`piece_blocks`]). A stream keeps to
//! its file while the file has pieces left (sequential reads, one writer
//! per file on the joiner: concurrent `pwrite`s to one file serialise on
//! its inode lock), and otherwise starts the largest file nobody is
//! sending. Only when every file with pieces left is taken do two streams
//! share one, so a single huge tablespace still uses every stream at the end.

use std::sync::{Mutex, PoisonError};

use super::PIECE_BLOCKS;

/// Pieces each stream gets at least, where [`piece_blocks`] can make them
/// so: the last piece a stream sends is then at most an eighth of its
/// share, so streams end close together. On a lossy WAN link a stream
/// moves about 10 Mbit/s; one 64 MiB piece (a whole redo log) took 63 s
/// there while the other ten streams had finished in a third of it.
const PIECES_PER_STREAM: u64 = 8;

/// Blocks per piece for a round of `blocks` blocks over `streams` streams:
/// [`PIECE_BLOCKS`], or fewer so that each stream gets
/// [`PIECES_PER_STREAM`] pieces; a block at least.
pub(crate) fn piece_blocks(blocks: u64, streams: usize) -> u64 {
    let shares = (streams as u64).max(1).saturating_mul(PIECES_PER_STREAM);
    (blocks / shares).clamp(1, PIECE_BLOCKS)
}

/// Blocks `first..first + count` of file `file`; a file of no blocks is
/// one piece of none (it still gets its digest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Piece {
    pub(crate) file: u32,
    pub(crate) first: u64,
    pub(crate) count: u64,
}

#[derive(Debug)]
struct Cursor {
    /// Next piece to hand out, and how many the file has.
    next: u64,
    pieces: u64,
    blocks: u64,
    /// Streams currently sending this file.
    senders: u32,
    /// Sent before the others (see [`Schedule::new`]).
    urgent: bool,
}

impl Cursor {
    fn left(&self) -> u64 {
        self.pieces - self.next
    }
}

#[derive(Debug)]
struct State {
    cursors: Vec<Cursor>,
    /// File ids, largest first.
    order: Vec<u32>,
    /// Files of `order` before this index have no pieces left.
    start: usize,
    /// Blocks per piece.
    piece: u64,
}

/// The shared work queue of the donor's data streams.
#[derive(Debug)]
pub(crate) struct Schedule {
    state: Mutex<State>,
}

impl Schedule {
    /// A schedule for files of the given block counts and sizes, those
    /// marked urgent (read under the lock) before the others, in pieces
    /// of `piece` blocks (at least one).
    pub(crate) fn new(files: &[(u64, u64, bool)], piece: u64) -> Schedule {
        let piece = piece.max(1);
        let cursors: Vec<Cursor> = files
            .iter()
            .map(|&(blocks, _, urgent)| Cursor {
                next: 0,
                pieces: blocks.div_ceil(piece).max(1),
                blocks,
                senders: 0,
                urgent,
            })
            .collect();
        let mut order: Vec<u32> = (0..files.len() as u32).collect();
        order.sort_by_key(|&id| {
            let (_, size, urgent) = files[id as usize];
            std::cmp::Reverse((urgent, size))
        });
        Schedule {
            state: Mutex::new(State {
                cursors,
                order,
                start: 0,
                piece,
            }),
        }
    }

    /// The next piece for a stream that last sent a piece of `previous`.
    pub(crate) fn next(&self, previous: Option<u32>) -> Option<Piece> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(&file) = state.order.get(state.start) {
            if state.cursors[file as usize].left() > 0 {
                break;
            }
            state.start += 1;
        }
        let State {
            cursors,
            order,
            start,
            piece,
        } = &mut *state;
        let piece = *piece;
        // Urgent files come first in `order`: the first with pieces left
        // tells whether any urgent piece is left.
        let urgent_left = order
            .get(*start)
            .is_some_and(|&f| cursors[f as usize].urgent);
        if let Some(file) = previous {
            let cursor = &mut cursors[file as usize];
            if cursor.left() > 0 && (cursor.urgent || !urgent_left) {
                return Some(take(cursor, file, piece));
            }
            cursor.senders = cursor.senders.saturating_sub(1);
        }
        let candidates = || {
            order[*start..]
                .iter()
                .copied()
                .filter(|&f| cursors[f as usize].left() > 0)
        };
        let free = candidates().find(|&f| {
            let cursor = &cursors[f as usize];
            cursor.senders == 0 && (cursor.urgent || !urgent_left)
        });
        let file = free.or_else(|| {
            candidates().max_by_key(|&f| (cursors[f as usize].urgent, cursors[f as usize].left()))
        })?;
        cursors[file as usize].senders += 1;
        Some(take(&mut cursors[file as usize], file, piece))
    }
}

fn take(cursor: &mut Cursor, file: u32, piece: u64) -> Piece {
    let first = cursor.next * piece;
    cursor.next += 1;
    Piece {
        file,
        first,
        count: cursor.blocks.saturating_sub(first).min(piece),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `streams` streams round-robin to the end; returns, per stream,
    /// the pieces it got.
    fn drain(schedule: &Schedule, streams: usize) -> Vec<Vec<Piece>> {
        let mut got = vec![Vec::new(); streams];
        let mut current: Vec<Option<u32>> = vec![None; streams];
        let mut done = vec![false; streams];
        while done.iter().any(|d| !d) {
            for s in 0..streams {
                if done[s] {
                    continue;
                }
                match schedule.next(current[s]) {
                    Some(piece) => {
                        current[s] = Some(piece.file);
                        got[s].push(piece);
                    }
                    None => done[s] = true,
                }
            }
        }
        got
    }

    #[test]
    fn every_block_once_and_streams_keep_to_their_files() {
        let p = PIECE_BLOCKS;
        // File 0: 3 pieces, file 1: 2.5 pieces, file 2: empty, file 3: 1 block.
        let files = [
            (3 * p, 30, false),
            (2 * p + p / 2, 20, false),
            (0, 0, false),
            (1, 1, false),
        ];
        let got = drain(&Schedule::new(&files, p), 2);
        let mut all: Vec<Piece> = got.iter().flatten().copied().collect();
        all.sort_by_key(|x| (x.file, x.first));
        let mut expected = Vec::new();
        for (file, &(blocks, _, _)) in files.iter().enumerate() {
            let pieces = blocks.div_ceil(p).max(1);
            for i in 0..pieces {
                let first = i * p;
                expected.push(Piece {
                    file: file as u32,
                    first,
                    count: blocks.saturating_sub(first).min(p),
                });
            }
        }
        assert_eq!(all, expected);
        // The two largest files start on different streams.
        assert_eq!(got[0][0].file, 0);
        assert_eq!(got[1][0].file, 1);
        // Stream 0 sends file 0 alone, in order.
        let firsts: Vec<u64> = got[0]
            .iter()
            .filter(|x| x.file == 0)
            .map(|x| x.first)
            .collect();
        assert_eq!(firsts, [0, p, 2 * p]);
    }

    #[test]
    fn one_big_file_is_shared_by_every_stream() {
        let files = [(10 * PIECE_BLOCKS, 10, false)];
        let got = drain(&Schedule::new(&files, PIECE_BLOCKS), 3);
        assert!(got.iter().all(|g| !g.is_empty()), "{got:?}");
        assert_eq!(got.iter().map(Vec::len).sum::<usize>(), 10);
    }

    #[test]
    fn urgent_files_go_first_and_are_shared_first() {
        let p = PIECE_BLOCKS;
        // A big file with a clone, two small ones to read under the lock.
        let files = [(8 * p, 80, false), (3 * p, 3, true), (p, 1, true)];
        let schedule = Schedule::new(&files, p);
        let mut current: Vec<Option<u32>> = vec![None; 3];
        let mut handed = Vec::new();
        for turn in 0..12 {
            let s = turn % 3;
            if let Some(piece) = schedule.next(current[s]) {
                current[s] = Some(piece.file);
                handed.push(piece.file);
            }
        }
        assert_eq!(
            handed[..3],
            [1, 2, 1],
            "both urgent files start, the larger shared"
        );
        assert_eq!(
            handed[..4],
            [1, 2, 1, 1],
            "every urgent piece before the others"
        );
        assert_eq!(handed.len(), 12, "then the big file on every stream");
    }

    #[test]
    fn nothing_to_send_is_nothing() {
        assert_eq!(Schedule::new(&[], 0).next(None), None);
    }

    #[test]
    fn a_small_round_over_many_streams_gets_small_pieces() {
        assert_eq!(piece_blocks(4500, 2), PIECE_BLOCKS, "4.4 GiB, 2 streams");
        assert_eq!(piece_blocks(2100, 11), 23);
        assert_eq!(piece_blocks(207, 11), 2);
        assert_eq!(piece_blocks(3, 11), 1);
        assert_eq!(piece_blocks(0, 0), 1);
        // A 64-block redo log among 140 one-block files, 11 streams: the
        // log goes in pieces of 2 blocks, and the streams that run out of
        // other files share it, instead of one stream sending it whole.
        let mut files = vec![(64, 64 << 20, false)];
        files.extend((0..140).map(|_| (1, 1 << 20, false)));
        let piece = piece_blocks(204, 11);
        assert_eq!(piece, 2);
        let got = drain(&Schedule::new(&files, piece), 11);
        let pieces: Vec<&Piece> = got.iter().flatten().collect();
        assert_eq!(pieces.iter().map(|p| p.count).sum::<u64>(), 204);
        assert!(pieces.iter().all(|p| p.count <= piece));
        let sharing = got.iter().filter(|g| g.iter().any(|p| p.file == 0)).count();
        assert!(sharing > 1, "{got:?}");
    }
}
