//! Free lists for the memory every new flow used to allocate: the frames
//! the engine emits (replayed SYN, buffered request, ACKs, replies) and the
//! request assembly. A flow setup allocated four times (assembly box, its
//! buffer, two frames); with the driver handing transmitted frames back
//! (`Engine::recycle`), the steady state allocates nothing.
//!
//! Both lists are bounded, and oversized buffers are not kept, so a burst
//! of large requests does not pin memory: a worker holds at most
//! `MAX_FREE_FRAMES x MAX_KEPT_FRAME` + `MAX_FREE_ASSEMBLIES x
//! MAX_KEPT_REQUEST` bytes here (~2.5 MiB + ~4 MiB).

use super::assembly::Assembly;

/// Frames kept for reuse: a few bursts' worth of emitted frames.
pub const MAX_FREE_FRAMES: usize = 1024;
/// A frame buffer larger than this is dropped, not kept (emitted frames
/// are at most one MSS segment; a jumbo one is rare).
pub const MAX_KEPT_FRAME: usize = 2048;
/// Assemblies kept: flows between their first segment and the backend's
/// ACK of the request, about setup rate x backend RTT.
pub const MAX_FREE_ASSEMBLIES: usize = 1024;
/// Request buffer capacity kept with a recycled assembly; typical heads
/// are well under it, a 48 KiB one gives its buffer back to the allocator.
pub const MAX_KEPT_REQUEST: usize = 4096;

#[derive(Debug, Default)]
pub struct Buffers {
    frames: Vec<Vec<u8>>,
    /// Boxed because flows hold them boxed (`ConnEntry::asm`, keeping the
    /// entry small): a recycled box moves back without reallocating.
    #[allow(clippy::vec_box)]
    assemblies: Vec<Box<Assembly>>,
}

impl Buffers {
    /// An empty frame buffer, reused when one is free.
    pub fn frame(&mut self) -> Vec<u8> {
        self.frames.pop().unwrap_or_else(|| Vec::with_capacity(128))
    }

    pub fn recycle_frame(&mut self, mut f: Vec<u8>) {
        if self.frames.len() < MAX_FREE_FRAMES && f.capacity() <= MAX_KEPT_FRAME {
            f.clear();
            self.frames.push(f);
        }
    }

    /// An empty assembly starting at `base`.
    pub fn assembly(&mut self, base: u32) -> Box<Assembly> {
        match self.assemblies.pop() {
            Some(mut a) => {
                a.reset(base);
                a
            }
            None => Box::new(Assembly::new(base)),
        }
    }

    pub fn recycle_assembly(&mut self, a: Box<Assembly>) {
        if self.assemblies.len() < MAX_FREE_ASSEMBLIES && a.buf.capacity() <= MAX_KEPT_REQUEST {
            self.assemblies.push(a);
        }
    }

    /// Free buffers held: (frames, assemblies).
    pub fn free(&self) -> (usize, usize) {
        (self.frames.len(), self.assemblies.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuse_is_bounded_and_clean() {
        let mut b = Buffers::default();
        let mut f = b.frame();
        f.extend_from_slice(b"old bytes");
        b.recycle_frame(f);
        assert_eq!(b.free().0, 1);
        assert!(b.frame().is_empty(), "a reused frame starts empty");
        b.recycle_frame(vec![0; MAX_KEPT_FRAME + 1]);
        assert_eq!(b.free().0, 0, "oversized frames are not kept");
        for _ in 0..MAX_FREE_FRAMES + 10 {
            b.recycle_frame(Vec::new());
        }
        assert_eq!(b.free().0, MAX_FREE_FRAMES);

        let mut a = b.assembly(100);
        a.insert(100, b"GET / HTTP/1.1\r\n");
        a.insert(200, b"past a hole");
        b.recycle_assembly(a);
        let a = b.assembly(7);
        assert_eq!((a.base, a.buf.len(), a.held(), a.end()), (7, 0, 0, 7), "a reused assembly holds nothing");
        let mut big = b.assembly(0);
        big.insert(0, &vec![b'x'; MAX_KEPT_REQUEST + 1]);
        b.recycle_assembly(big);
        assert_eq!(b.free().1, 0, "a large request buffer is given back");
    }
}
