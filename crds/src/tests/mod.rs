//! Tests of the API types as a whole: JSON/YAML round trips and, with `schema-check`, the generated CRDs.

#[cfg(feature = "schema-check")]
mod generated_crd;
mod round_trip;
