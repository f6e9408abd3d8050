//! The recipients an operator names for `cairn init` and `cairn key rotate`: given one by one,
//! or in a file.

use crate::crypto::{self, Recipient};
use crate::{Error, Result};
use std::path::Path;

/// The recipients in `file` (one per line, `#` comments allowed) if given, else `given`; at
/// least one.
pub fn recipients(given: &[String], file: Option<&Path>) -> Result<Vec<Recipient>> {
    if let Some(f) = file {
        let text = std::fs::read_to_string(f).map_err(|e| {
            Error::usage(
                format!("cannot read recipients file {}: {e}", f.display()),
                "pass a readable file with one age1… key per line",
            )
        })?;
        return crypto::parse_recipients_file(&text, &f.display().to_string());
    }
    if given.is_empty() {
        return Err(Error::usage(
            "no recipient given",
            "pass --recipient age1… (from `cairn key generate`) or --recipients-file FILE",
        ));
    }
    given.iter().map(|r| crypto::parse_recipient(r)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_come_from_the_file_when_one_is_given() {
        let none = recipients(&[], None).unwrap_err();
        assert_eq!(none.exit_code(), 2);
        assert!(none.to_string().contains("no recipient given"));
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("recipients");
        let missing = recipients(&[], Some(&f)).unwrap_err();
        assert!(missing.to_string().contains("cannot read recipients file"));
        std::fs::write(&f, "# nobody yet\n").unwrap();
        let bad = vec!["not-a-key".to_string()];
        // the file wins over the list: its (lack of) keys is what is judged
        assert!(recipients(&bad, Some(&f)).is_err());
        assert!(recipients(&bad, None).is_err());
    }
}
