//! Values between SQLite's types (what the store's modules bind and read) and
//! PostgreSQL's: a parameter is written as the type PostgreSQL asks for, a column is
//! read into the SQLite value it would have been (integers, reals, text, blobs).

use std::error::Error as StdError;

use postgres::types::{FromSql as PgFromSql, IsNull, ToSql as PgToSql, Type};
use rusqlite::types::{ToSql, ToSqlOutput, Value};

use crate::{Error, Result};

type BoxError = Box<dyn StdError + Sync + Send>;

/// A parameter, owned so that it may cross to PostgreSQL's client.
#[derive(Debug)]
pub struct Param(Value);

/// The parameters of one statement.
pub fn params(params: &[&dyn ToSql]) -> Result<Vec<Param>> {
    params
        .iter()
        .map(|p| {
            Ok(Param(match p.to_sql()? {
                ToSqlOutput::Borrowed(v) => v.into(),
                ToSqlOutput::Owned(v) => v,
                #[allow(unreachable_patterns)]
                _ => return Err(Error::Postgres("a parameter of an unknown kind".into())),
            }))
        })
        .collect()
}

pub fn refs(values: &[Param]) -> Vec<&(dyn PgToSql + Sync)> {
    values.iter().map(|v| v as &(dyn PgToSql + Sync)).collect()
}

fn is_text(ty: &Type) -> bool {
    [
        Type::TEXT,
        Type::VARCHAR,
        Type::BPCHAR,
        Type::NAME,
        Type::UNKNOWN,
    ]
    .contains(ty)
        || ty.name() == "citext"
}

impl PgToSql for Param {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        match &self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Integer(i) => {
                if *ty == Type::INT8 {
                    PgToSql::to_sql(&i, ty, out)
                } else if *ty == Type::INT4 {
                    PgToSql::to_sql(&i32::try_from(*i)?, ty, out)
                } else if *ty == Type::INT2 {
                    PgToSql::to_sql(&i16::try_from(*i)?, ty, out)
                } else if *ty == Type::FLOAT8 {
                    PgToSql::to_sql(&(*i as f64), ty, out)
                } else if *ty == Type::BOOL {
                    PgToSql::to_sql(&(*i != 0), ty, out)
                } else if is_text(ty) {
                    PgToSql::to_sql(&i.to_string().as_str(), ty, out)
                } else {
                    Err(format!("an integer cannot be sent as {ty}").into())
                }
            }
            Value::Real(f) => {
                if *ty == Type::FLOAT8 {
                    PgToSql::to_sql(&f, ty, out)
                } else if *ty == Type::FLOAT4 {
                    PgToSql::to_sql(&(*f as f32), ty, out)
                } else if is_text(ty) {
                    PgToSql::to_sql(&f.to_string().as_str(), ty, out)
                } else {
                    Err(format!("a real cannot be sent as {ty}").into())
                }
            }
            Value::Text(s) => {
                if *ty == Type::INT8 {
                    PgToSql::to_sql(&s.parse::<i64>()?, ty, out)
                } else if *ty == Type::INT4 {
                    PgToSql::to_sql(&s.parse::<i32>()?, ty, out)
                } else if *ty == Type::BYTEA {
                    PgToSql::to_sql(&s.as_bytes(), ty, out)
                } else {
                    PgToSql::to_sql(&s.as_str(), ty, out)
                }
            }
            Value::Blob(b) => PgToSql::to_sql(&b.as_slice(), ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// Column `i` of `row` as the SQLite value it stands for.
pub fn column(row: &postgres::Row, i: usize) -> Result<Value> {
    let ty = row.columns()[i].type_();
    if *ty == Type::INT8 {
        read(row, i, Value::Integer)
    } else if *ty == Type::INT4 {
        read(row, i, |v: i32| Value::Integer(v.into()))
    } else if *ty == Type::INT2 {
        read(row, i, |v: i16| Value::Integer(v.into()))
    } else if *ty == Type::BOOL {
        read(row, i, |v: bool| Value::Integer(v.into()))
    } else if *ty == Type::FLOAT8 {
        read(row, i, Value::Real)
    } else if *ty == Type::FLOAT4 {
        read(row, i, |v: f32| Value::Real(v.into()))
    } else if *ty == Type::NUMERIC {
        read(row, i, |n: Numeric| n.0)
    } else if *ty == Type::BYTEA {
        read(row, i, Value::Blob)
    } else if is_text(ty) {
        read(row, i, Value::Text)
    } else {
        Err(Error::Postgres(format!(
            "column {} has type {ty}, which the store does not read",
            row.columns()[i].name()
        )))
    }
}

/// Column `i` read as `T` and made a value; NULL stays NULL.
fn read<'r, T: PgFromSql<'r>>(
    row: &'r postgres::Row,
    i: usize,
    value: impl FnOnce(T) -> Value,
) -> Result<Value> {
    let v: Option<T> = row.try_get(i).map_err(|e| Error::Postgres(e.to_string()))?;
    Ok(v.map_or(Value::Null, value))
}

/// A NUMERIC (what PostgreSQL's SUM and AVG of integers give): an integer when it has
/// no fraction, as SQLite's SUM gives, else a real.
struct Numeric(Value);

impl<'a> PgFromSql<'a> for Numeric {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let word = |at: usize| -> Result<i16, BoxError> {
            raw.get(at..at + 2)
                .map(|b| i16::from_be_bytes([b[0], b[1]]))
                .ok_or_else(|| "a short NUMERIC".into())
        };
        let digits = word(0)?.max(0) as usize;
        let weight = i32::from(word(2)?);
        let sign = word(4)? as u16;
        let scale = word(6)?;
        if sign == 0xC000 {
            return Ok(Numeric(Value::Real(f64::NAN)));
        }
        let mut value = 0f64;
        for d in 0..digits {
            let digit = f64::from(word(8 + 2 * d)?);
            value += digit * 10_000f64.powi(weight - d as i32);
        }
        if sign == 0x4000 {
            value = -value;
        }
        Ok(Numeric(if scale == 0 && value.abs() < 9.0e15 {
            Value::Integer(value as i64)
        } else {
            Value::Real(value)
        }))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(words: &[i16]) -> Value {
        let raw: Vec<u8> = words.iter().flat_map(|w| w.to_be_bytes()).collect();
        Numeric::from_sql(&Type::NUMERIC, &raw).unwrap().0
    }

    #[test]
    fn numerics_read_as_sqlite_would() {
        // 12345678: two base-10000 digits, weight 1, no scale.
        assert_eq!(
            numeric(&[2, 1, 0, 0, 1234, 5678]),
            Value::Integer(12_345_678)
        );
        // -7
        assert_eq!(numeric(&[1, 0, 0x4000, 0, 7]), Value::Integer(-7));
        // 2.5 (scale 1): 2 and 5000 at weight 0 and -1.
        assert_eq!(numeric(&[2, 0, 0, 1, 2, 5000]), Value::Real(2.5));
        // zero has no digits
        assert_eq!(numeric(&[0, 0, 0, 0]), Value::Integer(0));
    }
}
