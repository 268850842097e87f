//! The API reference for integrators, read from the relay's own OpenAPI document
//! (`/api/openapi.json`, generated from the code): every operation by tag with its method,
//! path, what it does, how it is authenticated and its request and answer types, plus the
//! document itself to download for client generators. Plain text from the document only: no
//! script or style comes from it (the page keeps the app's CSP).

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::Value;

/// One operation as the page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Operation {
    method: String,
    path: String,
    summary: String,
    auth: String,
    takes: String,
    answers: String,
}

/// The last segment of a `$ref`, or the content type when a body is not JSON.
fn type_of(content: &Value) -> String {
    let Some(content) = content.as_object() else {
        return String::new();
    };
    content
        .iter()
        .map(|(media, body)| match body["schema"]["$ref"].as_str() {
            Some(reference) => reference.rsplit('/').next().unwrap_or_default().to_owned(),
            None => match body["schema"]["items"]["$ref"].as_str() {
                Some(reference) => format!(
                    "list of {}",
                    reference.rsplit('/').next().unwrap_or_default()
                ),
                None => media.clone(),
            },
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The operations of `document`, grouped by tag in the document's order of tags.
fn grouped(document: &Value) -> Vec<(String, String, Vec<Operation>)> {
    let mut groups: Vec<(String, String, Vec<Operation>)> = document["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|tag| {
            (
                tag["name"].as_str().unwrap_or_default().to_owned(),
                tag["description"].as_str().unwrap_or_default().to_owned(),
                Vec::new(),
            )
        })
        .collect();
    for (path, item) in document["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            let tag = operation["tags"][0].as_str().unwrap_or_default();
            let auth = operation["security"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|requirement| {
                    requirement
                        .as_object()
                        .and_then(|names| names.keys().next().cloned())
                        .unwrap_or_else(|| "none".to_owned())
                })
                .collect::<Vec<_>>()
                .join(" or ");
            let answers = operation["responses"]
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(code, _)| code.starts_with('2'))
                .map(|(code, response)| {
                    let body = type_of(&response["content"]);
                    if body.is_empty() {
                        code.clone()
                    } else {
                        format!("{code} {body}")
                    }
                })
                .collect::<Vec<_>>()
                .join("; ");
            let found = Operation {
                method: method.to_uppercase(),
                path: path.clone(),
                summary: operation["summary"]
                    .as_str()
                    .unwrap_or_default()
                    .replace('\n', " "),
                auth,
                takes: type_of(&operation["requestBody"]["content"]),
                answers,
            };
            match groups.iter_mut().find(|(name, ..)| name == tag) {
                Some((.., operations)) => operations.push(found),
                None => groups.push((tag.to_owned(), String::new(), vec![found])),
            }
        }
    }
    groups.retain(|(.., operations)| !operations.is_empty());
    groups
}

#[component]
pub fn ApiReference() -> impl IntoView {
    let document = RwSignal::new(None::<Result<Value, String>>);
    spawn_local(async move {
        document.set(Some(
            crate::api::openapi_document()
                .await
                .map_err(|error| error.to_string()),
        ));
    });
    view! {
        <section class="api-reference">
            <h1>"API reference"</h1>
            <p>"Scripts and other systems use this relay's API with an organisation's API key ("<code>"Authorization: Bearer sp_…"</code>", made by an owner or admin under API keys). Every error is "<code>"{\"code\", \"message\"}"</code>". The relay only ever sees ciphertext: a client encrypts as PROTOCOL.md says. "
                <a href="/api/openapi.json" download="sealpost-openapi.json">"Download the OpenAPI 3.1 document"</a>" for a client generator."</p>
            {move || match document.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <p class="status-error" role="alert">{error}</p> }.into_any(),
                Some(Ok(document)) => view! {
                    <div data-testid="api-operations">
                        {grouped(&document).into_iter().map(|(tag, about, operations)| view! {
                            <h2>{tag}</h2>
                            <p class="muted">{about}</p>
                            <table>
                                <thead><tr><th>"Operation"</th><th>"What it does"</th><th>"Authentication"</th><th>"Takes"</th><th>"Answers"</th></tr></thead>
                                <tbody>
                                    {operations.into_iter().map(|operation| view! {
                                        <tr>
                                            <td><code>{operation.method}" "{operation.path}</code></td>
                                            <td>{operation.summary}</td>
                                            <td>{operation.auth}</td>
                                            <td>{operation.takes}</td>
                                            <td>{operation.answers}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }).collect_view()}
                    </div>
                }.into_any(),
            }}
        </section>
    }
}
