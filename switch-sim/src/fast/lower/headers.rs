//! Headers and field lists: extraction (also into `stack.next`), stack
//! shifts, emission and field-list serialization in whole-byte runs.

use super::*;

impl Lower<'_, '_> {
    pub(super) fn serializable(&self, list: &FieldList) -> bool {
        let bits: u64 = list.iter().map(|(_, w)| u64::from(*w)).sum();
        bits.div_ceil(8) as usize <= SCRATCH_BYTES
            && list.iter().all(|(e, _)| !look_guarded(e))
            && runs(list.iter().map(|(_, w)| ((), *w))).is_some()
    }

    /// Serializes a field list into `ctx.scratch` as `exec::write_bits`
    /// does; returns the byte length.
    pub(super) fn serialize(&mut self, list: &FieldList) -> u64 {
        let runs = runs(list.iter().enumerate().map(|(i, (_, w))| (i, *w))).expect("checked by serializable");
        let base = self.b.ins().iadd_imm_s(self.cx, offset_of!(Ctx, scratch) as i64);
        let mut len = 0;
        for r in &runs {
            let mut acc = None;
            for (i, w) in &r.fields {
                let v = self.field_value(&list[*i].0, *w);
                acc = Some(self.append(acc, v, *w));
            }
            let v = acc.expect("runs are not empty");
            let v = if r.pad > 0 { self.b.ins().ishl_imm_s(v, i64::from(r.pad)) } else { v };
            self.store_run(base, r.byte as i32, v, r.bits);
            len = u64::from(r.byte + r.bits / 8);
        }
        len
    }

    pub(super) fn field_value(&mut self, e: &Ex, w: u32) -> Value {
        let v = self.pure(e);
        self.and_k(v, mask(w))
    }

    pub(super) fn append(&mut self, acc: Option<Value>, v: Value, w: u32) -> Value {
        match acc {
            None => v,
            Some(a) => {
                let a = self.b.ins().ishl_imm_s(a, i64::from(w));
                self.b.ins().bor(a, v)
            }
        }
    }

    /// Stores the `bits` low bits of `v` big-endian at `base + byte`, as
    /// one 8-byte store (the bytes after them are overwritten later or
    /// lie past the written length).
    pub(super) fn store_run(&mut self, base: Value, byte: i32, v: Value, bits: u32) {
        let v = if bits < 64 { self.b.ins().ishl_imm_s(v, i64::from(64 - bits)) } else { v };
        let v = self.b.ins().bswap(v);
        self.b.ins().store(unaligned(), v, base, byte);
    }

    pub(super) fn emit(&mut self, h: &HeaderRef, delta: u32) {
        let bytes = (h.bits as usize).div_ceil(8);
        self.out_bytes += bytes + h.var.map_or(0, |v| v.max.div_ceil(8) as usize);
        let runs = runs(h.fields.iter().map(|f| (f.slot, f.width))).filter(|_| h.bits % 8 == 0 && h.var.is_none());
        let Some(runs) = runs else {
            let (hp, d) = (self.k(h as *const HeaderRef as u64), self.k(u64::from(delta)));
            self.call(helpers::emit, hp, d);
            return;
        };
        let valid = self.load(h.valid + delta);
        let (yes, cont) = (self.b.create_block(), self.b.create_block());
        self.b.ins().brif(valid, yes, &[], cont, &[]);
        self.b.switch_to_block(yes);
        let len = self.ctx_load(offset_of!(Ctx, out_len));
        let out = self.ctx_load(offset_of!(Ctx, out));
        let base = self.b.ins().iadd(out, len);
        for r in &runs {
            let mut acc = None;
            for (slot, w) in &r.fields {
                let v = self.load(slot + delta);
                let v = self.and_k(v, mask(*w));
                acc = Some(self.append(acc, v, *w));
            }
            let v = acc.expect("runs are not empty");
            self.store_run(base, r.byte as i32, v, r.bits);
        }
        let len = self.b.ins().iadd_imm_s(len, bytes as i64);
        self.ctx_store(offset_of!(Ctx, out_len), len);
        self.b.ins().jump(cont, &[]);
        self.b.switch_to_block(cont);
    }

    /// `exec::extract_at` for a header at a parser state's top level
    /// (where no error is pending): bounds check, one load per field.
    pub(super) fn extract(&mut self, h: &HeaderRef) {
        let slots = self.slots;
        self.extract_into(h, slots, 0, |_| {});
    }

    /// `extract(stack.next)`: StackOutOfBounds past the last element, else
    /// the element at nextIndex, and nextIndex + 1 once it is extracted.
    pub(super) fn extract_next(&mut self, sr: &StackRef) {
        let idx = self.load(sr.next);
        let over = self.b.ins().icmp_imm_s(IntCC::UnsignedGreaterThanOrEqual, idx, i64::from(sr.size));
        let (oob, inb, cont) = (self.b.create_block(), self.b.create_block(), self.b.create_block());
        self.b.ins().brif(over, oob, &[], inb, &[]);
        self.b.switch_to_block(oob);
        let (p, off) = self.pkt_field(offset_of!(Packet, pending));
        let code = self.k(self.err("StackOutOfBounds"));
        self.b.ins().store(MemFlagsData::trusted(), code, p, off);
        self.b.ins().jump(cont, &[]);
        self.b.switch_to_block(inb);
        let shift = self.b.ins().imul_imm_s(idx, i64::from(sr.stride) * 8);
        let base = self.b.ins().iadd(self.slots, shift);
        // The last element's slots bound every element's.
        let last = (sr.size.max(1) - 1) * sr.stride;
        self.extract_into(&sr.first, base, last, |l| {
            let n = l.b.ins().iadd_imm_s(idx, 1);
            l.store(sr.next, n);
        });
        self.b.ins().jump(cont, &[]);
        self.b.switch_to_block(cont);
    }

    /// Extracts `h` into the slots at `base` (the slot array, or a stack
    /// element's place in it, at most `reach` slots further), then runs
    /// `done` when it succeeded.
    pub(super) fn extract_into(&mut self, h: &HeaderRef, base: Value, reach: u32, done: impl FnOnce(&mut Self)) {
        let bytes = i64::from(h.bits / 8);
        let (p, cur_off) = self.pkt_field(offset_of!(Packet, cursor));
        let cur = self.b.ins().load(I64, MemFlagsData::trusted(), p, cur_off);
        let need = self.b.ins().iadd_imm_s(cur, bytes);
        let len = self.ctx_load(offset_of!(Ctx, data_len));
        let short = self.b.ins().icmp(IntCC::UnsignedGreaterThan, need, len);
        let (fail, ok, cont) = (self.b.create_block(), self.b.create_block(), self.b.create_block());
        self.b.ins().brif(short, fail, &[], ok, &[]);
        self.b.switch_to_block(fail);
        let code = self.k(self.err("PacketTooShort"));
        self.b.ins().store(MemFlagsData::trusted(), code, p, offset_of!(Packet, pending) as i32);
        self.b.ins().jump(cont, &[]);
        self.b.switch_to_block(ok);
        let data = self.ctx_load(offset_of!(Ctx, data));
        let at = self.b.ins().iadd(data, cur);
        let mut bit = 0u32;
        for f in &h.fields {
            let w = self.b.ins().load(I64, unaligned(), at, (bit / 8) as i32);
            let w = self.b.ins().bswap(w);
            let w = if bit % 8 > 0 { self.b.ins().ishl_imm_s(w, i64::from(bit % 8)) } else { w };
            let v = if f.width < 64 { self.b.ins().ushr_imm_s(w, i64::from(64 - f.width)) } else { w };
            self.off(f.slot + reach);
            let o = self.off(f.slot);
            self.b.ins().store(MemFlagsData::trusted(), v, base, o);
            bit += f.width;
        }
        let one = self.k(1);
        self.off(h.valid + reach);
        let o = self.off(h.valid);
        self.b.ins().store(MemFlagsData::trusted(), one, base, o);
        self.b.ins().store(MemFlagsData::trusted(), need, p, cur_off);
        done(self);
        self.b.ins().jump(cont, &[]);
        self.b.switch_to_block(cont);
    }

    /// `stack.pop_front(n)` as `exec` does it: elements move down by n,
    /// the last n become invalid, nextIndex drops by n (not below 0).
    pub(super) fn pop_front(&mut self, sr: &StackRef, n: u32) {
        let (size, stride, base) = (sr.size, sr.stride, sr.first.valid);
        for i in 0..size {
            if i + n < size {
                self.copy(base + i * stride, base + (i + n) * stride, stride);
            } else {
                let z = self.k(0);
                self.store(base + i * stride, z);
            }
        }
        let next = self.load(sr.next);
        let low = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, next, i64::from(n));
        let d = self.b.ins().iadd_imm_s(next, -i64::from(n));
        let z = self.k(0);
        let v = self.b.ins().select(low, z, d);
        self.store(sr.next, v);
    }

    /// `stack.push_front(n)`: elements move up by n, the first n become
    /// invalid, nextIndex grows by n (not past the size).
    pub(super) fn push_front(&mut self, sr: &StackRef, n: u32) {
        let (size, stride, base) = (sr.size, sr.stride, sr.first.valid);
        for i in (0..size.saturating_sub(n)).rev() {
            self.copy(base + (i + n) * stride, base + i * stride, stride);
        }
        for i in 0..n.min(size) {
            let z = self.k(0);
            self.store(base + i * stride, z);
        }
        let next = self.load(sr.next);
        let up = self.b.ins().iadd_imm_s(next, i64::from(n));
        let max = self.k(u64::from(size));
        let over = self.b.ins().icmp(IntCC::UnsignedGreaterThan, up, max);
        let v = self.b.ins().select(over, max, up);
        self.store(sr.next, v);
    }

    /// `n` slots from `src` to `dst`, all loads first (copy_within).
    pub(super) fn copy(&mut self, dst: Slot, src: Slot, n: u32) {
        let vals: Vec<Value> = (0..n).map(|i| self.load(src + i)).collect();
        for (i, v) in vals.into_iter().enumerate() {
            self.store(dst + i as u32, v);
        }
    }

    pub(super) fn extractable(h: &HeaderRef) -> bool {
        let mut bit = 0u32;
        h.fields.iter().all(|f| {
            let ok = bit % 8 + f.width <= 64;
            bit += f.width;
            ok
        }) && h.bits % 8 == 0
            && h.var.is_none()
    }
}
