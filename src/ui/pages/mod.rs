//! One component per route.

pub mod home;
