//! Shared helpers live in the test binary; this library is empty on purpose.
