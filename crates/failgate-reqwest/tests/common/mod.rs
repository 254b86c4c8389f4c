//! What the tests share.
#![allow(dead_code, unreachable_pub)]

pub mod service;
