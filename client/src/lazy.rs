//! The pages a cold start does not show, in three lazily loaded parts of the app.
//!
//! The main module holds the app's frame, the landing, log-in and not-found pages and what they
//! share; the rest comes in three parts, fetched the first time one of their pages opens:
//!
//! - **recipient**: the pages a link opens (`/l/…`, `/r/…`, `/p/…`);
//! - **account**: signing up and joining (`/signup`, `/join`, `/confirm`);
//! - **workspace**: everything behind the log-in (`/app/…`).
//!
//! Built with `--cfg sealpost_split` (`.ci/lib.sh client_rustflags`), each part's function is
//! a split point (`wasm_split`, the machinery of Leptos's `#[lazy]`), and `.ci/build-client`
//! runs `wasm-split-cli` between `cargo build` and `wasm-bindgen`: code only a part reaches
//! moves into `split_<part>-<hash>.wasm` (and code parts share into `chunk_…` files),
//! which `__wasm_split.js` fetches with subresource integrity. Without the cfg (tests,
//! `cargo check`) the parts are plain functions in one module.
//!
//! Three parts, not one per page: each set of pages sharing code makes a chunk file, and one
//! split per page made about 250 of them, a link's page needing 90.
//!
//! The split point's expansion declares the import/export pair `wasm-split-cli` rewires
//! (`extern "C"` with `#[no_mangle]`), which the `unsafe_code` lint counts as unsafe. This
//! module is the one place the lint is allowed, for that generated code only: there is no
//! hand-written `unsafe` here (`.ci/check-deps` keeps both true).
#![allow(unsafe_code)]

use leptos::prelude::*;
use leptos_router::LazyRoute;

use crate::pages;

/// A part of the app could not be fetched (no network, the relay down, or a release replaced
/// it): the page says so instead of the app stopping.
#[derive(Debug, Clone, Copy)]
pub struct PartMissing;

#[cfg(sealpost_split)]
impl From<leptos::wasm_split::SplitLoaderError> for PartMissing {
    fn from(_: leptos::wasm_split::SplitLoaderError) -> Self {
        PartMissing
    }
}

/// Pages of the recipient part.
#[derive(Debug, Clone, Copy)]
pub enum Recipient {
    Link,
    RequestLink,
    Portal,
}

/// Pages of the account part.
#[derive(Debug, Clone, Copy)]
pub enum Account {
    Signup,
    Join,
    Confirm,
}

/// Pages of the workspace part.
#[derive(Debug, Clone, Copy)]
pub enum Workspace {
    Dashboard,
    Audit,
    Members,
    ApiKeys,
    Webhooks,
    ApiReference,
    Send,
    Sent,
    Payouts,
    Requests,
    Request,
    Inbox,
    Document,
    Transfer,
    PortalSettings,
}

#[cfg_attr(
    sealpost_split,
    leptos::wasm_split::wasm_split(
        sealpost_recipient,
        wasm_split_path = ::leptos::wasm_split,
        fallible
    )
)]
fn recipient(page: Recipient) -> Result<AnyView, PartMissing> {
    Ok(match page {
        Recipient::Link => pages::link::Link().into_any(),
        Recipient::RequestLink => pages::request_link::RequestLink().into_any(),
        Recipient::Portal => pages::portal::Portal().into_any(),
    })
}

#[cfg_attr(
    sealpost_split,
    leptos::wasm_split::wasm_split(
        sealpost_account,
        wasm_split_path = ::leptos::wasm_split,
        fallible
    )
)]
fn account(page: Account) -> Result<AnyView, PartMissing> {
    Ok(match page {
        Account::Signup => pages::signup::Signup().into_any(),
        Account::Join => pages::join::Join().into_any(),
        Account::Confirm => pages::confirm::Confirm().into_any(),
    })
}

#[cfg_attr(
    sealpost_split,
    leptos::wasm_split::wasm_split(
        sealpost_workspace,
        wasm_split_path = ::leptos::wasm_split,
        fallible
    )
)]
fn workspace(page: Workspace) -> Result<AnyView, PartMissing> {
    Ok(match page {
        Workspace::Dashboard => pages::dashboard::Dashboard().into_any(),
        Workspace::Audit => pages::audit::Audit().into_any(),
        Workspace::Members => pages::members::Members().into_any(),
        Workspace::ApiKeys => pages::api_keys::ApiKeys().into_any(),
        Workspace::Webhooks => pages::webhooks::Webhooks().into_any(),
        Workspace::ApiReference => pages::api_reference::ApiReference().into_any(),
        Workspace::Send => pages::send::Send().into_any(),
        Workspace::Sent => pages::sent::Sent().into_any(),
        Workspace::Payouts => pages::payouts::Payouts().into_any(),
        Workspace::Requests => pages::requests::Requests().into_any(),
        Workspace::Request => pages::request::Request().into_any(),
        Workspace::Inbox => pages::inbox::Inbox().into_any(),
        Workspace::Document => pages::document::Document().into_any(),
        Workspace::Transfer => pages::transfer::Transfer().into_any(),
        Workspace::PortalSettings => pages::portal_settings::PortalSettingsPage().into_any(),
    })
}

/// The page, or what to do when its part cannot be fetched.
fn shown(page: Result<AnyView, PartMissing>) -> AnyView {
    page.unwrap_or_else(|PartMissing| {
        view! {
            <section class="banner banner-warn" role="alert" data-testid="part-missing">
                <h1>"This page could not be loaded"</h1>
                <p>
                    "Its part of the app could not be fetched: the relay cannot be reached, or a new release replaced this one. Check the connection and reload the page."
                </p>
                <button type="button" on:click=|_| {
                    if let Some(window) = web_sys::window() {
                        let _ = window.location().reload();
                    }
                }>"Reload"</button>
            </section>
        }
        .into_any()
    })
}

/// A route of one part: a unit type per page, as `Lazy` needs.
macro_rules! lazy_page {
    ($route:ident, $part:ident :: $page:ident) => {
        #[doc = concat!("The `", stringify!($part), "` part's ", stringify!($page), " page.")]
        #[derive(Debug, Clone, Copy)]
        pub struct $route;

        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            #[cfg(sealpost_split)]
            async fn view(_this: Self) -> AnyView {
                shown(lazy_part!($part)($part::$page).await)
            }

            #[cfg(not(sealpost_split))]
            async fn view(_this: Self) -> AnyView {
                shown(lazy_part!($part)($part::$page))
            }
        }
    };
}

/// The part's function for a part's page type.
macro_rules! lazy_part {
    (Recipient) => {
        recipient
    };
    (Account) => {
        account
    };
    (Workspace) => {
        workspace
    };
}

lazy_page!(LinkPage, Recipient::Link);
lazy_page!(RequestLinkPage, Recipient::RequestLink);
lazy_page!(PortalPage, Recipient::Portal);
lazy_page!(SignupPage, Account::Signup);
lazy_page!(JoinPage, Account::Join);
lazy_page!(ConfirmPage, Account::Confirm);
lazy_page!(DashboardPage, Workspace::Dashboard);
lazy_page!(AuditPage, Workspace::Audit);
lazy_page!(MembersPage, Workspace::Members);
lazy_page!(ApiKeysPage, Workspace::ApiKeys);
lazy_page!(WebhooksPage, Workspace::Webhooks);
// Public, but it parses a large JSON document: with the workspace, not the sign-up pages.
lazy_page!(ApiReferencePage, Workspace::ApiReference);
lazy_page!(SendPage, Workspace::Send);
lazy_page!(SentPage, Workspace::Sent);
lazy_page!(PayoutsPage, Workspace::Payouts);
lazy_page!(RequestsPage, Workspace::Requests);
lazy_page!(RequestPage, Workspace::Request);
lazy_page!(InboxPage, Workspace::Inbox);
lazy_page!(DocumentPage, Workspace::Document);
lazy_page!(TransferPage, Workspace::Transfer);
lazy_page!(PortalSettingsPage, Workspace::PortalSettings);
