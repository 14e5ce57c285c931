//! Vanity numbers: letters on the keypad (ITU E.161) turned into digits, only behind one
//! of the location's vanity codes (`0800HANSMEIER` → `08004267634637`).

use crate::error::Error;
use crate::number::location::{Location, Source};

/// The E.161 digit for a letter (`A`–`Z`, either case).
pub fn letter_digit(ch: char) -> Option<char> {
    Some(match ch.to_ascii_uppercase() {
        'A'..='C' => '2',
        'D'..='F' => '3',
        'G'..='I' => '4',
        'J'..='L' => '5',
        'M'..='O' => '6',
        'P'..='S' => '7',
        'T'..='V' => '8',
        'W'..='Z' => '9',
        _ => return None,
    })
}

/// Converts the letters of `cleaned` (digits, `+` and upper-case letters) to digits when
/// the digits before the first letter end in a vanity code of `loc`; else an error.
pub fn resolve(
    cleaned: &str,
    loc: &Location,
    source: Source,
    what: &'static str,
) -> Result<String, Error> {
    let first_letter = cleaned
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(cleaned.len());
    let head = &cleaned[..first_letter];
    let codes = loc.vanity_codes()?;
    let ok = national_candidates(head, loc, source)?
        .iter()
        .any(|nsn| codes.iter().any(|c| nsn.starts_with(c.as_str())));
    if !ok {
        return Err(Error::NotVanity {
            what,
            input: cleaned.to_owned(),
            allowed: codes.join(", "),
        });
    }
    Ok(cleaned
        .chars()
        .map(|c| letter_digit(c).unwrap_or(c))
        .collect())
}

/// The national significant digits `head` stands for, read as the number itself will
/// be: from a phone, anything but `+…` must carry the access code.
fn national_candidates(head: &str, loc: &Location, source: Source) -> Result<Vec<String>, Error> {
    let country = loc.country()?;
    let cc = &country.country_code;
    let intl = loc.international_prefix()?;
    let natl = loc.national_prefix()?;
    let mut forms = Vec::new();
    if source == Source::Trunk || head.starts_with('+') {
        forms.push(head.to_owned());
    } else {
        for code in &loc.access_codes {
            if let Some(rest) = head.strip_prefix(code.as_str()) {
                forms.push(rest.to_owned());
            }
        }
    }
    let mut out = Vec::new();
    for f in forms {
        if let Some(rest) = f
            .strip_prefix('+')
            .and_then(|r| r.strip_prefix(cc.as_str()))
        {
            out.push(rest.to_owned());
        } else if let Some(rest) = f
            .strip_prefix(intl)
            .and_then(|r| r.strip_prefix(cc.as_str()))
        {
            out.push(rest.to_owned());
        } else if natl.is_empty() {
            out.push(f);
        } else if let Some(rest) = f.strip_prefix(natl) {
            out.push(rest.to_owned());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e161_table() {
        let word: String = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
            .chars()
            .map(|c| letter_digit(c).unwrap())
            .collect();
        assert_eq!(word, "22233344455566677778889999");
        assert_eq!(letter_digit('1'), None);
    }
}
