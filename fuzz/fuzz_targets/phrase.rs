#![no_main]
//! See chartsafe_core::fuzzing::run("phrase", …) for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| chartsafe_core::fuzzing::run("phrase", data));
