//! The web console (PRODUCT §8): one HTML page, its stylesheet and its script, embedded in the
//! binary and served at `/`, `/console.css` and `/console.js` without a token (they hold no
//! data: every figure comes from `/api/v1/...`, called by the script with the token that the
//! person typed, kept in `sessionStorage`).
//!
//! Each answer carries a strict `Content-Security-Policy` (no inline script or style, nothing
//! from another origin, no framing), `X-Content-Type-Options: nosniff` and
//! `Referrer-Policy: no-referrer`. The script inserts every text that comes from the server with
//! `textContent`, never as HTML: backup, service and alert texts come from a share.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The page.
pub const INDEX_HTML: &str = include_str!("index.html");
/// Its stylesheet.
pub const CONSOLE_CSS: &str = include_str!("console.css");
/// Its script.
pub const CONSOLE_JS: &str = include_str!("console.js");

/// The policy sent with every console asset: only this origin's script, style and connections;
/// images from this origin or `data:` (the favicon); no framing, no `<base>`, forms post here.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_FRAME_OPTIONS, "DENY"),
            // the assets change with the binary: always ask, never serve a stale script
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `GET /`: the console's page.
pub(crate) async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

/// `GET /console.css`.
pub(crate) async fn css() -> Response {
    asset("text/css; charset=utf-8", CONSOLE_CSS)
}

/// `GET /console.js`.
pub(crate) async fn js() -> Response {
    asset("text/javascript; charset=utf-8", CONSOLE_JS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_holds_no_inline_script_or_style_and_loads_only_its_own_assets() {
        let html = INDEX_HTML.to_ascii_lowercase();
        assert!(!html.contains("style="), "a style attribute");
        assert!(!html.contains("<style"), "a style element");
        let mut scripts = 0;
        for (i, _) in html.match_indices("<script") {
            let end = i + html[i..].find('>').expect("a closed tag");
            assert!(html[end + 1..].starts_with("</script>"), "an inline script");
            assert!(
                html[i..end].contains("src=\"/console.js\""),
                "{}",
                &html[i..end]
            );
            scripts += 1;
        }
        assert_eq!(scripts, 1, "the page loads its one script");
        assert!(html.contains("href=\"/console.css\""));
        // every src and href is this origin's asset, a fragment or the data: favicon
        for attr in ["src=\"", "href=\""] {
            for (i, _) in html.match_indices(attr) {
                let v = &html[i + attr.len()..];
                let v = &v[..v.find('"').expect("a closed attribute")];
                assert!(
                    v.starts_with('#')
                        || v.starts_with("data:")
                        || (v.starts_with('/') && !v.starts_with("//")),
                    "{attr}{v}: not one of the console's own assets"
                );
            }
        }
    }

    #[test]
    fn the_page_has_the_labels_people_rely_on() {
        // PRODUCT §8, and what the browser check finds fields and buttons by
        for label in [
            ">Token<",
            ">Sign in<",
            ">Location URL<",
            ">Username<",
            ">Password<",
            ">Recipients<",
            ">Back up every (hours)<",
            ">Keep (days)<",
            ">Save<",
            ">Back up now<",
        ] {
            assert!(INDEX_HTML.contains(label), "the page has no {label}");
        }
    }

    #[test]
    fn the_script_never_writes_html() {
        for bad in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!CONSOLE_JS.contains(bad), "console.js uses {bad}");
        }
    }
}
