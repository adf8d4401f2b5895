#![no_main]
//! See chartsafe_core::fuzzing::run("age_envelope", …) for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| chartsafe_core::fuzzing::run("age_envelope", data));
