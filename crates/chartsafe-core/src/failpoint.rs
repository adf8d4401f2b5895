//! Injected crashes and write failures, for the crash and fault trials
//! (docs/THREAT_MODEL.md §9.2, §9.3: `make stress`, tests/e2e/stress.rs,
//! tests/e2e/faults.rs).
//!
//! Every step that changes files (a temporary file made, a write, a rename
//! into place, a sync, a deletion) calls [`step`]. Built without the
//! `failpoints` feature, [`step`] does nothing and compiles away; release
//! builds never have it. With it, the environment of the process decides:
//!
//! - `CHARTSAFE_CRASH_AT=N`: the process aborts at step N, before doing
//!   it: no destructor runs and no temporary file is cleaned up, as with
//!   `kill -9` or a power cut between two writes.
//! - `CHARTSAFE_FAIL_AT=N`: step N and every later one fail with "No space
//!   left on device", as on a disk that filled up at that moment, or with
//!   the error number `CHARTSAFE_FAIL_ERRNO` (30: a folder that turned
//!   read-only).
//! - `CHARTSAFE_STEP_LOG=FILE`: each step's name is appended to FILE, so a
//!   trial harness knows how many steps an operation takes and where it
//!   stopped.

use std::io;

/// A point between two changes to files; `what` names it for the step log.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub(crate) fn step(_what: &'static str) -> io::Result<()> {
    Ok(())
}

/// A point between two changes to files; `what` names it for the step log.
#[cfg(feature = "failpoints")]
pub(crate) fn step(what: &'static str) -> io::Result<()> {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;

    struct Plan {
        crash_at: Option<u64>,
        fail_at: Option<u64>,
        errno: i32,
        log: Option<std::path::PathBuf>,
    }
    static PLAN: OnceLock<Plan> = OnceLock::new();
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let plan = PLAN.get_or_init(|| {
        let num = |k: &str| std::env::var(k).ok().and_then(|v| v.parse().ok());
        Plan {
            crash_at: num("CHARTSAFE_CRASH_AT"),
            fail_at: num("CHARTSAFE_FAIL_AT"),
            errno: std::env::var("CHARTSAFE_FAIL_ERRNO")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(28), // ENOSPC
            log: std::env::var_os("CHARTSAFE_STEP_LOG").map(Into::into),
        }
    });
    let n = COUNT.fetch_add(1, Ordering::SeqCst) + 1;
    if let Some(log) = &plan.log {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            let _ = writeln!(f, "{n} {what}");
        }
    }
    if plan.crash_at == Some(n) {
        std::process::abort();
    }
    if plan.fail_at.is_some_and(|at| n >= at) {
        return Err(io::Error::from_raw_os_error(plan.errno));
    }
    Ok(())
}
