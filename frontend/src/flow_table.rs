//! The bounded per-worker flow table. One table per worker core; a flow's
//! worker is `client_hash(client ip, port) % workers`, the hash the switch
//! uses to pick a front-end port, so both directions meet one table and no
//! lock is needed.

use core::net::Ipv4Addr;

use hashbrown::HashMap;
use switchyard_wire::flow::{client_hash, ConnKey};

/// The worker that owns a client's flows.
pub fn worker_for(client_ip: Ipv4Addr, client_port: u16, workers: u16) -> u16 {
    (client_hash(client_ip, client_port) % u32::from(workers.max(1))) as u16
}

#[derive(Debug)]
pub struct FlowTable<V> {
    map: HashMap<ConnKey, V>,
    capacity: usize,
}

/// The table is at capacity: the new flow is refused (counted as the
/// registry's `FlowTableFull`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableFull;

impl<V> FlowTable<V> {
    /// Allocates all buckets up front so the hot path never rehashes.
    pub fn with_capacity(capacity: usize) -> Self {
        Self { map: HashMap::with_capacity(capacity), capacity }
    }

    /// Touches all of the table's storage once, before traffic: fills it
    /// to capacity with placeholder entries, then empties it (the
    /// allocation stays). Without this the first flows landing on each
    /// page of a fresh table take a page fault (a zeroed page from the
    /// kernel, ~1 us each); measured, that cost a new flow more than
    /// everything else it does. A worker's table is a reservation anyway.
    pub fn prefault(&mut self, filler: V)
    where
        V: Clone,
    {
        let before = self.map.allocation_size();
        for i in 0..self.capacity {
            // Distinct keys on a VIP id no service has.
            let key = ConnKey { client_ip: Ipv4Addr::from(i as u32), client_port: (i >> 32) as u16, vip_id: u16::MAX };
            self.map.insert(key, filler.clone());
        }
        self.map.clear();
        debug_assert_eq!(before, self.map.allocation_size(), "filled within the reserved capacity");
    }

    /// Bytes the table holds (buckets and control bytes), for the docs and
    /// tests of per-flow memory.
    pub fn allocation_size(&self) -> usize {
        self.map.allocation_size()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn get(&self, k: &ConnKey) -> Option<&V> {
        self.map.get(k)
    }

    pub fn get_mut(&mut self, k: &ConnKey) -> Option<&mut V> {
        self.map.get_mut(k)
    }

    pub fn insert_new(&mut self, k: ConnKey, v: V) -> Result<&mut V, TableFull> {
        if self.map.len() >= self.capacity && !self.map.contains_key(&k) {
            return Err(TableFull);
        }
        Ok(self.map.entry(k).insert(v).into_mut())
    }

    pub fn remove(&mut self, k: &ConnKey) -> Option<V> {
        self.map.remove(k)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&ConnKey, &V)> {
        self.map.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(p: u16) -> ConnKey {
        ConnKey { client_ip: Ipv4Addr::new(198, 18, 0, 2), client_port: p, vip_id: 0 }
    }

    #[test]
    fn bounded() {
        let mut t = FlowTable::with_capacity(2);
        t.insert_new(key(1), 1).unwrap();
        t.insert_new(key(2), 2).unwrap();
        assert_eq!(t.insert_new(key(3), 3).err(), Some(TableFull));
        assert!(t.insert_new(key(2), 5).is_ok(), "replacing an existing key is not growth");
        t.remove(&key(1));
        assert!(t.insert_new(key(3), 3).is_ok());
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn prefault_leaves_an_empty_table_of_the_same_size() {
        let mut t = FlowTable::with_capacity(1000);
        let size = t.allocation_size();
        t.prefault([0u8; 64]);
        assert_eq!((t.len(), t.allocation_size()), (0, size), "emptied, not reallocated");
        for p in 0..1000 {
            t.insert_new(key(p), [1; 64]).unwrap();
        }
        assert_eq!(t.insert_new(key(1000), [1; 64]).err(), Some(TableFull), "still bounded");
        assert_eq!(t.allocation_size(), size, "no growth on the hot path");
    }

    #[test]
    fn workers_spread_and_agree_with_wire() {
        let ip = Ipv4Addr::new(198, 18, 0, 2);
        let mut seen = [0u32; 4];
        for p in 1000..2000 {
            let w = worker_for(ip, p, 4);
            assert_eq!(u32::from(w), client_hash(ip, p) % 4);
            seen[usize::from(w)] += 1;
        }
        assert!(seen.iter().all(|&n| n > 150), "{seen:?}");
        assert_eq!(worker_for(ip, 1, 1), 0);
    }
}
