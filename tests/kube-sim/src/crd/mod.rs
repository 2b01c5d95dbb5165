//! CustomResourceDefinitions: turning one into a served resource, and the schema machinery its objects go through.

pub mod columns;
pub mod definition;
pub mod schema;
