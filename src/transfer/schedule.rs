//! Which piece a data stream sends next.
//!
//! Files are cut into pieces of [`PIECE_BLOCKS`] blocks. A stream keeps to
//! its file while the file has pieces left (sequential reads, one writer
//! per file on the joiner: concurrent `pwrite`s to one file serialise on
//! its inode lock), and otherwise starts the largest file nobody is
//! sending. Only when every file with pieces left is taken do two streams
//! share one, so a single huge tablespace still uses every stream at the end.

use std::sync::{Mutex, PoisonError};

use super::PIECE_BLOCKS;

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
}

/// The shared work queue of the donor's data streams.
#[derive(Debug)]
pub(crate) struct Schedule {
    state: Mutex<State>,
}

impl Schedule {
    /// A schedule for files of the given block counts and sizes.
    pub(crate) fn new(files: &[(u64, u64)]) -> Schedule {
        let cursors: Vec<Cursor> = files
            .iter()
            .map(|&(blocks, _)| Cursor {
                next: 0,
                pieces: blocks.div_ceil(PIECE_BLOCKS).max(1),
                blocks,
                senders: 0,
            })
            .collect();
        let mut order: Vec<u32> = (0..files.len() as u32).collect();
        order.sort_by_key(|&id| std::cmp::Reverse(files[id as usize].1));
        Schedule {
            state: Mutex::new(State {
                cursors,
                order,
                start: 0,
            }),
        }
    }

    /// The next piece for a stream that last sent a piece of `previous`.
    pub(crate) fn next(&self, previous: Option<u32>) -> Option<Piece> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(file) = previous {
            if state.cursors[file as usize].left() > 0 {
                return Some(take(&mut state.cursors[file as usize], file));
            }
            let cursor = &mut state.cursors[file as usize];
            cursor.senders = cursor.senders.saturating_sub(1);
        }
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
        } = &mut *state;
        let candidates = order[*start..].iter().copied();
        let free = candidates
            .clone()
            .find(|&f| cursors[f as usize].left() > 0 && cursors[f as usize].senders == 0);
        let file = free.or_else(|| {
            candidates
                .filter(|&f| cursors[f as usize].left() > 0)
                .max_by_key(|&f| cursors[f as usize].left())
        })?;
        cursors[file as usize].senders += 1;
        Some(take(&mut cursors[file as usize], file))
    }
}

fn take(cursor: &mut Cursor, file: u32) -> Piece {
    let first = cursor.next * PIECE_BLOCKS;
    cursor.next += 1;
    Piece {
        file,
        first,
        count: cursor.blocks.saturating_sub(first).min(PIECE_BLOCKS),
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
        let files = [(3 * p, 30), (2 * p + p / 2, 20), (0, 0), (1, 1)];
        let got = drain(&Schedule::new(&files), 2);
        let mut all: Vec<Piece> = got.iter().flatten().copied().collect();
        all.sort_by_key(|x| (x.file, x.first));
        let mut expected = Vec::new();
        for (file, &(blocks, _)) in files.iter().enumerate() {
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
        let files = [(10 * PIECE_BLOCKS, 10)];
        let got = drain(&Schedule::new(&files), 3);
        assert!(got.iter().all(|g| !g.is_empty()), "{got:?}");
        assert_eq!(got.iter().map(Vec::len).sum::<usize>(), 10);
    }

    #[test]
    fn nothing_to_send_is_nothing() {
        assert_eq!(Schedule::new(&[]).next(None), None);
    }
}
