//! Distinguished names per RFC 4514: parsing with escapes (`\,` `\+` `\"`
//! `\\` and hex pairs such as `\2c`), multi-valued RDNs, formatting with
//! escapes, and case-insensitive comparison.

use std::fmt;

/// Longest DN accepted, in bytes.
const MAX_DN_BYTES: usize = 8192;

/// One `type=value` pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ava {
    pub attr: String,
    pub value: String,
}

/// A relative distinguished name: one or more AVAs joined by `+`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rdn(pub Vec<Ava>);

/// A parsed DN, most specific RDN first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dn(pub Vec<Rdn>);

/// Why a DN string is not valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnError(pub String);

impl fmt::Display for DnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err(msg: &str) -> DnError {
    DnError(msg.to_string())
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

impl Dn {
    /// Parses a DN string. The empty string is the empty DN (the rootDSE).
    pub fn parse(text: &str) -> Result<Dn, DnError> {
        if text.len() > MAX_DN_BYTES {
            return Err(err("DN too long"));
        }
        let bytes = text.as_bytes();
        let mut rdns = Vec::new();
        let mut avas = Vec::new();
        let mut i = 0;
        if text.trim().is_empty() {
            return Ok(Dn::default());
        }
        loop {
            // attribute type
            while i < bytes.len() && bytes[i] == b' ' {
                i += 1;
            }
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'-' || bytes[i] == b'.')
            {
                i += 1;
            }
            let attr = text[start..i].to_string();
            if attr.is_empty() || !(attr.as_bytes()[0].is_ascii_alphanumeric()) {
                return Err(err("expected an attribute type"));
            }
            while i < bytes.len() && bytes[i] == b' ' {
                i += 1;
            }
            if i >= bytes.len() || bytes[i] != b'=' {
                return Err(err("expected '=' after the attribute type"));
            }
            i += 1;
            while i < bytes.len() && bytes[i] == b' ' {
                i += 1;
            }
            // attribute value
            let mut value: Vec<u8> = Vec::new();
            let mut end_of_escaped = 0; // length of `value` covered by escapes (kept when trimming)
            if i < bytes.len() && bytes[i] == b'#' {
                // hex-encoded BER value: keep its text form
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_hexdigit() {
                    i += 1;
                }
                value.extend_from_slice(&bytes[start..i]);
            } else if i < bytes.len() && bytes[i] == b'"' {
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => return Err(err("unterminated quoted value")),
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(b'\\') if i + 1 < bytes.len() => {
                            value.push(bytes[i + 1]);
                            i += 2;
                        }
                        Some(&b) => {
                            value.push(b);
                            i += 1;
                        }
                    }
                }
                while i < bytes.len() && bytes[i] == b' ' {
                    i += 1;
                }
            } else {
                while i < bytes.len() && !matches!(bytes[i], b',' | b'+' | b';') {
                    match bytes[i] {
                        b'\\' => {
                            let next = *bytes.get(i + 1).ok_or_else(|| err("dangling '\\'"))?;
                            if let (Some(h), Some(l)) =
                                (hex_val(next), bytes.get(i + 2).and_then(|b| hex_val(*b)))
                            {
                                value.push(h * 16 + l);
                                i += 3;
                            } else if b",+\"\\<>;= #".contains(&next) {
                                value.push(next);
                                i += 2;
                            } else {
                                return Err(err("invalid escape in DN"));
                            }
                            end_of_escaped = value.len();
                        }
                        b'"' | b'<' | b'>' => return Err(err("unescaped special character in DN")),
                        b => {
                            value.push(b);
                            i += 1;
                        }
                    }
                }
                // unescaped trailing spaces are not part of the value
                while value.len() > end_of_escaped && value.last() == Some(&b' ') {
                    value.pop();
                }
            }
            let value = String::from_utf8(value).map_err(|_| err("DN value is not UTF-8"))?;
            avas.push(Ava { attr, value });
            match bytes.get(i) {
                None => {
                    rdns.push(Rdn(std::mem::take(&mut avas)));
                    break;
                }
                Some(b'+') => i += 1,
                Some(b',') | Some(b';') => {
                    rdns.push(Rdn(std::mem::take(&mut avas)));
                    i += 1;
                }
                Some(_) => return Err(err("unexpected character in DN")),
            }
        }
        Ok(Dn(rdns))
    }

    /// A DN of one single-valued RDN followed by `parent`.
    pub fn child(attr: &str, value: &str, parent: &Dn) -> Dn {
        let mut rdns = vec![Rdn(vec![Ava {
            attr: attr.to_string(),
            value: value.to_string(),
        }])];
        rdns.extend(parent.0.iter().cloned());
        Dn(rdns)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A canonical form for comparison: types and values lower-cased.
    pub fn normalized(&self) -> String {
        self.0
            .iter()
            .map(|rdn| {
                let mut avas: Vec<String> = rdn
                    .0
                    .iter()
                    .map(|a| {
                        format!(
                            "{}={}",
                            a.attr.to_ascii_lowercase(),
                            escape(&a.value.to_lowercase())
                        )
                    })
                    .collect();
                avas.sort();
                avas.join("+")
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Whether two DNs name the same entry.
    pub fn same(&self, other: &Dn) -> bool {
        self.normalized() == other.normalized()
    }

    /// If `self` lies under (or is) `suffix`, the RDNs above it.
    pub fn relative_to(&self, suffix: &Dn) -> Option<Vec<Rdn>> {
        let n = suffix.0.len();
        if self.0.len() < n {
            return None;
        }
        let tail = Dn(self.0[self.0.len() - n..].to_vec());
        tail.same(suffix)
            .then(|| self.0[..self.0.len() - n].to_vec())
    }

    /// The value of the first RDN if it is a single `attr=value`.
    pub fn leaf(&self, attr: &str) -> Option<&str> {
        match self.0.first() {
            Some(Rdn(avas)) if avas.len() == 1 && avas[0].attr.eq_ignore_ascii_case(attr) => {
                Some(&avas[0].value)
            }
            _ => None,
        }
    }
}

/// Escapes a value for a DN string (RFC 4514 §2.4).
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let n = value.chars().count();
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=')
            || (i == 0 && (c == ' ' || c == '#'))
            || (i + 1 == n && c == ' ');
        if c == '\0' {
            out.push_str("\\00");
        } else if special {
            out.push('\\');
            out.push(c);
        } else {
            out.push(c);
        }
    }
    out
}

impl fmt::Display for Dn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self
            .0
            .iter()
            .map(|rdn| {
                rdn.0
                    .iter()
                    .map(|a| format!("{}={}", a.attr, escape(&a.value)))
                    .collect::<Vec<_>>()
                    .join("+")
            })
            .collect::<Vec<_>>()
            .join(",");
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_escapes_and_spaces() {
        let dn = Dn::parse(r"cn=Doe\, John,ou=groups, dc=example,DC=com").unwrap();
        assert_eq!(dn.0.len(), 4);
        assert_eq!(dn.leaf("CN"), Some("Doe, John"));
        assert_eq!(dn.to_string(), r"cn=Doe\, John,ou=groups,dc=example,DC=com");
        let hex = Dn::parse(r"cn=Doe\2c John,ou=groups,dc=example,dc=com").unwrap();
        assert!(hex.same(&dn));
        let quoted = Dn::parse(r#"cn="a+b",dc=x"#).unwrap();
        assert_eq!(quoted.leaf("cn"), Some("a+b"));
        let multi = Dn::parse("cn=a+uid=b,dc=x").unwrap();
        assert_eq!(multi.0[0].0.len(), 2);
        assert_eq!(
            Dn::parse(r"cn=\c3\a9t\c3\a9").unwrap().leaf("cn"),
            Some("été")
        );
        assert_eq!(Dn::parse(r"cn=trail\ ").unwrap().leaf("cn"), Some("trail "));
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["cn", "=x", "cn=a,", r"cn=a\", "cn=a<b", "cn=\"open"] {
            assert!(Dn::parse(bad).is_err(), "{bad}");
        }
        assert!(Dn::parse("").unwrap().is_empty());
    }

    #[test]
    fn relative_names() {
        let base = Dn::parse("dc=example,dc=com").unwrap();
        let user = Dn::parse("UID=alice,OU=People,DC=Example,DC=com").unwrap();
        let rel = user.relative_to(&base).unwrap();
        assert_eq!(rel.len(), 2);
        assert!(Dn::parse("dc=other,dc=com")
            .unwrap()
            .relative_to(&base)
            .is_none());
    }
}
