//! Steps 3-4: the replayed SYN to the chosen backend, its SYN-ACK, and the
//! buffered request sent in the client's sequence space.

use super::*;

impl Ctx<'_> {
    /// Step 3: replay the client's SYN to `backend` with the ISN fused in.
    pub(super) fn start_backend(&mut self, flow: &mut ConnEntry, backend: BackendIndex, offload: OffloadMode, next: Option<u32>) {
        if flow.backend().is_none() {
            flow.mode = offload;
        }
        flow.next_request = next;
        self.router.flow_started(backend);
        flow.state = SpliceState::Connecting { backend };
        flow.retries = 0;
        if flow.offload != OffloadStatus::Detaching {
            self.send_syn(flow);
        }
        // While detaching: the bound on the switch's answer.
        let t = self.now + self.p.timeouts.backend_syn_rto_ms;
        self.set_deadline(flow, t);
    }

    pub(super) fn send_syn(&mut self, flow: &ConnEntry) {
        let o = flow.opts;
        let mut opts = [TcpOption::Mss(o.mss), TcpOption::NoOp, TcpOption::NoOp, TcpOption::NoOp];
        let mut n = 1;
        if o.sack_permitted {
            opts[n] = TcpOption::SackPermitted;
            n += 1;
        }
        if let Some(ws) = o.wscale {
            opts[n] = TcpOption::NoOp;
            opts[n + 1] = TcpOption::WindowScale(ws);
            n += 2;
        }
        let SpliceState::Connecting { backend: b } = flow.state else { return };
        // ACK flag clear: the ack field carries S for the agent.
        self.to_backend(flow, b, flow.syn_seq, flow.server_isn, SYN, &opts[..n], &[]);
        self.counters[Fc::ReplayedSyns] += 1;
    }

    /// Step 4: the backend's SYN-ACK (already in the client's space).
    pub(super) fn backend_segment(&mut self, flow: &mut ConnEntry, frame: &mut Frame<'_>, seg: &Seg, b: BackendIndex) -> (Verdict, After) {
        match flow.state {
            SpliceState::Connecting { .. } => {
                if seg.has_any(RST) {
                    // Refused by the backend.
                    self.router.flow_ended(b);
                    self.backend_failed(b);
                    return (Verdict::Consumed, self.reply(flow, Some(ErrorReply::BadGateway)));
                }
                if seg.has_any(FIN) && seg.has_any(ACK) && !seg.has_any(SYN) && !seg.has_any(RST) {
                    // Request mode, handed back to a backend whose earlier
                    // connection of this 4-tuple is still closing: its FIN
                    // (a late or retransmitted one) gets the stateless ACK
                    // of `former_backend`, or it would stay in LAST_ACK and
                    // answer our SYN with challenge ACKs only.
                    let their_fin = seg.seq.wrapping_add(seg.payload_len as u32);
                    self.to_backend(flow, b, seg.ack, their_fin.wrapping_add(1), ACK, &[], &[]);
                    self.counters[Fc::AcksSent] += 1;
                    self.counters[Fc::FormerBackendFins] += 1;
                    return (Verdict::Consumed, After::Keep);
                }
                if !(seg.has_any(SYN) && seg.has_any(ACK)) || seg.ack != flow.syn_seq.wrapping_add(1) {
                    return (self.dropped(DropReason::NoFlow), After::Keep);
                }
                if seg.seq != flow.server_isn {
                    // No agent rewrote it: splicing would corrupt the flow.
                    self.to_backend(flow, b, seg.ack, 0, RST, &[], &[]);
                    self.router.flow_ended(b);
                    self.backend_failed(b);
                    return (Verdict::Consumed, self.reply(flow, Some(ErrorReply::BadGateway)));
                }
                let so = SynOptions::from_options(frame.tcp_options()).unwrap_or_default();
                flow.backend_mss = so.mss.unwrap_or(switchyard_wire::cookie::DEFAULT_MSS);
                self.counters[Fc::BackendSynAcks] += 1;
                self.router.backend_answered(b);
                flow.state = SpliceState::Spliced { backend: b };
                flow.retries = 0;
                if flow.hold == Hold::Off && self.p.hold_until_offloaded && Self::will_install(flow) {
                    flow.hold = Hold::Held;
                    self.counters[Fc::Holds] += 1;
                }
                self.send_request(flow);
                let t = self.now + self.p.timeouts.request_rto_ms;
                self.set_deadline(flow, t);
                (Verdict::Consumed, After::Keep)
            }
            SpliceState::Spliced { .. } | SpliceState::Closing { .. } => {
                if seg.has_any(SYN) {
                    // A retransmitted SYN-ACK: our request or ACK was lost.
                    if flow.asm.is_some() {
                        self.send_request(flow);
                        self.counters[Fc::RequestRetransmits] += 1;
                    }
                    return (Verdict::Consumed, After::Keep);
                }
                if seg.has_any(ACK) && flow.asm.is_some() && seq_diff(seg.ack, flow.req_end) >= 0 {
                    self.request_delivered(flow);
                }
                if flow.hold == Hold::Peek && (seg.payload_len != 0 || seg.has_any(FIN)) {
                    self.peeked(flow, frame, seg);
                }
                if seg.has_any(FIN) {
                    flow.backend_fin = true;
                }
                self.forward_to_client(flow, frame);
                if seg.has_any(RST) {
                    return (Verdict::Forward, After::Remove);
                }
                self.maybe_closing(flow);
                (Verdict::Forward, After::Keep)
            }
            // Assembling has no backend; Replied flows closed theirs.
            _ => (self.dropped(DropReason::NoFlow), After::Keep),
        }
    }

    /// A failed handshake with `b`, for passive ejection.
    pub(super) fn backend_failed(&mut self, b: BackendIndex) {
        if self.router.backend_failed(b, self.now) {
            self.counters[Fc::BackendEjections] += 1;
        }
    }

    /// The buffered request (and FIN) to the backend, client's seq space.
    pub(super) fn send_request(&mut self, flow: &mut ConnEntry) {
        let Some(b) = flow.state.spliced_backend() else { return };
        let Some(asm) = flow.asm.take() else { return };
        let mss = usize::from(flow.opts.mss.min(flow.backend_mss).max(64));
        let fin = flow.client_fin == Some(asm.end());
        let n = asm.buf.len().div_ceil(mss);
        let mut seq = asm.base;
        for (i, c) in asm.buf.chunks(mss).enumerate() {
            let last = i + 1 == n;
            let flags = ACK | if last { PSH | if fin { FIN } else { 0 } } else { 0 };
            self.to_backend(flow, b, seq, flow.client_ack, flags, &[], c);
            seq = seq.wrapping_add(c.len() as u32);
        }
        if n == 0 && fin {
            self.to_backend(flow, b, seq, flow.client_ack, ACK | FIN, &[], &[]);
        }
        flow.req_end = asm.end().wrapping_add(u32::from(fin));
        flow.asm = Some(asm);
        self.counters[Fc::RequestsSent] += 1;
    }
}
