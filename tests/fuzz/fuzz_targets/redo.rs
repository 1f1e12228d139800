//! Any bytes as InnoDB's redo log: the donor's index errs or parses,
//! never panics.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    wsrep_sst_rsrsync::fuzzing::redo(data);
});
