//! The console's static files, built into the binary, and the seal
//! verification page (the WebAssembly verifier, read at start).

use std::sync::Arc;

use axum::extract::{Extension, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::page::Ctx;
use super::server::Shared;

const FILES: &[(&str, &str, &str)] = &[
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../../../web/console.css"),
    ),
    (
        "deposit.mjs",
        "text/javascript; charset=utf-8",
        include_str!("../../../web/deposit.mjs"),
    ),
    (
        "checkpoint.mjs",
        "text/javascript; charset=utf-8",
        include_str!("../../../web/checkpoint.mjs"),
    ),
    (
        "verifier.mjs",
        "text/javascript; charset=utf-8",
        include_str!("../../../web/verifier.mjs"),
    ),
    (
        "verify-page.mjs",
        "text/javascript; charset=utf-8",
        include_str!("../../../web/verify-page.mjs"),
    ),
];

const WASM: &str = "minutier_verifier_wasm.wasm";

/// `GET /assets/{name}`: public, like any site's style sheet.
pub async fn asset(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    let (kind, body): (&str, Vec<u8>) = if name == WASM {
        match &shared.verifier_wasm {
            Some(w) => ("application/wasm", w.as_ref().clone()),
            None => {
                return (StatusCode::NOT_FOUND, "the seal verifier is not installed")
                    .into_response()
            }
        }
    } else {
        match FILES.iter().find(|(n, _, _)| *n == name) {
            Some((_, kind, text)) => (kind, text.as_bytes().to_vec()),
            None => return (StatusCode::NOT_FOUND, "no such file").into_response(),
        }
    };
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(kind).expect("valid"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `GET /verify`: the verification page. Everything happens in the
/// browser; the appliance's key is offered, to be compared with the key
/// the auditor got from elsewhere.
pub async fn verify_page(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
) -> Response {
    let l = ctx.lang;
    let mut keys = vec![shared.service.verifier_key().to_string()];
    keys.extend(shared.service.previous_keys().iter().map(|k| k.to_string()));
    let body = html! {
        @if shared.verifier_wasm.is_none() {
            p.error role="alert" { (l.t("Le vérificateur n'est pas installé sur cet appareil.", "The verifier is not installed on this appliance.")) }
        }
        p { (l.t(
            "Choisissez un document, son scellement (fichier .tlog-proof) et la clé de vérification du registre. La vérification se fait entièrement dans votre navigateur : le document n'est envoyé nulle part.",
            "Pick a document, its seal (.tlog-proof file) and the log's verifier key. Verification runs entirely in your browser: the document is sent nowhere."
        )) }
        form #verification data-verifier=(format!("/assets/{WASM}")) {
            div.champ {
                label for="document" { (l.t("Document", "Document")) }
                input type="file" id="document" name="document" required;
            }
            div.champ {
                label for="scellement" { (l.t("Scellement (.tlog-proof)", "Seal (.tlog-proof)")) }
                input type="file" id="scellement" name="scellement" accept=".tlog-proof,text/plain" required;
            }
            div.champ {
                label for="cle" {
                    (l.t("Clé de vérification du registre (une par ligne après un changement de clé)", "The log's verifier key (one per line after a key rotation)"))
                    span.hint { " — " (l.t("celle de cet appareil est proposée : comparez-la à la clé publiée.", "this appliance's is offered: compare it with the published key.")) }
                }
                textarea id="cle" name="cle" rows="2" required spellcheck="false" { (keys.join("\n")) }
            }
            button type="submit" id="verifier" { (l.t("Vérifier", "Verify")) }
        }
        section #resultat aria-live="polite" hidden {
            h2 #verdict tabindex="-1" {}
            ol #controles {}
            dl #enregistrement {}
        }
        script type="module" src="/assets/verify-page.mjs" {}
    };
    ctx.page(l.t("Vérifier un scellement", "Verify a seal"), body)
}
