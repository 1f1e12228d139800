//! The compare window of a donor's data stream: the pieces whose checks
//! went out with their `Ask`, oldest first, each with the joiner's answer
//! once it is read. A stream keeps up to [`Window::limit`] of them in
//! flight, so a round that compares many small files costs about one round
//! trip per window, not one per file: on a WAN link of 50 ms, 685 files
//! compared one at a time on 2 streams took 17 s a round.
//!
//! The joiner answers every `Ask` (and every `Pages`) in the order they
//! arrive, so answers are read in the order the asks went out: the answered
//! pieces are always a prefix of the window.

use std::collections::VecDeque;

use nix::sys::resource::{Resource, getrlimit};

/// Most pieces a stream keeps in flight. Each holds its checks (64 at most,
/// a few KiB) and its file open; the joiner's answers to them (14 bytes
/// each, 36 with TLS) wait in the donor's receive buffer, far below what
/// it holds, so the joiner never blocks writing them while the donor
/// writes (both blocked on full buffers would be a deadlock).
pub(super) const MAX_PIECES: usize = 128;

/// Fewest: one piece asked about while the stream reads the next.
const MIN_PIECES: usize = 2;

/// Descriptors kept for everything else (connections, walk, clones' spare).
const SPARE_FDS: u64 = 256;

/// Pieces asked about and not yet settled, oldest first.
#[derive(Debug)]
pub(super) struct Window<T> {
    flights: VecDeque<(T, Option<u64>)>,
    limit: usize,
}

impl<T> Window<T> {
    pub(super) fn new(limit: usize) -> Self {
        Window {
            flights: VecDeque::new(),
            limit: limit.clamp(MIN_PIECES, MAX_PIECES),
        }
    }

    /// A piece whose `Ask` just went out.
    pub(super) fn push(&mut self, piece: T) {
        self.flights.push_back((piece, None));
    }

    /// Whether the oldest piece must be settled before another is read.
    pub(super) fn is_full(&self) -> bool {
        self.flights.len() >= self.limit
    }

    /// The oldest piece, and its answer when it was read already.
    pub(super) fn pop(&mut self) -> Option<(T, Option<u64>)> {
        self.flights.pop_front()
    }

    /// The pieces whose answer is not read yet, oldest first (for a stream
    /// that must read past them to an answer that follows theirs).
    pub(super) fn unanswered(&mut self) -> impl Iterator<Item = (&T, &mut Option<u64>)> {
        self.flights
            .iter_mut()
            .skip_while(|(_, answer)| answer.is_some())
            .map(|(piece, answer)| (&*piece, answer))
    }
}

/// The window of each of `streams` streams: [`MAX_PIECES`], or less when
/// the descriptors this process may open would not hold every stream's
/// pieces open at once (half of them, after [`SPARE_FDS`]; the soft limit
/// is mariadbd's, usually its `open_files_limit`).
pub(super) fn pieces_per_stream(streams: usize) -> usize {
    let soft = getrlimit(Resource::RLIMIT_NOFILE).map_or(1024, |(soft, _)| soft);
    budget(soft, streams)
}

fn budget(soft: u64, streams: usize) -> usize {
    let per_stream = soft.saturating_sub(SPARE_FDS) / 2 / streams.max(1) as u64;
    (per_stream.min(MAX_PIECES as u64) as usize).max(MIN_PIECES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_a_prefix_and_pieces_leave_oldest_first() {
        let mut window = Window::new(3);
        for piece in ['a', 'b', 'c'] {
            assert!(!window.is_full());
            window.push(piece);
        }
        assert!(window.is_full());
        // Reading past `a` stores the answers of those before the one read.
        for (i, (_, answer)) in window.unanswered().take(2).enumerate() {
            *answer = Some(i as u64);
        }
        let left: Vec<char> = window.unanswered().map(|(p, _)| *p).collect();
        assert_eq!(left, ['c']);
        assert_eq!(window.pop(), Some(('a', Some(0))));
        assert_eq!(window.pop(), Some(('b', Some(1))));
        assert_eq!(window.pop(), Some(('c', None)));
        assert_eq!(window.pop(), None);
    }

    #[test]
    fn the_window_fits_the_descriptors() {
        assert_eq!(budget(1024, 2), MAX_PIECES);
        assert_eq!(budget(1 << 20, 64), MAX_PIECES);
        assert_eq!(budget(1024, 64), 6);
        assert_eq!(budget(100, 64), MIN_PIECES);
        let mut window = Window::new(0);
        window.push(());
        assert!(!window.is_full(), "two at least");
        window.push(());
        assert!(window.is_full());
    }
}
