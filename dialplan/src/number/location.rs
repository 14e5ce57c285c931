//! A location (country, area code, PBX base number, extension space, access codes) and
//! the two documented formatting directions:
//!
//! - [`Location::normalise`]: what a phone or trunk sends → canonical, in the order of
//!   "Phone number formatting": strip characters, vanity letters, formatting rules
//!   (top-down, first match), special numbers, removal of the external access code,
//!   recognition of internal numbers (special external rules, special internal rules,
//!   length), removal of call-by-call prefixes, standardisation. A leading `!` skips
//!   the formatting rules.
//! - [`Location::to_phone_dialable`] / [`Location::to_trunk_dialable`]: canonical → what
//!   a phone dials or a trunk is sent, in the order of "Dialing rules": internal
//!   shortening, PC dialling rules, transformation into a dialable number by the
//!   country's rules, external access code, final rules.

use serde::{Deserialize, Serialize};

use crate::country::{self, CountryData};
use crate::error::Error;
use crate::number::canonical::Canonical;
use crate::number::classify::{Category, Detection};
use crate::number::rule::{apply_first, FormatRule};
use crate::number::vanity;

/// The internal numbers of a location: one range of equal-length numbers, or first
/// digits plus lengths ("extension number prefix" in the documents).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExtensionSpace {
    /// `from`..=`to`, both of the same length (`30`–`69`, `100`–`999`).
    Range {
        /// Lowest extension.
        from: String,
        /// Highest extension.
        to: String,
    },
    /// First digit between `first_min` and `first_max`, `min_len`..=`max_len` digits.
    Prefixes {
        /// Lowest first digit.
        first_min: u8,
        /// Highest first digit.
        first_max: u8,
        /// Shortest internal number.
        min_len: usize,
        /// Longest internal number.
        max_len: usize,
    },
}

impl ExtensionSpace {
    /// Does `n` have the length (and first digit) of an internal number? This is the
    /// documents' "recognition of internal numbers by length".
    pub fn has_internal_length(&self, n: &str) -> bool {
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        match self {
            Self::Range { from, .. } => n.len() == from.len(),
            Self::Prefixes {
                first_min,
                first_max,
                min_len,
                max_len,
            } => {
                let first = n.as_bytes()[0] - b'0';
                (*min_len..=*max_len).contains(&n.len())
                    && (*first_min..=*first_max).contains(&first)
            }
        }
    }

    /// Is `n` inside the space (and so reachable by DDI)?
    pub fn contains(&self, n: &str) -> bool {
        match self {
            Self::Range { from, to } => {
                self.has_internal_length(n) && from.as_str() <= n && n <= to.as_str()
            }
            Self::Prefixes { .. } => self.has_internal_length(n),
        }
    }
}

/// The formatting rule lists of a location (all applied top-down, first match wins).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationRules {
    /// Numbers arriving from trunks ("Incoming").
    #[serde(default)]
    pub incoming: Vec<FormatRule>,
    /// Numbers dialled on the tenant's phones ("Outgoing").
    #[serde(default)]
    pub outgoing: Vec<FormatRule>,
    /// Applied to the canonical number before it is made dialable ("PC dialing").
    #[serde(default)]
    pub dialling: Vec<FormatRule>,
    /// Applied to the dial string last ("PC dialing final").
    #[serde(default)]
    pub dialling_final: Vec<FormatRule>,
    /// Numbers that look internal but are external ("External rules").
    #[serde(default)]
    pub external: Vec<FormatRule>,
    /// Further internal numbers ("Internal rules").
    #[serde(default)]
    pub internal: Vec<FormatRule>,
}

/// How a number matched by an [`AreaCodeRule`] is dialled (NANP "area code rules").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AreaDial {
    /// Local call: the subscriber number only (own area code only).
    Local,
    /// Local call to another area, or local with area code: area code + number, no prefix.
    TenDigit,
    /// Chargeable / long-distance call: national prefix + area code + number (`1 202 …`).
    LongDistance,
}

/// An area code rule: numbers in `area` whose subscriber number starts with one of
/// `prefixes` (all when empty) are dialled as `dial`. First match wins. Example from
/// the documents: area 202, prefix 333 matches +1 (202) 333-5678.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AreaCodeRule {
    /// Area code.
    pub area: String,
    /// Subscriber-number prefixes (the "exchange" in NANP); empty = the whole area.
    #[serde(default)]
    pub prefixes: Vec<String>,
    /// How to dial.
    pub dial: AreaDial,
}

/// How numbers are sent on a trunk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrunkFormat {
    /// `+49301234567` ("always international super-canonical/E.164").
    #[default]
    E164,
    /// National form with the area code, without access code (`0301234567`, `0044…`).
    National,
    /// International prefix and digits (`0049301234567`).
    International,
}

/// Where a number came from: a phone of the tenant (may carry the access code) or a trunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Dialled on one of the tenant's phones.
    Phone,
    /// Sent by a SIP trunk.
    Trunk,
}

fn default_access() -> Vec<String> {
    vec!["0".to_owned()]
}

/// A tenant's location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// Country calling code without `+` (`49`).
    pub country_code: String,
    /// Area code without national prefix (`30` for Berlin; Italy keeps its `0`: `06`).
    pub area_code: String,
    /// PBX base number (`1234567`).
    pub base_number: String,
    /// The extension space (DDI range).
    pub extensions: ExtensionSpace,
    /// External access codes, the first is used for dialling (default `0`).
    #[serde(default = "default_access")]
    pub access_codes: Vec<String>,
    /// Overrides the country's national prefix.
    #[serde(default)]
    pub national_prefix: Option<String>,
    /// Overrides the country's international prefix.
    #[serde(default)]
    pub international_prefix: Option<String>,
    /// Dial the area code for local calls too.
    #[serde(default)]
    pub always_dial_area_code: bool,
    /// Formatting rules.
    #[serde(default)]
    pub rules: LocationRules,
    /// Area code rules for phones (NANP: local, local chargeable, other area free).
    #[serde(default)]
    pub area_code_rules: Vec<AreaCodeRule>,
    /// Vanity codes (national, without prefix: `800`); default: the country's.
    #[serde(default)]
    pub vanity: Option<Vec<String>>,
}

/// The result of normalising one number, with the trace `pbx route` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dialled {
    /// The input as given.
    pub input: String,
    /// Internal number, special number, or canonical number.
    pub number: String,
    /// How it was detected.
    pub detection: Detection,
    /// The super-canonical form, where there is one.
    pub canonical: Option<Canonical>,
    /// For external numbers: national / international / premium.
    pub category: Option<Category>,
    /// The formatting rule that matched, if any.
    pub rule: Option<String>,
    /// A leading `!` asked to skip the formatting rules.
    pub raw: bool,
    /// The call-by-call prefix removed, if any.
    pub call_by_call: Option<String>,
    /// The steps taken, for the explanation.
    pub steps: Vec<String>,
}

impl Dialled {
    /// A number taken as it is (a feature code, a conference URI): no canonical
    /// form, no category, no rule.
    pub fn as_is(input: &str, number: &str, detection: Detection) -> Dialled {
        Dialled {
            input: input.to_owned(),
            number: number.to_owned(),
            detection,
            canonical: None,
            category: None,
            rule: None,
            raw: false,
            call_by_call: None,
            steps: Vec::new(),
        }
    }
}

impl Location {
    /// The shipped country data for this location.
    pub fn country(&self) -> Result<&'static CountryData, Error> {
        country::by_code(&self.country_code)
    }

    /// The national prefix in force.
    pub fn national_prefix(&self) -> Result<&str, Error> {
        Ok(match &self.national_prefix {
            Some(p) => p,
            None => &self.country()?.national_prefix,
        })
    }

    /// The international prefix in force.
    pub fn international_prefix(&self) -> Result<&str, Error> {
        Ok(match &self.international_prefix {
            Some(p) => p,
            None => &self.country()?.international_prefix,
        })
    }

    /// The vanity codes in force.
    pub fn vanity_codes(&self) -> Result<Vec<String>, Error> {
        Ok(match &self.vanity {
            Some(v) => v.clone(),
            None => self.country()?.vanity.clone(),
        })
    }

    /// `+<country><area><base>`: what every DDI number starts with.
    pub fn ddi_prefix(&self) -> String {
        format!(
            "+{}{}{}",
            self.country_code, self.area_code, self.base_number
        )
    }

    /// The canonical number of an internal number inside the extension space.
    pub fn internal_to_canonical(&self, ext: &str) -> Option<Canonical> {
        if self.extensions.contains(ext) {
            Canonical::parse(&format!("{}{ext}", self.ddi_prefix())).ok()
        } else {
            None
        }
    }

    /// The internal number of a canonical number inside the extension space.
    pub fn canonical_to_internal(&self, c: &Canonical) -> Option<String> {
        let rest = c
            .digits()
            .strip_prefix(self.country_code.as_str())?
            .strip_prefix(self.area_code.as_str())?
            .strip_prefix(self.base_number.as_str())?;
        self.extensions.contains(rest).then(|| rest.to_owned())
    }

    /// Normalises a number from a phone or trunk (see the module docs for the steps).
    pub fn normalise(
        &self,
        input: &str,
        source: Source,
        what: &'static str,
    ) -> Result<Dialled, Error> {
        self.normalise_with(input, source, what, &[])
    }

    /// [`Location::normalise`] with the call-by-call prefixes to remove.
    pub fn normalise_with(
        &self,
        input: &str,
        source: Source,
        what: &'static str,
        call_by_call: &[String],
    ) -> Result<Dialled, Error> {
        let country = self.country()?;
        let mut steps = Vec::new();
        // 1. Strip everything but + * # digits (and letters, for vanity).
        let (raw, cleaned) = strip(input, what)?;
        if cleaned != input {
            steps.push(format!("strip: {input:?} → {cleaned}"));
        }
        // 2. Vanity letters.
        let mut number = if cleaned.bytes().any(|b| b.is_ascii_alphabetic()) {
            let digits = vanity::resolve(&cleaned, self, source, what)?;
            steps.push(format!("vanity (E.161): {cleaned} → {digits}"));
            digits
        } else {
            cleaned
        };
        let mut out = Dialled {
            input: input.to_owned(),
            number: String::new(),
            detection: Detection::Internal,
            canonical: None,
            category: None,
            rule: None,
            raw,
            call_by_call: None,
            steps: Vec::new(),
        };
        // 3. Formatting rules, top-down, first match; `!` skips them.
        if raw {
            steps.push("'!': formatting rules skipped".to_owned());
        } else {
            let rules = match source {
                Source::Phone => &self.rules.outgoing,
                Source::Trunk => &self.rules.incoming,
            };
            if let Some((n, name)) = apply_first(rules, &number) {
                steps.push(format!("formatting rule {name:?}: {number} → {n}"));
                out.rule = Some(name.to_owned());
                number = n;
            }
        }
        if number.is_empty() {
            return Err(Error::EmptyNumber { what });
        }
        // 4. Special numbers are never formatted (also behind the access code).
        let behind_access = match source {
            Source::Phone => self.strip_access(&number).map(|(_, r)| r),
            Source::Trunk => None,
        };
        let special = if country.is_special(&number) {
            Some(number.clone())
        } else {
            behind_access
                .filter(|r| country.is_special(r))
                .map(str::to_owned)
        };
        if let Some(sp) = special.or_else(|| number.contains(['*', '#']).then(|| number.clone())) {
            steps.push(format!("special number {sp}: not formatted"));
            out.number = sp;
            out.detection = Detection::Special;
            out.category = Some(Category::National);
            out.steps = steps;
            return Ok(out);
        }
        // 5. Removal of the external access code.
        let mut external = number.starts_with('+');
        if source == Source::Phone && !external {
            if let Some((code, rest)) = self.strip_access(&number) {
                steps.push(format!("access code {code} removed: external"));
                number = rest.to_owned();
                external = true;
            } else if self.access_codes.contains(&number) {
                return Err(Error::EmptyNumber { what });
            }
        }
        // 6. Recognition of internal numbers.
        if !external {
            if let Some((n, name)) = apply_first(&self.rules.external, &number) {
                steps.push(format!("external rule {name:?}: {number} → {n}"));
                out.rule = Some(name.to_owned());
                number = n;
            } else if let Some((n, name)) = apply_first(&self.rules.internal, &number) {
                steps.push(format!("internal rule {name:?}: {number} → {n}"));
                out.rule = Some(name.to_owned());
                let (ext, canonical) = match Canonical::parse(&n) {
                    Ok(c) => (self.canonical_to_internal(&c).unwrap_or(n), Some(c)),
                    Err(_) => {
                        let c = self.internal_to_canonical(&n);
                        (n, c)
                    }
                };
                return Ok(self.internal(out, ext, canonical, steps));
            } else if self.extensions.has_internal_length(&number) {
                steps.push(format!("{number}: internal by length"));
                let c = self.internal_to_canonical(&number);
                return Ok(self.internal(out, number, c, steps));
            }
        }
        // 7. Removal of call-by-call prefixes.
        if source == Source::Phone {
            if let Some(p) = call_by_call
                .iter()
                .filter(|p| {
                    !p.is_empty() && number.starts_with(p.as_str()) && number.len() > p.len()
                })
                .max_by_key(|p| p.len())
            {
                steps.push(format!("call-by-call prefix {p} removed"));
                number = number[p.len()..].to_owned();
                out.call_by_call = Some(p.clone());
            }
        }
        // 8. Standardisation.
        let canonical = self.external_to_canonical(&number, what, input)?;
        steps.push(format!("canonical: {canonical}"));
        let detection = self.detect(&canonical);
        out.category = Some(self.category(&canonical));
        out.number = canonical.as_str().to_owned();
        out.canonical = Some(canonical);
        out.detection = detection;
        out.steps = steps;
        Ok(out)
    }

    fn internal(
        &self,
        mut out: Dialled,
        ext: String,
        c: Option<Canonical>,
        steps: Vec<String>,
    ) -> Dialled {
        out.number = ext;
        out.canonical = c;
        out.detection = Detection::Internal;
        out.steps = steps;
        out
    }

    /// The longest access code that starts `number` and leaves digits behind.
    fn strip_access<'a>(&self, number: &'a str) -> Option<(&'a str, &'a str)> {
        self.access_codes
            .iter()
            .filter(|c| !c.is_empty() && number.len() > c.len() && number.starts_with(c.as_str()))
            .max_by_key(|c| c.len())
            .map(|c| number.split_at(c.len()))
    }

    /// Canonical form of an external number without access code.
    fn external_to_canonical(
        &self,
        number: &str,
        what: &'static str,
        input: &str,
    ) -> Result<Canonical, Error> {
        if number.starts_with('+') {
            return Canonical::parse(number).map_err(|_| Error::MisplacedPlus {
                what,
                input: input.to_owned(),
            });
        }
        if number.contains('+') {
            return Err(Error::MisplacedPlus {
                what,
                input: input.to_owned(),
            });
        }
        let country = self.country()?;
        let intl = self.international_prefix()?;
        let natl = self.national_prefix()?;
        let cc = &self.country_code;
        let digits = if let Some(rest) = number.strip_prefix(intl).filter(|_| !intl.is_empty()) {
            rest.to_owned()
        } else if let Some(rest) = number.strip_prefix(natl).filter(|_| !natl.is_empty()) {
            format!("{cc}{rest}")
        } else if natl.is_empty() || country.nsn_fixed == Some(number.len()) {
            format!("{cc}{number}")
        } else {
            format!("{cc}{}{number}", self.area_code)
        };
        Canonical::from_digits(&digits).map_err(|_| Error::NotCanonical {
            input: input.to_owned(),
        })
    }

    /// Local / national / international, seen from this location.
    pub fn detect(&self, c: &Canonical) -> Detection {
        let Some(nsn) = c.digits().strip_prefix(self.country_code.as_str()) else {
            return Detection::International;
        };
        let closed = self.country().map(|k| k.closed_numbering).unwrap_or(false);
        if !closed && nsn.starts_with(self.area_code.as_str()) {
            Detection::Local
        } else {
            Detection::National
        }
    }

    /// National / international / premium (for permission classes).
    pub fn category(&self, c: &Canonical) -> Category {
        if let Some(k) = country::for_digits(c.digits()) {
            if let Some(nsn) = c.digits().strip_prefix(k.country_code.as_str()) {
                if k.is_premium(nsn) {
                    return Category::Premium;
                }
            }
        }
        if c.digits().starts_with(self.country_code.as_str()) {
            Category::National
        } else {
            Category::International
        }
    }

    /// What a phone of this location dials (with access code) to reach `c`; internal
    /// numbers are shortened to their extension.
    pub fn to_phone_dialable(&self, c: &Canonical) -> Result<String, Error> {
        if let Some(ext) = self.canonical_to_internal(c) {
            // An extension that reads as a special number is dialled in full instead.
            if !self.country()?.is_special(&ext) {
                return Ok(self.finish(ext));
            }
        }
        let body = match self.dialling_rules(c) {
            Ok(c) => self.national_form(&c, true)?,
            Err(direct) => direct,
        };
        let access = self.access_codes.first().cloned().unwrap_or_default();
        Ok(self.finish(format!("{access}{body}")))
    }

    /// What a trunk in `format` is sent to reach `c`.
    pub fn to_trunk_dialable(&self, c: &Canonical, format: TrunkFormat) -> Result<String, Error> {
        let c = match self.dialling_rules(c) {
            Ok(c) => c,
            Err(direct) => return Ok(self.finish(direct)),
        };
        let s = match format {
            TrunkFormat::E164 => c.as_str().to_owned(),
            TrunkFormat::International => format!("{}{}", self.international_prefix()?, c.digits()),
            TrunkFormat::National => self.national_form(&c, false)?,
        };
        Ok(self.finish(s))
    }

    /// The "PC dialing" rules: Ok(new canonical) or Err(a final dial string).
    fn dialling_rules(&self, c: &Canonical) -> Result<Canonical, String> {
        match apply_first(&self.rules.dialling, c.as_str()) {
            None => Ok(c.clone()),
            Some((n, _)) => Canonical::parse(&n).map_err(|_| n),
        }
    }

    fn finish(&self, s: String) -> String {
        apply_first(&self.rules.dialling_final, &s)
            .map(|(n, _)| n)
            .unwrap_or(s)
    }

    /// Transformation into a dialable number by the country's rules (no access code);
    /// `local` allows dropping the area code for local calls (phones, not trunks).
    fn national_form(&self, c: &Canonical, local: bool) -> Result<String, Error> {
        let country = self.country()?;
        let Some(nsn) = c.digits().strip_prefix(self.country_code.as_str()) else {
            return Ok(format!("{}{}", self.international_prefix()?, c.digits()));
        };
        if local {
            let rule = self.area_code_rules.iter().find(|r| {
                nsn.strip_prefix(r.area.as_str()).is_some_and(|sub| {
                    !sub.is_empty()
                        && (r.prefixes.is_empty()
                            || r.prefixes.iter().any(|p| sub.starts_with(p.as_str())))
                })
            });
            if let Some(r) = rule {
                let natl = self.national_prefix()?;
                return Ok(match r.dial {
                    AreaDial::Local if r.area == self.area_code => nsn[r.area.len()..].to_owned(),
                    // Without a fixed number length, digits without a prefix would
                    // read as local: dial the prefix then.
                    AreaDial::Local | AreaDial::TenDigit
                        if country.nsn_fixed == Some(nsn.len()) =>
                    {
                        nsn.to_owned()
                    }
                    AreaDial::Local | AreaDial::TenDigit => format!("{natl}{nsn}"),
                    AreaDial::LongDistance => format!("{natl}{nsn}"),
                });
            }
        }
        if local && !country.closed_numbering && !self.always_dial_area_code {
            if let Some(local) = nsn.strip_prefix(self.area_code.as_str()) {
                if !local.is_empty() {
                    return Ok(local.to_owned());
                }
            }
        }
        Ok(format!("{}{nsn}", self.national_prefix()?))
    }
}

/// Step 1: keeps `+ * # 0-9` and letters (upper-cased), drops separators, rejects the
/// rest. Returns whether a leading `!` was given.
fn strip(input: &str, what: &'static str) -> Result<(bool, String), Error> {
    let trimmed = input.trim();
    let (raw, body) = match trimmed.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    let mut out = String::with_capacity(body.len());
    for (pos, ch) in body.chars().enumerate() {
        match ch {
            '0'..='9' | '*' | '#' => out.push(ch),
            '+' if out.is_empty() => out.push('+'),
            '+' => {
                return Err(Error::MisplacedPlus {
                    what,
                    input: input.to_owned(),
                })
            }
            'a'..='z' | 'A'..='Z' => out.push(ch.to_ascii_uppercase()),
            ' ' | '-' | '/' | '(' | ')' | '.' | '\t' => {}
            _ => {
                return Err(Error::InvalidCharacter {
                    what,
                    input: input.to_owned(),
                    ch,
                    pos,
                })
            }
        }
    }
    if out.is_empty() || out == "+" {
        return Err(Error::EmptyNumber { what });
    }
    Ok((raw, out))
}
