//! Steps 1-2 of the packet walk: a client segment with no flow. The cookie
//! check and the new flow; a reused port's SYN (its SYN-ACK waits for the
//! detach, `reuse`); the RST a segment of no connection gets (`stateless`).

use super::*;

impl Engine {
    /// RFC 9293's answer to an ACK for no connection: RST, seq = its ack
    /// (`stateless`).
    pub(super) fn stateless_reset(&mut self, seg: &Seg, vip: Ipv4Addr, vport: u16, out: &mut Vec<Action>) {
        let o = Out { src: vip, sport: vport, dst: seg.src, dport: seg.sport, seq: seg.ack, ack: 0, flags: RST, window: 0, options: &[], payload: &[] };
        let mut f = self.bufs.frame();
        packet::emit_into(&o, self.p.mac, self.p.switch_mac, &mut f);
        out.push(Action::Transmit(f));
        self.counters[Fc::StatelessResets] += 1;
    }

    pub(super) fn cookie_ok(&self, seg: &Seg, vip: Ipv4Addr, vport: u16) -> Option<switchyard_wire::cookie::CookieOptions> {
        let input = CookieInput { client_ip: seg.src, client_port: seg.sport, vip, vport, client_isn: seg.seq.wrapping_sub(1) };
        self.keyring.validate(seg.ack.wrapping_sub(1), &input).ok()
    }

    /// A client SYN reaches the front-end only when the switch holds an
    /// entry for its key: a reused port (`reuse`). The old flow goes, the
    /// entry is detached, and the SYN-ACK waits for `Detached`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn reused_port_syn(&mut self, frame: &Frame<'_>, seg: &Seg, key: ConnKey, vip: Ipv4Addr, vport: u16, now: u64, out: &mut Vec<Action>) -> Verdict {
        if seg.has_any(FIN) || seg.has_any(RST) {
            return self.dropped(DropReason::BadTcpFlags);
        }
        let Ok(opts) = SynOptions::from_options(frame.tcp_options()) else {
            return self.dropped(DropReason::BadTcpOptions);
        };
        match self.reopening.admit(key, PendingSyn { vip, vport, client_isn: seg.seq, opts, since: now }) {
            Admit::Full => return self.dropped(DropReason::FlowTableFull),
            Admit::Waiting => return Verdict::Consumed,
            Admit::New => {}
        }
        if self.forget(key).is_some() {
            self.counters[Fc::FlowsClosed] += 1;
        }
        out.push(Action::Offload(OffloadRequest::Detach { key }));
        self.counters[Fc::ReusedPorts] += 1;
        Verdict::Consumed
    }

    /// The cookie SYN-ACK exactly as the switch builds it (p4/switchyard.p4
    /// `answer_syn`: the same cookie, the same fixed option block).
    pub(super) fn send_syn_ack(&mut self, key: ConnKey, p: PendingSyn, out: &mut Vec<Action>) {
        let input = CookieInput { client_ip: key.client_ip, client_port: key.client_port, vip: p.vip, vport: p.vport, client_isn: p.client_isn };
        let cookie = self.keyring.generate(&input, &p.opts);
        let sa = self.p.syn_ack;
        let (opts, n) = switchyard_wire::synack::option_block(&p.opts, sa.mss, sa.wscale);
        let o = Out { src: p.vip, sport: p.vport, dst: key.client_ip, dport: key.client_port, seq: cookie, ack: p.client_isn.wrapping_add(1), flags: SYN | ACK, window: sa.window, options: &opts[..n], payload: &[] };
        let mut f = self.bufs.frame();
        packet::emit_into(&o, self.p.mac, self.p.switch_mac, &mut f);
        out.push(Action::Transmit(f));
        self.counters[Fc::SynAcksSent] += 1;
    }

    /// Step 2: a client segment with no state must carry a valid cookie.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new_flow(&mut self, seg: &Seg, key: ConnKey, vip: Ipv4Addr, vport: u16, mode: OffloadMode, now: u64, out: &mut Vec<Action>) -> Result<(), DropReason> {
        if seg.has_any(SYN) || seg.has_any(RST) {
            // The switch answers SYNs; a stray RST has nothing to reset.
            return Err(DropReason::NoFlow);
        }
        if !seg.has_any(ACK) {
            return Err(DropReason::BadTcpFlags);
        }
        let opts = self.cookie_ok(seg, vip, vport).ok_or(DropReason::BadCookie)?;
        let cookie = seg.ack.wrapping_sub(1);
        let capacity = self.flows.capacity();
        let request_ms = if self.flows.len() * 100 >= capacity * PRESSURE_PERCENT {
            self.counters[Fc::PressureTimeouts] += 1;
            self.p.timeouts.request_ms.min(PRESSURE_REQUEST_MS)
        } else {
            self.p.timeouts.request_ms
        };
        if self.flows.len() >= capacity {
            self.evict_oldest_assembling(out);
        }
        let entry = ConnEntry {
            key,
            vip,
            vport,
            cookie,
            opts,
            mode,
            state: SpliceState::Assembling,
            prev_backend: None,
            syn_seq: seg.seq.wrapping_sub(1),
            server_isn: cookie,
            client_ack: seg.ack,
            client_window: seg.window,
            client_next: seg.seq,
            hold: Hold::Off,
            next_request: None,
            req_end: seg.seq,
            backend_mss: 0,
            client_fin: None,
            backend_fin: false,
            offload: OffloadStatus::NotRequested,
            deadline: now + request_ms,
            armed: NOT_ARMED,
            last_seen: now,
            retries: 0,
            asm: Some({
                let mut asm = self.bufs.assembly(seg.seq);
                asm.started_ms = now;
                asm
            }),
        };
        // Armed after the first segment is handled: usually it completes
        // the head and the deadline becomes the replayed SYN's RTO.
        self.flows.insert_new(key, entry).map_err(|_| DropReason::FlowTableFull)?;
        self.assembling.admitted(key, cookie, capacity);
        self.counters[Fc::NewFlows] += 1;
        Ok(())
    }

    /// A full table: the oldest flow that never reached a backend makes
    /// room (its client gets a RST, as after any reset), if there is one.
    fn evict_oldest_assembling(&mut self, out: &mut Vec<Action>) {
        let Some(key) = self.assembling.oldest_without_backend(&self.flows) else { return };
        let Some(f) = self.forget(key) else { return };
        let o = Out { src: f.vip, sport: f.vport, dst: key.client_ip, dport: key.client_port, seq: f.cookie.wrapping_add(1), ack: f.client_next, flags: RST | ACK, window: 0, options: &[], payload: &[] };
        let mut frame = self.bufs.frame();
        packet::emit_into(&o, self.p.mac, self.p.switch_mac, &mut frame);
        out.push(Action::Transmit(frame));
        self.counters[Fc::AssemblingEvicted] += 1;
    }
}
