//! The OpenAPI document at `/api/openapi.json`: it is OpenAPI 3.1, names every route of the
//! router (read from `api/mod.rs`, so a route added without its annotation fails here), gives
//! every operation its error shape and its authentication, and every `$ref` resolves to a
//! schema it carries. A request body the document describes is what the relay takes.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode, header};

use super::support::*;

/// Every (method, path) the API router serves, from the router's source.
fn routes_of_the_router() -> BTreeSet<(String, String)> {
    let source = include_str!("../../src/api/mod.rs");
    let start = source.find("Router::new()").expect("the router");
    let end = source.find(".fallback(not_found)").expect("its end");
    let mut routes = BTreeSet::new();
    for part in source[start..end].split(".route(").skip(1) {
        let path = part
            .trim_start()
            .strip_prefix('"')
            .and_then(|rest| rest.split('"').next())
            .expect("a route's path");
        for method in ["get", "post", "put", "delete", "patch"] {
            let call = format!("{method}(");
            let mut rest = part;
            while let Some(at) = rest.find(&call) {
                let before = rest[..at].chars().last();
                if before.is_none_or(|c| !c.is_alphanumeric() && c != '_') {
                    routes.insert((method.to_owned(), format!("/api{path}")));
                }
                rest = &rest[at + call.len()..];
            }
        }
    }
    routes
}

async fn document(relay: &Relay) -> serde_json::Value {
    let answer = relay
        .call(Method::GET, "/api/openapi.json", None, None)
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.headers()[header::CONTENT_TYPE], "application/json");
    json(answer).await
}

#[tokio::test]
async fn the_document_covers_every_route_with_its_errors_and_authentication() {
    let relay = relay();
    let document = document(&relay).await;
    assert_eq!(document["openapi"], "3.1.0");
    let routes = routes_of_the_router();
    assert!(
        routes.len() >= 68,
        "the router parse found {}",
        routes.len()
    );
    let paths = document["paths"].as_object().expect("paths");
    let mut documented = BTreeSet::new();
    let mut operation_ids = BTreeSet::new();
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("a path item") {
            documented.insert((method.clone(), path.clone()));
            let id = operation["operationId"].as_str().expect("an operation id");
            assert!(operation_ids.insert(id.to_owned()), "{id} is not unique");
            let responses = operation["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|code| code.starts_with('2')),
                "{method} {path} documents its success"
            );
            for (code, response) in responses {
                assert!(
                    response["description"].is_string(),
                    "{method} {path} {code} needs a description (OpenAPI requires one)"
                );
            }
            if path != "/api/openapi.json" {
                assert_eq!(
                    responses["4XX"]["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorResponse",
                    "{method} {path} documents the error shape"
                );
            }
            assert!(
                operation["security"].is_array(),
                "{method} {path} says how it is authenticated"
            );
            assert!(operation["tags"].is_array(), "{method} {path} has a tag");
        }
    }
    let missing: Vec<_> = routes.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "routes missing from the document: {missing:?}"
    );
    let stale: Vec<_> = documented.difference(&routes).collect();
    assert!(
        stale.is_empty(),
        "documented routes the router lacks: {stale:?}"
    );

    // Every reference resolves.
    let schemas = document["components"]["schemas"]
        .as_object()
        .expect("schemas");
    let text = document.to_string();
    let mut unresolved = Vec::new();
    for reference in text.split("\"$ref\":\"").skip(1) {
        let target = reference.split('"').next().unwrap_or_default();
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or(target);
        if !schemas.contains_key(name) {
            unresolved.push(target.to_owned());
        }
    }
    assert!(unresolved.is_empty(), "unresolved: {unresolved:?}");
    let schemes = document["components"]["securitySchemes"]
        .as_object()
        .expect("security schemes");
    for scheme in [
        "session",
        "api_key",
        "upload_token",
        "download_token",
        "request_link",
    ] {
        assert!(schemes.contains_key(scheme), "{scheme}");
    }
}

#[tokio::test]
async fn the_document_describes_what_the_relay_takes() {
    let relay = relay();
    let document = document(&relay).await;
    let schemas = &document["components"]["schemas"];
    // A send's creation: the body the API takes, field by field.
    let create = &document["paths"]["/api/sends"]["post"];
    assert_eq!(
        create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/CreateSendRequest"
    );
    let properties = schemas["CreateSendRequest"]["properties"]
        .as_object()
        .expect("properties");
    for field in [
        "files",
        "expires_in_seconds",
        "max_opens",
        "recipient_email",
        "invoice",
    ] {
        assert!(properties.contains_key(field), "{field}");
    }
    assert_eq!(
        create["security"],
        serde_json::json!([{ "session": [] }, { "api_key": [] }])
    );
    // Scopes are the wire's names.
    let scopes = schemas["ApiScope"]["enum"].as_array().expect("scopes");
    assert!(scopes.contains(&serde_json::json!("sends:write")));
    // Chunks are raw bytes.
    let chunk = &document["paths"]["/api/sends/{id}/files/{file}/chunks/{chunk}"]["put"];
    assert!(
        chunk["requestBody"]["content"]
            .get("application/octet-stream")
            .is_some()
    );
    let parameters: Vec<&str> = chunk["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|parameter| parameter["name"].as_str())
        .collect();
    assert_eq!(parameters, ["id", "file", "chunk"]);
    // Ids are base64url strings.
    assert_eq!(schemas["Id"]["type"], "string");
    // Public endpoints say so.
    assert_eq!(
        document["paths"]["/api/links/{id}/open"]["post"]["security"],
        serde_json::json!([{}])
    );
}
