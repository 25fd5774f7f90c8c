//! The fast engine's fixed sizes, each with its reason. A program beyond
//! one of them still runs: the construct goes to the interpreter's code
//! (a helper), or the whole program does (`FastEngine::compile` fails).

/// Key fields of one table: the IR allows 128 bits of key in total, so at
/// most 128 one-bit fields.
pub const MAX_KEYS: usize = 128;

/// Bytes of one serialized checksum or hash field list compiled inline;
/// a longer list is serialized by the interpreter's code.
pub const SCRATCH_BYTES: usize = 1024;

/// Zero bytes after the frame copy: every field is read with one 8-byte
/// load starting at its first byte, which may reach 7 bytes past the end.
pub const READ_SLACK: usize = 8;

/// Bytes past the written length that a store may touch: runs of fields
/// are written as one 8-byte big-endian store each.
pub const WRITE_SLACK: usize = 8;

/// Slots of a header or struct copy done with inline loads and stores; a
/// longer copy is the interpreter's `copy_within`.
pub const INLINE_COPY_SLOTS: u32 = 64;

/// Slots of a header stack shifted (`push_front`/`pop_front`) with
/// inline loads and stores; a larger stack is shifted by the interpreter.
pub const INLINE_STACK_SLOTS: u32 = 512;

/// Parser state visits per packet, the interpreter's bound.
pub const MAX_PARSER_STEPS: usize = crate::exec::MAX_PARSER_STEPS;
