//! Write batching as plain state with time passed in (ns): items queue up
//! to a bound; a batch is ready when `max_batch` items wait or the oldest
//! has waited `linger`. The writer task asks `ready`/`deadline` and sends
//! `take` as one WriteRequest.

use std::collections::VecDeque;

#[derive(Debug)]
pub struct Batcher<T> {
    queue: VecDeque<(T, u64)>,
    max_batch: usize,
    linger_ns: u64,
    capacity: usize,
}

/// The queue is at its bound; the item is handed back.
#[derive(Debug, PartialEq, Eq)]
pub struct Full<T>(pub T);

impl<T> Batcher<T> {
    pub fn new(max_batch: usize, linger_ns: u64, capacity: usize) -> Self {
        let max_batch = max_batch.max(1);
        Batcher { queue: VecDeque::new(), max_batch, linger_ns, capacity: capacity.max(max_batch) }
    }

    pub fn push(&mut self, item: T, now: u64) -> Result<(), Full<T>> {
        if self.queue.len() >= self.capacity {
            return Err(Full(item));
        }
        self.queue.push_back((item, now));
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub fn has_room(&self) -> bool {
        self.queue.len() < self.capacity
    }

    pub fn ready(&self, now: u64) -> bool {
        match self.queue.front() {
            None => false,
            Some((_, at)) => self.queue.len() >= self.max_batch || now.saturating_sub(*at) >= self.linger_ns,
        }
    }

    /// When the oldest item's linger ends.
    pub fn deadline(&self) -> Option<u64> {
        self.queue.front().map(|(_, at)| at + self.linger_ns)
    }

    /// Up to `max_batch` items, oldest first, with their enqueue times.
    pub fn take(&mut self) -> Vec<(T, u64)> {
        let n = self.queue.len().min(self.max_batch);
        self.queue.drain(..n).collect()
    }

    /// Like `take`, but only items whose key is free: an item waits when its
    /// key is `busy` (an earlier update of that key is still in flight) or
    /// when an earlier queued item has the same key (it goes first, in a
    /// later batch). So updates of one key leave in submission order, one
    /// per batch, and never overtake each other; other items go past the
    /// waiting ones. Items left behind keep their order.
    pub fn take_free<K: Eq + std::hash::Hash>(&mut self, key: impl Fn(&T) -> K, busy: impl Fn(&K) -> bool) -> Vec<(T, u64)> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        let mut kept = VecDeque::with_capacity(self.queue.len());
        while let Some((item, at)) = self.queue.pop_front() {
            if out.len() >= self.max_batch {
                kept.push_back((item, at));
                kept.extend(self.queue.drain(..));
                break;
            }
            let k = key(&item);
            let free = !busy(&k);
            if seen.insert(k) && free {
                out.push((item, at));
            } else {
                kept.push_back((item, at));
            }
        }
        self.queue = kept;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_linger_and_bound() {
        let mut b = Batcher::new(3, 100, 4);
        b.push(1, 0).unwrap();
        b.push(2, 10).unwrap();
        assert!(!b.ready(50));
        assert!(b.ready(100), "linger of the oldest elapsed");
        b.push(3, 20).unwrap();
        assert!(b.ready(21), "full batch");
        b.push(4, 30).unwrap();
        assert_eq!(b.push(5, 31), Err(Full(5)));
        let t: Vec<i32> = b.take().into_iter().map(|x| x.0).collect();
        assert_eq!(t, vec![1, 2, 3]);
        assert_eq!(b.deadline(), Some(130));
    }

    #[test]
    fn take_free_keeps_per_key_order() {
        // (key, seq): key 1 is in flight; key 2 appears twice.
        let mut b = Batcher::new(3, 0, 16);
        for (i, k) in [1u32, 2, 3, 2, 1, 4, 5].iter().enumerate() {
            b.push((*k, i), i as u64).unwrap();
        }
        let busy = |k: &u32| *k == 1;
        let t: Vec<(u32, usize)> = b.take_free(|x| x.0, busy).into_iter().map(|x| x.0).collect();
        // Key 1 waits (twice), the second key-2 update waits for the first,
        // and the batch is full at three.
        assert_eq!(t, vec![(2, 1), (3, 2), (4, 5)]);
        let rest: Vec<(u32, usize)> = b.queue.iter().map(|x| x.0).collect();
        assert_eq!(rest, vec![(1, 0), (2, 3), (1, 4), (5, 6)], "left behind in order");
        // Key 2 now in flight too: only 5 can go.
        let t: Vec<(u32, usize)> = b.take_free(|x| x.0, |k| *k == 1 || *k == 2).into_iter().map(|x| x.0).collect();
        assert_eq!(t, vec![(5, 6)]);
        // Nothing in flight: the oldest of each key goes, one per key.
        let t: Vec<(u32, usize)> = b.take_free(|x| x.0, |_| false).into_iter().map(|x| x.0).collect();
        assert_eq!(t, vec![(1, 0), (2, 3)]);
        let t: Vec<(u32, usize)> = b.take_free(|x| x.0, |_| false).into_iter().map(|x| x.0).collect();
        assert_eq!(t, vec![(1, 4)]);
        assert!(b.is_empty());
    }
}
