//! End-to-end tests of the `chartsafe` command against the real OS keychain
//! (Secret Service under a private D-Bus session: run through `make test`,
//! which wraps them in `scripts/with-keyring.sh`), stock `age`, `jq` and
//! `unison`.

mod common;

mod attacks;
mod audit;
mod bad_input;
mod basics;
mod crash;
mod faults;
mod interop;
mod leaks;
mod open;
mod people;
mod readme;
mod share;
mod stress;
mod sync;
mod tamper;
mod team;
mod upgrade;
mod watch;
