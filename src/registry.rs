//! The client registry and the room index: who is connected, in which rooms, in which order.
//!
//! Clients get ids 0, 1, 2… in add order and are kept ordered by id (`ById`: a sorted
//! vector, not a tree: an idle client costs its entry and little more), so iteration
//! follows add order. Each client keeps its rooms in join order (a `RoomSet`: join,
//! leave and lookup in O(1) expected however many rooms it has); the index maps a
//! room to its members, so reaching a room costs O(members), not O(all clients).
//! The room `"*"` means every client. Each client carries a `T` (its outbox). Rooms are
//! compared exactly as JavaScript compares them (`room.rs`).

use std::collections::hash_map::Entry as Slot;
use std::collections::{BTreeSet, HashMap};

pub use crate::room::Room;

/// Up to this many rooms a client's rooms are a short list searched in place; past it
/// they get a hash index. Most clients are in a handful of rooms, and a scan of a few
/// entries beats hashing while costing no memory.
const FEW: usize = 8;

/// One client's rooms in join order, with join, leave and lookup in O(1) expected.
///
/// A single room (the usual client) is held inline, without an allocation. Two or more
/// are a list (`Rooms`); past `FEW` rooms a hash index maps each room to its place in
/// the list. Leaving an indexed room leaves a hole there (`None`) instead of shifting
/// the rooms after it (O(rooms)) or moving the last one into its place (which would
/// change the join order); once the holes outnumber the rooms, one pass squeezes them
/// out, so that pass costs O(1) amortized per leave. No crate offers this: `indexmap`
/// removes in order by shifting (O(n)), and linked hash sets cost a heap node per room
/// and a sentinel per client.
#[derive(Default)]
pub enum RoomSet {
    #[default]
    Empty,
    One(Room),
    Many(Box<Rooms>),
}

#[derive(Default)]
pub struct Rooms {
    /// The rooms in join order; `None` only where a room was left while indexed.
    list: Vec<Option<Room>>,
    /// Room -> its place in `list`; only past `FEW` rooms.
    index: Option<HashMap<Room, usize>>,
    /// How many `None` entries `list` holds.
    holes: usize,
}

impl RoomSet {
    pub fn len(&self) -> usize {
        match self {
            RoomSet::Empty => 0,
            RoomSet::One(_) => 1,
            RoomSet::Many(rooms) => rooms.list.len() - rooms.holes,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, room: &Room) -> bool {
        match self {
            RoomSet::Empty => false,
            RoomSet::One(one) => one == room,
            RoomSet::Many(rooms) => rooms.contains(room),
        }
    }

    /// Adds `room` after the others; false if it is already in.
    pub fn insert(&mut self, room: Room) -> bool {
        match self {
            RoomSet::Empty => *self = RoomSet::One(room),
            RoomSet::One(one) if *one == room => return false,
            RoomSet::One(_) => {
                if let RoomSet::One(first) = std::mem::take(self) {
                    let list = vec![Some(first), Some(room)];
                    *self = RoomSet::Many(Box::new(Rooms {
                        list,
                        index: None,
                        holes: 0,
                    }));
                }
            }
            RoomSet::Many(rooms) => return rooms.insert(room),
        }
        true
    }

    /// Takes `room` out, keeping the others in order; false if it was not in.
    pub fn remove(&mut self, room: &Room) -> bool {
        match self {
            RoomSet::One(one) if one == room => *self = RoomSet::Empty,
            RoomSet::Many(rooms) => {
                if !rooms.remove(room) {
                    return false;
                }
                if rooms.list.is_empty() {
                    *self = RoomSet::Empty;
                }
            }
            _ => return false,
        }
        true
    }

    /// The rooms in join order.
    pub fn iter(&self) -> impl Iterator<Item = &Room> {
        let (one, list): (Option<&Room>, &[Option<Room>]) = match self {
            RoomSet::Empty => (None, &[]),
            RoomSet::One(one) => (Some(one), &[]),
            RoomSet::Many(rooms) => (None, &rooms.list),
        };
        one.into_iter().chain(list.iter().flatten())
    }
}

impl Rooms {
    fn contains(&self, room: &Room) -> bool {
        match &self.index {
            Some(index) => index.contains_key(room),
            None => self.list.iter().any(|r| r.as_ref() == Some(room)),
        }
    }

    fn insert(&mut self, room: Room) -> bool {
        if self.contains(&room) {
            return false;
        }
        let at = self.list.len();
        match &mut self.index {
            Some(index) => {
                index.insert(room.clone(), at);
            }
            None if at >= FEW => {
                let mut index = HashMap::with_capacity(at + 1);
                for (i, r) in self.list.iter().enumerate() {
                    if let Some(r) = r {
                        index.insert(r.clone(), i);
                    }
                }
                index.insert(room.clone(), at);
                self.index = Some(index);
            }
            None => {}
        }
        self.list.push(Some(room));
        true
    }

    fn remove(&mut self, room: &Room) -> bool {
        let Some(index) = &mut self.index else {
            // Few rooms and no holes: shifting the rest costs at most `FEW` moves.
            let Some(at) = self.list.iter().position(|r| r.as_ref() == Some(room)) else {
                return false;
            };
            self.list.remove(at);
            return true;
        };
        let Some(at) = index.remove(room) else {
            return false;
        };
        if let Some(slot) = self.list.get_mut(at) {
            *slot = None;
            self.holes += 1;
        }
        if self.holes * 2 > self.list.len() {
            self.compact();
        }
        true
    }

    /// Squeezes the holes out of `list` (O(rooms), once per as many leaves as rooms).
    fn compact(&mut self) {
        self.list.retain(Option::is_some);
        self.holes = 0;
        if self.list.capacity() > 4 * self.list.len().max(FEW) {
            self.list.shrink_to_fit();
        }
        if self.list.len() <= FEW {
            self.index = None;
            return;
        }
        if let Some(index) = &mut self.index {
            for (i, room) in self.list.iter().enumerate() {
                if let Some(at) = room.as_ref().and_then(|room| index.get_mut(room)) {
                    *at = i;
                }
            }
            if index.capacity() > 4 * index.len() {
                index.shrink_to_fit();
            }
        }
    }
}

impl IntoIterator for RoomSet {
    type Item = Room;
    type IntoIter = std::iter::Chain<
        std::option::IntoIter<Room>,
        std::iter::Flatten<std::vec::IntoIter<Option<Room>>>,
    >;

    fn into_iter(self) -> Self::IntoIter {
        let (one, list) = match self {
            RoomSet::Empty => (None, Vec::new()),
            RoomSet::One(one) => (Some(one), Vec::new()),
            RoomSet::Many(rooms) => (None, rooms.list),
        };
        one.into_iter().chain(list.into_iter().flatten())
    }
}

struct Entry<T> {
    rooms: RoomSet,
    slot: T,
}

/// Values by id, for ids that only grow: a vector sorted by id, looked up by binary
/// search. A removed value leaves a hole (its id stays, for the search) until the holes
/// outnumber the values; then one pass squeezes them out, O(1) amortized per removal.
/// Unlike a B-tree, whose nodes fill about half when keys come in order, this costs a
/// value's size and an id per entry.
struct ById<V> {
    items: Vec<(u32, Option<V>)>,
    holes: usize,
}

impl<V> Default for ById<V> {
    fn default() -> Self {
        ById {
            items: Vec::new(),
            holes: 0,
        }
    }
}

impl<V> ById<V> {
    fn at(&self, id: u32) -> Option<usize> {
        self.items.binary_search_by_key(&id, |item| item.0).ok()
    }

    /// Adds `value` under `id`, which must be above every id added before.
    fn push(&mut self, id: u32, value: V) {
        debug_assert!(self.items.last().is_none_or(|last| last.0 < id));
        self.items.push((id, Some(value)));
    }

    fn remove(&mut self, id: u32) -> Option<V> {
        let at = self.at(id)?;
        let value = self.items[at].1.take()?;
        self.holes += 1;
        if self.holes * 2 > self.items.len() {
            self.items.retain(|item| item.1.is_some());
            self.holes = 0;
            // Give memory back after a storm of removals.
            if self.items.capacity() > 64 && self.items.len() < self.items.capacity() / 4 {
                self.items.shrink_to(self.items.len() * 2);
            }
        }
        Some(value)
    }

    fn get(&self, id: u32) -> Option<&V> {
        self.items[self.at(id)?].1.as_ref()
    }

    fn get_mut(&mut self, id: u32) -> Option<&mut V> {
        let at = self.at(id)?;
        self.items[at].1.as_mut()
    }

    fn contains(&self, id: u32) -> bool {
        self.get(id).is_some()
    }

    fn len(&self) -> usize {
        self.items.len() - self.holes
    }

    /// Every value, in id order.
    fn iter_mut(&mut self) -> impl Iterator<Item = (u32, &mut V)> {
        self.iter_mut_from(0)
    }

    /// Every value whose id is `from` or above, in id order.
    fn iter_mut_from(&mut self, from: u32) -> impl Iterator<Item = (u32, &mut V)> {
        let start = self.items.partition_point(|item| item.0 < from);
        self.items[start..]
            .iter_mut()
            .filter_map(|(id, value)| value.as_mut().map(|v| (*id, v)))
    }
}

pub struct Registry<T> {
    clients: ById<Entry<T>>,
    rooms: HashMap<Room, BTreeSet<u32>>,
    next_id: u32,
}

impl<T> Default for Registry<T> {
    fn default() -> Self {
        Registry {
            clients: ById::default(),
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
        self.clients.push(
            id,
            Entry {
                rooms: RoomSet::default(),
                slot,
            },
        );
        Some(id)
    }

    /// Removes a client from the registry and from every room; empty rooms vanish.
    pub fn remove(&mut self, id: u32) -> Option<T> {
        let entry = self.clients.remove(id)?;
        for room in entry.rooms.iter() {
            self.unindex(room, id);
        }
        Some(entry.slot)
    }

    pub fn contains(&self, id: u32) -> bool {
        self.clients.contains(id)
    }

    pub fn get_mut(&mut self, id: u32) -> Option<&mut T> {
        self.clients.get_mut(id).map(|e| &mut e.slot)
    }

    pub fn len(&self) -> usize {
        self.clients.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clients.len() == 0
    }

    /// `Some(false)` when already in the room (always for `"*"`), `None` for an unknown id.
    pub fn join(&mut self, id: u32, room: Room) -> Option<bool> {
        let entry = self.clients.get_mut(id)?;
        if room.is_all() || entry.rooms.contains(&room) {
            return Some(false);
        }
        // The client keeps the index's copy of the name: one allocation per room, not per member.
        let shared = match self.rooms.entry(room) {
            Slot::Occupied(mut slot) => {
                slot.get_mut().insert(id);
                slot.key().clone()
            }
            Slot::Vacant(slot) => {
                let key = slot.key().clone();
                slot.insert(BTreeSet::from([id]));
                key
            }
        };
        entry.rooms.insert(shared);
        Some(true)
    }

    /// Leaves one room, or every room when `room` is `None` or `"*"`.
    pub fn leave(&mut self, id: u32, room: Option<&Room>) -> Option<()> {
        let entry = self.clients.get_mut(id)?;
        match room {
            Some(room) if !room.is_all() => {
                if entry.rooms.remove(room) {
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
        let entry = self.clients.get(id)?;
        Some(room.is_all() || entry.rooms.contains(room))
    }

    /// The client's rooms in join order.
    pub fn rooms_of(&self, id: u32) -> Option<&RoomSet> {
        self.clients.get(id).map(|e| &e.rooms)
    }

    /// Calls `f` for every member of `room` (every client for `"*"`), in add order.
    /// Returns how many were visited.
    pub fn for_each_in(&mut self, room: &Room, mut f: impl FnMut(u32, &mut T)) -> usize {
        if room.is_all() {
            for (id, entry) in self.clients.iter_mut() {
                f(id, &mut entry.slot);
            }
            return self.clients.len();
        }
        let Some(members) = self.rooms.get(room) else {
            return 0;
        };
        for id in members {
            if let Some(entry) = self.clients.get_mut(*id) {
                f(*id, &mut entry.slot);
            }
        }
        members.len()
    }

    /// How many clients `room` reaches now (`"*"`: every client).
    pub fn count_in(&self, room: &Room) -> usize {
        if room.is_all() {
            return self.clients.len();
        }
        self.rooms.get(room).map_or(0, BTreeSet::len)
    }

    /// [`for_each_in`](Self::for_each_in) in parts: the members whose id is `from` or
    /// above, in id order, at most `budget` of them. Returns the id to go on from, or
    /// `None` once the room is done. Between parts, the caller keeps the membership as
    /// it was (see `deferred.rs`).
    pub fn for_each_in_from(
        &mut self,
        room: &Room,
        from: u32,
        budget: usize,
        mut f: impl FnMut(u32, &mut T),
    ) -> Option<u32> {
        let mut left = budget;
        if room.is_all() {
            for (id, entry) in self.clients.iter_mut_from(from) {
                if left == 0 {
                    return Some(id);
                }
                f(id, &mut entry.slot);
                left -= 1;
            }
        } else {
            let members = self.rooms.get(room)?;
            for id in members.range(from..) {
                if left == 0 {
                    return Some(*id);
                }
                if let Some(entry) = self.clients.get_mut(*id) {
                    f(*id, &mut entry.slot);
                }
                left -= 1;
            }
        }
        None
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
    use std::sync::Arc;

    fn s(x: &str) -> Room {
        Room::string(x)
    }

    fn n(x: f64) -> Room {
        Room::number(x).expect("not NaN")
    }

    #[test]
    fn by_id_keeps_id_order_through_holes_and_compactions() {
        let mut by: ById<u32> = ById::default();
        for id in 0..1000 {
            by.push(id * 3, id);
        }
        // Remove two of every three, in a scattered order: compactions happen on the way.
        for id in (0..1000).rev().filter(|id| id % 3 != 0) {
            assert_eq!(by.remove(id * 3), Some(id));
            assert_eq!(by.remove(id * 3), None, "once");
            assert!(
                by.holes * 2 <= by.items.len(),
                "holes never outnumber values"
            );
        }
        assert_eq!(by.remove(1), None, "an id never added");
        assert_eq!(by.len(), 334);
        let left: Vec<u32> = by
            .iter_mut()
            .map(|(id, v)| {
                assert_eq!(id, *v * 3);
                id
            })
            .collect();
        assert!(left.windows(2).all(|w| w[0] < w[1]), "id order");
        assert_eq!(left.len(), 334);
        for id in (0..1000).filter(|id| id % 3 == 0) {
            assert_eq!(by.get(id * 3), Some(&id));
            assert!(by.contains(id * 3));
        }
        *by.get_mut(0).expect("kept") = 7;
        assert_eq!(by.get(0), Some(&7));
        // Emptied, it gives its memory back.
        for id in (0..1000).filter(|id| id % 3 == 0) {
            by.remove(id * 3);
        }
        assert_eq!(by.len(), 0);
        assert!(by.items.capacity() <= 64, "{}", by.items.capacity());
        by.push(5000, 1);
        assert_eq!(by.get(5000), Some(&1));
    }

    fn rooms(reg: &Registry<()>, id: u32) -> Option<Vec<Room>> {
        reg.rooms_of(id).map(|set| set.iter().cloned().collect())
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
        assert_eq!(rooms(&reg, id), Some(vec![n(1.0), s("1")]));
        assert_eq!(reg.join(id, n(-0.0)), Some(true));
        assert_eq!(reg.is_in(id, &n(0.0)), Some(true));
        assert!(Room::number(f64::NAN).is_none());
    }

    #[test]
    fn rooms_that_differ_only_in_a_lone_surrogate_stay_apart() {
        let units = |s: &str| s.encode_utf16().collect::<Vec<u16>>();
        let high = Room::from_utf16(&[units("dm:alice"), vec![0xD83D]].concat());
        let other = Room::from_utf16(&[units("dm:alice"), vec![0xD83E]].concat());
        let replaced = s("dm:alice\u{FFFD}");
        let mut reg = Registry::default();
        let a = reg.add(()).expect("id");
        let b = reg.add(()).expect("id");
        assert_eq!(reg.join(a, high.clone()), Some(true));
        assert_eq!(reg.join(b, other.clone()), Some(true));
        assert_eq!(reg.is_in(b, &high), Some(false));
        assert_eq!(reg.is_in(a, &replaced), Some(false));
        assert_eq!(members(&mut reg, &high), vec![a]);
        assert_eq!(members(&mut reg, &other), vec![b]);
        assert_eq!(members(&mut reg, &replaced), Vec::<u32>::new());
        assert_eq!(rooms(&reg, b), Some(vec![other]));
        assert_eq!(reg.rooms().count(), 2);
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
        assert_eq!(rooms(&reg, id), Some(vec![]));
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
        assert_eq!(rooms(&reg, id), Some(vec![s("a"), s("c")]));
        reg.leave(id, None);
        assert_eq!(rooms(&reg, id), Some(vec![]));
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
    fn members_share_one_copy_of_a_room_name() {
        let mut reg = Registry::default();
        let a = reg.add(()).expect("id");
        let b = reg.add(()).expect("id");
        reg.join(a, s("lobby"));
        reg.join(b, s("lobby"));
        let name = |id| match reg.rooms_of(id).and_then(|rooms| rooms.iter().next()) {
            Some(Room::Str(name)) => name.clone(),
            other => panic!("expected a named room, got {other:?}"),
        };
        assert!(Arc::ptr_eq(&name(a), &name(b)));
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

    /// A small xorshift generator: reproducible sequences without a dependency.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    #[test]
    fn room_sets_match_a_plain_list_through_random_joins_and_leaves() {
        // Pools of a few rooms stay in the short-list form; larger ones cross `FEW` both
        // ways, index, leave holes, compact and fall back to the short list.
        for pool in [4u64, 12, 40, 300] {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ pool);
            let mut set = RoomSet::default();
            let mut model: Vec<Room> = Vec::new();
            let mut indexed = false;
            for step in 0..20_000 {
                let room = if rng.below(2) == 0 {
                    s(&format!("r{}", rng.below(pool)))
                } else {
                    n(rng.below(pool) as f64)
                };
                match rng.below(7) {
                    0..=2 => {
                        let fresh = !model.contains(&room);
                        assert_eq!(set.insert(room.clone()), fresh, "insert at step {step}");
                        if fresh {
                            model.push(room);
                        }
                    }
                    3..=5 => {
                        let at = model.iter().position(|r| *r == room);
                        assert_eq!(set.remove(&room), at.is_some(), "remove at step {step}");
                        if let Some(at) = at {
                            model.remove(at);
                        }
                    }
                    _ => assert_eq!(set.contains(&room), model.contains(&room)),
                }
                assert_eq!(set.len(), model.len());
                if step % 97 == 0 {
                    assert!(set.iter().eq(model.iter()), "order at step {step}");
                }
                match &set {
                    RoomSet::Empty => assert!(model.is_empty()),
                    RoomSet::One(one) => assert_eq!(model, std::slice::from_ref(one)),
                    RoomSet::Many(rooms) => {
                        assert!(
                            rooms.holes * 2 <= rooms.list.len(),
                            "holes never outnumber rooms"
                        );
                        if let Some(index) = &rooms.index {
                            assert_eq!(index.len(), model.len());
                            indexed = true;
                        } else {
                            assert_eq!(rooms.holes, 0);
                            assert!(rooms.list.len() <= FEW);
                        }
                    }
                }
            }
            assert!(set.iter().eq(model.iter()));
            assert_eq!(
                indexed,
                pool > FEW as u64,
                "the index is used when, and only when, needed"
            );
            assert_eq!(set.into_iter().collect::<Vec<_>>(), model);
        }
    }

    #[test]
    fn a_hundred_thousand_rooms_on_one_client() {
        const ROOMS: u32 = 100_000;
        let mut reg = Registry::default();
        let id = reg.add(()).expect("id");
        let other = reg.add(()).expect("id");
        let room = |i: u32| s(&format!("room-{i}"));
        for i in 0..ROOMS {
            assert_eq!(reg.join(id, room(i)), Some(true));
        }
        assert_eq!(reg.join(other, room(7)), Some(true));
        assert_eq!(reg.join(id, room(5)), Some(false));
        assert!((0..ROOMS).all(|i| reg.is_in(id, &room(i)) == Some(true)));
        // Leave the even rooms, then join them again: they come back last, in that order.
        for i in (0..ROOMS).step_by(2) {
            reg.leave(id, Some(&room(i)));
        }
        assert_eq!(reg.is_in(id, &room(4)), Some(false));
        assert_eq!(reg.is_in(id, &room(5)), Some(true));
        for i in (0..ROOMS).step_by(2) {
            assert_eq!(reg.join(id, room(i)), Some(true));
        }
        let expected: Vec<Room> = (1..ROOMS)
            .step_by(2)
            .chain((0..ROOMS).step_by(2))
            .map(room)
            .collect();
        assert_eq!(rooms(&reg, id), Some(expected));
        assert_eq!(reg.rooms().count(), ROOMS as usize);
        assert_eq!(members(&mut reg, &room(7)), vec![id, other]);
        reg.remove(id);
        assert_eq!(reg.rooms().collect::<Vec<_>>(), vec![(&room(7), 1)]);
    }

    #[test]
    fn leaving_most_rooms_returns_to_the_short_list() {
        let mut set = RoomSet::default();
        for i in 0..1000 {
            set.insert(n(f64::from(i)));
        }
        for i in 0..995 {
            assert!(set.remove(&n(f64::from(i))));
        }
        let RoomSet::Many(rooms) = &set else {
            panic!("five rooms are a list");
        };
        assert!(rooms.index.is_none(), "five rooms need no index");
        assert_eq!(rooms.list.len(), 5, "no holes left");
        assert!(set
            .iter()
            .eq([995.0, 996.0, 997.0, 998.0, 999.0].map(n).iter()));
        assert!(!set.remove(&n(0.0)));
        for i in 995..1000 {
            assert!(set.remove(&n(f64::from(i))));
        }
        assert!(matches!(set, RoomSet::Empty));
    }

    #[test]
    fn one_room_takes_no_allocation_and_the_set_no_more_room_than_a_vec() {
        assert!(std::mem::size_of::<RoomSet>() <= std::mem::size_of::<Vec<Room>>());
        let mut set = RoomSet::default();
        assert!(set.insert(s("only")));
        assert!(matches!(set, RoomSet::One(_)));
        assert!(!set.insert(s("only")));
        assert!(set.insert(n(2.0)));
        assert!(set.iter().eq([s("only"), n(2.0)].iter()));
        assert!(set.remove(&s("only")));
        assert!(set.remove(&n(2.0)));
        assert!(matches!(set, RoomSet::Empty));
    }
}
