//! Sharing a file with someone outside the clinic: the words both shells
//! show with it (docs/FORMAT.md §15, docs/THREAT_MODEL.md §6.3).

use std::path::Path;

/// The default name of a share of the vault file `name`: "name.age".
pub fn share_file_name(name: &str) -> String {
    format!("{}.age", chartsafe_core::names::local_file_name(name))
}

/// A short "how to open" text to send with the share `file` (its file
/// name), which holds `name`: for a passphrase share, or one encrypted to
/// the recipient's own age key.
pub fn how_to_open(file: &Path, name: &str, passphrase: bool) -> String {
    let file = file.file_name().map_or_else(
        || "the file".to_owned(),
        |f| f.to_string_lossy().into_owned(),
    );
    let name = chartsafe_core::names::local_file_name(name);
    let how = if passphrase {
        format!(
            "age -d -o \"{name}\" \"{file}\"\n\nand type the passphrase when it asks. The passphrase comes separately (by phone or in person), never with the file."
        )
    } else {
        format!(
            "age -d -i your-key.txt -o \"{name}\" \"{file}\"\n\nwhere your-key.txt holds the secret key (AGE-SECRET-KEY-1…) of the age public key you gave."
        )
    };
    format!(
        "How to open \"{file}\": it is encrypted with age, a free and open standard (https://age-encryption.org). Install age (or any program that reads age files), then run:\n\n{how}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_names_the_file_and_the_command() {
        let t = how_to_open(Path::new("/tmp/out/labs.pdf.age"), "labs.pdf", true);
        assert!(t.contains("age -d -o \"labs.pdf\" \"labs.pdf.age\""), "{t}");
        assert!(t.contains("passphrase comes separately"));
        let t = how_to_open(Path::new("k.age"), "labs.pdf", false);
        assert!(t.contains("-i your-key.txt"), "{t}");
        assert_eq!(share_file_name("Jane Doe.pdf"), "Jane Doe.pdf.age");
    }
}
