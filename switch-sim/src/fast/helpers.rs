//! The Rust functions compiled code calls. All take three `u64`
//! arguments and return one (one call signature for all of them; unused
//! arguments are ignored). Each reaches the packet, the switch state and
//! the program through the `Ctx` it is given, in short borrows: the
//! compiled caller holds no reference across the call.

use super::Ctx;
use crate::exec::{Exec, Flow};
use crate::hashes;
use crate::ir::{ChecksumSt, Ex, HashAlgo, HeaderRef, St};

/// Flow codes the compiled code branches on.
pub const FLOW_NEXT: u64 = 0;
pub const FLOW_RETURN: u64 = 1;
pub const FLOW_EXIT: u64 = 2;

pub type Helper = unsafe extern "C" fn(u64, u64, u64) -> u64;

fn flow_code(f: Flow) -> u64 {
    match f {
        Flow::Next => FLOW_NEXT,
        Flow::Return => FLOW_RETURN,
        Flow::Exit => FLOW_EXIT,
    }
}

/// One statement run by the interpreter (`st` points into the program).
pub unsafe extern "C" fn stmt(ctx: u64, st: u64, _: u64) -> u64 {
    let c = &mut *(ctx as *mut Ctx);
    let ex = Exec { prog: &*c.prog };
    flow_code(ex.stmt(&*(st as *const St), &mut *c.pkt, &mut *c.state))
}

/// One expression evaluated by the interpreter (`lookahead`).
pub unsafe extern "C" fn eval(ctx: u64, e: u64, _: u64) -> u64 {
    let c = &mut *(ctx as *mut Ctx);
    let ex = Exec { prog: &*c.prog };
    ex.ev(&*(e as *const Ex), &mut *c.pkt)
}

/// Looks table `t` up with the key values in `ctx.keys`, does what the
/// interpreter's `apply_table` does before the action body (entry hit
/// time and direct counts, action data into the parameter slots) and
/// returns `hit << 32 | action index`.
pub unsafe extern "C" fn apply(ctx: u64, t: u64, _: u64) -> u64 {
    let c = &mut *(ctx as *mut Ctx);
    let prog = &*c.prog;
    let st = &mut *c.state;
    let p = &mut *c.pkt;
    let t = t as usize;
    let n = prog.tables[t].keys.len();
    let table = &mut st.tables[t];
    match table.lookup(&c.keys[..n]) {
        Some(i) => {
            st.direct_meter(prog, t, i, &mut p.slots);
            let table = &mut st.tables[t];
            let bytes = p.slots[prog.std.packet_length as usize];
            let e = table.entries[i].as_mut().expect("lookup returns live entries");
            e.last_hit_ns = st.now_ns;
            e.packets += 1;
            e.bytes += bytes;
            let a = e.spec.action;
            for (pd, v) in prog.actions[a].params.iter().zip(&e.spec.args) {
                p.slots[pd.slot as usize] = *v;
            }
            (1 << 32) | a as u64
        }
        None => {
            let (a, ref args) = table.default_action;
            for (pd, v) in prog.actions[a].params.iter().zip(args) {
                p.slots[pd.slot as usize] = *v;
            }
            a as u64
        }
    }
}

/// The body of action `a` run by the interpreter: a table's action the
/// lowering did not expect (never, while `set_default` and entries only
/// take a table's own actions).
pub unsafe extern "C" fn action_body(ctx: u64, a: u64, _: u64) -> u64 {
    let c = &mut *(ctx as *mut Ctx);
    let prog = &*c.prog;
    let ex = Exec { prog };
    match ex.block(&prog.actions[a as usize].body, &mut *c.pkt, &mut *c.state) {
        Flow::Exit => FLOW_EXIT,
        _ => FLOW_NEXT,
    }
}

/// `counter.count(index)`: bmv2 ignores an index out of range.
pub unsafe extern "C" fn count(ctx: u64, counter: u64, index: u64) -> u64 {
    let c = &mut *(ctx as *mut Ctx);
    let prog = &*c.prog;
    let bytes = *c.slots.add(prog.std.packet_length as usize);
    if let Some(cell) = (&mut (*c.state).counters)[counter as usize].get_mut(index as usize) {
        cell.0 += 1;
        cell.1 += bytes;
    }
    0
}

/// A checksum over the `len` bytes serialized in `ctx.scratch` (plus the
/// payload for the `_with_payload` forms): verified or stored.
pub unsafe extern "C" fn checksum(ctx: u64, cs: u64, len: u64) -> u64 {
    let c = &mut *(ctx as *mut Ctx);
    let cs = &*(cs as *const ChecksumSt);
    let prog = &*c.prog;
    let p = &mut *c.pkt;
    let head = &c.scratch[..len as usize];
    let v = if cs.with_payload {
        let mut buf = std::mem::take(&mut p.scratch);
        buf.clear();
        buf.extend_from_slice(head);
        buf.extend_from_slice(&p.data[p.cursor.min(p.data.len())..]);
        let v = hashes::compute(cs.algo, &buf);
        p.scratch = buf;
        v
    } else {
        hashes::compute(cs.algo, head)
    } & crate::ir::mask(cs.width);
    if cs.verify {
        if p.slots[cs.field as usize] != v {
            p.slots[prog.std.checksum_error as usize] = 1;
        }
    } else {
        p.slots[cs.field as usize] = v;
    }
    0
}

/// The hash algorithm `algo` (`HashAlgo` as `algo_code`) over `len` bytes
/// of `ctx.scratch`.
pub unsafe extern "C" fn hash(ctx: u64, algo: u64, len: u64) -> u64 {
    let c = &*(ctx as *const Ctx);
    hashes::compute(algo_of(algo), &c.scratch[..len as usize])
}

pub fn algo_code(a: HashAlgo) -> u64 {
    match a {
        HashAlgo::Crc32 => 0,
        HashAlgo::Crc16 => 1,
        HashAlgo::Identity => 2,
        HashAlgo::Csum16 => 3,
        HashAlgo::Xor16 => 4,
    }
}

fn algo_of(code: u64) -> HashAlgo {
    match code {
        0 => HashAlgo::Crc32,
        1 => HashAlgo::Crc16,
        2 => HashAlgo::Identity,
        3 => HashAlgo::Csum16,
        _ => HashAlgo::Xor16,
    }
}

/// Emits header `h` (`delta` slots further on, a stack element) into
/// `ctx.out` bit by bit: headers whose fields the lowering cannot group
/// into whole-byte runs of at most 64 bits.
pub unsafe extern "C" fn emit(ctx: u64, h: u64, delta: u64) -> u64 {
    let c = &mut *(ctx as *mut Ctx);
    let h = &*(h as *const HeaderRef);
    let delta = delta as u32;
    if *c.slots.add((h.valid + delta) as usize) == 0 {
        return 0;
    }
    let start = c.out_len as usize;
    let bytes = (h.bits as usize).div_ceil(8);
    let out = std::slice::from_raw_parts_mut(c.out.add(start), bytes);
    out.fill(0);
    let mut bit = 0usize;
    for f in &h.fields {
        let v = *c.slots.add((f.slot + delta) as usize);
        for i in (0..f.width).rev() {
            if (v >> i) & 1 == 1 {
                out[bit / 8] |= 0x80 >> (bit % 8);
            }
            bit += 1;
        }
    }
    c.out_len += bytes as u64;
    if let Some(v) = &h.var {
        // `out` has room for the varbit's maximum (limits: max_out).
        let slots = std::slice::from_raw_parts(c.slots, (v.data + v.max.div_ceil(64)) as usize);
        for (i, b) in v.bytes(slots).enumerate() {
            *c.out.add(c.out_len as usize + i) = b;
        }
        c.out_len += *c.slots.add(v.len as usize) / 8;
    }
    0
}
