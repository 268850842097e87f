//! Deleting what the retention rules say must go: organisations closed longer ago than the
//! cut-off, with their users (and sessions), invitations, sends, the documents they hold and
//! their requests (records and ciphertext) and payout details. Deleted, not hidden. The audit log is append-only and keeps its entries; the
//! ledger and invoices (amounts and references, no content) stay as financial records.

use super::{OrgRecord, Store};
use shared::wire::OrgStatus;

const ORGS: &str = "orgs";
const ORG_HANDLES: &str = "org_handles";
const INVITES: &str = "invites";

impl Store {
    /// Purges organisations closed before `cutoff`; returns them.
    pub fn purge_closed_orgs(&self, cutoff: i64) -> anyhow::Result<Vec<OrgRecord>> {
        let due: Vec<OrgRecord> = self
            .orgs(Some(OrgStatus::Closed))?
            .into_iter()
            .filter(|org| org.status_changed_at < cutoff)
            .collect();
        let invites = self.tree(INVITES)?;
        for org in &due {
            for user in self.users_of_org(org.id)? {
                self.delete_user(None, user.id, |_| true)?;
            }
            for item in invites.iter() {
                let (key, bytes) = item?;
                let belongs = serde_json::from_slice::<super::InviteRecord>(&bytes)
                    .map(|invite| invite.org == org.id)
                    .unwrap_or(false);
                if belongs {
                    invites.remove(key)?;
                }
            }
            self.delete_api_keys_of_org(org.id)?;
            self.delete_webhooks_of_org(org.id)?;
            for send in self.sends()?.into_iter().filter(|send| send.org == org.id) {
                self.delete_folder_blocking(send.id)?;
                self.delete_send(send.id)?;
            }
            for document in self
                .documents()?
                .into_iter()
                .filter(|doc| doc.org == org.id)
            {
                self.delete_folder_blocking(document.id)?;
                self.delete_document(document.id)?;
            }
            for request in self.requests()?.into_iter().filter(|r| r.org == org.id) {
                self.delete_request(request.id)?;
            }
            self.delete_payout_details(org.id)?;
            self.tree(ORG_HANDLES)?.remove(org.handle.as_bytes())?;
            self.tree(ORGS)?.remove(org.id.as_bytes())?;
        }
        Ok(due)
    }
}
