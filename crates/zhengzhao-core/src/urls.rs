//! The library's public URLs: the paths that are signed into documents,
//! Verifiable Credentials, certificates and PDFs, and served by the router.
//! One definition for both, because a path that changes in the router but
//! not in what was signed breaks every license already issued.
//!
//! Each path is a route template (`{name}` for a segment); the HTTP router
//! mounts the templates of [`paths`], and [`PublicUrls`] fills the same
//! templates under the configured public base URL.

/// Route templates of everything a signed artefact links to.
pub mod paths {
    /// The public check page of one version (QR code on the license).
    pub const VERIFY_PAGE: &str = "/verify/{license_id}";
    /// A holder's time-limited presentation page.
    pub const PRESENTATION_PAGE: &str = "/verify/p/{token}";
    pub const PRESENTATION_QR_PNG: &str = "/api/v1/presentations/{token}/qr.png";
    pub const PRESENTATION_QR_SVG: &str = "/api/v1/presentations/{token}/qr.svg";
    /// The schema-1 status list (one bit per license key).
    pub const STATUS_LIST: &str = "/api/v1/status-list";
    /// The SM2-signed per-version status lists.
    pub const STATUS_LISTS: &str = "/api/v1/status-lists/{purpose}";
    /// The region's status list credential beside its SM2-signed form.
    pub const REGION_STATUS_LIST_CREDENTIAL: &str = "/api/v1/status-lists/{purpose}/credential";
    /// An org's status list credential.
    pub const ORG_STATUS_LIST_CREDENTIAL: &str =
        "/api/v1/orgs/{code}/status-lists/{purpose}/credential";
    /// The JSON-LD context of the license vocabulary.
    pub const LICENSE_CONTEXT: &str = "/ns/license/v1";
    /// An org's Ed25519 key (Multikey) and its controller document.
    pub const ORG_VC_KEY: &str = "/api/v1/orgs/{code}/vc-key";
    pub const ORG_CONTROLLER: &str = "/api/v1/orgs/{code}/controller";
    /// The CRL of a local CA key (every org certificate names it).
    pub const CRL: &str = "/api/v1/crl/{ca}";
    /// Where the identity provider sends a holder back (registered with it
    /// as the redirect URI).
    pub const HOLDER_SIGN_IN_CALLBACK: &str = "/api/v1/holder/sign-in/callback";
}

/// The public base URL and the links under it.
#[derive(Debug, Clone)]
pub struct PublicUrls {
    base: std::sync::Arc<str>,
}

impl Default for PublicUrls {
    fn default() -> Self {
        Self::new("http://127.0.0.1:8080")
    }
}

/// `template` with each `{name}` replaced by its value (values are path
/// segments the library made itself: codes, ids, tokens).
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

impl PublicUrls {
    /// Under `base` (a trailing `/` is dropped).
    pub fn new(base: &str) -> Self {
        Self {
            base: std::sync::Arc::from(base.trim_end_matches('/')),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn at(&self, template: &str, values: &[(&str, &str)]) -> String {
        format!("{}{}", self.base, fill(template, values))
    }

    pub fn verify_page(&self, license_id: &str) -> String {
        self.at(paths::VERIFY_PAGE, &[("license_id", license_id)])
    }

    pub fn presentation_page(&self, token: &str) -> String {
        self.at(paths::PRESENTATION_PAGE, &[("token", token)])
    }

    pub fn presentation_qr_png(&self, token: &str) -> String {
        self.at(paths::PRESENTATION_QR_PNG, &[("token", token)])
    }

    pub fn presentation_qr_svg(&self, token: &str) -> String {
        self.at(paths::PRESENTATION_QR_SVG, &[("token", token)])
    }

    pub fn status_list(&self) -> String {
        self.at(paths::STATUS_LIST, &[])
    }

    pub fn status_lists(&self, purpose: &str) -> String {
        self.at(paths::STATUS_LISTS, &[("purpose", purpose)])
    }

    pub fn region_status_list_credential(&self, purpose: &str) -> String {
        self.at(
            paths::REGION_STATUS_LIST_CREDENTIAL,
            &[("purpose", purpose)],
        )
    }

    pub fn org_status_list_credential(&self, org: &str, purpose: &str) -> String {
        self.at(
            paths::ORG_STATUS_LIST_CREDENTIAL,
            &[("code", org), ("purpose", purpose)],
        )
    }

    pub fn license_context(&self) -> String {
        self.at(paths::LICENSE_CONTEXT, &[])
    }

    pub fn org_vc_key(&self, org: &str) -> String {
        self.at(paths::ORG_VC_KEY, &[("code", org)])
    }

    pub fn org_controller(&self, org: &str) -> String {
        self.at(paths::ORG_CONTROLLER, &[("code", org)])
    }

    pub fn crl(&self, ca: &str) -> String {
        self.at(paths::CRL, &[("ca", ca)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_fill_the_route_templates_under_the_base() {
        let urls = PublicUrls::new("https://zz.example.cn/");
        assert_eq!(
            urls.verify_page("15000020260000001X1"),
            "https://zz.example.cn/verify/15000020260000001X1"
        );
        assert_eq!(
            urls.org_status_list_credential("150100", "revocation"),
            "https://zz.example.cn/api/v1/orgs/150100/status-lists/revocation/credential"
        );
        assert_eq!(
            urls.region_status_list_credential("message"),
            "https://zz.example.cn/api/v1/status-lists/message/credential"
        );
        assert_eq!(urls.crl("abc"), "https://zz.example.cn/api/v1/crl/abc");
        // Every `{name}` of every template is filled by its method.
        for url in [
            urls.verify_page("x"),
            urls.presentation_page("x"),
            urls.presentation_qr_png("x"),
            urls.presentation_qr_svg("x"),
            urls.status_list(),
            urls.status_lists("x"),
            urls.region_status_list_credential("x"),
            urls.org_status_list_credential("x", "y"),
            urls.license_context(),
            urls.org_vc_key("x"),
            urls.org_controller("x"),
            urls.crl("x"),
        ] {
            assert!(!url.contains('{'), "{url}");
        }
    }
}
