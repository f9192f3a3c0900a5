//! LDIF content records (RFC 2849): `dn:` then `attr: value` lines,
//! values base64-encoded after `::`, long lines folded onto lines that
//! start with one space, records separated by blank lines, `#` comments.
//! Change records (`changetype:`) and values by URL (`:<`) are refused.

use base64::Engine as _;

/// One entry of an LDIF file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Entry {
    pub dn: String,
    /// Attributes in file order; names as written.
    pub attrs: Vec<(String, Vec<String>)>,
    /// The line the entry starts on (1-based), for messages.
    pub line: usize,
}

impl Entry {
    /// The values of an attribute, by name without regard to case.
    pub fn get(&self, name: &str) -> &[String] {
        self.attrs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
            .unwrap_or(&[])
    }

    /// The first value of an attribute.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.get(name).first().map(String::as_str)
    }

    /// Whether the entry has an objectClass, without regard to case.
    pub fn is_a(&self, class: &str) -> bool {
        self.get("objectClass")
            .iter()
            .any(|c| c.eq_ignore_ascii_case(class))
    }
}

/// Why a file is not LDIF Roster can read.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("line {line}: {message}")]
pub struct LdifError {
    pub line: usize,
    pub message: String,
}

fn error(line: usize, message: impl Into<String>) -> LdifError {
    LdifError {
        line,
        message: message.into(),
    }
}

/// Parses LDIF text into its entries.
pub fn parse(text: &str) -> Result<Vec<Entry>, LdifError> {
    // Unfold: a line starting with one space continues the previous one.
    let mut lines: Vec<(usize, String)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        match raw.strip_prefix(' ') {
            Some(rest) => match lines.last_mut() {
                Some((_, last)) if !last.is_empty() => last.push_str(rest),
                _ => return Err(error(i + 1, "a continuation line follows nothing")),
            },
            None => lines.push((i + 1, raw.to_string())),
        }
    }
    let mut entries = Vec::new();
    let mut current: Option<Entry> = None;
    for (number, line) in lines {
        if line.starts_with('#') {
            continue;
        }
        if line.is_empty() {
            if let Some(e) = current.take() {
                entries.push(e);
            }
            continue;
        }
        let (name, value) = attribute(number, &line)?;
        match current.as_mut() {
            None if name.eq_ignore_ascii_case("version") => {}
            None if name.eq_ignore_ascii_case("dn") => {
                current = Some(Entry {
                    dn: value,
                    attrs: Vec::new(),
                    line: number,
                })
            }
            None => return Err(error(number, format!("expected dn:, found {name}:"))),
            Some(_) if name.eq_ignore_ascii_case("changetype") => {
                return Err(error(
                    number,
                    "change records are not supported: give entries only",
                ))
            }
            Some(e) => match e
                .attrs
                .iter_mut()
                .find(|(n, _)| n.eq_ignore_ascii_case(&name))
            {
                Some((_, values)) => values.push(value),
                None => e.attrs.push((name, vec![value])),
            },
        }
    }
    if let Some(e) = current {
        entries.push(e);
    }
    Ok(entries)
}

/// `name: value`, `name:: base64` (the value decoded).
fn attribute(number: usize, line: &str) -> Result<(String, String), LdifError> {
    let (name, rest) = line
        .split_once(':')
        .ok_or_else(|| error(number, "expected name: value"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(error(number, "an attribute name is missing"));
    }
    let value = if let Some(encoded) = rest.strip_prefix(':') {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| error(number, format!("{name}: invalid base64")))?;
        String::from_utf8(bytes)
            .map_err(|_| error(number, format!("{name}: binary values are not supported")))?
    } else if rest.starts_with('<') {
        return Err(error(
            number,
            format!("{name}: values by URL are not supported"),
        ));
    } else {
        rest.strip_prefix(' ').unwrap_or(rest).to_string()
    };
    // Options such as `;lang-en` or `;binary` are dropped from the name.
    let name = name.split(';').next().unwrap_or(name).to_string();
    Ok((name, value))
}

/// Whether a value can be written as it is (RFC 2849 SAFE-STRING);
/// otherwise it is written base64-encoded after `::`.
fn is_safe(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes
        .iter()
        .all(|b| b.is_ascii() && !matches!(b, b'\0' | b'\n' | b'\r'))
        && !matches!(bytes.first(), Some(b' ' | b':' | b'<'))
        && !value.ends_with(' ')
}

/// Writes one entry (a `dn:` line, then each attribute's values, then a
/// blank line).
pub fn write_entry(out: &mut String, dn: &str, attrs: &[(&str, Vec<String>)]) {
    let mut line = |name: &str, value: &str| {
        if is_safe(value) {
            out.push_str(&format!("{name}: {value}\n"));
        } else {
            let encoded = base64::engine::general_purpose::STANDARD.encode(value.as_bytes());
            out.push_str(&format!("{name}:: {encoded}\n"));
        }
    };
    line("dn", dn);
    for (name, values) in attrs {
        for v in values {
            line(name, v);
        }
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_entries_folds_and_base64() {
        let text = "version: 1\n# a comment\ndn: uid=a,ou=people,dc=x\nobjectClass: inetOrgPerson\nobjectclass: person\ncn: A lo\n ng name\nsn:: w4lsw6huZQ==\n\n\ndn: cn=g,ou=groups,dc=x\r\nmember: uid=a,ou=people,dc=x\n";
        let entries = parse(text).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].dn, "uid=a,ou=people,dc=x");
        assert_eq!(entries[0].line, 3);
        assert!(entries[0].is_a("PERSON"));
        assert_eq!(entries[0].get("objectClass").len(), 2);
        assert_eq!(entries[0].first("cn"), Some("A long name"));
        assert_eq!(entries[0].first("SN"), Some("Élène"));
        assert_eq!(entries[1].get("member"), ["uid=a,ou=people,dc=x"]);
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert_eq!(parse("cn: x\n").unwrap_err().line, 1);
        assert!(parse("dn: a\nchangetype: modify\n").is_err());
        assert!(parse("dn: a\njpegPhoto:< file:///x\n").is_err());
        assert!(parse("dn: a\ncn:: !!!\n").is_err());
        let mut out = String::new();
        write_entry(
            &mut out,
            "uid=ł,dc=x",
            &[("cn", vec!["Łukasz".into(), " lead".into(), "plain".into()])],
        );
        let back = parse(&out).unwrap();
        assert_eq!(back[0].dn, "uid=ł,dc=x");
        assert_eq!(back[0].get("cn"), ["Łukasz", " lead", "plain"]);
        assert!(out.contains("cn: plain\n"), "{out}");
        assert!(parse(" continued\n").is_err());
    }
}
