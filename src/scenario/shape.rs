//! Objects only: where the docs show an object, a JSON array is refused.
//!
//! serde's derived structs also accept an array of their fields in order
//! (`"server": [1000, 5]`), which serde_json allows. The fields that hold
//! a section are read through [`object`] (and its `Option`/`Vec`
//! variants), which asks the deserializer for a map only — so the check
//! costs nothing and needs no second pass over the text (a 1 M-file
//! scenario is parsed once, straight into typed structs).

use serde::de::{Deserialize, Deserializer, Visitor};
use serde::forward_to_deserialize_any;

/// A `T` read from a JSON object only.
#[derive(Debug)]
#[repr(transparent)]
pub(super) struct Obj<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(MapOnly(d)).map(Obj)
    }
}

/// A deserializer that reads every request as "a map": a derived struct
/// asks for `deserialize_struct`, which serde_json would satisfy with an
/// array too; `deserialize_map` refuses one ("invalid type: sequence").
struct MapOnly<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for MapOnly<D> {
    type Error = D::Error;
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(visitor)
    }
    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// A section (a struct) that must be a JSON object.
pub(super) fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    T::deserialize(MapOnly(d))
}

/// An optional section: `null` or a JSON object.
pub(super) fn opt_object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    Ok(Option::<Obj<T>>::deserialize(d)?.map(|o| o.0))
}

/// An array of sections, each a JSON object.
pub(super) fn objects<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Vec::<Obj<T>>::deserialize(d)?.into_iter().map(|o| o.0).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct S {
        a: u32,
        b: u32,
    }

    #[test]
    fn an_object_is_read_and_an_array_refused() {
        let ok: Obj<S> = serde_json::from_str(r#"{"a":1,"b":2}"#).unwrap();
        assert_eq!((ok.0.a, ok.0.b), (1, 2));
        let e = serde_json::from_str::<Obj<S>>("[1,2]").unwrap_err().to_string();
        assert!(e.contains("invalid type: sequence"), "{e}");
        // The derived struct alone accepts the array: what this guards against.
        assert!(serde_json::from_str::<S>("[1,2]").is_ok());
        let v: Vec<S> = objects(&mut serde_json::Deserializer::from_str(r#"[{"a":1,"b":2}]"#)).unwrap();
        assert_eq!(v.len(), 1);
        assert!(objects::<_, S>(&mut serde_json::Deserializer::from_str("[[1,2]]")).is_err());
        let o: Option<S> = opt_object(&mut serde_json::Deserializer::from_str("null")).unwrap();
        assert!(o.is_none());
        assert!(opt_object::<_, S>(&mut serde_json::Deserializer::from_str("[1,2]")).is_err());
    }
}
