//! Small text scanners several language generators share.
//!
//! Why here: an identifier check guards every name that enters generated code unquoted, and each
//! language differs only in its keywords; one scanner keeps the rules (ASCII only, at most 128
//! bytes) the same everywhere.

/// Whether `s` is an ASCII identifier (`[A-Za-z_][A-Za-z0-9_]*`, at most 128 bytes) that is not one
/// of `keywords`.
pub(crate) fn is_ident(s: &str, keywords: &[&str]) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 128
        && !keywords.contains(&s)
}

#[cfg(test)]
mod tests {
    use super::is_ident;

    #[test]
    fn identifiers() {
        assert!(is_ident("handle_split", &[]));
        assert!(is_ident("_x9", &[]));
        assert!(!is_ident("9x", &[]));
        assert!(!is_ident("", &[]));
        assert!(!is_ident("a-b", &[]));
        assert!(!is_ident("é", &[]));
        assert!(!is_ident("func", &["func"]));
        assert!(!is_ident(&"a".repeat(129), &[]));
        assert!(is_ident(&"a".repeat(128), &[]));
    }
}
