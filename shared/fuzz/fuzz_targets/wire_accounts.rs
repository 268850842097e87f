//! The request bodies of the account endpoint groups (`/api/auth/*`, `/api/auth/mfa/*`,
//! `/api/org/*`, `/api/org/members/*`, `/api/org/invites`) never panic the decoder, and
//! whatever it accepts re-encodes to itself (see `common::round_trip`).
#![no_main]

mod common;

use common::round_trip;
use libfuzzer_sys::fuzz_target;
use shared::wire;

fuzz_target!(|data: &[u8]| {
    // auth
    round_trip::<wire::PreloginRequest>(data);
    round_trip::<wire::SignupRequest>(data);
    round_trip::<wire::NewOrganisation>(data);
    round_trip::<wire::AccountKeys>(data);
    round_trip::<wire::SignupConfirmRequest>(data);
    round_trip::<wire::InviteLookupRequest>(data);
    round_trip::<wire::LoginRequest>(data);
    round_trip::<wire::ChangePasswordRequest>(data);
    // mfa
    round_trip::<wire::MfaVerifyRequest>(data);
    round_trip::<wire::MfaConfirmRequest>(data);
    // org and members
    round_trip::<wire::OrgPolicy>(data);
    round_trip::<wire::TransferOwnershipRequest>(data);
    round_trip::<wire::CloseOrganisationRequest>(data);
    round_trip::<wire::CreateInviteRequest>(data);
    round_trip::<wire::ChangeRoleRequest>(data);
});
