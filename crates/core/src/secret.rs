//! A secret string (POS token, card code, shared key) that never prints itself.

use std::fmt;

#[derive(Clone, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn never_prints_itself() {
        let s = super::Secret::new("tok-123");
        assert!(!format!("{s:?} {s}").contains("tok-123"));
        assert_eq!(s.expose(), "tok-123");
    }

    use super::Secret;

    #[test]
    fn prints_only_a_placeholder() {
        let s = Secret::new("tok-123");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(format!("{s}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(&s)), "Some(Secret(<redacted>))");
    }

    #[test]
    fn exposes_and_compares_the_value() {
        let s = Secret::new(String::from("tok-123"));
        assert_eq!(s.expose(), "tok-123");
        assert!(!s.is_empty());
        assert!(Secret::new("").is_empty());
        assert!(Secret::default().is_empty());
        assert_eq!(Secret::default().expose(), "");
        assert_eq!(s.clone(), s);
        assert_ne!(s, Secret::new("tok-124"));
    }

    #[test]
    fn deserializes_from_a_plain_string() {
        let s: Secret = serde_json::from_str(r#""k-9""#).unwrap();
        assert_eq!(s.expose(), "k-9");
        assert!(serde_json::from_str::<Secret>("{\"0\": \"k\"}").is_err());
    }
}
