//! The file classes: which of the datadir's places a file comes from and
//! goes to, with their wire codes.

use anyhow::{Context, Result};

/// The file classes of the rsync method; each lives in its own directory
/// on each side (spec §5.3), so the joiner places it by class, not by path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Class {
    /// Database directories under the datadir (paths `db/...`).
    Data = 1,
    /// `ibdata*`, `ib_lru_dump`, from `innodb_data_home_dir`.
    SysTablespace = 2,
    /// `ib_logfile0`, from `innodb_log_group_home_dir`.
    Redo = 3,
    /// `undo*`, from `innodb_undo_directory`.
    Undo = 4,
    /// `aria_log_control`, `aria_log.*`, from `aria_log_dir_path`.
    AriaLog = 5,
    /// The newest binary logs, flattened to their base names.
    Binlog = 6,
    /// A table's file outside the datadir (`DATA DIRECTORY`, `INDEX
    /// DIRECTORY`): the path is the donor's absolute path without its
    /// leading `/`; a `Link` of the file list names the table it serves.
    External = 7,
}

impl Class {
    pub(crate) const ALL: [Class; 7] = [
        Class::Data,
        Class::SysTablespace,
        Class::Redo,
        Class::Undo,
        Class::AriaLog,
        Class::Binlog,
        Class::External,
    ];

    /// The class of a wire code; an unknown one is the peer's error.
    pub(super) fn from_code(code: u8) -> Result<Class> {
        Class::ALL
            .into_iter()
            .find(|c| *c as u8 == code)
            .with_context(|| format!("unknown file class {code}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_ones_are_refused() {
        for class in Class::ALL {
            assert_eq!(Class::from_code(class as u8).ok(), Some(class));
        }
        for code in [0, 8, 255] {
            let err = Class::from_code(code).expect_err("unknown");
            assert_eq!(format!("{err:#}"), format!("unknown file class {code}"));
        }
    }
}
