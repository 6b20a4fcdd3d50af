//! The route table: method + path -> handler, and nothing else.
//!
//! Tests compare this table with the OpenAPI document, so a route cannot be
//! added without being described (and the cross-tenant test walks every row
//! whose path takes an id).

use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, patch, post, put};

use axum::extract::DefaultBodyLimit;
use kefu_core::wire;

use super::{AppState, admin, agents, audit, console, conversations, edge, kb, llm_admin, ops};

/// One row of the table.
#[derive(Debug)]
pub struct Route {
    /// HTTP method.
    pub method: Method,
    /// Path template (axum/OpenAPI `{param}` syntax).
    pub path: &'static str,
    /// The handler.
    pub handler: MethodRouter<AppState>,
}

fn r(method: Method, path: &'static str, handler: MethodRouter<AppState>) -> Route {
    Route {
        method,
        path,
        handler,
    }
}

/// Every route the service serves.
pub fn table() -> Vec<Route> {
    vec![
        r(Method::GET, "/healthz", get(ops::healthz)),
        r(Method::GET, "/readyz", get(ops::readyz)),
        r(Method::GET, "/metrics", get(ops::metrics)),
        r(Method::GET, "/openapi.json", get(ops::openapi)),
        // operator
        r(
            Method::POST,
            "/admin/v1/tenants",
            post(admin::create_tenant),
        ),
        r(Method::GET, "/admin/v1/tenants", get(admin::list_tenants)),
        r(Method::GET, "/admin/v1/llm", get(llm_admin::get)),
        r(
            Method::POST,
            "/admin/v1/backups",
            post(admin::create_backup),
        ),
        r(Method::PUT, "/admin/v1/llm", put(llm_admin::put)),
        r(
            Method::GET,
            "/admin/v1/tenants/{tenant_id}",
            get(admin::get_tenant),
        ),
        r(
            Method::DELETE,
            "/admin/v1/tenants/{tenant_id}",
            delete(admin::delete_tenant),
        ),
        r(
            Method::POST,
            "/admin/v1/tenants/{tenant_id}/api-key",
            post(admin::rotate_api_key),
        ),
        r(
            Method::POST,
            "/admin/v1/tenants/{tenant_id}/data-key",
            post(admin::rotate_data_key),
        ),
        r(
            Method::GET,
            "/admin/v1/tenants/{tenant_id}/settings",
            get(admin::get_settings),
        ),
        r(
            Method::PATCH,
            "/admin/v1/tenants/{tenant_id}/settings",
            patch(admin::update_settings),
        ),
        // tenant
        r(
            Method::POST,
            "/v1/conversations",
            post(conversations::create),
        ),
        r(Method::GET, "/v1/conversations", get(conversations::list)),
        r(
            Method::GET,
            "/v1/conversations/{conversation_id}",
            get(conversations::transcript),
        ),
        r(
            Method::POST,
            "/v1/conversations/{conversation_id}/messages",
            post(conversations::append),
        ),
        r(
            Method::GET,
            "/v1/conversations/{conversation_id}/messages",
            get(conversations::messages),
        ),
        r(
            Method::PUT,
            "/v1/conversations/{conversation_id}/state",
            put(conversations::set_state),
        ),
        r(
            Method::DELETE,
            "/v1/conversations/{conversation_id}",
            delete(conversations::delete),
        ),
        r(
            Method::DELETE,
            "/v1/visitors/{visitor_id}",
            delete(conversations::erase_visitor),
        ),
        r(
            Method::GET,
            "/v1/visitors/{visitor_id}/conversations",
            get(conversations::export_visitor),
        ),
        // agents, canned replies, handoff rules (tenant key)
        r(Method::POST, "/v1/agents", post(agents::create)),
        r(Method::GET, "/v1/agents", get(agents::list)),
        r(
            Method::DELETE,
            "/v1/agents/{agent_id}",
            delete(agents::delete),
        ),
        r(Method::GET, "/v1/canned-replies", get(agents::canned)),
        r(Method::POST, "/v1/canned-replies", post(agents::put_canned)),
        r(
            Method::DELETE,
            "/v1/canned-replies/{reply_id}",
            delete(agents::delete_canned),
        ),
        r(Method::GET, "/v1/handoff/settings", get(agents::settings)),
        r(
            Method::PUT,
            "/v1/handoff/settings",
            put(agents::put_settings),
        ),
        // the agent console (session cookie)
        r(Method::GET, "/console", get(console::page)),
        r(Method::GET, "/console/app.js", get(console::script)),
        r(Method::POST, "/console/v1/login", post(console::login)),
        r(Method::POST, "/console/v1/logout", post(console::logout)),
        r(Method::GET, "/console/v1/me", get(console::me)),
        r(Method::GET, "/console/v1/queue", get(console::queue)),
        r(Method::GET, "/console/v1/agents", get(console::agents)),
        r(
            Method::GET,
            "/console/v1/canned-replies",
            get(console::canned),
        ),
        r(Method::GET, "/console/v1/events", get(console::events)),
        r(
            Method::GET,
            "/console/v1/conversations/{conversation_id}",
            get(console::conversation),
        ),
        r(
            Method::POST,
            "/console/v1/conversations/{conversation_id}/accept",
            post(console::accept),
        ),
        r(
            Method::POST,
            "/console/v1/conversations/{conversation_id}/messages",
            post(console::message),
        ),
        r(
            Method::POST,
            "/console/v1/conversations/{conversation_id}/transfer",
            post(console::transfer),
        ),
        r(
            Method::POST,
            "/console/v1/conversations/{conversation_id}/handback",
            post(console::handback),
        ),
        r(
            Method::POST,
            "/console/v1/conversations/{conversation_id}/close",
            post(console::close),
        ),
        // knowledge base
        r(Method::GET, "/v1/kb", get(kb::overview)),
        r(
            Method::POST,
            "/v1/kb/faqs",
            post(kb::put_faqs).layer(DefaultBodyLimit::max(kb::MAX_UPLOAD_BYTES)),
        ),
        r(Method::PUT, "/v1/kb/faqs/{faq_id}", put(kb::put_faq)),
        r(
            Method::DELETE,
            "/v1/kb/faqs/{faq_id}",
            delete(kb::delete_faq),
        ),
        r(
            Method::POST,
            "/v1/kb/documents",
            post(kb::put_documents).layer(DefaultBodyLimit::max(kb::MAX_UPLOAD_BYTES)),
        ),
        r(
            Method::DELETE,
            "/v1/kb/documents/{document_id}",
            delete(kb::delete_document),
        ),
        r(Method::POST, "/v1/kb/publish", post(kb::publish)),
        r(Method::GET, "/v1/kb/jobs", get(kb::jobs)),
        r(Method::GET, "/v1/kb/jobs/{job_id}", get(kb::job)),
        r(Method::GET, "/v1/kb/search", get(kb::search)),
        // the edge's door: signed MessagePack frames on kefu-core's wire paths
        r(
            Method::POST,
            wire::paths::TURN,
            post(edge::turn).layer(DefaultBodyLimit::max(edge::wire_limit(wire::paths::TURN))),
        ),
        r(
            Method::POST,
            wire::paths::REPORT,
            post(edge::report).layer(DefaultBodyLimit::max(edge::wire_limit(wire::paths::REPORT))),
        ),
        r(Method::GET, wire::paths::HEALTH, get(edge::health)),
        r(
            Method::POST,
            wire::paths::TENANT_CONFIG,
            post(edge::tenant_config).layer(DefaultBodyLimit::max(edge::wire_limit(
                wire::paths::TENANT_CONFIG,
            ))),
        ),
        r(
            Method::POST,
            wire::paths::SESSION,
            post(edge::session).layer(DefaultBodyLimit::max(edge::wire_limit(
                wire::paths::SESSION,
            ))),
        ),
        // audit: read-only; any other method is answered 405 and audited.
        r(
            Method::GET,
            "/v1/audit/verify",
            get(audit::verify).fallback(audit::tamper_attempt),
        ),
        r(
            Method::GET,
            "/v1/audit/checkpoint",
            get(audit::checkpoint).fallback(audit::tamper_attempt),
        ),
        r(
            Method::GET,
            "/v1/audit/entries",
            get(audit::entries).fallback(audit::tamper_attempt),
        ),
    ]
}
