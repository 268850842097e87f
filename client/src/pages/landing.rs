//! The landing page: what Sealpost is and what it promises, in plain words.

use leptos::prelude::*;

#[component]
pub fn Landing() -> impl IntoView {
    view! {
        <section class="hero">
            <h1>"Send sensitive documents. Nobody else can read them."</h1>
            <p class="lead">
                "Sealpost replaces fax and e-mail attachments for law firms, clinics and insurers. "
                "Every document, file name and one-time password is encrypted in your browser; "
                "the relay stores ciphertext only, and its operator can never read a document."
            </p>
        </section>
        <section class="features" aria-label="What Sealpost does">
            <article>
                <h2>"Secure Send"</h2>
                <p>"A one-time link and a one-time password, expiry and open limits enforced by the relay."</p>
            </article>
            <article>
                <h2>"Paywall"</h2>
                <p>"Attach an invoice: nothing decryptable is released until it is paid."</p>
            </article>
            <article>
                <h2>"Requests and Portal"</h2>
                <p>"Ask for documents and receive them encrypted to your keys alone."</p>
            </article>
        </section>
    }
}
