#![no_main]
//! See chartsafe_core::fuzzing::run("team_entry", …) for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| chartsafe_core::fuzzing::run("team_entry", data));
