//! Browser end-to-end tests of the spine: the embedded app loads in real headless Chromium
//! under the strict CSP with no console errors, shows data fetched from the relay, falls back
//! to the app for client routes, runs independent sessions, and leaves no browser behind.

use tests::{Browser, TestRelay};

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
