//! Request mode: leaving a backend at a request boundary (detach first if
//! the switch may hold an entry naming it), the next request, and the
//! late segments of the backends a flow left.

use super::*;

impl Engine {
    /// A backend segment of no flow the engine knows on that backend. In
    /// request mode it may come from a backend the client's flow left
    /// before its latest hand-over: `prev_backend` holds only the last one,
    /// and an old backend slow to close (its FIN after the next hand-over)
    /// would otherwise never get its FIN ACKed and sit in LAST_ACK,
    /// answering a later replayed SYN on the same 4-tuple with challenge
    /// ACKs until the engine gives up (504). Its FIN already acknowledges
    /// ours (its ack field is our FIN + 1), so the ACK needs no state:
    /// seq = its ack, ack = its FIN + 1, as any TIME_WAIT socket answers.
    pub(super) fn former_backend(&mut self, seg: &Seg, b: BackendIndex, now: u64, out: &mut Vec<Action>) -> Verdict {
        if !(seg.has_any(FIN) && seg.has_any(ACK)) || seg.has_any(SYN) || seg.has_any(RST) {
            return self.dropped(DropReason::NoFlow);
        }
        let found = self.router.services().iter().map(|s| s.id).find_map(|vip_id| {
            let key = ConnKey { client_ip: seg.dst, client_port: seg.dport, vip_id };
            self.flows.get(&key).is_some_and(|f| f.mode == OffloadMode::Request).then_some(key)
        });
        let Some(key) = found else { return self.dropped(DropReason::NoFlow) };
        let Engine { p, router, access, flows, counters, bufs, .. } = self;
        let Some(flow) = flows.get_mut(&key) else { return self.dropped(DropReason::NoFlow) };
        let mut ctx = Ctx { p, router, counters, bufs, access, out, now };
        let their_fin = seg.seq.wrapping_add(seg.payload_len as u32);
        ctx.to_backend(flow, b, seg.ack, their_fin.wrapping_add(1), ACK, &[], &[]);
        ctx.counters[Fc::AcksSent] += 1;
        ctx.counters[Fc::FormerBackendFins] += 1;
        Verdict::Consumed
    }
}

impl Ctx<'_> {
    /// Request mode: the engine leaves backend `old` at the request boundary
    /// `nr` (a hand-over or an error reply). If the switch may hold an entry
    /// naming `old` (installed, or an install in flight), it is detached
    /// first and the FIN (and the new backend's SYN, the reply) wait for
    /// `Detached`: with the entry in place the switch would carry `old`'s
    /// answer to our FIN — its FIN, at the very seq where the next response
    /// starts — straight to the client, which then sees the connection end
    /// (or, racing the new backend's data, a cut response), and it would
    /// carry the client's ACKs of the new backend's bytes to `old`, whose
    /// RST (its agent translates it back into the client's space) resets
    /// the client. Without an entry everything already comes to the engine.
    pub(super) fn leave_backend(&mut self, flow: &mut ConnEntry, old: BackendIndex, nr: u32) {
        if flow.hold != Hold::Off {
            // (A next request before the first response.) No update of its
            // own: the FIN `old` gets (now, or at `Detached`) carries the
            // client's window, as it no longer goes to the current backend.
            flow.hold = Hold::Off;
            self.counters[Fc::HoldReleases] += 1;
        }
        self.router.flow_ended(old);
        let detach = matches!(flow.offload, OffloadStatus::Pending | OffloadStatus::Installed);
        flow.prev_backend = Some(PrevBackend { backend: old, fin_seq: nr, fin_ack: flow.client_ack, fin_sent: !detach });
        if detach {
            self.out.push(Action::Offload(OffloadRequest::Detach { key: flow.key }));
            flow.offload = OffloadStatus::Detaching;
            self.counters[Fc::HandoverDetaches] += 1;
        } else {
            self.to_backend(flow, old, nr, flow.client_ack, ACK | FIN, &[], &[]);
        }
    }

    /// The switch's entry is gone (or the answer is overdue): what
    /// `leave_backend` held back goes out now.
    pub(super) fn detached(&mut self, flow: &mut ConnEntry) {
        flow.offload = OffloadStatus::NotRequested;
        if let Some(p) = flow.prev_backend.as_mut().filter(|p| !p.fin_sent) {
            p.fin_sent = true;
            let p = *p;
            self.to_backend(flow, p.backend, p.fin_seq, p.fin_ack, ACK | FIN, &[], &[]);
        }
        match flow.state {
            SpliceState::Connecting { .. } => {
                flow.retries = 0;
                self.send_syn(flow);
                let t = self.now + self.p.timeouts.backend_syn_rto_ms;
                self.set_deadline(flow, t);
            }
            SpliceState::Replied { acked: false, .. } => {
                self.send_reply(flow);
                let t = self.now + self.p.timeouts.request_rto_ms;
                self.set_deadline(flow, t);
            }
            _ => {}
        }
    }

    /// Request mode: bytes of the next request on a keep-alive connection.
    pub(super) fn next_request(&mut self, flow: &mut ConnEntry, frame: &mut Frame<'_>, seg: &Seg, nr: u32, old: BackendIndex) -> (Verdict, After) {
        Self::note_client(flow, seg);
        let mut asm = self.bufs.assembly(nr);
        asm.insert(seg.seq, frame.payload());
        if seg.has_any(FIN) {
            flow.client_fin = Some(seg.seq.wrapping_add(seg.payload_len as u32));
        }
        let mut storage = header_storage();
        let parsed = parse_head(&asm.buf, &mut storage);
        let outcome = match parsed {
            Err(e) => Err(ErrorReply::from(e)),
            // Heads of later requests must arrive in one segment in this
            // version (see docs): a partial one pins the connection.
            Ok(HeadStatus::Partial) => Ok(None),
            Ok(HeadStatus::Complete(head)) => {
                let next = match head.body {
                    BodyLength::Fixed(n) => {
                        let end = nr.wrapping_add(head.head_len as u32).wrapping_add(n as u32);
                        (seq_diff(asm.end(), end) <= 0).then_some(end)
                    }
                    BodyLength::Chunked => None,
                };
                let d = self.router.decide(flow.key.vip_id, flow.key.client_ip, &head);
                self.log_decision(flow, Some(&head), Ok(&d), None);
                match d {
                    Decision::NoRoute => Err(ErrorReply::NotFound),
                    Decision::NoHealthyBackend { .. } => Err(ErrorReply::ServiceUnavailable),
                    Decision::Backend { backend, .. } => Ok(Some((backend, next))),
                }
            }
        };
        match outcome {
            Ok(None) => {
                self.bufs.recycle_assembly(asm);
                flow.next_request = None;
                self.forward_to_backend(flow, old, frame, seg);
                (Verdict::Forward, After::Keep)
            }
            Ok(Some((b, next))) if b == old => {
                self.bufs.recycle_assembly(asm);
                flow.next_request = next;
                self.forward_to_backend(flow, old, frame, seg);
                (Verdict::Forward, After::Keep)
            }
            Ok(Some((b, next))) => {
                // Hand-over: close the old backend in the client's name at
                // the request boundary, replay a SYN to the new one with
                // the client's current sequence numbers (once the switch's
                // entry no longer names the old backend, see `leave_backend`).
                self.leave_backend(flow, old, nr);
                flow.syn_seq = nr.wrapping_sub(1);
                flow.server_isn = flow.client_ack.wrapping_sub(1);
                flow.asm = Some(asm);
                self.counters[Fc::Handovers] += 1;
                self.start_backend(flow, b, flow.mode, next);
                (Verdict::Consumed, After::Keep)
            }
            Err(reply) => {
                self.leave_backend(flow, old, nr);
                flow.asm = Some(asm);
                (Verdict::Consumed, self.reply(flow, Some(reply)))
            }
        }
    }

    /// Request mode: the backend the engine closed answers; its bytes must
    /// not reach the client (they sit in a sequence space now used by the
    /// new backend), so the engine ACKs its FIN itself.
    pub(super) fn old_backend_segment(&mut self, flow: &mut ConnEntry, seg: &Seg) -> (Verdict, After) {
        let Some(prev) = flow.prev_backend else { return (self.dropped(DropReason::NoFlow), After::Keep) };
        if seg.has_any(RST) {
            flow.prev_backend = None;
        } else if seg.has_any(FIN) {
            // (It closes on its own before our FIN went out: ours still
            // follows at `Detached`.)
            let their_fin = seg.seq.wrapping_add(seg.payload_len as u32);
            let seq = prev.fin_seq.wrapping_add(u32::from(prev.fin_sent));
            self.to_backend(flow, prev.backend, seq, their_fin.wrapping_add(1), ACK, &[], &[]);
            self.counters[Fc::AcksSent] += 1;
            if prev.fin_sent {
                flow.prev_backend = None;
            }
        }
        (Verdict::Consumed, After::Keep)
    }
}
