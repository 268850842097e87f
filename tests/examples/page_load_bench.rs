//! The page-load measurement of issue 15 (run it with `.ci/bench-page-load`): the landing
//! page's first contentful paint in headless Chromium against the release relay binary on
//! loopback, cold (a fresh profile: nothing cached, no service worker) and then started again
//! from the app-shell worker's cache, `--runs` times each (default 7), with the median and the
//! range, and the bytes the cold load moved. Then a page of a lazily loaded part (`/signup`,
//! the account part: client/src/lazy.rs), cold: the time until its heading shows, beside the
//! same for the landing page, so the cost of fetching a part after the main module shows.
//! Numbers go in issue notes, not in assertions.

use tests::{Browser, RelayProcess};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let runs: usize = std::env::args()
        .skip_while(|arg| arg != "--runs")
        .nth(1)
        .map_or(Ok(7), |runs| runs.parse())?;
    let data_dir = tempfile::tempdir()?;
    let relay = RelayProcess::start(data_dir.path(), &[])?;
    let browser = Browser::start().await?;
    let (mut cold, mut warm, mut moved) = (Vec::new(), Vec::new(), 0_u64);
    let (mut landing, mut signup) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let page = browser.session().await?;
        page.goto(&relay.url).await?;
        cold.push(first_contentful_paint(&page).await?);
        moved = page
            .eval(
                "return performance.getEntriesByType('resource')
                     .concat(performance.getEntriesByType('navigation'))
                     .reduce((sum, entry) => sum + (entry.transferSize || 0), 0);",
            )
            .await?
            .as_u64()
            .unwrap_or_default();
        page.eval_async(
            "for (;;) {
               const registration = await navigator.serviceWorker.getRegistration('/');
               if (registration && registration.active && registration.active.state === 'activated') {
                 return null;
               }
               await new Promise((resolve) => setTimeout(resolve, 50));
             }",
        )
        .await?;
        page.goto(&format!("{}/", relay.url)).await?;
        warm.push(first_contentful_paint(&page).await?);

        let page = browser.session().await?;
        page.goto(&relay.url).await?;
        landing.push(heading_shown(&page, "Send sensitive documents").await?);
        let page = browser.session().await?;
        page.goto(&format!("{}/signup", relay.url)).await?;
        signup.push(heading_shown(&page, "Create your organisation").await?);
    }
    println!(
        "Landing page, first contentful paint, headless Chromium, release relay on loopback, {runs} runs"
    );
    println!("  cold (fresh profile)   {}", summary(&mut cold));
    println!("  from the shell worker  {}", summary(&mut warm));
    println!(
        "  bytes moved cold       {:.0} KB (transfer sizes, compressed as served)",
        moved as f64 / 1000.0
    );
    println!("Cold (fresh profile), until the page's heading shows");
    println!("  landing (main module)  {}", summary(&mut landing));
    println!("  /signup (a part)       {}", summary(&mut signup));
    Ok(())
}

async fn first_contentful_paint(page: &tests::Session) -> anyhow::Result<f64> {
    let value = page
        .eval_async(
            "for (let i = 0; i < 200; i++) {
               const paint = performance.getEntriesByName('first-contentful-paint')[0];
               if (paint) { return paint.startTime; }
               await new Promise((resolve) => setTimeout(resolve, 25));
             }
             return null;",
        )
        .await?;
    value
        .as_f64()
        .ok_or_else(|| anyhow::anyhow!("no first-contentful-paint entry: {value}"))
}

/// Milliseconds from the navigation's start until `main h1` contains `text`.
async fn heading_shown(page: &tests::Session, text: &str) -> anyhow::Result<f64> {
    let value = page
        .eval_async(&format!(
            "for (let i = 0; i < 2000; i++) {{
               const heading = document.querySelector('main h1');
               if (heading && heading.textContent.includes({text:?})) {{ return performance.now(); }}
               await new Promise((resolve) => setTimeout(resolve, 5));
             }}
             return null;"
        ))
        .await?;
    value
        .as_f64()
        .ok_or_else(|| anyhow::anyhow!("the heading {text:?} did not show: {value}"))
}

fn summary(values: &mut [f64]) -> String {
    values.sort_by(f64::total_cmp);
    let median = values[values.len() / 2];
    format!(
        "median {median:.0} ms (from {:.0} to {:.0} ms)",
        values[0],
        values[values.len() - 1]
    )
}
