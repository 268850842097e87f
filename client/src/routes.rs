//! Every route path of the app in one place, so links and the router cannot drift apart.
//! Pages with a parameter are built by the functions below: a recipient's link `/l/<id>`, a
//! provider's request link `/r/<id>`, a portal `/p/<handle>`, a request `/app/requests/<id>`
//! and a document `/app/documents/<id>`.

/// A page of the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Landing,
    Signup,
    Login,
    Dashboard,
    Audit,
    Members,
    ApiKeys,
    Webhooks,
    ApiReference,
    Join,
    Confirm,
    Send,
    Sent,
    Payouts,
    Requests,
    Inbox,
    Transfer,
    PortalSettings,
}

impl Page {
    /// The path the router serves this page at.
    pub fn path(self) -> &'static str {
        match self {
            Page::Landing => "/",
            Page::Signup => "/signup",
            Page::Login => "/login",
            Page::Dashboard => "/app",
            Page::Audit => "/app/audit",
            Page::Members => "/app/members",
            Page::ApiKeys => "/app/api-keys",
            Page::Webhooks => "/app/webhooks",
            Page::ApiReference => "/api-reference",
            Page::Join => "/join",
            Page::Confirm => "/confirm",
            Page::Send => "/app/send",
            Page::Sent => "/app/sent",
            Page::Payouts => "/app/payouts",
            Page::Requests => "/app/requests",
            Page::Inbox => "/app/inbox",
            Page::Transfer => "/app/transfer",
            Page::PortalSettings => "/app/portal",
        }
    }
}

/// A request's page.
pub fn request(id: shared::ids::Id) -> String {
    format!("/app/requests/{id}")
}

/// A document's page.
pub fn document(id: shared::ids::Id) -> String {
    format!("/app/documents/{id}")
}
