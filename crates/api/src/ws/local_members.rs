//! Which chats the users connected to this instance belong to.
//!
//! Events name a chat, never its members: the hub finds an event's recipients here, among the members
//! of that chat who hold a connection on this instance. So an instance's work per event grows with its
//! own connections, not with the size of the group or the traffic of the whole service.
//!
//! A user's chats are read from the database when its connection arrives, then kept up to date by
//! `MembersChanged` events. A change heard while a read is under way may or may not be in what the read
//! returns, so it is kept beside the read and replayed over its answer: none is lost to the race.

use std::collections::{HashMap, HashSet};

use domain::{ChatId, UserId};

/// One read of a user's chats under way; [`LocalMembers::learn`] ends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Reading(u64);

#[derive(Debug, Clone, Copy)]
enum Change {
    Joined(ChatId),
    Left(ChatId),
}

#[derive(Default)]
struct Entry {
    chats: HashSet<ChatId>,
    /// Connections and refreshes that keep the entry: it goes when the last lets go.
    holds: usize,
    /// `chats` has been read and followed since: events keep it up to date.
    settled: bool,
    /// Changes heard while each read was under way.
    readings: HashMap<Reading, Vec<Change>>,
}

#[derive(Default)]
pub struct LocalMembers {
    users: HashMap<UserId, Entry>,
    members_here: HashMap<ChatId, HashSet<UserId>>,
    next_reading: u64,
}

impl LocalMembers {
    /// `user` has a connection (or a refresh) here from now on, and its chats are about to be read:
    /// changes to them are kept for the read's [`LocalMembers::learn`].
    pub fn hold(&mut self, user: UserId) -> Reading {
        self.next_reading += 1;
        let reading = Reading(self.next_reading);
        let entry = self.users.entry(user).or_default();
        entry.holds += 1;
        entry.readings.insert(reading, Vec::new());
        reading
    }

    /// One connection or refresh of `user` is gone; the user's chats are forgotten with its last.
    pub fn release(&mut self, user: UserId) {
        let Some(entry) = self.users.get_mut(&user) else { return };
        entry.holds = entry.holds.saturating_sub(1);
        if entry.holds > 0 {
            return;
        }
        if let Some(entry) = self.users.remove(&user) {
            for chat in entry.chats {
                self.leave_index(chat, user);
            }
        }
    }

    /// The answer of `reading`: `user` is a member of `chats`, plus whatever changed meanwhile. A user
    /// whose chats are already followed keeps them unless `refresh` says they may have been missed.
    pub fn learn(&mut self, user: UserId, reading: Reading, chats: Vec<ChatId>, refresh: bool) {
        let Some(entry) = self.users.get_mut(&user) else { return };
        let Some(heard) = entry.readings.remove(&reading) else { return };
        if entry.settled && !refresh {
            return;
        }
        let mut now: HashSet<ChatId> = chats.into_iter().collect();
        for change in heard {
            match change {
                Change::Joined(chat) => now.insert(chat),
                Change::Left(chat) => now.remove(&chat),
            };
        }
        entry.settled = true;
        let gone: Vec<ChatId> = entry.chats.difference(&now).copied().collect();
        let new: Vec<ChatId> = now.difference(&entry.chats).copied().collect();
        entry.chats = now;
        for chat in gone {
            self.leave_index(chat, user);
        }
        for chat in new {
            self.members_here.entry(chat).or_default().insert(user);
        }
    }

    /// A read that failed: its kept changes are dropped.
    pub fn abandon(&mut self, user: UserId, reading: Reading) {
        if let Some(entry) = self.users.get_mut(&user) {
            entry.readings.remove(&reading);
        }
    }

    /// `joined` became members of `chat` and `left` stopped being members.
    pub fn apply(&mut self, chat: ChatId, joined: &[UserId], left: &[UserId]) {
        let changes =
            joined.iter().map(|u| (*u, Change::Joined(chat))).chain(left.iter().map(|u| (*u, Change::Left(chat))));
        for (user, change) in changes {
            let Some(entry) = self.users.get_mut(&user) else { continue };
            for heard in entry.readings.values_mut() {
                heard.push(change);
            }
            if !entry.settled {
                continue;
            }
            match change {
                Change::Joined(chat) => {
                    entry.chats.insert(chat);
                    self.members_here.entry(chat).or_default().insert(user);
                }
                Change::Left(chat) => {
                    entry.chats.remove(&chat);
                    self.leave_index(chat, user);
                }
            }
        }
    }

    /// The members of `chat` connected here.
    pub fn members_here(&self, chat: ChatId) -> impl Iterator<Item = UserId> + '_ {
        self.members_here.get(&chat).into_iter().flatten().copied()
    }

    /// Every user connected here.
    pub fn users(&self) -> Vec<UserId> {
        self.users.keys().copied().collect()
    }

    fn leave_index(&mut self, chat: ChatId, user: UserId) {
        if let Some(members) = self.members_here.get_mut(&chat) {
            members.remove(&user);
            if members.is_empty() {
                self.members_here.remove(&chat);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: UserId = UserId(1);
    const BOB: UserId = UserId(2);

    fn here(index: &LocalMembers, chat: i64) -> Vec<i64> {
        let mut users: Vec<i64> = index.members_here(ChatId(chat)).map(|u| u.0).collect();
        users.sort_unstable();
        users
    }

    #[test]
    fn a_connected_user_is_found_in_its_chats_until_its_last_connection_goes() {
        let mut index = LocalMembers::default();
        let phone = index.hold(ALICE);
        index.learn(ALICE, phone, vec![ChatId(1), ChatId(2)], false);
        let laptop = index.hold(ALICE);
        index.learn(ALICE, laptop, vec![ChatId(1)], false);
        assert_eq!(here(&index, 2), [1], "a second connection does not undo what events kept");
        index.release(ALICE);
        assert_eq!(here(&index, 1), [1]);
        index.release(ALICE);
        assert!(here(&index, 1).is_empty() && here(&index, 2).is_empty());
        assert!(index.users().is_empty());
    }

    #[test]
    fn changes_heard_while_the_chats_are_read_are_replayed_over_the_answer() {
        let mut index = LocalMembers::default();
        let reading = index.hold(ALICE);
        // Read before both changes were stored: the answer holds neither.
        index.apply(ChatId(3), &[ALICE], &[]);
        index.apply(ChatId(1), &[], &[ALICE]);
        index.learn(ALICE, reading, vec![ChatId(1), ChatId(2)], false);
        assert!(here(&index, 1).is_empty(), "left while being read");
        assert_eq!(here(&index, 2), [1]);
        assert_eq!(here(&index, 3), [1], "joined while being read");
    }

    #[test]
    fn changes_follow_settled_users_only() {
        let mut index = LocalMembers::default();
        let reading = index.hold(ALICE);
        index.learn(ALICE, reading, vec![ChatId(1)], false);
        index.apply(ChatId(2), &[ALICE, BOB], &[]);
        assert_eq!(here(&index, 2), [1], "bob has no connection here");
        index.apply(ChatId(1), &[], &[ALICE]);
        assert!(here(&index, 1).is_empty());
    }

    #[test]
    fn a_refresh_replaces_what_events_may_have_missed() {
        let mut index = LocalMembers::default();
        let reading = index.hold(ALICE);
        index.learn(ALICE, reading, vec![ChatId(1)], false);
        let refresh = index.hold(ALICE);
        index.learn(ALICE, refresh, vec![ChatId(2)], true);
        index.release(ALICE);
        assert!(here(&index, 1).is_empty());
        assert_eq!(here(&index, 2), [1]);
    }

    #[test]
    fn an_abandoned_read_keeps_nothing() {
        let mut index = LocalMembers::default();
        let reading = index.hold(ALICE);
        index.abandon(ALICE, reading);
        index.learn(ALICE, reading, vec![ChatId(1)], false);
        assert!(here(&index, 1).is_empty());
        index.release(ALICE);
        assert!(index.users().is_empty());
    }
}
