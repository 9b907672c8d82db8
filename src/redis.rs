//! Cross-process broadcasts over Redis pub/sub (placeholder until the Redis bridge lands).

use crate::registry::Room;

/// A live connection to Redis that publishes this process's broadcasts.
pub struct Link;

impl Link {
  /// Publishes one broadcast for the other processes; never blocks the caller.
  pub fn publish(&self, _room: &Room, _event: Option<&str>, _data: &str) {}
}
