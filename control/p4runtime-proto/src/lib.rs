//! P4Runtime v1 messages and gRPC service, generated at build time (prost + tonic) from the
//! .proto files in `proto/`, which this project wrote from the P4Runtime specification v1.4.
//! `conformance/check_descriptors.py` proves they match the official descriptors field for
//! field (see docs/P4RUNTIME.md).
//!
//! Module paths mirror the protobuf packages, so generated cross-references resolve:
//! `p4::v1` (runtime messages and the `P4Runtime` service), `p4::config::v1` (P4Info and
//! type info), `google::rpc` (`Status`, `Code`). `google.protobuf.Any` is `prost_types::Any`.

pub mod google {
    pub mod rpc {
        #![allow(clippy::all)]
        include!(concat!(env!("OUT_DIR"), "/google.rpc.rs"));
    }
}

pub mod p4 {
    pub mod v1 {
        #![allow(clippy::all)]
        include!(concat!(env!("OUT_DIR"), "/p4.v1.rs"));
    }
    pub mod config {
        pub mod v1 {
            #![allow(clippy::all)]
            include!(concat!(env!("OUT_DIR"), "/p4.config.v1.rs"));
        }
    }
}

/// The encoded `google.protobuf.FileDescriptorSet` of every file the crate was generated from
/// (including the imported google/protobuf/any.proto). Used by the conformance check; a server
/// can also hand it to a gRPC reflection service.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/p4runtime_descriptor.bin"));

/// The P4Runtime specification version these definitions follow, as a server should report
/// it in `CapabilitiesResponse.p4runtime_api_version`.
pub const P4RUNTIME_API_VERSION: &str = "1.4.1";

/// Mutual TLS for the channel (PEM files to tonic's rustls configs).
pub mod tls;

pub use prost;
pub use prost_types;
pub use tonic;

#[cfg(test)]
mod tests;
