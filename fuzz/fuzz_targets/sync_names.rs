#![no_main]
//! See chartsafe_core::fuzzing::run("sync_names", …) for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| chartsafe_core::fuzzing::run("sync_names", data));
