//! The pure core of zhengzhao: everything that can be decided from data alone.
//!
//! Rules of this crate (see ARCHITECTURE.md):
//! - no I/O, no async, no clock reads: time comes in as an argument;
//! - values are made by parsing (`CreditCode::parse`), so an invalid code cannot
//!   exist past the edge of the program;
//! - every error names what is wrong, in English (`Display`) and Chinese (`zh()`).

pub mod catalog;
pub mod codes;
pub mod face;
pub mod license_id;
pub mod org;
pub mod problem;
pub mod role;
pub mod scenario;
pub mod workdays;

pub use problem::FieldError;
