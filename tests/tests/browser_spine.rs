//! Browser end-to-end tests of the spine: the embedded app loads in real headless Chromium
//! under the strict CSP with no console errors, shows data fetched from the relay, falls back
//! to the app for client routes, runs independent sessions, and leaves no browser behind;
//! every page passes axe-core in light and dark mode; and the installed app starts with the
//! relay stopped in every engine.

use anyhow::Context as _;
use shared::wire::Role;
use tests::flows::{confirm_readers, log_in, visit};
use tests::native::{KeyPair, NativeClient};
use tests::{Browser, Session, TestRelay};

#[tokio::test(flavor = "multi_thread")]
async fn landing_page_loads_without_console_errors_and_shows_the_relay_health() -> anyhow::Result<()>
{
    let relay = TestRelay::start().await?;
    let browser = Browser::start().await?;
    let page = browser.session().await?;

    page.goto(&relay.url).await?;
    let heading = page.text("main h1").await?;
    assert!(
        heading.contains("Send sensitive documents"),
        "landing heading: {heading}"
    );
    let health = page.text("[data-testid=relay-health]").await?;
    assert_eq!(health, "Relay ok");
    let version = page.text("[data-testid=relay-version]").await?;
    assert!(
        version.contains(env!("CARGO_PKG_VERSION")),
        "version shown: {version}"
    );
    let bundle = page.text(".bundle-hash code").await?;
    assert_eq!(
        bundle,
        relay::client_sha256(),
        "the page shows the bundle hash the relay serves"
    );
    assert_eq!(
        bundle.len(),
        64,
        "a client is embedded in the relay under test"
    );

    let errors = page.console_errors().await?;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_route_falls_back_to_the_app_which_shows_its_not_found_page() -> anyhow::Result<()>
{
    let relay = TestRelay::start().await?;
    let browser = Browser::start().await?;
    let page = browser.session().await?;

    page.goto(&format!("{}/no/such/page", relay.url)).await?;
    assert_eq!(page.text("main h1").await?, "Page not found");
    page.find("main a[href='/']").await?.click().await?;
    let heading = page.text("main .hero h1").await?;
    assert!(heading.contains("Send sensitive documents"));
    assert!(page.console_errors().await?.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_strict_csp_blocks_inline_script_in_the_real_browser() -> anyhow::Result<()> {
    let relay = TestRelay::start().await?;
    let browser = Browser::start().await?;
    let page = browser.session().await?;
    page.goto(&relay.url).await?;
    page.find("[data-testid=relay-health]").await?;

    // An injected inline <script> must not run: this is what the CSP is for.
    let ran = page
        .eval(
            "const s = document.createElement('script');
             s.textContent = 'window.__injected = true;';
             document.body.appendChild(s);
             return window.__injected === true;",
        )
        .await?;
    assert_eq!(
        ran,
        serde_json::json!(false),
        "inline script must be blocked"
    );
    let errors = page.console_errors().await?;
    assert!(
        errors.iter().any(|e| e.contains("Content Security Policy")),
        "the blocked script is reported: {errors:#?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn two_sessions_share_no_storage() -> anyhow::Result<()> {
    let relay = TestRelay::start().await?;
    let browser = Browser::start().await?;
    let sender = browser.session().await?;
    let recipient = browser.session().await?;

    sender.goto(&relay.url).await?;
    recipient.goto(&relay.url).await?;
    sender
        .eval("localStorage.setItem('who', 'sender'); return null;")
        .await?;
    let seen = recipient
        .eval("return localStorage.getItem('who');")
        .await?;
    assert_eq!(
        seen,
        serde_json::Value::Null,
        "the recipient sees nothing of the sender"
    );
    let own = sender.eval("return localStorage.getItem('who');").await?;
    assert_eq!(own, serde_json::json!("sender"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_wasm_is_fetched_with_its_preload_and_integrity() -> anyhow::Result<()> {
    let relay = TestRelay::start().await?;
    let browser = Browser::start().await?;
    let page = browser.session().await?;
    page.goto(&relay.url).await?;
    page.find("[data-testid=relay-health]").await?;
    // Chromium warns a few seconds after the load event about a preload nothing used.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let messages = page.console_messages().await?;
    let about_preloads: Vec<&String> = messages
        .iter()
        .filter(|message| message.contains("preload") || message.contains("integrity"))
        .collect();
    assert!(about_preloads.is_empty(), "{about_preloads:#?}");
    // The wasm came through the preload, once: the fetch in boot.js matched it.
    let fetched = page
        .eval(
            "return performance.getEntriesByType('resource')
                 .filter((entry) => entry.name.endsWith('_bg.wasm') && entry.name.includes('/client-'))
                 .length;",
        )
        .await?;
    assert_eq!(fetched, serde_json::json!(1));
    Ok(())
}

/// The wasm files fetched so far by the page (not its service worker), by file name.
async fn fetched_wasm(page: &Session) -> anyhow::Result<Vec<String>> {
    let names = page
        .eval(
            "return performance.getEntriesByType('resource')
                 .map((entry) => new URL(entry.name).pathname.slice(1))
                 .filter((name) => name.endsWith('.wasm'));",
        )
        .await?;
    Ok(serde_json::from_value(names)?)
}

/// The app comes in parts (client/src/lazy.rs): a cold start of the landing page fetches the
/// main module only; a page of a part fetches that part (with what it shares) and no other;
/// and a part whose bytes are not the ones the loader names (its subresource integrity) is
/// refused: the page says it could not be loaded and the app goes on. In Chromium, Firefox and
/// WebKit.
#[tokio::test(flavor = "multi_thread")]
async fn the_parts_of_the_app_load_when_their_pages_open_and_only_as_released() -> anyhow::Result<()>
{
    use tests::Engine;
    use tests::proxy::TamperingProxy;
    let relay = TestRelay::start().await?;
    let loader = reqwest::get(format!("{}/__wasm_split.js", relay.url))
        .await?
        .error_for_status()?
        .text()
        .await?;
    let part = |name: &str| -> anyhow::Result<String> {
        let start = loader
            .find(&format!("./split_sealpost_{name}-"))
            .with_context(|| format!("the loader names the {name} part"))?;
        let file = &loader[start + 2..];
        let end = file.find('"').context("a quoted name")?;
        Ok(file[..end].to_owned())
    };
    let (account, workspace, recipient) =
        (part("account")?, part("workspace")?, part("recipient")?);
    for engine in Engine::selected(&[Engine::Chromium, Engine::Firefox, Engine::WebKit]) {
        let context = || format!("in {}", engine.name());
        let proxy = TamperingProxy::start(&relay.url).await?;
        let browser = Browser::of(engine).await?;
        let page = browser.session().await?;
        page.goto(&proxy.url).await?;
        page.find("[data-testid=relay-health]").await?;
        let fetched = fetched_wasm(&page).await?;
        assert!(
            fetched.iter().all(|name| name.starts_with("client-")),
            "{}: the landing page needs the main module only: {fetched:?}",
            engine.name()
        );

        page.click("header a[href='/signup']").await?;
        page.wait_for_text("main h1", "Create your organisation")
            .await
            .with_context(context)?;
        let fetched = fetched_wasm(&page).await?;
        assert!(fetched.contains(&account), "{}: {fetched:?}", engine.name());
        assert!(
            !fetched.contains(&workspace) && !fetched.contains(&recipient),
            "{}: only the account part: {fetched:?}",
            engine.name()
        );

        // Another browser, the same release but one part's bytes changed on the way.
        drop(page);
        drop(browser);
        let browser = Browser::of(engine).await?;
        let page = browser.session().await?;
        let mut changed = reqwest::get(format!("{}/{account}", relay.url))
            .await?
            .bytes()
            .await?
            .to_vec();
        // Still a valid module (one more custom section, "sealed", empty), so only the
        // integrity the loader names can refuse it.
        changed.extend_from_slice(&[0, 7, 6]);
        changed.extend_from_slice(b"sealed");
        proxy.serve_instead(&format!("/{account}"), changed);
        page.goto(&format!("{}/signup", proxy.url)).await?;
        let missing = page
            .text("[data-testid=part-missing]")
            .await
            .with_context(context)?;
        assert!(
            missing.contains("could not be loaded"),
            "{}: {missing}",
            engine.name()
        );
        // The app still runs: its own navigation works.
        page.click("header a[href='/login']").await?;
        page.wait_for_text("main h1", "Log in")
            .await
            .with_context(context)?;
    }
    Ok(())
}

/// After one visit, the app starts with the relay stopped (the shell worker serves it), says
/// what needs the relay, reports the bundle digest the relay would (computed by the worker
/// from the bytes it cached), and announces a bundle that differs from the one this browser
/// ran before. In Chromium, Firefox and WebKit.
#[tokio::test(flavor = "multi_thread")]
async fn the_installed_app_starts_with_the_relay_stopped_in_every_engine() -> anyhow::Result<()> {
    use tests::Engine;
    for engine in Engine::selected(&[Engine::Chromium, Engine::Firefox, Engine::WebKit]) {
        let relay = TestRelay::start().await?;
        let url = relay.url.clone();
        let browser = Browser::of(engine).await?;
        let page = browser.session().await?;
        page.goto(&url).await?;
        page.find("[data-testid=relay-health]").await?;
        wait_for_the_shell(&page)
            .await
            .with_context(|| format!("in {}", engine.name()))?;
        let before = "0".repeat(64);
        page.eval(&format!(
            "localStorage.setItem('sealpost.bundle', '{before}'); return null;"
        ))
        .await?;

        relay.stop().await?;
        page.goto(&format!("{url}/login")).await?;
        let heading = page.text("main h1").await?;
        assert_eq!(heading, "Log in", "in {}", engine.name());
        // A page of a lazily loaded part comes from the shell too.
        page.click("header a[href='/signup']").await?;
        page.wait_for_text("main h1", "Create your organisation")
            .await
            .with_context(|| format!("in {}", engine.name()))?;
        let notice = page.text("[data-testid=offline-notice]").await?;
        assert!(
            notice.contains("need the relay"),
            "in {}: {notice}",
            engine.name()
        );
        let controlled = page
            .eval("return navigator.serviceWorker.controller !== null;")
            .await?;
        assert_eq!(controlled, serde_json::json!(true), "in {}", engine.name());
        assert_eq!(
            page.text("[data-testid=bundle-previous]").await?,
            before,
            "in {}",
            engine.name()
        );
        assert_eq!(
            page.text("[data-testid=bundle-current]").await?,
            relay::client_sha256(),
            "in {}: the worker's digest of what it cached is the relay's",
            engine.name()
        );
        let remembered = page
            .eval("return localStorage.getItem('sealpost.bundle');")
            .await?;
        assert_eq!(remembered, serde_json::json!(relay::client_sha256()));
        // The API is never answered from the cache.
        let api = page
            .eval_async(
                "try { await fetch('/api/health'); return 'answered'; } catch { return 'failed'; }",
            )
            .await?;
        assert_eq!(api, serde_json::json!("failed"), "in {}", engine.name());
        eprintln!(
            "{}: the app started from its shell with the relay stopped",
            engine.name()
        );
    }
    Ok(())
}

/// A new release (here: what the relay serves changed behind a proxy, a file and the shell
/// worker that lists it) installs beside the running one: the open tab keeps the old files;
/// the next start runs the new bundle, says so with both digests (the new one computed by the
/// worker, as `.ci/client-digest` would), and the old version's cache is gone. In Chromium,
/// Firefox and WebKit.
#[tokio::test(flavor = "multi_thread")]
async fn a_new_release_takes_effect_at_the_next_start_and_is_announced() -> anyhow::Result<()> {
    use sha2::{Digest as _, Sha256};
    use tests::Engine;
    use tests::proxy::TamperingProxy;
    for engine in Engine::selected(&[Engine::Chromium, Engine::Firefox, Engine::WebKit]) {
        let relay = TestRelay::start().await?;
        let proxy = TamperingProxy::start(&relay.url).await?;
        let browser = Browser::of(engine).await?;
        let page = browser.session().await?;
        let context = || format!("in {}", engine.name());
        page.goto(&proxy.url).await?;
        page.find("[data-testid=relay-health]").await?;
        wait_for_the_shell(&page).await.with_context(context)?;
        // A start served by the shell remembers its bundle.
        page.goto(&format!("{}/login", proxy.url)).await?;
        page.find("main h1").await?;
        let old = relay::client_sha256().to_owned();
        wait_for_script(
            &page,
            &format!("return localStorage.getItem('sealpost.bundle') === '{old}';"),
        )
        .await
        .with_context(context)?;

        // The next release: another manifest, and the shell worker listing it.
        let http = reqwest::Client::new();
        let fetch = |path: &str| http.get(format!("{}{path}", relay.url)).send();
        let manifest = fetch("/manifest.webmanifest")
            .await?
            .bytes()
            .await?
            .to_vec();
        let worker = fetch("/shell-worker.js").await?.text().await?;
        let listed = fetch("/.well-known/sealpost-client.sha256")
            .await?
            .text()
            .await?;
        let mut new_manifest = manifest.clone();
        new_manifest.extend_from_slice(b"\n");
        let (old_hash, new_hash) = (
            hex::encode(Sha256::digest(&manifest)),
            hex::encode(Sha256::digest(&new_manifest)),
        );
        anyhow::ensure!(worker.contains(&old_hash), "the worker lists the manifest");
        let new_worker =
            worker
                .replace(&old_hash, &new_hash)
                .replacen("version: \"", "version: \"next-", 1);
        let mut files: Vec<(String, String)> = listed
            .lines()
            .filter_map(|line| line.split_once("  "))
            .map(|(hash, route)| {
                let hash = match route {
                    "/manifest.webmanifest" => new_hash.clone(),
                    "/shell-worker.js" => hex::encode(Sha256::digest(new_worker.as_bytes())),
                    _ => hash.to_owned(),
                };
                (route.to_owned(), hash)
            })
            .collect();
        files.sort();
        let mut digest = Sha256::new();
        for (route, hash) in &files {
            digest.update(route.as_bytes());
            digest.update(hex::decode(hash)?);
        }
        let new = hex::encode(digest.finalize());
        proxy.serve_instead("/manifest.webmanifest", new_manifest);
        proxy.serve_instead("/shell-worker.js", new_worker.into_bytes());

        // The running tab checks for an update, as every start does; it installs and waits.
        page.eval_async(
            "const registration = await navigator.serviceWorker.getRegistration('/');
             await registration.update();
             return null;",
        )
        .await?;
        wait_for_script(
            &page,
            "return navigator.serviceWorker.getRegistration('/').then((registration) =>
                 !!registration.waiting && registration.waiting.state === 'installed');",
        )
        .await
        .with_context(context)?;
        let served = page
            .eval_async("return (await fetch('/manifest.webmanifest')).text();")
            .await?;
        assert_eq!(
            served.as_str().map(str::as_bytes),
            Some(manifest.as_slice()),
            "{}: the open tab keeps the old release",
            engine.name()
        );

        // The next start: the old tab closes, a new one opens the app.
        let old_tab = page.client.window().await?;
        let new_tab = page.client.new_window(true).await?;
        page.client.close_window().await?;
        page.client.switch_to_window(new_tab.handle).await?;
        anyhow::ensure!(old_tab != page.client.window().await?);
        // The waiting version activates once no tab of the old one is left.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        page.goto(&proxy.url).await?;
        assert_eq!(
            page.text("[data-testid=bundle-previous]").await?,
            old,
            "{}",
            context()
        );
        assert_eq!(
            page.text("[data-testid=bundle-current]").await?,
            new,
            "{}",
            context()
        );
        let caches = page
            .eval_async(
                "return (await caches.keys()).filter((name) => name.startsWith('sealpost-shell-'));",
            )
            .await?;
        assert_eq!(
            caches.as_array().map(Vec::len),
            Some(1),
            "{}: {caches}",
            context()
        );
        eprintln!(
            "{}: a new release was announced at the next start",
            engine.name()
        );
    }
    Ok(())
}

/// Polls a script until it returns `true` (up to 30 s).
async fn wait_for_script(page: &Session, script: &str) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let value = page.eval_async(script).await?;
        if value == serde_json::json!(true) {
            return Ok(());
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "still {value} after 30 s: {script}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Waits until the shell worker is active and has cached the whole bundle.
async fn wait_for_the_shell(page: &Session) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let state = page
            .eval_async(
                "const registration = await navigator.serviceWorker.getRegistration('/');
                 if (!registration || !registration.active || registration.active.state !== 'activated') {
                   return 'not active';
                 }
                 for (const name of await caches.keys()) {
                   if (name.startsWith('sealpost-shell-') &&
                       await (await caches.open(name)).match('/__sealpost-shell.json')) {
                     return 'ready';
                   }
                 }
                 return 'not cached';",
            )
            .await?;
        if state == serde_json::json!("ready") {
            return Ok(());
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the shell worker is not ready: {state}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[test]
fn a_panicking_test_leaves_no_chromium_behind() {
    let (profile_tx, profile_rx) = std::sync::mpsc::channel();
    let outcome = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async move {
            let browser = Browser::start().await.expect("chromedriver starts");
            let page = browser.session().await.expect("chromium starts");
            let profile = page.profile().to_path_buf();
            assert!(
                !tests::processes_naming(&profile).is_empty(),
                "chromium runs with the profile while the session lives"
            );
            profile_tx.send(profile).expect("send");
            panic!("a test failing half-way");
        })
    })
    .join();
    assert!(outcome.is_err(), "the inner test panicked");
    let profile = profile_rx.recv().expect("the profile path was sent");
    assert!(
        tests::processes_naming(&profile).is_empty(),
        "no process names the profile after the panic"
    );
}

/// axe-core on `page` as it is now, in light and then dark mode; each serious or critical
/// violation is added to `found` under `label`.
async fn check_accessibility(
    page: &Session,
    label: &str,
    found: &mut Vec<String>,
) -> anyhow::Result<()> {
    for dark in [false, true] {
        page.prefer_dark(dark).await?;
        let scheme = if dark { "dark" } else { "light" };
        for violation in page.accessibility_violations().await? {
            found.push(format!("{label} ({scheme}): {violation}"));
        }
    }
    page.prefer_dark(false).await
}

/// Goes to `path` (a fresh load), waits for `heading` in the page's first heading and checks it.
async fn load_and_check(
    page: &Session,
    base: &str,
    path: &str,
    heading: &str,
    found: &mut Vec<String>,
) -> anyhow::Result<()> {
    page.goto(&format!("{base}{path}")).await?;
    page.wait_for_text("main h1, main [role=alert]", heading)
        .await
        .with_context(|| format!("loading {path}"))?;
    check_accessibility(page, path, found).await
}

/// Moves the logged-in app to `path` (keeping its unlocked key), waits for `heading` and checks.
async fn visit_and_check(
    page: &Session,
    path: &str,
    heading: &str,
    found: &mut Vec<String>,
) -> anyhow::Result<()> {
    visit(page, path).await?;
    page.wait_for_text("main h1", heading)
        .await
        .with_context(|| format!("visiting {path}"))?;
    // Let the page's data arrive (lists, forms) so that what is checked is what users see.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    check_accessibility(page, path, found).await
}

/// Every page of the app, public and signed in, with data in it (a Secure Send before and after
/// opening, a wrong one-time password, a portal and its drop, a request by link, a document),
/// in light and dark mode: axe-core (WCAG 2.1 A/AA and best practices) finds no serious or
/// critical violation.
#[tokio::test(flavor = "multi_thread")]
async fn every_page_passes_axe_core_in_light_and_dark_mode() -> anyhow::Result<()> {
    let relay = TestRelay::start().await?;
    let base = relay.url.clone();
    let owner =
        NativeClient::verified_owner_with(&base, relay.data_dir(), "lawfirm", KeyPair::Bob).await?;
    owner.invite("intake", Role::Member, KeyPair::Alice).await?;
    let sent = owner
        .send_files(&[b"accessible".to_vec(), b"twice".to_vec()], 2, None)
        .await?;
    let link = format!(
        "{base}/l/{}#{}",
        sent.id,
        sent.secret.to_fragment().as_str()
    );
    let browser = Browser::start().await?;
    let page = browser.session().await?;
    let mut found = Vec::new();

    // The checker can fail: a picture without a text alternative is caught.
    load_and_check(&page, &base, "/", "Send sensitive documents", &mut found).await?;
    page.eval(
        "const img = document.createElement('img'); img.id = 'no-alt'; \
         img.src = 'data:image/gif;base64,R0lGODlhAQABAAAAACw='; document.querySelector('main').append(img); return null;",
    )
    .await?;
    let planted = page.accessibility_violations().await?;
    assert!(
        planted
            .iter()
            .any(|v| v.contains("image-alt") && v.contains("#no-alt")),
        "axe-core missed a planted image without alt text: {planted:?}"
    );
    for (path, heading) in [
        ("/signup", "Create your organisation"),
        ("/login", "Log in"),
        ("/confirm", "Confirm your account"),
        ("/join", "invite link"),
        ("/no/such/page", "Page not found"),
    ] {
        load_and_check(&page, &base, path, heading, &mut found).await?;
    }

    // The recipient: the one-time password form, a wrong password, the opened bundle.
    page.goto(&link).await?;
    page.find("input[name=otp]").await?;
    check_accessibility(&page, "/l/ (password)", &mut found).await?;
    page.fill("input[name=otp]", "000000").await?;
    page.click("form button[type=submit]").await?;
    page.find("[data-testid=receive-error], [role=alert]")
        .await?;
    check_accessibility(&page, "/l/ (wrong password)", &mut found).await?;
    tests::flows::open_with(&page, &link, &sent.otp).await?;
    page.find("[data-testid=opened]").await?;
    check_accessibility(&page, "/l/ (opened)", &mut found).await?;

    // The firm's pages, with a portal, a drop through it and a request by link.
    let firm = browser.session().await?;
    log_in(&firm, &base, "lawfirm@example.com").await?;
    check_accessibility(&firm, "/app", &mut found).await?;
    visit_and_check(&firm, "/app/portal", "Portal and intake", &mut found).await?;
    firm.click("input[name=portal-enabled]").await?;
    firm.click("input[name=intake][value='intake@example.com']")
        .await?;
    firm.click("form.composer button[type=submit]").await?;
    firm.find("[data-testid=portal-saved]").await?;
    let portal_link = firm
        .find("[data-testid=portal-link]")
        .await?
        .prop("value")
        .await?
        .context("the portal link")?;
    check_accessibility(&firm, "/app/portal (enabled)", &mut found).await?;

    let folder = tempfile::tempdir()?;
    let scan = folder.path().join("scan.pdf");
    std::fs::write(&scan, b"%PDF-1.4 a scan")?;
    page.goto(&portal_link).await?;
    page.wait_for_text("main h1", "Send documents to").await?;
    check_accessibility(&page, "/p/", &mut found).await?;
    page.find("input[name=portal-files]")
        .await?
        .send_keys(&scan.display().to_string())
        .await?;
    page.fill("textarea[name=portal-note]", "A scan").await?;
    page.click("[data-testid=portal-form] button[type=submit]")
        .await?;
    page.find("[data-testid=portal-done]").await?;
    check_accessibility(&page, "/p/ (sent)", &mut found).await?;

    visit_and_check(&firm, "/app/requests", "Requests", &mut found).await?;
    firm.click("input[name=target-kind][value=link]").await?;
    firm.fill("textarea[name=description]", "Your signed form")
        .await?;
    firm.eval(&format!(
        "const input = document.querySelector('input[name=due]'); input.value = '{}'; \
         input.dispatchEvent(new Event('input', {{ bubbles: true }})); return null;",
        relay::retention::utc_date(tests::stripe::now() + 7 * 86_400)
    ))
    .await?;
    firm.click("form.composer button[type=submit]").await?;
    // The page stops before encrypting to readers it has not met (the portal's set-up met them).
    firm.find("[data-testid=request-link], [data-testid=key-warning]")
        .await?;
    if firm
        .eval("return !!document.querySelector('[data-testid=key-warning]');")
        .await?
        == serde_json::json!(true)
    {
        confirm_readers(&firm, &[]).await?;
    }
    let request_link = firm
        .find("[data-testid=request-link]")
        .await?
        .prop("value")
        .await?
        .context("the request link")?;
    check_accessibility(&firm, "/app/requests (made)", &mut found).await?;
    page.goto(&request_link).await?;
    page.wait_for_text("main h1", "Documents requested from you")
        .await?;
    check_accessibility(&page, "/r/", &mut found).await?;

    for (path, heading) in [
        ("/app/send", "Secure Send"),
        ("/app/sent", "Sent"),
        ("/app/inbox", "Inbox"),
        ("/app/transfer", "Chart transfer"),
        ("/app/members", "Members"),
        ("/app/audit", "Audit log"),
        ("/app/api-keys", "API keys"),
        ("/app/webhooks", "Webhooks"),
        ("/api-reference", "API reference"),
        ("/app/payouts", "Payments and payouts"),
        ("/app", "Welcome"),
    ] {
        visit_and_check(&firm, path, heading, &mut found).await?;
    }
    visit(&firm, "/app/requests").await?;
    firm.click("a[href^='/app/requests/']").await?;
    firm.wait_for_text("main h1", "Request").await?;
    check_accessibility(&firm, "/app/requests/:id", &mut found).await?;
    visit(&firm, "/app/inbox").await?;
    firm.click("a[href^='/app/documents/']").await?;
    firm.wait_for_text("main h1", "Document").await?;
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    check_accessibility(&firm, "/app/documents/:id", &mut found).await?;

    assert!(
        found.is_empty(),
        "axe-core found {} serious or critical violations:\n{}",
        found.len(),
        found.join("\n")
    );
    Ok(())
}
