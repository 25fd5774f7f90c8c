//! The `switchyard` CLI's parts: a small HTTP/1.1 client for the admin
//! API (`http`) and the human tables it prints (`render`). The binary
//! (src/bin/switchyard.rs) only parses arguments and joins the two.

pub mod http;
pub mod render;
