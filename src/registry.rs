//! The client registry and the room index: who is connected, in which rooms, in which order.
//!
//! Clients get ids 0, 1, 2… in add order and are kept ordered by id, so iteration
//! follows add order. Each client lists its rooms in join order; the index maps a
//! room to its members, so reaching a room costs O(members), not O(all clients).
//! The room `"*"` means every client. Each client carries a `T` (its outbox).

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A room name: a string or a number, compared strictly (`1` is not `"1"`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Room {
    Str(Box<str>),
    /// The bits of an `f64` that is not NaN, with `-0` stored as `0`.
    Num(u64),
}

impl Room {
    /// `None` for NaN, which equals nothing and so can name no room.
    pub fn number(n: f64) -> Option<Room> {
        if n.is_nan() {
            None
        } else if n == 0.0 {
            Some(Room::Num(0f64.to_bits()))
        } else {
            Some(Room::Num(n.to_bits()))
        }
    }

    pub fn string(s: &str) -> Room {
        Room::Str(s.into())
    }

    /// `"*"`: every client, in every room operation.
    pub fn is_all(&self) -> bool {
        matches!(self, Room::Str(s) if &**s == "*")
    }
}

struct Entry<T> {
    rooms: Vec<Room>,
    slot: T,
}

pub struct Registry<T> {
    clients: BTreeMap<u32, Entry<T>>,
    rooms: HashMap<Room, BTreeSet<u32>>,
    next_id: u32,
}

impl<T> Default for Registry<T> {
    fn default() -> Self {
        Registry {
            clients: BTreeMap::new(),
            rooms: HashMap::new(),
            next_id: 0,
        }
    }
}

impl<T> Registry<T> {
    /// Registers a client and returns its id; `None` once 2^32 ids have been used.
    pub fn add(&mut self, slot: T) -> Option<u32> {
        let id = self.next_id;
        self.next_id = id.checked_add(1)?;
        self.clients.insert(
            id,
            Entry {
                rooms: Vec::new(),
                slot,
            },
        );
        Some(id)
    }

    /// Removes a client from the registry and from every room; empty rooms vanish.
    pub fn remove(&mut self, id: u32) -> Option<T> {
        let entry = self.clients.remove(&id)?;
        for room in &entry.rooms {
            self.unindex(room, id);
        }
        Some(entry.slot)
    }

    pub fn contains(&self, id: u32) -> bool {
        self.clients.contains_key(&id)
    }

    pub fn get_mut(&mut self, id: u32) -> Option<&mut T> {
        self.clients.get_mut(&id).map(|e| &mut e.slot)
    }

    pub fn len(&self) -> usize {
        self.clients.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// `Some(false)` when already in the room (always for `"*"`), `None` for an unknown id.
    pub fn join(&mut self, id: u32, room: Room) -> Option<bool> {
        let entry = self.clients.get_mut(&id)?;
        if room.is_all() || entry.rooms.contains(&room) {
            return Some(false);
        }
        self.rooms.entry(room.clone()).or_default().insert(id);
        entry.rooms.push(room);
        Some(true)
    }

    /// Leaves one room, or every room when `room` is `None` or `"*"`.
    pub fn leave(&mut self, id: u32, room: Option<&Room>) -> Option<()> {
        let entry = self.clients.get_mut(&id)?;
        match room {
            Some(room) if !room.is_all() => {
                if let Some(at) = entry.rooms.iter().position(|r| r == room) {
                    entry.rooms.remove(at);
                    self.unindex(room, id);
                }
            }
            _ => {
                for room in std::mem::take(&mut entry.rooms) {
                    self.unindex(&room, id);
                }
            }
        }
        Some(())
    }

    pub fn is_in(&self, id: u32, room: &Room) -> Option<bool> {
        let entry = self.clients.get(&id)?;
        Some(room.is_all() || entry.rooms.contains(room))
    }

    /// The client's rooms in join order.
    pub fn rooms_of(&self, id: u32) -> Option<&[Room]> {
        self.clients.get(&id).map(|e| e.rooms.as_slice())
    }

    /// Calls `f` for every member of `room` (every client for `"*"`), in add order.
    /// Returns how many were visited.
    pub fn for_each_in(&mut self, room: &Room, mut f: impl FnMut(u32, &mut T)) -> usize {
        if room.is_all() {
            for (id, entry) in self.clients.iter_mut() {
                f(*id, &mut entry.slot);
            }
            return self.clients.len();
        }
        let Some(members) = self.rooms.get(room) else {
            return 0;
        };
        for id in members {
            if let Some(entry) = self.clients.get_mut(id) {
                f(*id, &mut entry.slot);
            }
        }
        members.len()
    }

    /// Every client, in add order.
    pub fn for_each(&mut self, f: impl FnMut(u32, &mut T)) -> usize {
        self.for_each_in(&Room::string("*"), f)
    }

    /// Every non-empty room with its member count.
    pub fn rooms(&self) -> impl Iterator<Item = (&Room, usize)> {
        self.rooms
            .iter()
            .map(|(room, members)| (room, members.len()))
    }

    fn unindex(&mut self, room: &Room, id: u32) {
        if let Some(members) = self.rooms.get_mut(room) {
            members.remove(&id);
            if members.is_empty() {
                self.rooms.remove(room);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Room {
        Room::string(x)
    }

    fn n(x: f64) -> Room {
        Room::number(x).expect("not NaN")
    }

    fn members(reg: &mut Registry<()>, room: &Room) -> Vec<u32> {
        let mut seen = Vec::new();
        reg.for_each_in(room, |id, _| seen.push(id));
        seen
    }

    #[test]
    fn ids_count_up_in_add_order() {
        let mut reg = Registry::default();
        assert_eq!(reg.add(()), Some(0));
        assert_eq!(reg.add(()), Some(1));
        assert!(reg.remove(0).is_some());
        assert_eq!(reg.add(()), Some(2));
        assert_eq!(members(&mut reg, &s("*")), vec![1, 2]);
        assert!(reg.remove(0).is_none());
    }

    #[test]
    fn rooms_compare_strictly() {
        let mut reg = Registry::default();
        let id = reg.add(()).expect("id");
        assert_eq!(reg.join(id, n(1.0)), Some(true));
        assert_eq!(reg.join(id, n(1.0)), Some(false));
        assert_eq!(reg.is_in(id, &s("1")), Some(false));
        assert_eq!(reg.join(id, s("1")), Some(true));
        assert_eq!(reg.rooms_of(id), Some(&[n(1.0), s("1")][..]));
        assert_eq!(reg.join(id, n(-0.0)), Some(true));
        assert_eq!(reg.is_in(id, &n(0.0)), Some(true));
        assert!(Room::number(f64::NAN).is_none());
    }

    #[test]
    fn star_is_every_room() {
        let mut reg = Registry::default();
        let id = reg.add(()).expect("id");
        assert_eq!(reg.join(id, s("*")), Some(false));
        assert_eq!(reg.is_in(id, &s("*")), Some(true));
        reg.join(id, s("a"));
        reg.join(id, s("b"));
        reg.leave(id, Some(&s("*")));
        assert_eq!(reg.rooms_of(id), Some(&[][..]));
        assert_eq!(reg.rooms().count(), 0);
    }

    #[test]
    fn leave_one_keeps_the_others_in_order() {
        let mut reg = Registry::default();
        let id = reg.add(()).expect("id");
        for r in ["a", "b", "c"] {
            reg.join(id, s(r));
        }
        reg.leave(id, Some(&s("b")));
        assert_eq!(reg.rooms_of(id), Some(&[s("a"), s("c")][..]));
        reg.leave(id, None);
        assert_eq!(reg.rooms_of(id), Some(&[][..]));
    }

    #[test]
    fn broadcasts_reach_only_members() {
        let mut reg = Registry::default();
        let ids: Vec<u32> = (0..10).filter_map(|_| reg.add(())).collect();
        for id in &ids {
            reg.join(*id, n(f64::from(id % 3)));
        }
        assert_eq!(members(&mut reg, &n(1.0)), vec![1, 4, 7]);
        assert_eq!(members(&mut reg, &s("nobody")), Vec::<u32>::new());
        assert_eq!(members(&mut reg, &s("*")).len(), 10);
    }

    #[test]
    fn remove_empties_rooms() {
        let mut reg = Registry::default();
        let a = reg.add(()).expect("id");
        let b = reg.add(()).expect("id");
        reg.join(a, s("r"));
        reg.join(b, s("r"));
        reg.remove(a);
        assert_eq!(reg.rooms().collect::<Vec<_>>(), vec![(&s("r"), 1)]);
        reg.remove(b);
        assert_eq!(reg.rooms().count(), 0);
        assert_eq!(reg.len(), 0);
    }

    #[test]
    fn unknown_ids_are_none() {
        let mut reg: Registry<()> = Registry::default();
        assert_eq!(reg.join(3, s("a")), None);
        assert_eq!(reg.leave(3, None), None);
        assert_eq!(reg.is_in(3, &s("*")), None);
        assert!(reg.rooms_of(3).is_none());
        assert!(reg.get_mut(3).is_none());
    }
}
