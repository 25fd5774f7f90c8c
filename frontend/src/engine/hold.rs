//! The install and the response hold (docs/FRONTEND.md steps 7, 7a, 7b):
//! when the install is asked, the window the backend sees until it is in,
//! and the peek that carries a small response instead.

use super::*;

/// The window the engine advertises to a backend in the client's name while
/// the flow's hold is on (raw, in the client's window scale, which the
/// backend applies since the replayed SYN carried it); `None`: the
/// client's own window.
pub(super) fn held_window(flow: &ConnEntry) -> Option<u16> {
    match flow.hold {
        Hold::Off => None,
        Hold::Held | Hold::Until => Some(0), // response held until the switch's entry is in
        Hold::Peek => {
            let shift = flow.opts.wscale.unwrap_or(0).min(14);
            Some(flow.client_window.min((PEEK_WINDOW_BYTES >> shift).clamp(1, u32::from(u16::MAX)) as u16))
        }
    }
}

/// The window the engine advertises in the switch's sequence space.
pub(super) fn our_window(p: &EngineParams, flow: &ConnEntry) -> u16 {
    let free = MAX_BUFFERED_BYTES.saturating_sub(flow.asm.as_ref().map_or(0, |a| a.buf.len()));
    let shift = if flow.opts.wscale.is_some() { p.syn_ack.wscale } else { 0 };
    (free >> shift).min(usize::from(u16::MAX)) as u16
}

impl Ctx<'_> {
    /// Ends the hold: one window update to the backend, exactly the pure
    /// ACK the client would have sent (its next seq, its latest ack, in its
    /// space — the agent translates the ack — and its latest window), so
    /// the backend resumes through the switch (installed) or through us.
    pub(super) fn release_hold(&mut self, flow: &mut ConnEntry) {
        if flow.hold == Hold::Until {
            // The state's own deadline, which the hold's stood in for.
            let to = self.p.timeouts;
            flow.deadline = match flow.state {
                SpliceState::Closing { .. } => flow.last_seen + to.closing_ms,
                _ => flow.last_seen + to.idle_ms,
            };
        }
        flow.hold = Hold::Off;
        self.counters[Fc::HoldReleases] += 1;
        if let Some(b) = flow.state.spliced_backend() {
            self.to_backend(flow, b, flow.client_next, flow.client_ack, ACK, &[], &[]);
            self.counters[Fc::WindowUpdates] += 1;
        }
    }

    /// A last-request connection's first response bytes: carry a small
    /// response (the flow is never offloaded), offload anything else.
    pub(super) fn peeked(&mut self, flow: &mut ConnEntry, frame: &Frame<'_>, seg: &Seg) {
        let Some(backend) = flow.state.spliced_backend() else { return };
        // Only the response's own start, once the request is delivered,
        // says how long it is.
        let first = seg.seq == flow.server_isn.wrapping_add(1) && flow.asm.is_none();
        let size = match (seg.payload_len == 0, first) {
            (true, true) => ResponseSize::Known(0),
            (false, true) => response_size(frame.payload()),
            (_, false) => ResponseSize::Unknown,
        };
        flow.hold = Hold::Off;
        match size {
            ResponseSize::Known(n) if n <= u64::from(self.p.carry_responses_up_to) => {
                flow.offload = OffloadStatus::Declined;
                self.counters[Fc::ResponsesCarried] += 1;
                if n > u64::from(PEEK_WINDOW_BYTES) {
                    // Open the window for the rest of it.
                    self.to_backend(flow, backend, flow.client_next, flow.client_ack, ACK, &[], &[]);
                    self.counters[Fc::WindowUpdates] += 1;
                }
            }
            _ => {
                self.out.push(Action::Offload(OffloadRequest::Install { key: flow.key, backend, mode: flow.mode }));
                flow.offload = OffloadStatus::Pending;
                self.counters[Fc::OffloadRequested] += 1;
                if self.p.hold_until_offloaded {
                    self.counters[Fc::Holds] += 1;
                    flow.hold = Hold::Until;
                    flow.deadline = self.now + HOLD_TIMEOUT_MS;
                } else {
                    self.to_backend(flow, backend, flow.client_next, flow.client_ack, ACK, &[], &[]);
                    self.counters[Fc::WindowUpdates] += 1;
                }
            }
        }
    }

    /// Whether `request_delivered` will ask the switch for an entry.
    pub(super) fn will_install(flow: &ConnEntry) -> bool {
        flow.offload == OffloadStatus::NotRequested || (flow.mode == OffloadMode::Request && !matches!(flow.offload, OffloadStatus::Refused | OffloadStatus::Declined))
    }

    /// The backend has all the bytes the engine answered for.
    pub(super) fn request_delivered(&mut self, flow: &mut ConnEntry) {
        self.drop_request(flow);
        flow.retries = 0;
        if flow.hold == Hold::Peek {
            // The response's head decides (`peeked`).
            let t = self.now + self.p.timeouts.idle_ms;
            self.set_deadline(flow, t);
            return;
        }
        if let (true, Some(backend)) = (Self::will_install(flow), flow.state.spliced_backend()) {
            self.out.push(Action::Offload(OffloadRequest::Install { key: flow.key, backend, mode: flow.mode }));
            flow.offload = OffloadStatus::Pending;
            self.counters[Fc::OffloadRequested] += 1;
            if flow.hold == Hold::Held {
                flow.hold = Hold::Until;
                flow.deadline = self.now + HOLD_TIMEOUT_MS;
                return;
            }
        } else if flow.hold != Hold::Off {
            self.release_hold(flow);
        }
        let t = self.now + self.p.timeouts.idle_ms;
        self.set_deadline(flow, t);
    }
}
