//! The relay binary (`RELAY_BIN`), killed with SIGKILL at random moments while workers make acknowledged
//! writes of every kind (sign-up, operator verification, send finalize, correct opening, wrong
//! one-time password, mark paid, Stripe webhook payment, ledger payout, member removal,
//! password change). After each restart every write acknowledged before the kill must be
//! there, the audit chain must verify, and every link that is visible at all must open and
//! decrypt completely (no bundle is ever half there). Prints kills / writes / lost.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rand_core::RngCore as _;
use relay::admin::{AdminCommand, send};
use shared::crypto::OsRng;
use shared::ids::Id;
use shared::money::Currency;
use shared::wire::{self, InvoiceStatus, OrgStatus, Role};
use tests::RelayProcess;
use tests::native::{KeyPair, NativeClient, OtpFixture, SentLink, account_keys};
use tests::stripe::{SECRET_KEY, StripeStandIn, WEBHOOK_SECRET};

/// What a worker was told had happened.
#[derive(Debug, Clone)]
enum Ack {
    SignedUp { email: String, handle: String },
    Verified { handle: String },
    Finalized { link: Arc<SentLink> },
    Opened { id: Id },
    WrongTry { id: Id, attempts_left: u32 },
    Destroyed { id: Id },
    Paid { id: Id },
    PaidOut { reference: String },
    Removed { email: String },
    PasswordChanged { salt: [u8; 16] },
}

/// Everything the workers share within one life of the relay.
struct World {
    url: String,
    data_dir: std::path::PathBuf,
    owner: NativeClient,
    keys: [wire::AccountKeys; 2],
    otp: OtpFixture,
    stripe: StripeStandIn,
    acks: Mutex<Vec<Ack>>,
    /// Finalizes sent (acknowledged or not): visible ones must be whole.
    attempted: Mutex<Vec<Arc<SentLink>>>,
    /// Links acknowledged and not yet used by the opening workers.
    fresh: Mutex<Vec<Arc<SentLink>>>,
    /// Sign-ups acknowledged and not yet verified.
    pending: Mutex<Vec<String>>,
    /// The member who changes passwords.
    changer: Mutex<Changer>,
    counter: std::sync::atomic::AtomicU64,
    /// Whether the workers should go on (cleared when the relay is about to be killed).
    alive: std::sync::atomic::AtomicBool,
}

impl World {
    fn ack(&self, ack: Ack) {
        if let Ok(mut acks) = self.acks.lock() {
            acks.push(ack);
        }
    }

    fn next(&self) -> u64 {
        self.counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    fn client(&self, client: &NativeClient) -> NativeClient {
        let mut client = client.clone();
        client.base.clone_from(&self.url);
        client
    }
}

/// The member who changes passwords: their client, which key set is current, and whether a
/// change was asked for after the last one acknowledged (it may or may not have taken).
struct Changer {
    client: NativeClient,
    current: usize,
    in_flight: bool,
}

const CHANGER_EMAIL: &str = "changer@example.com";
const PASSWORDS: [&str; 2] = ["crash password one", "crash password two"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_the_relay_loses_no_acknowledged_write() -> anyhow::Result<()> {
    let kills_wanted: usize = std::env::var("CRASH_KILLS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(200);
    let data = tempfile::tempdir()?;
    let stripe = StripeStandIn::start().await?;
    let stripe_url = stripe.url.clone();
    let env: Vec<(&str, String)> = vec![
        ("SEALPOST_STRIPE__SECRET_KEY", SECRET_KEY.to_owned()),
        ("SEALPOST_STRIPE__WEBHOOK_SECRET", WEBHOOK_SECRET.to_owned()),
        ("SEALPOST_STRIPE__API_BASE", stripe_url),
        // Card payments need the relay's own address (the port changes with every start; the
        // payer's return address is not part of this test).
        ("SEALPOST_PUBLIC_URL", "http://127.0.0.1".to_owned()),
        // This test is about durability: lift the per-address limits its one address would
        // meet after a few hundred sign-ups.
        (
            "SEALPOST_RATE_LIMITS__SIGNUP__PER_HOUR",
            "1000000".to_owned(),
        ),
        ("SEALPOST_RATE_LIMITS__SIGNUP__BURST", "100000".to_owned()),
        (
            "SEALPOST_RATE_LIMITS__LOGIN__PER_HOUR",
            "1000000".to_owned(),
        ),
        ("SEALPOST_RATE_LIMITS__LOGIN__BURST", "100000".to_owned()),
        (
            "SEALPOST_RATE_LIMITS__INVITATION__PER_HOUR",
            "1000000".to_owned(),
        ),
        (
            "SEALPOST_RATE_LIMITS__INVITATION__BURST",
            "100000".to_owned(),
        ),
        // Wrong one-time passwords are one of the writes: keep the one address unblocked.
        (
            "SEALPOST_BRUTE_FORCE__IP_MAX_FAILURES",
            "1000000000".to_owned(),
        ),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let keys = {
        let (a, b) = tokio::task::spawn_blocking(|| {
            Ok::<_, anyhow::Error>((
                account_keys(PASSWORDS[0], KeyPair::Alice)?,
                account_keys(PASSWORDS[1], KeyPair::Alice)?,
            ))
        })
        .await??;
        [a, b]
    };
    let otp = tokio::task::spawn_blocking(|| OtpFixture::new("crash-otp-7")).await??;

    let mut relay = RelayProcess::start(data.path(), &env)?;
    let owner = NativeClient::verified_owner(&relay.url, data.path(), "crash-firm").await?;
    let changer = owner
        .invite("changer", Role::Member, KeyPair::Alice)
        .await?;
    // The changer's password is PASSWORD; bring it to key set 0 so the two sets alternate.
    let first = wire::ChangePasswordRequest {
        current_auth_key: changer
            .auth_key(CHANGER_EMAIL, tests::PASSWORD)
            .await?
            .into(),
        keys: keys[0].clone(),
    };
    changer
        .post("/api/auth/password", Some(&first))
        .await?
        .ok::<wire::SessionResponse>()?;
    stripe.deliver_to(&relay.url);

    let world = Arc::new(World {
        url: relay.url.clone(),
        data_dir: data.path().to_path_buf(),
        owner,
        keys,
        otp,
        stripe,
        acks: Mutex::new(Vec::new()),
        attempted: Mutex::new(Vec::new()),
        fresh: Mutex::new(Vec::new()),
        pending: Mutex::new(Vec::new()),
        changer: Mutex::new(Changer {
            client: changer,
            current: 0,
            in_flight: false,
        }),
        counter: std::sync::atomic::AtomicU64::new(0),
        alive: std::sync::atomic::AtomicBool::new(true),
    });
    let mut world = world;

    let started = Instant::now();
    let (mut kills, mut writes, mut lost) = (0_usize, 0_usize, Vec::<String>::new());
    let mut kinds = std::collections::BTreeMap::<&'static str, usize>::new();
    while kills < kills_wanted {
        let life = Duration::from_millis(30 + OsRng.next_u64() % 570);
        world
            .alive
            .store(true, std::sync::atomic::Ordering::Release);
        let workers = spawn_workers(&world);
        tokio::time::sleep(life).await;
        relay.kill()?;
        world
            .alive
            .store(false, std::sync::atomic::Ordering::Release);
        kills += 1;
        for worker in workers {
            let _ = worker.await;
        }
        relay = RelayProcess::start(data.path(), &env)?;
        let this = Arc::get_mut(&mut world).context("the workers let go of the world")?;
        this.url = relay.url.clone();
        this.stripe.deliver_to(&relay.url);
        let acks = std::mem::take(
            this.acks
                .get_mut()
                .map_err(|_| anyhow::anyhow!("poisoned"))?,
        );
        writes += acks.len();
        for ack in &acks {
            *kinds.entry(kind(ack)).or_default() += 1;
        }
        lost.extend(check(&world, &acks).await?);
        lost.extend(check_attempted(&world).await?);
        remember(&world, &acks)?;
        if !lost.is_empty() {
            break;
        }
    }
    println!(
        "crash test: {kills} kills, {writes} acknowledged writes, {} lost, in {:.0} s; writes by kind: {kinds:?}",
        lost.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(lost.is_empty(), "lost after a kill: {lost:#?}");
    assert!(
        writes >= kills,
        "the workers made too few writes to prove anything"
    );
    relay.terminate(Duration::from_secs(60))?;
    Ok(())
}

fn kind(ack: &Ack) -> &'static str {
    match ack {
        Ack::SignedUp { .. } => "sign-up",
        Ack::Verified { .. } => "verify",
        Ack::Finalized { .. } => "finalize",
        Ack::Opened { .. } => "open",
        Ack::WrongTry { .. } | Ack::Destroyed { .. } => "wrong otp",
        Ack::Paid { .. } => "paid (by hand or webhook)",
        Ack::PaidOut { .. } => "payout",
        Ack::Removed { .. } => "member removal",
        Ack::PasswordChanged { .. } => "password change",
    }
}

/// Starts one worker per kind of write; each stops at its first error (the relay died).
fn spawn_workers(world: &Arc<World>) -> Vec<tokio::task::JoinHandle<()>> {
    type Op = fn(Arc<World>) -> futures::future::BoxFuture<'static, anyhow::Result<()>>;
    let ops: [Op; 10] = [
        |world| Box::pin(sign_up(world)),
        |world| Box::pin(verify(world)),
        |world| Box::pin(finalize(world)),
        |world| Box::pin(open(world)),
        |world| Box::pin(wrong_otp(world)),
        |world| Box::pin(mark_paid(world)),
        |world| Box::pin(webhook_payment(world)),
        |world| Box::pin(payout(world)),
        |world| Box::pin(remove_member(world)),
        |world| Box::pin(change_password(world)),
    ];
    ops.into_iter()
        .map(|op| {
            let world = world.clone();
            tokio::spawn(async move {
                while world.alive.load(std::sync::atomic::Ordering::Acquire) {
                    if op(world.clone()).await.is_err() {
                        break;
                    }
                }
            })
        })
        .collect()
}

async fn sign_up(world: Arc<World>) -> anyhow::Result<()> {
    let n = world.next();
    let handle = format!("crash-s{n}");
    let email = format!("{handle}@example.com");
    let client = NativeClient::sign_up(&world.url, &email, &handle, &world.keys[0], KeyPair::Alice)
        .await?
        .map_err(|answer| anyhow::anyhow!("sign-up refused: {answer:?}"))?;
    drop(client);
    world.ack(Ack::SignedUp { email, handle });
    Ok(())
}

async fn verify(world: Arc<World>) -> anyhow::Result<()> {
    let Some(handle) = world
        .pending
        .lock()
        .ok()
        .and_then(|mut pending| pending.pop())
    else {
        tokio::time::sleep(Duration::from_millis(20)).await;
        return Ok(());
    };
    let answer = send(
        &world.data_dir,
        &AdminCommand::OrgVerify {
            handle: handle.clone(),
        },
    )
    .await?
    .context("the relay is gone")?;
    anyhow::ensure!(answer.ok, "{}", answer.message);
    world.ack(Ack::Verified { handle });
    Ok(())
}

/// Creates, uploads and finalizes a two-open send (with `invoice`); the link once finalized.
async fn new_link(
    world: &World,
    invoice: Option<wire::InvoiceTerms>,
) -> anyhow::Result<Arc<SentLink>> {
    let owner = world.client(&world.owner);
    let n = world.next();
    let files = vec![
        format!("crash file {n}").into_bytes(),
        vec![u8::try_from(n % 251).unwrap_or(0); 1 + (n as usize % 3) * 100_000],
    ];
    let link = owner
        .send_files_tracked(&files, 2, invoice, &world.otp, |link| {
            if let Ok(mut attempted) = world.attempted.lock() {
                attempted.push(link);
            }
        })
        .await?;
    Ok(link)
}

async fn finalize(world: Arc<World>) -> anyhow::Result<()> {
    let link = new_link(&world, None).await?;
    world.ack(Ack::Finalized { link });
    Ok(())
}

async fn open(world: Arc<World>) -> anyhow::Result<()> {
    let Some(link) = world.fresh.lock().ok().and_then(|mut fresh| fresh.pop()) else {
        tokio::time::sleep(Duration::from_millis(20)).await;
        return Ok(());
    };
    let answer = NativeClient::anonymous(&world.url)
        .open_with_otp(&link, &world.otp, false)
        .await?;
    anyhow::ensure!(answer.status == 200, "{answer:?}");
    world.ack(Ack::Opened { id: link.id });
    Ok(())
}

async fn wrong_otp(world: Arc<World>) -> anyhow::Result<()> {
    let Some(link) = world.fresh.lock().ok().and_then(|mut fresh| fresh.pop()) else {
        tokio::time::sleep(Duration::from_millis(20)).await;
        return Ok(());
    };
    for _ in 0..5 {
        let answer = NativeClient::anonymous(&world.url)
            .open_with_otp(&link, &world.otp, true)
            .await?;
        match (answer.status, answer.code()) {
            (403, "wrong_otp") => world.ack(Ack::WrongTry {
                id: link.id,
                attempts_left: answer.body["message"].as_str().map_or(0, |m| {
                    m.split_whitespace()
                        .find_map(|word| word.parse::<u32>().ok())
                        .unwrap_or(0)
                }),
            }),
            (410, "destroyed") => {
                world.ack(Ack::Destroyed { id: link.id });
                return Ok(());
            }
            (429, _) => return Ok(()),
            _ => anyhow::bail!("unexpected {answer:?}"),
        }
    }
    Ok(())
}

fn terms() -> anyhow::Result<wire::InvoiceTerms> {
    Ok(wire::InvoiceTerms {
        amount_minor: 1250,
        currency: Currency::parse("EUR")?,
        description: "crash test copy fee".to_owned(),
    })
}

async fn invoice_of(world: &World, link: &SentLink) -> anyhow::Result<wire::InvoiceView> {
    let info: wire::LinkInfo = NativeClient::anonymous(&world.url)
        .get(&format!("/api/links/{}", link.id))
        .await?
        .ok()?;
    info.invoice.context("an invoice")
}

async fn mark_paid(world: Arc<World>) -> anyhow::Result<()> {
    let link = new_link(&world, Some(terms()?)).await?;
    let invoice = invoice_of(&world, &link).await?;
    let owner = world.client(&world.owner);
    owner
        .post(
            &format!("/api/invoices/{}/mark-paid", invoice.id),
            Some(&wire::MarkPaidRequest {
                reference: format!("cheque {}", world.next()),
            }),
        )
        .await?
        .ok::<wire::InvoiceView>()?;
    world.ack(Ack::Paid { id: link.id });
    Ok(())
}

async fn webhook_payment(world: Arc<World>) -> anyhow::Result<()> {
    let link = new_link(&world, Some(terms()?)).await?;
    let invoice = invoice_of(&world, &link).await?;
    let checkout: wire::CheckoutResponse = NativeClient::anonymous(&world.url)
        .post::<()>(&format!("/api/invoices/{}/checkout", invoice.id), None)
        .await?
        .ok()?;
    let session = checkout
        .url
        .rsplit('/')
        .next()
        .context("a session id")?
        .to_owned();
    let event = world.stripe.pay(&session, false)?;
    let delivery = world.stripe.deliver(&event).await?;
    anyhow::ensure!(delivery.status == 200, "{delivery:?}");
    world.ack(Ack::Paid { id: link.id });
    Ok(())
}

async fn payout(world: Arc<World>) -> anyhow::Result<()> {
    let reference = format!("crash payout {}", world.next());
    let owner = world.client(&world.owner);
    owner
        .post(
            "/api/org/payouts",
            Some(&wire::RecordPayoutRequest {
                amount_minor: 100,
                currency: Currency::parse("EUR")?,
                reference: reference.clone(),
            }),
        )
        .await?
        .ok::<wire::LedgerEntryView>()?;
    world.ack(Ack::PaidOut { reference });
    Ok(())
}

async fn remove_member(world: Arc<World>) -> anyhow::Result<()> {
    let owner = world.client(&world.owner);
    let name = format!("leaver{}", world.next());
    let member = owner
        .invite_with_keys(&name, Role::Member, KeyPair::Alice, &world.keys[0])
        .await?;
    let removed = tests::native::send(owner.raw(
        reqwest::Method::DELETE,
        &format!("/api/org/members/{}", member.id()?),
    ))
    .await?;
    anyhow::ensure!(removed.status == 204, "{removed:?}");
    world.ack(Ack::Removed {
        email: format!("{name}@example.com"),
    });
    Ok(())
}

async fn change_password(world: Arc<World>) -> anyhow::Result<()> {
    let (client, current) = {
        let mut changer = world
            .changer
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?;
        changer.in_flight = true;
        (changer.client.clone(), changer.current)
    };
    let client = world.client(&client);
    let next = 1 - current;
    let body = wire::ChangePasswordRequest {
        current_auth_key: world.keys[current].auth_key.clone(),
        keys: world.keys[next].clone(),
    };
    client
        .post("/api/auth/password", Some(&body))
        .await?
        .ok::<wire::SessionResponse>()?;
    if let Ok(mut changer) = world.changer.lock() {
        changer.current = next;
        changer.in_flight = false;
    }
    world.ack(Ack::PasswordChanged {
        salt: world.keys[next].salt,
    });
    Ok(())
}

/// Checks each acknowledged write against the restarted relay; what was lost.
async fn check(world: &World, acks: &[Ack]) -> anyhow::Result<Vec<String>> {
    let anyone = NativeClient::anonymous(&world.url);
    let owner = world.client(&world.owner);
    let mut lost = Vec::new();
    let verified: Vec<String> = orgs(world, OrgStatus::Verified).await?;
    let members: Vec<wire::MemberView> = owner.get("/api/org/members").await?.ok()?;
    let ledger: wire::PayoutReport = owner.get("/api/org/payouts").await?.ok()?;
    for ack in acks {
        let kept = match ack {
            Ack::SignedUp { email, .. } => anyone.prelogin_salt(email).await? == world.keys[0].salt,
            Ack::Verified { handle } => verified.contains(handle),
            Ack::Finalized { link } => {
                let info = anyone.get(&format!("/api/links/{}", link.id)).await?;
                info.status == 200 || info.code() == "used_up" || info.code() == "destroyed"
            }
            Ack::Opened { id } => match facts(&anyone, *id).await? {
                Some(info) => info.opens_left <= 1,
                None => true,
            },
            Ack::WrongTry { id, attempts_left } => match facts(&anyone, *id).await? {
                Some(info) => info.attempts_left <= *attempts_left,
                None => true,
            },
            Ack::Destroyed { id } => {
                anyone.get(&format!("/api/links/{id}")).await?.code() == "destroyed"
            }
            Ack::Paid { id } => match facts(&anyone, *id).await? {
                Some(info) => info
                    .invoice
                    .is_some_and(|invoice| invoice.status == InvoiceStatus::Paid),
                None => false,
            },
            Ack::PaidOut { reference } => ledger
                .ledger
                .iter()
                .any(|entry| entry.reference.as_deref() == Some(reference.as_str())),
            Ack::Removed { email } => {
                !members.iter().any(|member| &member.email == email)
                    && anyone.prelogin_salt(email).await? != world.keys[0].salt
            }
            Ack::PasswordChanged { .. } => true,
        };
        if !kept {
            lost.push(format!("{ack:?}"));
        }
    }
    // The last password change acknowledged must be the changer's password now, unless
    // another one was asked for after it (which may or may not have taken).
    let now = anyone.prelogin_salt(CHANGER_EMAIL).await?;
    let last = acks.iter().rev().find_map(|ack| match ack {
        Ack::PasswordChanged { salt } => Some(*salt),
        _ => None,
    });
    {
        let mut changer = world
            .changer
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?;
        if let Some(salt) = last
            && !changer.in_flight
            && now != salt
        {
            lost.push("the last acknowledged password change".to_owned());
        }
        if let Some(current) = world.keys.iter().position(|keys| keys.salt == now) {
            changer.current = current;
        } else {
            lost.push("the changer's password is neither of the two".to_owned());
        }
        changer.in_flight = false;
    }
    let audit = send(&world.data_dir, &AdminCommand::AuditVerify { since: None })
        .await?
        .context("the relay answers on its admin socket")?;
    if !audit.ok {
        lost.push(format!("the audit chain: {}", audit.message));
    }
    Ok(lost)
}

/// Every finalize sent, acknowledged or not: if its link is visible, it opens and every file
/// downloads and decrypts.
async fn check_attempted(world: &World) -> anyhow::Result<Vec<String>> {
    let attempted: Vec<Arc<SentLink>> = world
        .attempted
        .lock()
        .map(|mut attempted| std::mem::take(&mut *attempted))
        .map_err(|_| anyhow::anyhow!("poisoned"))?;
    let anyone = NativeClient::anonymous(&world.url);
    let mut broken = Vec::new();
    for link in attempted {
        let info = anyone.get(&format!("/api/links/{}", link.id)).await?;
        if info.status != 200 {
            continue;
        }
        let info: wire::LinkInfo = info.ok()?;
        if info
            .invoice
            .is_some_and(|invoice| invoice.status != InvoiceStatus::Paid)
            || info.opens_left == 0
        {
            continue;
        }
        match anyone.open_link_with_otp(&link, &world.otp).await {
            Ok(Ok(files)) if files == link.plaintexts => {}
            Ok(Ok(_)) => broken.push(format!("{}: the files differ", link.id)),
            Ok(Err(answer)) => broken.push(format!("{}: visible but {answer:?}", link.id)),
            Err(error) => broken.push(format!("{}: visible but {error:#}", link.id)),
        }
    }
    Ok(broken)
}

/// Keeps what the next lives of the relay work on: verified-to-be links for the openers,
/// sign-ups for the operator.
fn remember(world: &World, acks: &[Ack]) -> anyhow::Result<()> {
    let poisoned = || anyhow::anyhow!("poisoned");
    let mut fresh = world.fresh.lock().map_err(|_| poisoned())?;
    let mut pending = world.pending.lock().map_err(|_| poisoned())?;
    for ack in acks {
        match ack {
            Ack::Finalized { link } => fresh.push(link.clone()),
            Ack::SignedUp { handle, .. } => pending.push(handle.clone()),
            _ => {}
        }
    }
    Ok(())
}

async fn facts(anyone: &NativeClient, id: Id) -> anyhow::Result<Option<wire::LinkInfo>> {
    let answer = anyone.get(&format!("/api/links/{id}")).await?;
    if answer.status == 200 {
        Ok(Some(answer.ok()?))
    } else {
        Ok(None)
    }
}

async fn orgs(world: &World, status: OrgStatus) -> anyhow::Result<Vec<String>> {
    let answer = send(
        &world.data_dir,
        &AdminCommand::OrgsList {
            status: Some(status),
        },
    )
    .await?
    .context("the relay answers on its admin socket")?;
    Ok(answer
        .data
        .as_array()
        .map(|orgs| {
            orgs.iter()
                .filter_map(|org| org["handle"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}
