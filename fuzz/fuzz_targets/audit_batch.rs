#![no_main]
//! See chartsafe_core::fuzzing::run("audit_batch", …) for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| chartsafe_core::fuzzing::run("audit_batch", data));
