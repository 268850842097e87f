//! Who is logged in, shared with every page through Leptos context: the session (from the
//! relay) and, once unlocked, the private key (in memory only: a reload forgets it and the app
//! asks for the password again).

use std::sync::Arc;

use leptos::prelude::*;
use shared::crypto::UserPrivateKey;

use crate::api::AuthorizedApi;

/// The app's authentication state.
#[derive(Debug, Clone, Copy)]
pub struct Auth {
    /// `None` until a session is known; `Some` while logged in.
    pub api: RwSignal<Option<AuthorizedApi>>,
    /// Whether the session has been looked up at start.
    pub checked: RwSignal<bool>,
    key: RwSignal<Option<Arc<UserPrivateKey>>>,
}

impl Auth {
    pub fn new() -> Self {
        Self {
            api: RwSignal::new(None),
            checked: RwSignal::new(false),
            key: RwSignal::new(None),
        }
    }

    /// Logged in and unlocked.
    pub fn set(&self, api: AuthorizedApi, key: Option<UserPrivateKey>) {
        self.api.set(Some(api));
        self.key.set(key.map(Arc::new));
    }

    pub fn unlock(&self, key: UserPrivateKey) {
        self.key.set(Some(Arc::new(key)));
    }

    /// The unlocked private key, if any (tracked: pages re-render when it arrives).
    pub fn private_key(&self) -> Option<Arc<UserPrivateKey>> {
        self.key.get()
    }

    pub fn is_unlocked(&self) -> bool {
        self.key.with(Option::is_some)
    }

    /// Forgets the session and the key.
    pub fn clear(&self) {
        self.api.set(None);
        self.key.set(None);
    }
}

impl Default for Auth {
    fn default() -> Self {
        Self::new()
    }
}

/// The `Auth` of the running app.
pub fn use_auth() -> Auth {
    expect_context::<Auth>()
}
