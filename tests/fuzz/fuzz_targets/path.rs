//! Any bytes as a peer-supplied path: refused, or provably harmless.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    wsrep_sst_rsrsync::fuzzing::path(data);
});
