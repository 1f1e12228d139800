//! `wsrep_sst_rsrsync`: the binary mariadbd runs; all logic is in the library.

use std::process::ExitCode;

fn main() -> ExitCode {
    wsrep_sst_rsrsync::run(std::env::args_os())
}
