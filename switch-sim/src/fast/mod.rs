//! The fast engine: the checked IR of the loaded program compiled to native
//! code with Cranelift when the program is loaded (from `--p4` or a
//! pipeline pushed over P4Runtime), one function per v1model block. The
//! interpreter (`exec`) stays the reference: `tests/differential.rs` runs
//! both on the same packets and compares everything they produce.
//!
//! What the compiled code does itself: expressions, assignments, control
//! flow, actions (inlined at each call and at each table's dispatch),
//! parser states and `select`, `verify`, header extraction and emission,
//! field-list serialization for checksums and hashes. What it hands to
//! Rust helpers (`helpers`): the table lookup, counters, the checksum and
//! hash algorithms, and the rare statements (registers, digests, stack
//! shifts, `lookahead`, `advance`, `assert`, `truncate`), which run the
//! interpreter's own code for that one statement.

mod helpers;
mod limits;
mod lower;

use std::sync::Arc;

use cranelift_jit::JITModule;

use crate::exec::{Packet, State, DROP_PORT};
use crate::ir::Program;

pub use limits::{MAX_KEYS, SCRATCH_BYTES};

/// Which engine runs the packets of a switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// The reference interpreter (`exec`).
    Interp,
    /// The program compiled to native code at load (this module).
    Fast,
}

impl std::str::FromStr for Engine {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "interp" => Ok(Engine::Interp),
            "fast" => Ok(Engine::Fast),
            _ => Err(format!("unknown engine `{s}` (interp or fast)")),
        }
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Engine::Interp => "interp",
            Engine::Fast => "fast",
        })
    }
}

/// What the compiled code reads and writes besides the slots, at fixed
/// offsets (`repr(C)`): the lowering addresses these fields directly.
#[repr(C)]
pub(crate) struct Ctx {
    pub slots: *mut u64,
    /// `Packet::data`, the frame, followed in its capacity by
    /// `limits::READ_SLACK` zero bytes, so a field is read with one 8-byte
    /// load wherever it sits.
    pub data: *const u8,
    pub data_len: u64,
    pub pkt: *mut Packet,
    pub state: *mut State,
    pub prog: *const Program,
    /// `Packet::out`'s buffer (capacity reserved before the packet) and how
    /// much of it the deparser has written.
    pub out: *mut u8,
    pub out_len: u64,
    /// Table key values, written before a lookup.
    pub keys: [u64; MAX_KEYS],
    /// A field list serialized for a checksum or hash (plus store slack).
    pub scratch: [u8; SCRATCH_BYTES + limits::WRITE_SLACK],
}

// SAFETY: the pointers are set at the start of each packet from the
// engine's own borrows and used only until `process` returns; between
// packets they are never read.
unsafe impl Send for Ctx {}

type ParseFn = unsafe extern "C" fn(*mut Ctx) -> u64;
type BlockFn = unsafe extern "C" fn(*mut Ctx);

/// Keeps the code of one program alive and frees it with the engine.
struct Code(Option<JITModule>);

// SAFETY: after `finalize_definitions` the module is never used again
// except to free its memory on drop; the code it holds is immutable and
// callable from any thread.
unsafe impl Send for Code {}

impl Drop for Code {
    fn drop(&mut self) {
        if let Some(m) = self.0.take() {
            // SAFETY: the function pointers into this module live in the
            // same `FastEngine`, which is being dropped.
            unsafe { m.free_memory() };
        }
    }
}

pub struct FastEngine {
    prog: Arc<Program>,
    parse: ParseFn,
    verify: BlockFn,
    ingress: BlockFn,
    egress: BlockFn,
    compute: BlockFn,
    deparser: BlockFn,
    /// Most bytes the program's emits can write for one packet.
    max_out: usize,
    ctx: Box<Ctx>,
    _code: Code,
}

impl std::fmt::Debug for FastEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastEngine").field("max_out", &self.max_out).finish()
    }
}

impl FastEngine {
    /// Compiles a checked program; Err says which construct the fast
    /// engine does not compile (the switch then runs the interpreter).
    pub fn compile(prog: Arc<Program>) -> Result<FastEngine, String> {
        let c = lower::compile(&prog)?;
        // SAFETY: each pointer is a finalized function of `c.module`
        // compiled with the signature of its type.
        let (parse, verify, ingress, egress, compute, deparser) = unsafe {
            (
                std::mem::transmute::<*const u8, ParseFn>(c.parse),
                std::mem::transmute::<*const u8, BlockFn>(c.blocks[0]),
                std::mem::transmute::<*const u8, BlockFn>(c.blocks[1]),
                std::mem::transmute::<*const u8, BlockFn>(c.blocks[2]),
                std::mem::transmute::<*const u8, BlockFn>(c.blocks[3]),
                std::mem::transmute::<*const u8, BlockFn>(c.blocks[4]),
            )
        };
        let ctx = Box::new(Ctx {
            slots: std::ptr::null_mut(),
            data: std::ptr::null(),
            data_len: 0,
            pkt: std::ptr::null_mut(),
            state: std::ptr::null_mut(),
            prog: Arc::as_ptr(&prog),
            out: std::ptr::null_mut(),
            out_len: 0,
            keys: [0; MAX_KEYS],
            scratch: [0; SCRATCH_BYTES + limits::WRITE_SLACK],
        });
        Ok(FastEngine {
            prog,
            parse,
            verify,
            ingress,
            egress,
            compute,
            deparser,
            max_out: c.max_out,
            ctx,
            _code: Code(Some(c.module)),
        })
    }

    /// `Exec::process` with the compiled blocks: the same steps in the
    /// same order, so both engines give the same results.
    pub fn process(&mut self, port: u16, frame: &[u8], p: &mut Packet, st: &mut State) -> Option<u16> {
        let sd = self.prog.std;
        p.start(&sd, port, frame, st.now_ns);
        p.out.reserve(self.max_out + limits::WRITE_SLACK);
        // The slack after the frame, zeroed: initialized bytes past len.
        p.data.reserve(limits::READ_SLACK);
        for b in &mut p.data.spare_capacity_mut()[..limits::READ_SLACK] {
            b.write(0);
        }
        let c: &mut Ctx = &mut self.ctx;
        c.slots = p.slots.as_mut_ptr();
        c.data = p.data.as_ptr();
        c.data_len = frame.len() as u64;
        c.out = p.out.as_mut_ptr();
        c.out_len = 0;
        c.pkt = p;
        c.state = st;
        let c: *mut Ctx = c;
        // From here until the end the packet and the state are reached only
        // through `c` (the compiled code and its helpers), then through
        // short borrows of `(*c).pkt` between the calls.
        // SAFETY: the compiled functions only touch the slots (n_slots of
        // them, checked at lowering), the frame copy, `out` within the
        // reserved capacity and what the helpers reach through `c`.
        unsafe {
            let e = (self.parse)(c);
            let p = &mut *(*c).pkt;
            p.slots[sd.parser_error as usize] = e;
            p.pending = 0;
            (self.verify)(c);
            (self.ingress)(c);
            let spec = (&(*(*c).pkt).slots)[sd.egress_spec as usize];
            if spec == DROP_PORT {
                return None;
            }
            (&mut (*(*c).pkt).slots)[sd.egress_port as usize] = spec;
            (self.egress)(c);
            if (&(*(*c).pkt).slots)[sd.egress_spec as usize] == DROP_PORT {
                return None;
            }
            (self.compute)(c);
            (self.deparser)(c);
            let p = &mut *(*c).pkt;
            let n = (*c).out_len as usize;
            debug_assert!(n <= p.out.capacity());
            // Every byte below out_len was written by the deparser.
            p.out.set_len(n);
            let rest = &p.data[p.cursor.min(p.data.len())..];
            p.out.extend_from_slice(rest);
            if let Some(t) = p.truncate {
                p.out.truncate(t);
            }
            Some(spec as u16)
        }
    }
}
