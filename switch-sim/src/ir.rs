//! The compiled form of a program: names resolved to slot numbers and
//! table/action/extern indices at load time, so a packet never looks a
//! name up. Every value is a `u64` holding a `bit<N>` (N <= 64), a bool
//! (0/1), an error or an enum member code.

pub type Slot = u32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Shl,
    Shr,
    And,
    Or,
    Xor,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    LAnd,
    LOr,
    SatAdd,
    SatSub,
    /// The int<W> forms: operands are W-bit two's complement patterns
    /// (W from the mask), sign-extended before the operation: arithmetic
    /// shift right, signed comparisons, saturation at -2^(W-1) and
    /// 2^(W-1)-1.
    SShr,
    SLt,
    SLe,
    SGt,
    SGe,
    SSatAdd,
    SSatSub,
}

#[derive(Debug, Clone)]
pub enum Ex {
    K(u64),
    S(Slot),
    /// Bitwise complement within `mask`.
    Not(Box<Ex>, u64),
    /// Two's-complement negation within `mask`.
    Neg(Box<Ex>, u64),
    LNot(Box<Ex>),
    /// Result masked to the operation's width; `mask` is also the
    /// saturation bound.
    Bin(BinOp, Box<Ex>, Box<Ex>, u64),
    Slice(Box<Ex>, u32, u64),
    /// `a ++ b` where b is `rw` bits wide.
    Concat(Box<Ex>, Box<Ex>, u32),
    Cond(Box<Ex>, Box<Ex>, Box<Ex>),
    /// Parser `lookahead<bit<N>>()`.
    Look(u32),
    /// Value masked to a width (casts).
    Mask(Box<Ex>, u64),
    /// A `w`-bit value sign-extended, then masked (int<w> to a wider int).
    SExt(Box<Ex>, u32, u64),
    /// A parser's `stack.last.f` / `stack.next.f` (`f` the validity slot
    /// for `isValid()`): the slot `slot + i * stride` with i = nextIndex - 1
    /// (last) or nextIndex (next); an i outside the stack raises
    /// StackOutOfBounds (P4_16 8.18) and reads 0.
    Elem(Box<ElemRef>),
    /// A varbit field as a field-list item (checksums, hashes): its
    /// current bytes (the list entry's width is 0). Not a value otherwise.
    Var(VarField),
    /// `slot op constant` and `slot op slot`: the most common shapes,
    /// evaluated without recursion (built by `optimize`).
    BinSK(BinOp, Slot, u64, u64),
    BinSS(BinOp, Slot, Slot, u64),
}

/// Rewrites expressions into their cheaper shapes.
pub fn optimize_ex(e: Ex) -> Ex {
    match e {
        Ex::Bin(op, a, b, m) => {
            let a = optimize_ex(*a);
            let b = optimize_ex(*b);
            match (&a, &b, op) {
                (_, _, BinOp::LAnd | BinOp::LOr) => Ex::Bin(op, Box::new(a), Box::new(b), m),
                (Ex::S(x), Ex::K(k), _) => Ex::BinSK(op, *x, *k, m),
                (Ex::S(x), Ex::S(y), _) => Ex::BinSS(op, *x, *y, m),
                _ => Ex::Bin(op, Box::new(a), Box::new(b), m),
            }
        }
        Ex::Not(a, m) => Ex::Not(Box::new(optimize_ex(*a)), m),
        Ex::Neg(a, m) => Ex::Neg(Box::new(optimize_ex(*a)), m),
        Ex::LNot(a) => Ex::LNot(Box::new(optimize_ex(*a))),
        Ex::Slice(a, lo, m) => Ex::Slice(Box::new(optimize_ex(*a)), lo, m),
        Ex::Concat(a, b, w) => Ex::Concat(Box::new(optimize_ex(*a)), Box::new(optimize_ex(*b)), w),
        Ex::Cond(c, a, b) => Ex::Cond(Box::new(optimize_ex(*c)), Box::new(optimize_ex(*a)), Box::new(optimize_ex(*b))),
        Ex::SExt(a, w, m) => Ex::SExt(Box::new(optimize_ex(*a)), w, m),
        Ex::Mask(a, m) => match optimize_ex(*a) {
            // A cast that cannot cut bits is free.
            Ex::S(s) if m == u64::MAX => Ex::S(s),
            a => Ex::Mask(Box::new(a), m),
        },
        e => e,
    }
}

fn opt_in_place(e: &mut Ex) {
    let x = std::mem::replace(e, Ex::K(0));
    *e = optimize_ex(x);
}

pub fn optimize_block(b: &mut [St]) {
    for s in b {
        optimize_st(s);
    }
}

fn optimize_list(l: &mut FieldList) {
    for (e, _) in l {
        opt_in_place(e);
    }
}

pub fn optimize_st(s: &mut St) {
    if let St::Set(d, e) = s {
        opt_in_place(e);
        match e {
            Ex::S(src) => *s = St::Mov(*d, *src),
            Ex::K(k) => *s = St::SetK(*d, *k),
            _ => {}
        }
        return;
    }
    match s {
        St::Set(_, e) | St::SetSlice(_, _, _, e) | St::Advance(e) | St::ExtractVar(_, e) | St::Verify(e, _) | St::Count(_, e) | St::Truncate(e) | St::Assert(e) => {
            opt_in_place(e)
        }
        St::RegRead(_, _, _, e) => opt_in_place(e),
        St::RegWrite(_, a, b) => {
            opt_in_place(a);
            opt_in_place(b);
        }
        St::If(c, a, b) => {
            opt_in_place(c);
            optimize_block(a);
            optimize_block(b);
        }
        St::Block(b) | St::Inline(b) => optimize_block(b),
        St::Apply(a) => {
            for b in [&mut a.on_hit, &mut a.on_miss, &mut a.default_arm].into_iter().flatten() {
                optimize_block(b);
            }
            for (_, b) in &mut a.by_action {
                optimize_block(b);
            }
        }
        St::Switch(e, arms, d) => {
            opt_in_place(e);
            for (_, b) in arms {
                optimize_block(b);
            }
            optimize_block(d);
        }
        St::Call(c) => {
            for a in &mut c.args {
                opt_in_place(a);
            }
        }
        St::Hash(h) => {
            opt_in_place(&mut h.base);
            opt_in_place(&mut h.max);
            optimize_list(&mut h.data);
        }
        St::ExecuteMeter(m) => opt_in_place(&mut m.index),
        St::Random(r) => {
            opt_in_place(&mut r.lo);
            opt_in_place(&mut r.hi);
        }
        St::Digest(d) => {
            opt_in_place(&mut d.receiver);
            optimize_list(&mut d.data);
        }
        St::Checksum(c) => {
            opt_in_place(&mut c.cond);
            optimize_list(&mut c.data);
        }
        _ => {}
    }
}

impl Program {
    /// Peephole pass over every expression of the program.
    pub fn optimize(&mut self) {
        for st in &mut self.states {
            optimize_block(&mut st.body);
            if let Trans::Select(keys, _) = &mut st.trans {
                for k in keys {
                    opt_in_place(k);
                }
            }
        }
        for b in [&mut self.verify, &mut self.ingress, &mut self.egress, &mut self.compute, &mut self.deparser] {
            optimize_block(b);
        }
        for a in &mut self.actions {
            optimize_block(&mut a.body);
        }
        for t in &mut self.tables {
            for k in &mut t.keys {
                opt_in_place(&mut k.expr);
            }
        }
    }
}

/// See `Ex::Elem`.
#[derive(Debug, Clone)]
pub struct ElemRef {
    pub next: Slot,
    pub size: u32,
    pub stride: u32,
    /// The slot in element 0.
    pub slot: Slot,
    pub last: bool,
}

/// A scalar field of a header as laid out on the wire.
#[derive(Debug, Clone, Copy)]
pub struct WireField {
    pub slot: Slot,
    pub width: u32,
}

/// A header instance: its validity slot and its fields in wire order.
#[derive(Debug, Clone)]
pub struct HeaderRef {
    pub valid: Slot,
    pub fields: Vec<WireField>,
    /// The fixed fields' width (without a varbit).
    pub bits: u32,
    /// The header's last field when it is a `varbit`.
    pub var: Option<VarField>,
}

/// A `varbit<max>` field: its current width in bits in `len`, its bytes
/// in the slots from `data`, eight per slot, the first byte in the high
/// bits (`ceil(max / 64)` slots).
#[derive(Debug, Clone, Copy)]
pub struct VarField {
    pub len: Slot,
    pub data: Slot,
    pub max: u32,
}

impl VarField {
    /// The field's current bytes (its width is a multiple of 8: extract
    /// refuses others, as bmv2 does).
    pub fn bytes<'s>(&self, slots: &'s [u64]) -> impl Iterator<Item = u8> + 's {
        let n = (slots[self.len as usize] / 8) as usize;
        let data = self.data as usize;
        (0..n).map(move |i| (slots[data + i / 8] >> (56 - 8 * (i % 8))) as u8)
    }
}

/// A header stack: `next` holds nextIndex, elements are `stride` slots apart.
#[derive(Debug, Clone)]
pub struct StackRef {
    pub next: Slot,
    pub size: u32,
    pub stride: u32,
    pub first: HeaderRef,
    /// In a stack of header_union: the validity slots (in element 0) of
    /// the members other than `first`, made invalid with it (push/pop) or
    /// when `first` is extracted. Empty for a stack of headers.
    pub siblings: Vec<Slot>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgo {
    Crc32,
    Crc16,
    Identity,
    Csum16,
    Xor16,
}

/// A list of values serialized bit by bit, as bmv2 builds a field list.
pub type FieldList = Vec<(Ex, u32)>;

#[derive(Debug, Clone)]
pub enum St {
    Set(Slot, Ex),
    /// `dst = src` and `dst = constant` (built by `optimize`).
    Mov(Slot, Slot),
    SetK(Slot, u64),
    /// `lvalue[hi:lo] = e`: keep the bits outside `mask << lo`.
    SetSlice(Slot, u32, u64, Ex),
    /// Copy `n` consecutive slots (header/struct assignment).
    Copy { dst: Slot, src: Slot, n: u32 },
    /// Zero `n` slots (`setInvalid`, out parameters).
    Clear { dst: Slot, n: u32 },
    If(Ex, Vec<St>, Vec<St>),
    Block(Vec<St>),
    /// A control instance's body inlined where it is applied: `return`
    /// ends it (not the enclosing control).
    Inline(Vec<St>),
    Apply(Box<ApplySt>),
    /// Switch on a value.
    Switch(Ex, Vec<(Vec<u64>, Vec<St>)>, Vec<St>),
    Call(Box<CallSt>),
    Extract(HeaderRef),
    /// `extract(h, bits)`: the fixed fields, then `bits` of the varbit.
    ExtractVar(HeaderRef, Ex),
    ExtractNext(Box<StackRef>),
    Advance(Ex),
    /// `verify(cond, error)`.
    Verify(Ex, u64),
    Emit(HeaderRef),
    EmitStack(Box<StackRef>),
    PushFront(Box<StackRef>, u32),
    PopFront(Box<StackRef>, u32),
    MarkToDrop,
    Count(usize, Ex),
    RegRead(Slot, u64, usize, Ex),
    RegWrite(usize, Ex, Ex),
    Hash(Box<HashSt>),
    /// v1model `random(result, lo, hi)`.
    Random(Box<RandomSt>),
    /// `m.execute_meter(index, result)`.
    ExecuteMeter(Box<MeterSt>),
    Digest(Box<DigestSt>),
    Truncate(Ex),
    Checksum(Box<ChecksumSt>),
    Assert(Ex),
    Exit,
    Return,
}

#[derive(Debug, Clone)]
pub struct ApplySt {
    pub table: usize,
    pub on_hit: Option<Vec<St>>,
    pub on_miss: Option<Vec<St>>,
    /// `switch (t.apply().action_run)`: bodies by action index, then default.
    pub by_action: Vec<(Vec<usize>, Vec<St>)>,
    pub default_arm: Option<Vec<St>>,
}

#[derive(Debug, Clone)]
pub struct CallSt {
    pub action: usize,
    pub args: Vec<Ex>,
    /// out/inout parameters copied back: (param slot, caller slot).
    pub copy_out: Vec<(Slot, Slot)>,
}

#[derive(Debug, Clone)]
pub struct HashSt {
    pub dst: Slot,
    pub dst_mask: u64,
    pub algo: HashAlgo,
    pub base: Ex,
    pub data: FieldList,
    pub max: Ex,
}

/// `meter.execute_meter(index, dst)`: the colour of the cell at `index`
/// (crate::meter); an index outside the meter leaves `dst` unchanged, as
/// simple_switch does.
#[derive(Debug, Clone)]
pub struct MeterSt {
    pub meter: usize,
    pub index: Ex,
    pub dst: Slot,
    pub dst_mask: u64,
}

/// `random(dst, lo, hi)`: a value in [lo, hi] from the switch's generator
/// (`exec::Rng`); lo > hi leaves `dst` unchanged, as simple_switch does.
#[derive(Debug, Clone)]
pub struct RandomSt {
    pub dst: Slot,
    pub lo: Ex,
    pub hi: Ex,
}

#[derive(Debug, Clone)]
pub struct DigestSt {
    pub receiver: Ex,
    pub type_name: String,
    pub names: Vec<String>,
    pub data: FieldList,
}

#[derive(Debug, Clone)]
pub struct ChecksumSt {
    pub verify: bool,
    pub with_payload: bool,
    pub cond: Ex,
    pub data: FieldList,
    pub field: Slot,
    pub width: u32,
    pub algo: HashAlgo,
}

#[derive(Debug, Clone)]
pub struct ActionDef {
    /// Control-plane name (`Control.action`, or the top-level name).
    pub name: String,
    pub params: Vec<ParamDef>,
    pub body: Vec<St>,
}

#[derive(Debug, Clone)]
pub struct ParamDef {
    pub name: String,
    pub slot: Slot,
    pub width: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    Exact,
    Lpm,
    Ternary,
    Range,
    Optional,
}

#[derive(Debug, Clone)]
pub struct KeyDef {
    pub name: String,
    pub kind: MatchKind,
    pub width: u32,
    pub expr: Ex,
}

#[derive(Debug, Clone)]
pub struct TableDef {
    pub name: String,
    pub keys: Vec<KeyDef>,
    pub actions: Vec<usize>,
    /// Actions annotated @defaultonly / @tableonly.
    pub default_only: Vec<usize>,
    pub table_only: Vec<usize>,
    pub default_action: (usize, Vec<u64>),
    pub const_default: bool,
    pub size: usize,
    pub support_timeout: bool,
    pub direct_counter: Option<usize>,
    /// `meters = <direct_meter>`: executed on a hit, before the action.
    pub direct_meter: Option<usize>,
    pub const_entries: bool,
    /// Entries from the program (`entries = {...}`), in source order.
    pub entries: Vec<crate::table::EntrySpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterKind {
    Packets,
    Bytes,
    PacketsAndBytes,
}

#[derive(Debug, Clone)]
pub struct CounterDef {
    pub name: String,
    pub size: usize,
    pub kind: CounterKind,
    pub direct: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeterKind {
    Packets,
    Bytes,
}

#[derive(Debug, Clone)]
pub struct MeterDef {
    pub name: String,
    /// Cells of an indexed meter (0 for a direct one).
    pub size: usize,
    pub kind: MeterKind,
    pub direct: bool,
    /// A direct meter's `read(dst)` destination (slot, mask): written with
    /// the colour on each hit of its table, as bmv2's "result_target".
    pub target: Option<(Slot, u64)>,
}

#[derive(Debug, Clone)]
pub struct RegisterDef {
    pub name: String,
    pub size: usize,
    pub width: u32,
}

#[derive(Debug, Clone)]
pub enum Target {
    Accept,
    Reject,
    State(usize),
}

#[derive(Debug, Clone)]
pub enum KeyMatch {
    Any,
    Mask(u64, u64),
    Range(u64, u64),
}

#[derive(Debug, Clone)]
pub enum Trans {
    Go(Target),
    Select(Vec<Ex>, Vec<(Vec<KeyMatch>, Target)>),
}

#[derive(Debug, Clone)]
pub struct StateDef {
    pub name: String,
    pub body: Vec<St>,
    pub trans: Trans,
}

/// standard_metadata slots the pipeline reads and writes itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdSlots {
    pub ingress_port: Slot,
    pub egress_spec: Slot,
    pub egress_port: Slot,
    pub instance_type: Slot,
    pub packet_length: Slot,
    pub checksum_error: Slot,
    pub parser_error: Slot,
    pub ingress_ts: Option<Slot>,
}

#[derive(Debug, Clone)]
pub struct Program {
    pub n_slots: usize,
    pub states: Vec<StateDef>,
    pub verify: Vec<St>,
    pub ingress: Vec<St>,
    pub egress: Vec<St>,
    pub compute: Vec<St>,
    pub deparser: Vec<St>,
    pub actions: Vec<ActionDef>,
    pub tables: Vec<TableDef>,
    pub counters: Vec<CounterDef>,
    pub registers: Vec<RegisterDef>,
    pub meters: Vec<MeterDef>,
    pub std: StdSlots,
    /// Error names by code (code 0 is NoError).
    pub errors: Vec<String>,
    /// What the program compiles with but p4c would not (in reasonable
    /// time): the compile-time guard (`crate::guard`), with positions.
    pub warnings: Vec<crate::error::SrcError>,
}

impl Program {
    pub fn error_code(&self, name: &str) -> Option<u64> {
        self.errors.iter().position(|e| e == name).map(|p| p as u64)
    }
}

pub fn mask(width: u32) -> u64 {
    if width >= 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    }
}
