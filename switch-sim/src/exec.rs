//! The interpreter: runs a compiled `Program` over one packet with v1model
//! semantics (parser, verify checksum, ingress, egress, compute checksum,
//! deparser), against the switch's table, counter and register state.

use crate::hashes;
use crate::ir::*;
use crate::table::TableState;

/// Bound on parser state transitions per packet (bmv2 has none; a program
/// that loops without consuming input gets error.ParserTimeout here).
pub const MAX_PARSER_STEPS: usize = 1024;

/// Port number bmv2 treats as "drop" (egress_spec after mark_to_drop).
pub const DROP_PORT: u64 = 511;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    pub receiver: u32,
    pub type_name: String,
    pub fields: Vec<(String, u32, u64)>,
}

/// Mutable switch state: everything the control plane can read or write.
#[derive(Debug)]
pub struct State {
    pub tables: Vec<TableState>,
    /// Per counter: (packets, bytes) per index.
    pub counters: Vec<Vec<(u64, u64)>>,
    pub registers: Vec<Vec<u64>>,
    pub digests: Vec<Digest>,
    pub now_ns: u64,
    /// The generator of v1model's `random`.
    pub rng: Rng,
    /// Per indexed meter, its cells (direct meters live in table entries).
    pub meters: Vec<Vec<crate::meter::MeterCell>>,
}

impl State {
    /// Runs table `t`'s direct meter for the entry at `i` (a hit), writing
    /// the colour to the meter's `read` destination, as bmv2 does at the
    /// lookup before the action.
    pub fn direct_meter(&mut self, prog: &Program, t: usize, i: usize, slots: &mut [u64]) {
        let Some(m) = prog.tables[t].direct_meter else { return };
        let def = &prog.meters[m];
        let input = match def.kind {
            MeterKind::Packets => 1,
            MeterKind::Bytes => slots[prog.std.packet_length as usize],
        };
        let now = self.now_ns;
        let e = self.tables[t].entries[i].as_mut().expect("a hit is a live entry");
        let colour = e.meter.as_mut().map_or(crate::meter::GREEN, |m| m.execute(now, input));
        if let Some((slot, m)) = def.target {
            slots[slot as usize] = colour & m;
        }
    }
}

/// The generator behind v1model's `random(result, lo, hi)`: SplitMix64
/// (state += 0x9e3779b97f4a7c15, then the finalizer of Steele, Lea and
/// Flood), mapped to [lo, hi] by Lemire's multiply-shift (the high 64 bits
/// of `x * (hi - lo + 1)`; the whole 64-bit range takes `x` itself). One
/// value per `random` executed, in program order, so a seed (`--seed`,
/// `Switch::set_seed`; 0 unless set) gives the same values on every run
/// and on both engines. bmv2 draws from std::default_random_engine seeded
/// by its thread id: its values are not reproducible, only their range is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rng {
    pub state: u64,
}

impl Rng {
    pub fn seeded(seed: u64) -> Rng {
        Rng { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in [lo, hi] (lo <= hi).
    pub fn in_range(&mut self, lo: u64, hi: u64) -> u64 {
        let x = self.next_u64();
        let span = (hi - lo).wrapping_add(1);
        if span == 0 {
            return x;
        }
        lo + ((x as u128 * span as u128) >> 64) as u64
    }
}

/// Per-packet scratch state, reused between packets.
pub struct Packet {
    pub slots: Vec<u64>,
    pub data: Vec<u8>,
    pub cursor: usize,
    /// Error raised inside an expression (lookahead past the end).
    pub pending: u64,
    pub out: Vec<u8>,
    pub truncate: Option<usize>,
    pub key: Vec<u64>,
    pub(crate) scratch: Vec<u8>,
}

impl Packet {
    /// A fresh packet arriving on `port`: zeroed slots, the frame's bytes,
    /// nothing emitted yet, and v1model's ingress metadata set (both
    /// engines start here).
    pub fn start(&mut self, sd: &StdSlots, port: u16, frame: &[u8], now_ns: u64) {
        self.slots.fill(0);
        self.data.clear();
        self.data.extend_from_slice(frame);
        self.cursor = 0;
        self.pending = 0;
        self.truncate = None;
        self.out.clear();
        self.slots[sd.ingress_port as usize] = u64::from(port);
        self.slots[sd.packet_length as usize] = frame.len() as u64;
        if let Some(ts) = sd.ingress_ts {
            self.slots[ts as usize] = (now_ns / 1000) & mask(48);
        }
    }
}

impl Packet {
    pub fn new(n_slots: usize) -> Self {
        Packet {
            slots: vec![0; n_slots],
            data: Vec::new(),
            cursor: 0,
            pending: 0,
            out: Vec::with_capacity(2048),
            truncate: None,
            key: Vec::with_capacity(8),
            scratch: Vec::with_capacity(64),
        }
    }
}

pub(crate) enum Flow {
    Next,
    Return,
    Exit,
}

/// Reads `width` bits at bit offset `bit` of `data` (the caller checked
/// the length).
#[inline]
fn read_bits(data: &[u8], bit: usize, width: u32) -> u64 {
    if bit % 8 == 0 && width % 8 == 0 {
        let start = bit / 8;
        return data[start..start + (width / 8) as usize].iter().fold(0u64, |a, b| (a << 8) | u64::from(*b));
    }
    let mut v: u64 = 0;
    let mut got = 0u32;
    let mut pos = bit;
    while got < width {
        let byte = data[pos / 8];
        let off = (pos % 8) as u32;
        let avail = 8 - off;
        let take = avail.min(width - got);
        let bits = (u64::from(byte) >> (avail - take)) & mask(take);
        v = (v << take) | bits;
        got += take;
        pos += take as usize;
    }
    v
}

/// Appends `width` bits of `v` to a bit-packed buffer whose current length
/// in bits is `*nbits`.
#[inline]
pub(crate) fn write_bits(out: &mut Vec<u8>, nbits: &mut usize, v: u64, width: u32) {
    let mut left = width;
    let off = (*nbits % 8) as u32;
    if off != 0 {
        // Fill the open byte first.
        let room = 8 - off;
        let take = room.min(left);
        let bits = ((v >> (left - take)) & mask(take)) as u8;
        let last = out.len() - 1;
        out[last] |= bits << (room - take);
        left -= take;
    }
    while left >= 8 {
        out.push((v >> (left - 8)) as u8);
        left -= 8;
    }
    if left > 0 {
        out.push(((v & mask(left)) << (8 - left)) as u8);
    }
    *nbits += width as usize;
}

/// The `w`-bit two's complement pattern `x` as a signed number.
#[inline(always)]
pub(crate) fn sext(x: u64, w: u32) -> i64 {
    let s = 64 - w.clamp(1, 64);
    ((x << s) as i64) >> s
}

/// Saturates a signed result to the range of int<W> (W from the mask).
#[inline(always)]
fn sat_signed(v: i64, m: u64) -> u64 {
    let w = m.count_ones();
    let (lo, hi) = (sext(1 << (w - 1), w), (m >> 1) as i64);
    v.clamp(lo, hi) as u64 & m
}

/// One binary operation on values of width mask `m` (wrap-around,
/// saturating, comparisons): the executor's and the constant folder's.
#[inline(always)]
pub(crate) fn binop(op: BinOp, x: u64, y: u64, m: u64) -> u64 {
    match op {
        BinOp::Add => x.wrapping_add(y) & m,
        BinOp::Sub => x.wrapping_sub(y) & m,
        BinOp::Mul => x.wrapping_mul(y) & m,
        BinOp::Div => x.checked_div(y).unwrap_or(0) & m,
        BinOp::Mod => x.checked_rem(y).unwrap_or(0) & m,
        BinOp::Shl => {
            if y >= 64 {
                0
            } else {
                (x << y) & m
            }
        }
        BinOp::Shr => {
            if y >= 64 {
                0
            } else {
                x >> y
            }
        }
        BinOp::And => x & y,
        BinOp::Or => x | y,
        BinOp::Xor => x ^ y,
        BinOp::Eq => (x == y) as u64,
        BinOp::Ne => (x != y) as u64,
        BinOp::Lt => (x < y) as u64,
        BinOp::Le => (x <= y) as u64,
        BinOp::Gt => (x > y) as u64,
        BinOp::Ge => (x >= y) as u64,
        BinOp::LAnd => (x != 0 && y != 0) as u64,
        BinOp::LOr => (x != 0 || y != 0) as u64,
        BinOp::SatAdd => x.saturating_add(y).min(m),
        BinOp::SatSub => x.saturating_sub(y),
        BinOp::SShr => (sext(x, m.count_ones()) >> y.min(63)) as u64 & m,
        BinOp::SLt => (sext(x, m.count_ones()) < sext(y, m.count_ones())) as u64,
        BinOp::SLe => (sext(x, m.count_ones()) <= sext(y, m.count_ones())) as u64,
        BinOp::SGt => (sext(x, m.count_ones()) > sext(y, m.count_ones())) as u64,
        BinOp::SGe => (sext(x, m.count_ones()) >= sext(y, m.count_ones())) as u64,
        BinOp::SSatAdd => sat_signed(sext(x, m.count_ones()).saturating_add(sext(y, m.count_ones())), m),
        BinOp::SSatSub => sat_signed(sext(x, m.count_ones()).saturating_sub(sext(y, m.count_ones())), m),
    }
}

pub struct Exec<'p> {
    pub prog: &'p Program,
}

impl<'p> Exec<'p> {
    #[inline]
    pub(crate) fn ev(&self, e: &Ex, p: &mut Packet) -> u64 {
        match e {
            Ex::K(v) => *v,
            Ex::S(s) => p.slots[*s as usize],
            Ex::Not(a, m) => !self.ev(a, p) & m,
            Ex::Neg(a, m) => self.ev(a, p).wrapping_neg() & m,
            Ex::LNot(a) => (self.ev(a, p) == 0) as u64,
            Ex::Bin(op, a, b, m) => {
                let x = self.ev(a, p);
                // Short-circuit logic.
                match op {
                    BinOp::LAnd => return (x != 0 && self.ev(b, p) != 0) as u64,
                    BinOp::LOr => return (x != 0 || self.ev(b, p) != 0) as u64,
                    _ => {}
                }
                let y = self.ev(b, p);
                binop(*op, x, y, *m)
            }
            Ex::BinSK(op, s, k, m) => binop(*op, p.slots[*s as usize], *k, *m),
            Ex::BinSS(op, a, b, m) => binop(*op, p.slots[*a as usize], p.slots[*b as usize], *m),
            Ex::Slice(a, lo, m) => (self.ev(a, p) >> lo) & m,
            Ex::Concat(a, b, rw) => (self.ev(a, p) << rw) | self.ev(b, p),
            Ex::Cond(c, a, b) => {
                if self.ev(c, p) != 0 {
                    self.ev(a, p)
                } else {
                    self.ev(b, p)
                }
            }
            Ex::Look(w) => {
                let need = p.cursor * 8 + *w as usize;
                if need > p.data.len() * 8 {
                    p.pending = self.prog.error_code("PacketTooShort").unwrap_or(1);
                    0
                } else {
                    read_bits(&p.data, p.cursor * 8, *w)
                }
            }
            Ex::Mask(a, m) => self.ev(a, p) & m,
            Ex::SExt(a, w, m) => sext(self.ev(a, p), *w) as u64 & m,
            // Only a field-list item (`serialize`); the compiler allows it
            // nowhere else.
            Ex::Var(_) => 0,
            Ex::Elem(r) => {
                let n = p.slots[r.next as usize];
                match if r.last { n.checked_sub(1) } else { Some(n) } {
                    Some(i) if i < u64::from(r.size) => p.slots[(r.slot + i as u32 * r.stride) as usize],
                    _ => {
                        p.pending = self.prog.error_code("StackOutOfBounds").unwrap_or(1);
                        0
                    }
                }
            }
        }
    }

    /// Serializes a field list (bmv2 concatenates the fields' bits).
    fn serialize(&self, list: &FieldList, p: &mut Packet) -> Vec<u8> {
        let mut buf = std::mem::take(&mut p.scratch);
        buf.clear();
        let mut nbits = 0usize;
        for (e, w) in list {
            if let Ex::Var(v) = e {
                for b in v.bytes(&p.slots) {
                    write_bits(&mut buf, &mut nbits, u64::from(b), 8);
                }
                continue;
            }
            let v = self.ev(e, p);
            write_bits(&mut buf, &mut nbits, v, *w);
        }
        buf
    }

    pub(crate) fn block(&self, b: &[St], p: &mut Packet, st: &mut State) -> Flow {
        for s in b {
            match self.stmt(s, p, st) {
                Flow::Next => {}
                f => return f,
            }
        }
        Flow::Next
    }

    pub(crate) fn run_action(&self, a: usize, args: &[u64], p: &mut Packet, st: &mut State) -> Flow {
        let def = &self.prog.actions[a];
        for (pd, v) in def.params.iter().zip(args) {
            p.slots[pd.slot as usize] = *v;
        }
        match self.block(&def.body, p, st) {
            Flow::Exit => Flow::Exit,
            _ => Flow::Next,
        }
    }

    fn apply_table(&self, t: usize, p: &mut Packet, st: &mut State) -> (bool, usize, Flow) {
        let def = &self.prog.tables[t];
        let mut key = std::mem::take(&mut p.key);
        key.clear();
        for k in &def.keys {
            let v = self.ev(&k.expr, p);
            key.push(v);
        }
        let hit = st.tables[t].lookup(&key);
        p.key = key;
        match hit {
            Some(i) => {
                st.direct_meter(self.prog, t, i, &mut p.slots);
                let bytes = p.slots[self.prog.std.packet_length as usize];
                let e = st.tables[t].entries[i].as_mut().expect("lookup returns live entries");
                e.last_hit_ns = st.now_ns;
                e.packets += 1;
                e.bytes += bytes;
                let a = e.spec.action;
                // Arguments are copied into parameter slots before the body
                // runs, so the entry is not borrowed while it executes.
                let def_a = &self.prog.actions[a];
                for (pd, v) in def_a.params.iter().zip(&e.spec.args) {
                    p.slots[pd.slot as usize] = *v;
                }
                let f = match self.block(&def_a.body, p, st) {
                    Flow::Exit => Flow::Exit,
                    _ => Flow::Next,
                };
                (true, a, f)
            }
            None => {
                let (a, ref args) = st.tables[t].default_action;
                let def_a = &self.prog.actions[a];
                for (pd, v) in def_a.params.iter().zip(args) {
                    p.slots[pd.slot as usize] = *v;
                }
                let f = match self.block(&def_a.body, p, st) {
                    Flow::Exit => Flow::Exit,
                    _ => Flow::Next,
                };
                (false, a, f)
            }
        }
    }

    pub(crate) fn stmt(&self, s: &St, p: &mut Packet, st: &mut State) -> Flow {
        match s {
            // A parser error raised while evaluating the right side (a
            // lookahead past the end, `stack.last` out of range) ends the
            // parser before the assignment, as in bmv2: nothing is stored.
            // (Outside a parser nothing is ever pending.)
            St::Set(slot, e) => {
                let v = self.ev(e, p);
                if p.pending == 0 {
                    p.slots[*slot as usize] = v;
                }
            }
            St::Mov(d, s) => p.slots[*d as usize] = p.slots[*s as usize],
            St::SetK(d, k) => p.slots[*d as usize] = *k,
            St::SetSlice(slot, lo, m, e) => {
                let v = self.ev(e, p) & m;
                let old = p.slots[*slot as usize];
                if p.pending == 0 {
                    p.slots[*slot as usize] = (old & !(m << lo)) | (v << lo);
                }
            }
            St::Copy { dst, src, n } => {
                let (d, s, n) = (*dst as usize, *src as usize, *n as usize);
                p.slots.copy_within(s..s + n, d);
            }
            St::Clear { dst, n } => {
                let d = *dst as usize;
                p.slots[d..d + *n as usize].fill(0);
            }
            St::If(c, a, b) => {
                let f = if self.ev(c, p) != 0 { self.block(a, p, st) } else { self.block(b, p, st) };
                return f;
            }
            St::Block(b) => return self.block(b, p, st),
            St::Inline(b) => {
                return match self.block(b, p, st) {
                    Flow::Return => Flow::Next,
                    f => f,
                }
            }
            St::Apply(a) => {
                let (hit, action, f) = self.apply_table(a.table, p, st);
                if !matches!(f, Flow::Next) {
                    return f;
                }
                if hit {
                    if let Some(b) = &a.on_hit {
                        return self.block(b, p, st);
                    }
                } else if let Some(b) = &a.on_miss {
                    return self.block(b, p, st);
                }
                if !a.by_action.is_empty() || a.default_arm.is_some() {
                    for (acts, body) in &a.by_action {
                        if acts.contains(&action) {
                            return self.block(body, p, st);
                        }
                    }
                    if let Some(b) = &a.default_arm {
                        return self.block(b, p, st);
                    }
                }
            }
            St::Switch(e, arms, default) => {
                let v = self.ev(e, p);
                for (vals, body) in arms {
                    if vals.contains(&v) {
                        return self.block(body, p, st);
                    }
                }
                return self.block(default, p, st);
            }
            St::Call(c) => {
                let mut args = [0u64; 16];
                let n = c.args.len().min(16);
                for (i, a) in c.args.iter().enumerate().take(16) {
                    args[i] = self.ev(a, p);
                }
                let f = self.run_action(c.action, &args[..n], p, st);
                for (from, to) in &c.copy_out {
                    p.slots[*to as usize] = p.slots[*from as usize];
                }
                return f;
            }
            St::Extract(h) => self.extract_at(h, 0, p),
            St::ExtractVar(h, bits) => {
                let bits = self.ev(bits, p);
                self.extract_var(h, bits, p);
            }
            St::ExtractNext(sr) => {
                let idx = p.slots[sr.next as usize];
                if idx >= u64::from(sr.size) {
                    p.pending = self.prog.error_code("StackOutOfBounds").unwrap_or(1);
                } else {
                    self.extract_at(&sr.first, idx as u32 * sr.stride, p);
                    if p.pending == 0 {
                        p.slots[sr.next as usize] = idx + 1;
                        for s in &sr.siblings {
                            p.slots[(s + idx as u32 * sr.stride) as usize] = 0;
                        }
                    }
                }
            }
            St::Advance(e) => {
                let bits = self.ev(e, p) as usize;
                if bits % 8 != 0 {
                    p.pending = self.prog.error_code("ParserInvalidArgument").unwrap_or(1);
                } else if p.cursor + bits / 8 > p.data.len() {
                    p.pending = self.prog.error_code("PacketTooShort").unwrap_or(1);
                } else {
                    p.cursor += bits / 8;
                }
            }
            St::Verify(c, code) => {
                if self.ev(c, p) == 0 && p.pending == 0 {
                    p.pending = *code;
                }
            }
            St::Emit(h) => self.emit_at(h, 0, p),
            St::EmitStack(sr) => {
                for i in 0..sr.size {
                    self.emit_at(&sr.first, i * sr.stride, p);
                }
            }
            St::PushFront(sr, n) => {
                let (size, stride, n) = (sr.size as usize, sr.stride as usize, *n as usize);
                let base = sr.first.valid as usize;
                let keep = size.saturating_sub(n);
                for i in (0..keep).rev() {
                    let (s, d) = (base + i * stride, base + (i + n) * stride);
                    p.slots.copy_within(s..s + stride, d);
                }
                for i in 0..n.min(size) {
                    p.slots[base + i * stride] = 0;
                    for s in &sr.siblings {
                        p.slots[*s as usize + i * stride] = 0;
                    }
                }
                let next = p.slots[sr.next as usize] as usize;
                p.slots[sr.next as usize] = (next + n).min(size) as u64;
            }
            St::PopFront(sr, n) => {
                let (size, stride, n) = (sr.size as usize, sr.stride as usize, *n as usize);
                let base = sr.first.valid as usize;
                for i in 0..size {
                    if i + n < size {
                        let (s, d) = (base + (i + n) * stride, base + i * stride);
                        p.slots.copy_within(s..s + stride, d);
                    } else {
                        p.slots[base + i * stride] = 0;
                        for s in &sr.siblings {
                            p.slots[*s as usize + i * stride] = 0;
                        }
                    }
                }
                let next = p.slots[sr.next as usize] as usize;
                p.slots[sr.next as usize] = next.saturating_sub(n) as u64;
            }
            St::MarkToDrop => {
                p.slots[self.prog.std.egress_spec as usize] = DROP_PORT;
            }
            St::Count(c, idx) => {
                let i = self.ev(idx, p) as usize;
                let bytes = p.slots[self.prog.std.packet_length as usize];
                // bmv2 ignores an out-of-range index (logs an error).
                if let Some(cell) = st.counters[*c].get_mut(i) {
                    cell.0 += 1;
                    cell.1 += bytes;
                }
            }
            St::RegRead(dst, m, r, idx) => {
                let i = self.ev(idx, p) as usize;
                p.slots[*dst as usize] = st.registers[*r].get(i).copied().unwrap_or(0) & m;
            }
            St::RegWrite(r, idx, v) => {
                let i = self.ev(idx, p) as usize;
                let v = self.ev(v, p);
                if let Some(cell) = st.registers[*r].get_mut(i) {
                    *cell = v & mask(self.prog.registers[*r].width);
                }
            }
            St::Hash(h) => {
                let buf = self.serialize(&h.data, p);
                let hv = hashes::compute(h.algo, &buf);
                p.scratch = buf;
                let base = self.ev(&h.base, p);
                let max = self.ev(&h.max, p);
                // bmv2: base + hash % max; max 0 yields base here.
                let v = if max == 0 { base } else { base.wrapping_add(hv % max) };
                p.slots[h.dst as usize] = v & h.dst_mask;
            }
            St::ExecuteMeter(m) => {
                let i = self.ev(&m.index, p) as usize;
                let input = match self.prog.meters[m.meter].kind {
                    MeterKind::Packets => 1,
                    MeterKind::Bytes => p.slots[self.prog.std.packet_length as usize],
                };
                let now = st.now_ns;
                if let Some(cell) = st.meters[m.meter].get_mut(i) {
                    p.slots[m.dst as usize] = cell.execute(now, input) & m.dst_mask;
                }
            }
            St::Random(r) => {
                let lo = self.ev(&r.lo, p);
                let hi = self.ev(&r.hi, p);
                // simple_switch: lo > hi writes nothing ("random result is
                // not specified when lo > hi"); both are W-bit, so the
                // value fits the result.
                if lo <= hi {
                    p.slots[r.dst as usize] = st.rng.in_range(lo, hi);
                }
            }
            St::Digest(d) => {
                let receiver = self.ev(&d.receiver, p) as u32;
                let fields = d
                    .data
                    .iter()
                    .zip(&d.names)
                    .map(|((e, w), n)| (n.clone(), *w, self.ev(e, p)))
                    .collect();
                st.digests.push(Digest { receiver, type_name: d.type_name.clone(), fields });
            }
            St::Truncate(e) => {
                p.truncate = Some(self.ev(e, p) as usize);
            }
            St::Checksum(c) => {
                if self.ev(&c.cond, p) != 0 {
                    let mut buf = self.serialize(&c.data, p);
                    if c.with_payload {
                        buf.extend_from_slice(&p.data[p.cursor.min(p.data.len())..]);
                    }
                    let v = hashes::compute(c.algo, &buf) & mask(c.width);
                    p.scratch = buf;
                    if c.verify {
                        if p.slots[c.field as usize] != v {
                            p.slots[self.prog.std.checksum_error as usize] = 1;
                        }
                    } else {
                        p.slots[c.field as usize] = v;
                    }
                }
            }
            St::Assert(e) => {
                if self.ev(e, p) == 0 {
                    // bmv2 aborts the process; here the packet is dropped.
                    p.slots[self.prog.std.egress_spec as usize] = DROP_PORT;
                    return Flow::Exit;
                }
            }
            St::Exit => return Flow::Exit,
            St::Return => return Flow::Return,
        }
        Flow::Next
    }

    /// Extracts into the header `h` stored `delta` slots further on (a
    /// header stack element).
    fn extract_at(&self, h: &HeaderRef, delta: u32, p: &mut Packet) {
        if p.pending != 0 {
            return;
        }
        let bytes = (h.bits / 8) as usize;
        if p.cursor + bytes > p.data.len() {
            p.pending = self.prog.error_code("PacketTooShort").unwrap_or(1);
            return;
        }
        let mut bit = p.cursor * 8;
        for f in &h.fields {
            p.slots[(f.slot + delta) as usize] = read_bits(&p.data, bit, f.width);
            bit += f.width as usize;
        }
        p.slots[(h.valid + delta) as usize] = 1;
        p.cursor += bytes;
    }

    fn emit_at(&self, h: &HeaderRef, delta: u32, p: &mut Packet) {
        if p.slots[(h.valid + delta) as usize] == 0 {
            return;
        }
        let mut nbits = p.out.len() * 8;
        for f in &h.fields {
            let v = p.slots[(f.slot + delta) as usize];
            write_bits(&mut p.out, &mut nbits, v, f.width);
        }
        if let Some(v) = &h.var {
            // The fixed part is whole bytes (checked at load).
            let bytes: Vec<u8> = v.bytes(&p.slots).collect();
            p.out.extend_from_slice(&bytes);
        }
    }

    /// `extract(h, bits)` with bmv2's checks in bmv2's order: `bits` not a
    /// multiple of 8 is ParserInvalidArgument, a frame too short for the
    /// fixed part and `bits` PacketTooShort, `bits` above the varbit's
    /// maximum HeaderTooShort.
    fn extract_var(&self, h: &HeaderRef, bits: u64, p: &mut Packet) {
        let Some(v) = h.var else { return };
        if p.pending != 0 {
            return;
        }
        let code = |n: &str| self.prog.error_code(n).unwrap_or(1);
        if bits % 8 != 0 {
            p.pending = code("ParserInvalidArgument");
            return;
        }
        let fixed = (h.bits / 8) as usize;
        let var = (bits / 8) as usize;
        if p.data.len().saturating_sub(p.cursor) < fixed.saturating_add(var) {
            p.pending = code("PacketTooShort");
            return;
        }
        if bits > u64::from(v.max) {
            p.pending = code("HeaderTooShort");
            return;
        }
        self.extract_at(h, 0, p);
        let start = p.cursor;
        for i in 0..u64::from(v.max).div_ceil(64) as usize {
            p.slots[v.data as usize + i] = 0;
        }
        for (i, b) in p.data[start..start + var].iter().enumerate() {
            p.slots[v.data as usize + i / 8] |= u64::from(*b) << (56 - 8 * (i % 8));
        }
        p.slots[v.len as usize] = bits;
        p.cursor += var;
    }

    /// Runs the parser; returns the error code (0 = NoError).
    fn parse(&self, p: &mut Packet, st: &mut State) -> u64 {
        let mut state = 0usize;
        for _ in 0..MAX_PARSER_STEPS {
            let def = &self.prog.states[state];
            for s in &def.body {
                self.stmt(s, p, st);
                if p.pending != 0 {
                    return p.pending;
                }
            }
            let target = match &def.trans {
                Trans::Go(t) => t,
                Trans::Select(keys, cases) => {
                    let mut vals = [0u64; 8];
                    for (i, k) in keys.iter().enumerate().take(8) {
                        vals[i] = self.ev(k, p);
                    }
                    if p.pending != 0 {
                        return p.pending;
                    }
                    let found = cases.iter().find(|(ks, _)| {
                        ks.iter().zip(&vals).all(|(k, v)| match k {
                            KeyMatch::Any => true,
                            KeyMatch::Mask(x, m) => v & m == x & m,
                            KeyMatch::Range(lo, hi) => lo <= v && v <= hi,
                        })
                    });
                    match found {
                        Some((_, t)) => t,
                        None => return self.prog.error_code("NoMatch").unwrap_or(1),
                    }
                }
            };
            match target {
                Target::Accept => return 0,
                Target::Reject => return p.pending,
                Target::State(s) => state = *s,
            }
        }
        self.prog.error_code("ParserTimeout").unwrap_or(1)
    }

    /// Processes one packet; returns the egress port and leaves the bytes
    /// in `p.out`, or None when the packet is dropped.
    pub fn process(&self, port: u16, frame: &[u8], p: &mut Packet, st: &mut State) -> Option<u16> {
        let sd = self.prog.std;
        p.start(&sd, port, frame, st.now_ns);
        let e = self.parse(p, st);
        p.slots[sd.parser_error as usize] = e;
        p.pending = 0;
        self.block(&self.prog.verify, p, st);
        self.block(&self.prog.ingress, p, st);
        let spec = p.slots[sd.egress_spec as usize];
        if spec == DROP_PORT {
            return None;
        }
        p.slots[sd.egress_port as usize] = spec;
        self.block(&self.prog.egress, p, st);
        if p.slots[sd.egress_spec as usize] == DROP_PORT {
            return None;
        }
        self.block(&self.prog.compute, p, st);
        self.block(&self.prog.deparser, p, st);
        let rest = &p.data[p.cursor.min(p.data.len())..];
        p.out.extend_from_slice(rest);
        if let Some(t) = p.truncate {
            p.out.truncate(t);
        }
        Some(spec as u16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_io_round_trip() {
        let mut out = Vec::new();
        let mut n = 0;
        for (v, w) in [(4u64, 4u32), (5, 4), (0x1234, 16), (1, 1), (0x7f, 7), (0xabcdef, 24)] {
            write_bits(&mut out, &mut n, v, w);
        }
        assert_eq!(n, 56);
        assert_eq!(out[0], 0x45);
        let mut bit = 0;
        for (v, w) in [(4u64, 4u32), (5, 4), (0x1234, 16), (1, 1), (0x7f, 7), (0xabcdef, 24)] {
            assert_eq!(read_bits(&out, bit, w), v);
            bit += w as usize;
        }
    }
}
