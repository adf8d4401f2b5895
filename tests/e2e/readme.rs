//! The README's walkthrough of the `chartsafe` command, run as written
//! (tests/cmd/README.md says how the files are laid out).

use crate::common::bin;

#[test]
fn the_readme_walkthrough_runs_as_written() {
    // A keychain namespace of its own, so runs never meet (the key of
    // each vault is named by its random id anyway).
    let service = format!("chartsafe-readme-{}", std::process::id());
    let cases = trycmd::TestCases::new();
    cases
        .register_bin("chartsafe", bin())
        .env("CHARTSAFE_KEYCHAIN_SERVICE", service)
        .env("CHARTSAFE_STATE_DIR", "state")
        .env("CHARTSAFE_DEVICE_NAME", "front-desk")
        .env("CHARTSAFE_VAULT", "Dropbox/Clinic")
        .env("CHARTSAFE_PASSPHRASE_FILE", "pass.txt")
        .env("CHARTSAFE_KDF_LOG_N", "10")
        .env("TZ", "UTC")
        .case("cmd/*.trycmd");
}
