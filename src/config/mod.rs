//! my.cnf access (work in progress).
