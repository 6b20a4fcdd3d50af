//! Integers in JSON bodies as JSON Schema sees them: `2.0` is the integer 2
//! (JSON Schema's `integer` is about the value, not the spelling), and values
//! beyond `int64` are out of range, matching the OpenAPI `format: int64`.

use serde::{Deserialize, Deserializer, de::Error as _};

#[derive(Deserialize)]
#[serde(untagged)]
enum Num {
    U(u64),
    I(i64),
    F(f64),
}

/// The largest integer the API accepts (`i64::MAX`, as `format: int64` says).
pub const MAX: u64 = i64::MAX as u64;

fn to_u64<E: serde::de::Error>(n: Num) -> Result<u64, E> {
    let v = match n {
        Num::U(u) => u,
        Num::I(i) => u64::try_from(i).map_err(|_| E::custom("must not be negative"))?,
        // Exact integers only; 2^53 bounds the floats that are exact.
        Num::F(f) if f.fract() == 0.0 && (0.0..=9_007_199_254_740_992.0).contains(&f) => f as u64,
        Num::F(_) => return Err(E::custom("must be a non-negative integer")),
    };
    if v > MAX {
        return Err(E::custom("is out of range (at most 2^63-1)"));
    }
    Ok(v)
}

/// `deserialize_with` for `Option<u64>`.
pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Option::<Num>::deserialize(d)?.map(to_u64).transpose()
}

/// `deserialize_with` for `Option<u32>`.
pub fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    match Option::<Num>::deserialize(d)?
        .map(to_u64::<D::Error>)
        .transpose()?
    {
        None => Ok(None),
        Some(v) => u32::try_from(v)
            .map(Some)
            .map_err(|_| D::Error::custom("is out of range")),
    }
}

#[cfg(test)]
mod tests {
    #[derive(Debug, serde::Deserialize)]
    struct T {
        #[serde(default, deserialize_with = "super::opt_u64")]
        n: Option<u64>,
    }

    fn parse(s: &str) -> Result<Option<u64>, serde_json::Error> {
        serde_json::from_str::<T>(s).map(|t| t.n)
    }

    #[test]
    fn integral_floats_are_integers_and_the_range_is_int64() {
        assert_eq!(parse(r#"{"n": 2}"#).unwrap(), Some(2));
        assert_eq!(parse(r#"{"n": 2.0}"#).unwrap(), Some(2));
        assert_eq!(parse(r#"{"n": null}"#).unwrap(), None);
        assert_eq!(parse(r#"{}"#).unwrap(), None);
        assert!(parse(r#"{"n": 2.5}"#).is_err());
        assert!(parse(r#"{"n": -1}"#).is_err());
        assert!(parse(r#"{"n": 9223372036854775808}"#).is_err());
        assert_eq!(
            parse(r#"{"n": 9223372036854775807}"#).unwrap(),
            Some(i64::MAX as u64)
        );
    }
}
