//! The portal's sign-in sessions, kept in memory on the server.
//!
//! Signing in with a token in force opens a session: a random 256-bit id,
//! which is all the browser's cookie holds. The server keeps only the SHA-256
//! of that id, mapped to the SHA-256 of the token it was opened with, so the
//! role is looked up again in the tokens in force on every request: a token
//! dropped from the file ends its sessions at once. A session ends when it is
//! signed out, when it has been idle for [`IDLE`], [`ABSOLUTE`] after it was
//! opened, or when more than [`MOST`] are open (the least recently used goes).

use crate::auth::{hash, Principal, Role, Tokens};
use lru::LruCache;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// A session unused this long is over.
pub const IDLE: Duration = Duration::from_secs(30 * 60);

/// A session is over this long after sign-in, used or not.
pub const ABSOLUTE: Duration = Duration::from_secs(12 * 60 * 60);

/// Sessions kept at most; opening one more ends the least recently used.
pub const MOST: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Session {
    token: [u8; 32],
    opened: Instant,
    used: Instant,
}

impl Session {
    fn live_at(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.used) < IDLE && now.saturating_duration_since(self.opened) < ABSOLUTE
    }
}

/// The open sessions, by SHA-256 of their id.
#[derive(Debug, Clone)]
pub struct Sessions {
    open: Arc<Mutex<LruCache<[u8; 32], Session>>>,
}

impl Default for Sessions {
    fn default() -> Sessions {
        Sessions::with_room(MOST)
    }
}

impl Sessions {
    /// Room for `most` sessions (at least one).
    pub fn with_room(most: usize) -> Sessions {
        let room = NonZeroUsize::new(most).unwrap_or(NonZeroUsize::MIN);
        Sessions { open: Arc::new(Mutex::new(LruCache::new(room))) }
    }

    fn lock(&self) -> MutexGuard<'_, LruCache<[u8; 32], Session>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens a session for `token` (already checked to be in force); its id, for the cookie.
    pub fn open(&self, token: &str) -> String {
        self.open_at(token, Instant::now())
    }

    fn open_at(&self, token: &str, now: Instant) -> String {
        let id = hex::encode(rand::random::<[u8; 32]>());
        self.lock().put(hash(&id), Session { token: hash(token), opened: now, used: now });
        id
    }

    /// The role of the session with id `id`, if it is open and its token still in force;
    /// a session found over (or its token gone) is ended.
    pub fn role(&self, id: &str, tokens: &Tokens) -> Option<Role> {
        self.role_at(id, tokens, Instant::now())
    }

    /// Who the session with id `id` acts for (role and label), as [`Sessions::role`].
    pub fn principal(&self, id: &str, tokens: &Tokens) -> Option<Principal> {
        self.principal_at(id, tokens, Instant::now())
    }

    fn role_at(&self, id: &str, tokens: &Tokens, now: Instant) -> Option<Role> {
        self.principal_at(id, tokens, now).map(|p| p.role)
    }

    fn principal_at(&self, id: &str, tokens: &Tokens, now: Instant) -> Option<Principal> {
        let id = crate::auth::presented(id)?;
        let key = hash(id);
        let mut open = self.lock();
        let session = open.get_mut(&key)?;
        let principal = session.live_at(now).then(|| tokens.principal_of_hash(&session.token)).flatten().cloned();
        match principal {
            Some(_) => session.used = now,
            None => {
                open.pop(&key);
            }
        }
        principal
    }

    /// Ends the session with id `id`, if open.
    pub fn end(&self, id: &str) {
        self.lock().pop(&hash(id));
    }

    /// Ends every session whose token is not in `tokens` and every one that is over.
    pub fn keep_only(&self, tokens: &Tokens) {
        let now = Instant::now();
        let mut open = self.lock();
        let over: Vec<[u8; 32]> = open.iter().filter(|(_, s)| !s.live_at(now) || tokens.role_of_hash(&s.token).is_none()).map(|(k, _)| *k).collect();
        for key in over {
            open.pop(&key);
        }
    }

    /// Sessions open now (some may be over and not yet ended).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::auth::new_token;

    fn tokens(entries: &[&str]) -> Tokens {
        Tokens::parse(&entries.concat()).unwrap()
    }

    #[test]
    fn a_session_holds_no_token_and_lives_until_idle_or_absolute_end() {
        let (token, entry) = new_token(&Role::Bureau);
        let in_force = tokens(&[&entry]);
        let sessions = Sessions::default();
        let start = Instant::now();
        let id = sessions.open_at(&token, start);
        assert_ne!(id, token);
        assert_eq!(id.len(), 64);
        assert_eq!(sessions.role_at(&id, &in_force, start + IDLE / 2), Some(Role::Bureau));
        assert_eq!(sessions.role_at(&format!("{id}0"), &in_force, start), None);
        assert_eq!(sessions.role_at("", &in_force, start), None);
        // Used every half idle period, it lives until the absolute end.
        let mut t = start;
        while t + IDLE / 2 < start + ABSOLUTE {
            t += IDLE / 2;
            assert_eq!(sessions.role_at(&id, &in_force, t), Some(Role::Bureau), "{:?} after sign-in", t - start);
        }
        assert_eq!(sessions.role_at(&id, &in_force, start + ABSOLUTE), None, "over at the absolute end");
        assert!(sessions.is_empty(), "and ended");
        let idle = sessions.open_at(&token, start);
        assert_eq!(sessions.role_at(&idle, &in_force, start + IDLE), None, "over once idle");
    }

    #[test]
    fn sign_out_and_revocation_end_sessions() {
        let (kept, kept_entry) = new_token(&Role::Bureau);
        let (dropped, dropped_entry) = new_token(&Role::City("阜阳市".into()));
        let sessions = Sessions::default();
        let (a, b, c) = (sessions.open(&kept), sessions.open(&dropped), sessions.open(&kept));
        sessions.end(&a);
        let before = tokens(&[&kept_entry, &dropped_entry]);
        assert_eq!(sessions.role(&a, &before), None, "signed out");
        assert_eq!(sessions.role(&b, &before), Some(Role::City("阜阳市".into())));
        let after = tokens(&[&kept_entry]);
        sessions.keep_only(&after);
        assert_eq!(sessions.len(), 1);
        assert_eq!(sessions.role(&b, &before), None, "a dropped token's session is gone even if the token came back");
        assert_eq!(sessions.role(&c, &after), Some(Role::Bureau));
    }

    #[test]
    fn sessions_are_bounded() {
        let (token, entry) = new_token(&Role::Bureau);
        let in_force = tokens(&[&entry]);
        let sessions = Sessions::with_room(3);
        let first = sessions.open(&token);
        let ids: Vec<String> = (0..5).map(|_| sessions.open(&token)).collect();
        assert_eq!(sessions.len(), 3);
        assert_eq!(sessions.role(&first, &in_force), None, "the least recently used went first");
        assert_eq!(sessions.role(&ids[4], &in_force), Some(Role::Bureau));
    }
}
