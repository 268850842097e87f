//! Every route path of the app in one place, so links and the router cannot drift apart.
//! Recipients' link pages live at `/l/<id>` (the router's parameter route).

/// A page of the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Landing,
    Signup,
    Login,
    Dashboard,
    Audit,
    Members,
    Join,
    Send,
    Sent,
    Payouts,
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
            Page::Join => "/join",
            Page::Send => "/app/send",
            Page::Sent => "/app/sent",
            Page::Payouts => "/app/payouts",
        }
    }
}
