//! Wire-level checks that do not need the Python venv: byte layouts computed by hand from the
//! field numbers of the specification, and the gRPC service name every peer dials.

use crate::google::rpc::{Code, Status};
use crate::p4::config::v1 as p4info;
use crate::p4::v1::*;
use prost::Message;

#[test]
fn uint128_uses_fields_1_and_2() {
    let bytes = Uint128 { high: 1, low: 2 }.encode_to_vec();
    assert_eq!(bytes, [0x08, 0x01, 0x10, 0x02]);
}

#[test]
fn insert_table_entry_encodes_as_the_spec_numbers_it() {
    let update = Update {
        r#type: update::Type::Insert as i32,
        entity: Some(Entity {
            entity: Some(entity::Entity::TableEntry(TableEntry {
                table_id: 0x0200_0001,
                ..Default::default()
            })),
        }),
    };
    // Update.type = 1 (varint), Update.entity = 2 (len), Entity.table_entry = 2 (len),
    // TableEntry.table_id = 1 (varint 0x02000001 = 81 80 80 10).
    let expected = [
        0x08, 0x01, 0x12, 0x07, 0x12, 0x05, 0x08, 0x81, 0x80, 0x80, 0x10,
    ];
    assert_eq!(update.encode_to_vec(), expected);
    assert_eq!(Update::decode(&expected[..]).unwrap(), update);
}

#[test]
fn lpm_match_is_field_4_and_range_is_field_6() {
    let lpm = FieldMatch {
        field_id: 1,
        field_match_type: Some(field_match::FieldMatchType::Lpm(field_match::Lpm {
            value: vec![10, 0, 0, 0],
            prefix_len: 8,
        })),
    };
    assert_eq!(
        lpm.encode_to_vec(),
        [0x08, 0x01, 0x22, 0x08, 0x0a, 0x04, 10, 0, 0, 0, 0x10, 0x08]
    );
    let range = FieldMatch {
        field_id: 2,
        field_match_type: Some(field_match::FieldMatchType::Range(field_match::Range {
            low: vec![1],
            high: vec![9],
        })),
    };
    assert_eq!(
        range.encode_to_vec(),
        [0x08, 0x02, 0x32, 0x06, 0x0a, 0x01, 1, 0x12, 0x01, 9]
    );
}

#[test]
fn arbitration_reply_decodes_status_and_election_id() {
    // MasterArbitrationUpdate{device_id=1 (1), election_id=3 {low=5}, status=4 {code=6}}.
    let bytes = [0x08, 0x01, 0x1a, 0x02, 0x10, 0x05, 0x22, 0x02, 0x08, 0x06];
    let update = MasterArbitrationUpdate::decode(&bytes[..]).unwrap();
    assert_eq!(update.device_id, 1);
    assert_eq!(update.election_id, Some(Uint128 { high: 0, low: 5 }));
    let status: Status = update.status.unwrap();
    assert_eq!(Code::try_from(status.code), Ok(Code::AlreadyExists));
}

#[test]
fn stream_error_is_update_field_6() {
    let msg = StreamMessageResponse {
        update: Some(stream_message_response::Update::Error(StreamError {
            canonical_code: Code::InvalidArgument as i32,
            ..Default::default()
        })),
    };
    assert_eq!(msg.encode_to_vec(), [0x32, 0x02, 0x08, 0x03]);
}

#[test]
fn p4info_match_type_and_prefix_values() {
    assert_eq!(p4info::match_field::MatchType::Exact as i32, 2);
    assert_eq!(p4info::match_field::MatchType::Optional as i32, 6);
    assert_eq!(p4info::p4_ids::Prefix::Table as i32, 0x02);
    assert_eq!(p4info::p4_ids::Prefix::Digest as i32, 0x17);
    // SdnPort values are 32-bit port numbers stored in a (signed) proto enum.
    assert_eq!(SdnPort::Cpu as i32 as u32, 0xffff_fffd);
    assert_eq!(SdnPort::Max as i32 as u32, 0xffff_feff);
}

#[test]
fn grpc_service_name_is_p4_v1_p4runtime() {
    assert_eq!(p4_runtime_server::SERVICE_NAME, "p4.v1.P4Runtime");
}

#[test]
fn malformed_bytes_are_an_error_not_a_panic() {
    // A length-delimited field claiming more bytes than are present.
    assert!(WriteRequest::decode(&[0x22, 0x7f, 0x00][..]).is_err());
    // A wire type 7, which does not exist.
    assert!(ReadRequest::decode(&[0x0f][..]).is_err());
}

#[test]
fn descriptor_set_holds_every_api_file() {
    let fds = prost_types::FileDescriptorSet::decode(crate::FILE_DESCRIPTOR_SET).unwrap();
    let names: Vec<&str> = fds.file.iter().map(|f| f.name()).collect();
    for want in [
        "p4/v1/p4runtime.proto",
        "p4/v1/p4data.proto",
        "p4/config/v1/p4info.proto",
        "p4/config/v1/p4types.proto",
        "google/rpc/status.proto",
        "google/rpc/code.proto",
        "google/protobuf/any.proto",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
}
