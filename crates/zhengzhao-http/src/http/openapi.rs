//! The OpenAPI 3.1 document, generated from the handlers' annotations, and
//! the vendored Swagger UI (no CDN: government networks are closed).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "zhengzhao — 内蒙古自治区市场监管电子证照库 API",
        description = "The electronic license library of the Inner Mongolia Administration for Market Regulation. Errors are RFC 9457 problem details with English and Chinese titles."
    ),
    paths(
        super::health::healthz,
        super::catalog::list,
        super::catalog::create,
        super::catalog::get,
        super::catalog::update,
        super::catalog::versions,
        super::catalog::version,
        super::orgs::list,
        super::orgs::get,
        super::orgs::create,
        super::orgs::update,
        super::licenses::issue,
        super::licenses::get,
        super::licenses::update,
        super::licenses::revoke,
        super::licenses::history,
        super::licenses::document,
        super::licenses::pdf,
        super::licenses::vc,
        super::orgs::vc_key,
        super::vc::controller,
        super::vc::license_context,
        super::vc::org_status_list,
        super::vc::region_status_list,
        super::licenses::list,
        super::audit::events,
        super::audit::latest,
        super::audit::create,
        super::audit::verifier_key,
        super::audit::inclusion,
        super::audit::consistency,
        super::verify::check,
        super::verify::document,
        super::verify::batch,
        super::verify::status_list,
        super::verify::status_lists,
        super::presentation::create,
        super::presentation::scan,
        super::presentation::qr_png,
        super::presentation::qr_svg,
        super::verify::certificates,
        super::verify::crl,
        super::scenarios::create,
        super::scenarios::list,
        super::scenarios::get,
        super::scenarios::decide,
        super::scenarios::credentials,
        super::shared::query,
        super::shared::consent_request,
        super::shared::copy,
        super::shared::download,
        super::holders::consent_request,
        super::holders::approve_request,
        super::holders::decline_request,
        super::usage_lists::put,
        super::usage_lists::list,
        super::usage_lists::get,
        super::usage_lists::check,
        super::holders::licenses,
        super::batch::batch,
        super::objections::submit,
        super::objections::track,
        super::objections::list,
        super::objections::get,
        super::objections::attachment,
        super::objections::step,
        super::incidents::open,
        super::incidents::get,
        super::incidents::backlog,
        super::incidents::close,
        super::outbox::list,
        super::outbox::get,
        super::outbox::replay,
        super::holder_sign_in::begin,
        super::holder_sign_in::callback,
        super::holder_sign_in::session,
        super::holder_sign_in::sign_out,
        super::holders::usage,
        super::holders::grant,
        super::holders::list,
        super::holders::withdraw,
        super::staff::create,
        super::staff::list,
        super::staff::get,
        super::staff::update,
        super::staff::reset,
        super::staff::login,
        super::staff::current,
        super::staff::logout,
        super::staff::change_password,
    ),
    components(schemas(crate::error::Problem, zhengzhao_domain::FieldError)),
    modifiers(&BearerAuth),
    tags(
        (name = "catalog", description = "Issuance catalog (发证目录, Art. 6)"),
        (name = "incidents", description = "Emergency incidents and their backlog (应急处理, Art. 9)"),
        (name = "objections", description = "Objections to a license and their handling (异议核查, Art. 19)"),
        (name = "outbox", description = "The outbox relay to the platforms and delivery channels (Art. 6–8, 17)"),
        (name = "orgs", description = "Org tree (Art. 5)"),
        (name = "licenses", description = "Issue, update, revoke and read licenses (Art. 7, 8, 10)"),
        (name = "audit", description = "Tamper-evident audit log: signed checkpoints and proofs (Art. 21)"),
        (name = "verify", description = "Public verification, no token (Art. 3, 12, 16)"),
        (name = "staff", description = "Staff accounts and sessions: password + TOTP login, roles by org (Art. 21)"),
        (name = "operations", description = "Health and metrics"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("zzt_…")
                    .build(),
            ),
        );
    }
}
