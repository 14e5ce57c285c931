//! A prefix table: lookups cost one hash probe per distinct key length, not a scan over
//! every key (5,000 LCR prefixes are ~12 probes).

use std::collections::HashMap;

/// Values keyed by string prefixes.
#[derive(Debug, Clone)]
pub struct PrefixTable<T> {
    map: HashMap<String, Vec<T>>,
    /// Distinct key lengths, longest first.
    lens: Vec<usize>,
}

impl<T> Default for PrefixTable<T> {
    fn default() -> Self {
        Self {
            map: HashMap::new(),
            lens: Vec::new(),
        }
    }
}

impl<T> PrefixTable<T> {
    /// Adds `value` under `prefix`.
    pub fn insert(&mut self, prefix: &str, value: T) {
        if !self.lens.contains(&prefix.len()) {
            self.lens.push(prefix.len());
            self.lens.sort_unstable_by(|a, b| b.cmp(a));
        }
        self.map.entry(prefix.to_owned()).or_default().push(value);
    }

    /// Every key that is a prefix of `s`, longest first, with its values.
    pub fn matches<'a>(&'a self, s: &'a str) -> impl Iterator<Item = (&'a str, &'a [T])> + 'a {
        self.lens.iter().filter_map(move |&n| {
            let key = s.get(..n)?;
            self.map.get(key).map(|v| (key, v.as_slice()))
        })
    }

    /// The longest key that is a prefix of `s`.
    pub fn longest<'a>(&'a self, s: &'a str) -> Option<(&'a str, &'a [T])> {
        self.matches(s).next()
    }

    /// Number of distinct keys.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_first() {
        let mut t = PrefixTable::default();
        t.insert("+4917", 1);
        t.insert("+49171", 2);
        t.insert("+49", 3);
        let keys: Vec<&str> = t.matches("+4917123").map(|(k, _)| k).collect();
        assert_eq!(keys, ["+49171", "+4917", "+49"]);
        assert_eq!(t.longest("+4930").unwrap().1, [3]);
        assert!(t.longest("+33").is_none());
    }
}
