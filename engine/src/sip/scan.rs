//! A cursor over header text with the character classes of RFC 3261 §25.1.

use crate::error::{bad, Error};

/// `token` characters: alphanum and `-.!%*_+`'~`.
pub fn is_token(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&c)
}

/// Characters of a `word` (Call-ID): token characters plus separators that are allowed.
pub fn is_word(c: u8) -> bool {
    is_token(c) || b"()<>:\\\"/[]?{}".contains(&c)
}

/// Characters allowed in a URI outside of escapes (unreserved, reserved and `%`).
pub fn is_uri_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-_.!~*'()%;/?:@&=+$,[]#".contains(&c)
}

/// A cursor over the (unfolded) text of one header value.
#[derive(Debug, Clone)]
pub struct Scanner<'a> {
    s: &'a str,
    pos: usize,
    header: &'static str,
}

impl<'a> Scanner<'a> {
    pub fn new(s: &'a str, header: &'static str) -> Self {
        Scanner { s, pos: 0, header }
    }

    pub fn err(&self, reason: &'static str) -> Error {
        bad(self.header, reason)
    }

    pub fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn slice(&self, from: usize) -> &'a str {
        &self.s[from..self.pos]
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    pub fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    pub fn bump(&mut self) {
        self.pos += 1;
    }

    /// Skips spaces, tabs and (already unfolded) line breaks.
    pub fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.pos += 1;
        }
    }

    /// Consumes `c` surrounded by optional white space (SWS c SWS).
    pub fn eat_sep(&mut self, c: u8) -> bool {
        let save = self.pos;
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            self.skip_ws();
            true
        } else {
            self.pos = save;
            false
        }
    }

    pub fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub fn expect_sep(&mut self, c: u8, reason: &'static str) -> Result<(), Error> {
        if self.eat_sep(c) {
            Ok(())
        } else {
            Err(self.err(reason))
        }
    }

    /// Takes a run of characters for which `f` holds.
    pub fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if !f(c) {
                break;
            }
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }

    pub fn token(&mut self) -> Result<&'a str, Error> {
        let t = self.take_while(is_token);
        if t.is_empty() {
            Err(self.err("expected a token"))
        } else {
            Ok(t)
        }
    }

    /// Reads a quoted string and returns it with its quotes, escapes left as they are.
    pub fn quoted(&mut self) -> Result<&'a str, Error> {
        let start = self.pos;
        if !self.eat(b'"') {
            return Err(self.err("expected a quoted string"));
        }
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated quoted string")),
                Some(b'\\') => {
                    self.pos += 1;
                    if self.at_end() {
                        return Err(self.err("unterminated quoted string"));
                    }
                    self.pos += 1;
                }
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(&self.s[start..self.pos]);
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    /// A generic parameter value: token, quoted string or IPv6 reference.
    pub fn param_value(&mut self) -> Result<&'a str, Error> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'[') => {
                let start = self.pos;
                self.take_while(|c| c != b']');
                if !self.eat(b']') {
                    return Err(self.err("unterminated IPv6 reference"));
                }
                Ok(self.slice(start))
            }
            _ => {
                // token, host, or a bare IPv6 address (`received=2001:db8::1`, RFC 3261
                // §20.42).
                let t = self.take_while(|c| is_token(c) || c == b':');
                if t.is_empty() {
                    Err(self.err("expected a parameter value"))
                } else {
                    Ok(t)
                }
            }
        }
    }
}

/// Parses a decimal number that must fit `max`; overlarge values are errors
/// (RFC 4475 §3.1.2.4).
pub fn parse_bounded(s: &str, max: u64, header: &'static str) -> Result<u64, Error> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad(header, "expected a decimal number"));
    }
    match s.parse::<u64>() {
        Ok(v) if v <= max => Ok(v),
        _ => Err(bad(header, "number out of range")),
    }
}

/// Removes the quotes and backslash escapes of a quoted string.
pub fn unquote(s: &str) -> std::borrow::Cow<'_, str> {
    let inner = s
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s);
    if !inner.contains('\\') {
        return inner.into();
    }
    let mut out = String::with_capacity(inner.len());
    let mut escaped = false;
    for c in inner.chars() {
        if escaped {
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else {
            out.push(c);
        }
    }
    out.into()
}
