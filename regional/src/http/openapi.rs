//! The OpenAPI document, generated from the handlers' `#[utoipa::path]`
//! annotations and the body types' `ToSchema` derives.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{admin, agents, api, audit, console, conversations, edge, error, kb, llm_admin, ops};
use crate::store;

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "kefu-regional", description = "The kefu regional service: tenants, durable encrypted conversations, audit."),
    paths(
        ops::healthz, ops::readyz, ops::metrics, ops::openapi,
        admin::create_tenant, admin::list_tenants, admin::get_tenant, admin::delete_tenant, admin::create_backup,
        admin::rotate_api_key, admin::rotate_data_key, admin::get_settings, admin::update_settings,
        conversations::create, conversations::list, conversations::transcript,
        conversations::append, conversations::messages, conversations::set_state,
        conversations::delete, conversations::erase_visitor, conversations::export_visitor,
        audit::verify, audit::checkpoint, audit::entries,
        kb::overview, kb::put_faqs, kb::put_faq, kb::delete_faq, kb::put_documents, kb::delete_document,
        kb::publish, kb::jobs, kb::job, kb::search, llm_admin::get, llm_admin::put,
        edge::turn, edge::report, edge::health, edge::tenant_config, edge::session,
        agents::create, agents::list, agents::delete, agents::canned, agents::put_canned,
        agents::delete_canned, agents::settings, agents::put_settings,
        console::page, console::script, console::login, console::logout, console::me,
        console::queue, console::agents, console::canned, console::events, console::conversation,
        console::accept, console::message, console::transfer, console::handback, console::close,
    ),
    components(schemas(
        error::ErrorBody, error::ErrorDetail, api::Health,
        api::CreateTenant, api::TenantCreated, api::TenantList, api::ApiKeyRotated, api::DataKeyRotated,
        store::TenantInfo, store::TenantSettings, store::tenants::SettingsUpdate, store::tenants::DeleteReport,
        store::erase::Erased, api::VisitorExport, crate::store::backup::BackupReport,
        api::CreateConversation, api::ConversationView, api::ConversationList, api::AppendMessage, api::Appended,
        api::MessageView, api::Transcript, api::MessagePage, api::ChangeState,
        api::CheckpointView, api::AuditVerifyView, api::AuditEntryView, api::AuditPage, crate::edge::ReportOutcome,
        api::RoleDto, api::SourceDto, api::CitationDto, api::StateDto,
        kb::FaqIn, kb::DocumentIn, kb::DocumentsIn, kb::Stored, kb::KbView, kb::RankView, kb::HitView,
        kb::SearchView, crate::kb::PublishReport, crate::kb::PublishJob, crate::kb::JobStatus,
        llm_admin::BackendIn, llm_admin::LlmUpdate, llm_admin::LlmView,
        agents::CreateAgent, agents::AgentView, agents::AgentList,
        store::handoff::HandoffSettings, store::handoff::BusinessHours, store::handoff::Assignment,
        store::handoff::HandoffEntry, store::handoff::CannedReply, store::handoff::GroupRule, store::RouteEvent,
        console::LoginIn, console::Me, console::QueueItem, console::QueueView,
        console::ConsoleConversation, console::AgentMessageIn, console::TransferIn, console::ToAgent, console::ToGroup,
        console::Colleague, console::Colleagues, console::CannedList,
    )),
    modifiers(&Security),
    tags(
        (name = "ops", description = "Health, readiness, metrics"),
        (name = "admin", description = "Operator routes (Bearer KEFU_OPERATOR_TOKEN)"),
        (name = "conversations", description = "Tenant routes (Bearer API key)"),
        (name = "audit", description = "The tenant's audit log"),
        (name = "knowledge", description = "The tenant's knowledge base (Bearer API key)"),
        (name = "agents", description = "Agents, canned replies and handoff rules (Bearer API key)"),
        (name = "console", description = "The agent console (kefu_agent session cookie from /console/v1/login)"),
        (name = "edge", description = "Signed MessagePack frames from kefu-edge (x-kefu-signature)"),
    )
)]
#[derive(Debug)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "operator_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        c.add_security_scheme(
            "tenant_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        c.add_security_scheme(
            "edge_signature",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                kefu_core::wire::SIGNATURE_HEADER,
                "v1,t=<ms>,n=<nonce hex>,s=<HMAC-SM3 hex> over the path tag, time, nonce and body SM3",
            ))),
        );
    }
}

/// The document as JSON.
pub fn document_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|_| "{}".to_owned())
}
