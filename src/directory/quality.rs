//! The password quality policy (`[password]` in the configuration): the
//! rules a new password must meet, wherever it is set — SCIM, LDAP Password
//! Modify, the command line, the set-password page. Imported hashes are
//! not checked (their passwords are not known).

use crate::config::PasswordConfig;

/// A character class a password can draw from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Lower,
    Upper,
    Digit,
    /// Anything else: punctuation, spaces, letters without case.
    Other,
}

impl Class {
    pub const ALL: [Class; 4] = [Class::Lower, Class::Upper, Class::Digit, Class::Other];

    /// The name used in the configuration (`password.required_classes`).
    pub fn name(self) -> &'static str {
        match self {
            Class::Lower => "lower",
            Class::Upper => "upper",
            Class::Digit => "digit",
            Class::Other => "other",
        }
    }

    pub fn parse(name: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|c| c.name() == name)
    }

    fn of(c: char) -> Class {
        if c.is_lowercase() {
            Class::Lower
        } else if c.is_uppercase() {
            Class::Upper
        } else if c.is_ascii_digit() {
            Class::Digit
        } else {
            Class::Other
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Class::Lower => "a lowercase letter",
            Class::Upper => "an uppercase letter",
            Class::Digit => "a digit",
            Class::Other => "a character other than letters and digits",
        }
    }
}

/// One rule a password breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Broken {
    /// Fewer characters than `password.min_length`.
    TooShort(usize),
    /// Fewer classes than `password.min_classes`.
    TooFewClasses(usize),
    /// A class named in `password.required_classes` is missing.
    MissingClass(Class),
    /// It is, or contains, the userName or an email's local part.
    ContainsName,
    /// It is one of the last `password.history` passwords.
    InHistory(usize),
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Broken::TooShort(n) => write!(f, "must be at least {n} characters long"),
            Broken::TooFewClasses(n) => write!(
                f,
                "must mix at least {n} of: lowercase letters, uppercase letters, digits, other characters"
            ),
            Broken::MissingClass(c) => write!(f, "must contain {}", c.describe()),
            Broken::ContainsName => {
                write!(f, "must not contain the userName or an email's local part")
            }
            Broken::InHistory(n) => write!(f, "must not be one of the last {n} passwords"),
        }
    }
}

/// Every rule a rejected password breaks, in the order they are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection(pub Vec<Broken>);

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rules: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        write!(f, "the password {}", rules.join("; "))
    }
}

/// Names shorter than this are not looked for inside a password (a
/// two-letter userName would forbid half the dictionary).
const SHORTEST_NAME: usize = 3;

/// Most passwords a history may keep.
pub const MAX_HISTORY: usize = 24;

/// The quality rules, as configured.
#[derive(Debug, Clone)]
pub struct Quality {
    min_length: usize,
    min_classes: usize,
    required: Vec<Class>,
    /// How many passwords, the current one included, may not be reused.
    pub history: usize,
}

impl Quality {
    /// Reads the rules; an unknown class name or a history above
    /// [`MAX_HISTORY`] is a configuration error.
    pub fn new(config: &PasswordConfig) -> Result<Quality, String> {
        let required = config
            .required_classes
            .iter()
            .map(|name| {
                Class::parse(name).ok_or_else(|| {
                    format!("password.required_classes: {name:?} is not one of lower, upper, digit, other")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if config.history > MAX_HISTORY {
            return Err(format!("password.history: at most {MAX_HISTORY}"));
        }
        if config.min_classes > Class::ALL.len() {
            return Err("password.min_classes: at most 4".into());
        }
        Ok(Quality {
            min_length: config.min_length,
            min_classes: config.min_classes,
            required,
            history: config.history,
        })
    }

    /// The rules `password` breaks for a user with this userName and these
    /// emails (the history is checked apart: it needs the hashes).
    pub fn check<'a>(
        &self,
        password: &str,
        user_name: &str,
        emails: impl IntoIterator<Item = &'a str>,
    ) -> Vec<Broken> {
        let mut broken = Vec::new();
        if password.chars().count() < self.min_length {
            broken.push(Broken::TooShort(self.min_length));
        }
        let present: Vec<Class> = Class::ALL
            .into_iter()
            .filter(|class| password.chars().any(|c| Class::of(c) == *class))
            .collect();
        if present.len() < self.min_classes {
            broken.push(Broken::TooFewClasses(self.min_classes));
        }
        for class in &self.required {
            if !present.contains(class) {
                broken.push(Broken::MissingClass(*class));
            }
        }
        let lower = password.to_lowercase();
        let locals = emails.into_iter().map(|e| e.split('@').next().unwrap_or(e));
        let contains = std::iter::once(user_name)
            .chain(locals)
            .map(str::to_lowercase)
            .any(|name| name.chars().count() >= SHORTEST_NAME && lower.contains(&name));
        if contains {
            broken.push(Broken::ContainsName);
        }
        broken
    }

    /// The fewest characters a password may have.
    pub fn min_length(&self) -> usize {
        self.min_length
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quality() -> Quality {
        Quality::new(&PasswordConfig::default()).unwrap()
    }

    #[test]
    fn the_default_rules_are_length_classes_and_names() {
        let q = quality();
        assert!(q
            .check("Correct-horse-9", "alice", ["alice@example.com"])
            .is_empty());
        assert_eq!(q.check("Sh0rt-pw", "alice", []), vec![Broken::TooShort(12)]);
        assert_eq!(
            q.check("alllowercaseletters", "bob", []),
            vec![Broken::TooFewClasses(3)]
        );
        assert_eq!(
            q.check("My-ALICE-pass-1", "alice", []),
            vec![Broken::ContainsName]
        );
        assert_eq!(
            q.check("Secret-Jdoe-991", "someone", ["jdoe@example.com"]),
            vec![Broken::ContainsName]
        );
        // Two-letter names are not looked for.
        assert!(q.check("Only-Al-knows-1", "al", []).is_empty());
    }

    #[test]
    fn required_classes_are_checked_by_name() {
        let config = PasswordConfig {
            required_classes: vec!["digit".into(), "other".into()],
            min_classes: 0,
            min_length: 1,
            ..PasswordConfig::default()
        };
        let q = Quality::new(&config).unwrap();
        assert_eq!(
            q.check("abc", "x", []),
            vec![
                Broken::MissingClass(Class::Digit),
                Broken::MissingClass(Class::Other)
            ]
        );
        assert!(Quality::new(&PasswordConfig {
            required_classes: vec!["emoji".into()],
            ..PasswordConfig::default()
        })
        .is_err());
    }
}
