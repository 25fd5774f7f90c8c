//! Step 5: forwarding with exactly the switch's rewrite while the engine
//! carries the flow, in both directions, and the close.

use super::*;

impl Ctx<'_> {
    /// A segment from the engine to the client (switch's sequence space).
    pub(super) fn to_client(&mut self, flow: &ConnEntry, seq: u32, ack: u32, flags: u8, payload: &[u8]) {
        let window = our_window(self.p, flow);
        self.tx(Out { src: flow.vip, sport: flow.vport, dst: flow.key.client_ip, dport: flow.key.client_port, seq, ack, flags, window, options: &[], payload });
    }

    /// A segment from the engine to a backend, in the client's name.
    pub(super) fn to_backend(&mut self, flow: &ConnEntry, b: BackendIndex, seq: u32, ack: u32, flags: u8, options: &[TcpOption<'_>], payload: &[u8]) {
        let spec = self.router.backend(b).spec;
        let window = match held_window(flow) {
            _ if flags & SYN != 0 => u16::MAX,
            Some(w) if Some(b) == flow.backend() => w,
            _ => flow.client_window,
        };
        self.tx(Out { src: flow.key.client_ip, sport: flow.key.client_port, dst: spec.address, dport: spec.port, seq, ack, flags, window, options, payload });
    }

    /// The next client sequence number the engine has (in order).
    pub(super) fn rcv_nxt(flow: &ConnEntry) -> u32 {
        let end = flow.asm.as_ref().map_or(flow.req_end, |a| a.end());
        match flow.client_fin {
            Some(f) if f == end => end.wrapping_add(1),
            _ => end,
        }
    }

    pub(super) fn note_client(flow: &mut ConnEntry, seg: &Seg) {
        if seg.has_any(ACK) && seq_diff(seg.ack, flow.client_ack) > 0 {
            flow.client_ack = seg.ack;
        }
        flow.client_window = seg.window;
        let end = seg.seq.wrapping_add(seg.payload_len as u32).wrapping_add(u32::from(seg.has_any(FIN)));
        if seq_diff(end, flow.client_next) > 0 {
            flow.client_next = end;
        }
    }

    pub(super) fn forward_to_client(&mut self, flow: &ConnEntry, frame: &mut Frame<'_>) {
        packet::rewrite_from_backend(frame, flow.vip, flow.vport, self.p.mac, self.p.switch_mac);
        self.counters[Fc::ForwardedToClient] += 1;
        if flow.offload == OffloadStatus::Installed {
            self.counters[Fc::ForwardedAfterOffload] += 1;
        }
    }

    pub(super) fn forward_to_backend(&mut self, flow: &ConnEntry, b: BackendIndex, frame: &mut Frame<'_>, seg: &Seg) {
        let spec = self.router.backend(b).spec;
        packet::rewrite_to_backend(frame, spec.address, spec.port, self.p.mac, self.p.switch_mac);
        if let (Some(w), false) = (held_window(flow), seg.has_any(RST)) {
            frame.tcp_mut().set_window(w);
        }
        self.counters[Fc::ForwardedToBackend] += 1;
        if flow.offload == OffloadStatus::Installed {
            self.counters[Fc::ForwardedAfterOffload] += 1;
        }
    }

    pub(super) fn maybe_closing(&mut self, flow: &mut ConnEntry) {
        if let (SpliceState::Spliced { backend }, Some(_), true) = (flow.state, flow.client_fin, flow.backend_fin) {
            flow.state = SpliceState::Closing { backend };
            let t = self.now + self.p.timeouts.closing_ms;
            self.set_deadline(flow, t);
        }
    }

    /// Step 5: client packets while the engine carries the flow; in request
    /// mode, every new request is routed.
    pub(super) fn spliced_client(&mut self, flow: &mut ConnEntry, frame: &mut Frame<'_>, seg: &Seg, b: BackendIndex) -> (Verdict, After) {
        let plen = seg.payload_len as u32;
        if flow.mode == OffloadMode::Request && plen > 0 && matches!(flow.state, SpliceState::Spliced { .. }) && flow.asm.is_none() {
            if let Some(nr) = flow.next_request {
                let end = seg.seq.wrapping_add(plen);
                if seq_diff(seg.seq, nr) >= 0 {
                    return self.next_request(flow, frame, seg, nr, b);
                }
                if seq_diff(end, nr) > 0 {
                    // Straddles two requests: keep it simple and correct,
                    // the rest of the connection stays on this backend.
                    flow.next_request = None;
                }
            }
        }
        Self::note_client(flow, seg);
        if seg.has_any(FIN) {
            flow.client_fin = Some(seg.seq.wrapping_add(plen));
        }
        self.forward_to_backend(flow, b, frame, seg);
        if seg.has_any(RST) {
            return (Verdict::Forward, After::Remove);
        }
        self.maybe_closing(flow);
        (Verdict::Forward, After::Keep)
    }
}
