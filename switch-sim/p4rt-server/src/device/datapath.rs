//! The data path: packets injected one by one or in batches (PacketIn for
//! the CPU port, egress to the front-panel sink), digest batching and the
//! periodic tick (digest flush, the incremental idle-timeout sweep).

use super::*;

impl Device {
    /// Runs one frame through the pipeline. Frames to the CPU port become
    /// PacketIn; others are returned for the port driver to send.
    pub fn inject(&mut self, port: u16, frame: &[u8]) -> Option<(u16, Vec<u8>)> {
        let mut out = None;
        self.inject_batch(port, std::iter::once(frame), |p, f| out = Some((p, f.to_vec())));
        out
    }

    /// Runs a batch of frames received on `port` (the forwarding loop calls
    /// this once per recvmmsg batch, under one lock). Frames to the CPU port
    /// become PacketIn; `emit` gets every other output.
    pub fn inject_batch<'a>(&mut self, port: u16, frames: impl Iterator<Item = &'a [u8]>, mut emit: impl FnMut(u16, &[u8])) {
        let now = self.now_ns();
        let Some(r) = self.running.as_mut() else { return };
        r.switch.set_time(now);
        let mut packet_ins = Vec::new();
        for frame in frames {
            match r.switch.process_ref(port, frame) {
                Some(p) if Some(p) == self.opts.cpu_port => packet_ins.push(r.switch.output().to_vec()),
                Some(p) => emit(p, r.switch.output()),
                None => {}
            }
        }
        let digests = r.switch.take_digests();
        if !digests.is_empty() {
            for d in digests {
                let Some(id) = r.p.digest_by_name.get(&d.type_name) else { continue };
                if let Some(q) = self.digests.get_mut(id) {
                    q.push(d.fields.iter().map(|f| f.2).collect(), now);
                }
            }
            self.flush_digests(now);
        }
        self.stats.packet_ins += packet_ins.len() as u64;
        if let Some(s) = self.primary_stream() {
            for payload in packet_ins {
                self.send(s, Out::Packet(p4::PacketIn { payload, metadata: vec![] }));
            }
        }
    }

    pub(super) fn flush_digests(&mut self, now: u64) {
        let Some(primary) = self.primary_stream() else { return };
        let Some(r) = self.running.as_ref() else { return };
        let mut lists = Vec::new();
        for (id, q) in self.digests.iter_mut() {
            while let Some((list_id, data)) = q.poll(now) {
                let widths = r.p.digests.get(id).map(|d| d.widths.clone()).unwrap_or_default();
                let data = data
                    .into_iter()
                    .map(|vals| p4::P4Data {
                        data: Some(p4::p4_data::Data::Struct(p4::P4StructLike {
                            members: vals.iter().zip(widths.iter().chain(std::iter::repeat(&64))).map(|(v, _)| p4::P4Data { data: Some(p4::p4_data::Data::Bitstring(translate::encode(*v))) }).collect(),
                        })),
                    })
                    .collect();
                lists.push(p4::DigestList { digest_id: *id, list_id, data, timestamp: wall_ns() });
            }
        }
        self.stats.digests_dropped = self.digests.values().map(|q| q.dropped).sum();
        for l in lists {
            self.send(primary, Out::Digest(l));
        }
    }

    /// Periodic work: digest timeouts and idle-timeout notifications.
    ///
    /// The idle sweep is incremental: per tick it visits a bounded slice of
    /// each idle-timeout table's slots (`SWEEP_MIN_SLOTS`, or 1/`SWEEP_TICKS`
    /// of the table if that is more) and continues there next tick, so the
    /// device lock is never held for a scan of a large table; every entry
    /// is still visited at least once a second. An entry is reported once
    /// per idle period: again only after it was hit (or replaced) and
    /// expired anew.
    pub fn tick(&mut self) {
        let now = self.now_ns();
        self.flush_digests(now);
        let Some(primary) = self.primary_stream() else { return };
        let Some(r) = self.running.as_mut() else { return };
        r.switch.set_time(now);
        let mut expired = Vec::new();
        let mut tables: Vec<&crate::pipeline::TableMap> = r.p.tables.values().filter(|t| t.support_timeout).collect();
        tables.sort_by_key(|t| t.index);
        for t in tables {
            let slots = r.switch.table_slots(t.index);
            let n = slots.len();
            if n == 0 {
                continue;
            }
            let budget = SWEEP_MIN_SLOTS.max(n.div_ceil(SWEEP_TICKS)).min(n);
            let mut cur = self.sweep_cursor.get(&t.index).copied().unwrap_or(0);
            for _ in 0..budget {
                if cur >= n {
                    cur = 0;
                }
                let slot = (t.index, cur);
                cur += 1;
                let idle = slots[slot.1].as_ref().filter(|e| e.spec.idle_timeout_ns != 0 && now.saturating_sub(e.last_hit_ns) >= e.spec.idle_timeout_ns);
                let Some(e) = idle else {
                    // Empty, no timeout or not idle: forget an earlier report
                    // (one that was hit again is reported when it next expires).
                    if !self.idle_notified.is_empty() {
                        self.idle_notified.remove(&slot);
                    }
                    continue;
                };
                let reported = self.idle_notified.get(&slot).is_some_and(|(hit, m)| *hit == e.last_hit_ns && *m == e.spec.matches);
                if !reported {
                    expired.push(translate::entry_out(&r.p, t, e, now, false));
                    self.idle_notified.insert(slot, (e.last_hit_ns, e.spec.matches.clone()));
                }
            }
            self.sweep_cursor.insert(t.index, cur);
        }
        if !expired.is_empty() {
            for chunk in expired.chunks(1024) {
                let n = p4::IdleTimeoutNotification { table_entry: chunk.to_vec(), timestamp: wall_ns() };
                self.send(primary, Out::IdleTimeoutNotification(n));
            }
        }
    }
}
