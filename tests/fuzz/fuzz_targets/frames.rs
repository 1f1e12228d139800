//! Any bytes as a stream of frames: headers checked before bodies, no
//! panic, no body over its kind's bound, valid frames round-trip.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    wsrep_sst_rsrsync::fuzzing::frames(data);
});
