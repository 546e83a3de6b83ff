//! The console's pages. Each reads and writes only through [`Ctx`]'s API calls.

#![allow(clippy::result_large_err)] // pages answer early with `Err(Response)`

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use maud::{Markup, html};
use serde_json::{Value, json};

use super::view::{self, csrf, field_error, form_error, page, see_other, time};
use super::{Ctx, Failure, Form, Shared, enc, signed_in, signed_post};

type Page = Result<Response, Response>;

/// The query string's value of `name`.
fn q(query: &Option<String>, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Unwraps an API read, or answers: the sign-in page when the key no longer authenticates,
/// else the error as a page.
fn read(ctx: &Ctx, r: Result<Value, Failure>) -> Result<Value, Response> {
    r.map_err(|f| failed(ctx, f))
}

fn failed(ctx: &Ctx, f: Failure) -> Response {
    if f.status == StatusCode::UNAUTHORIZED {
        return view::redirect_to_login(&ctx.c, &format!("Your session has ended: {}", f.message));
    }
    view::page_status(
        ctx,
        f.status,
        "Not available",
        html! { p.error role="alert" { (f.message) } },
    )
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("")
}

fn items(v: &Value) -> &[Value] {
    v["data"].as_array().map_or(&[], Vec::as_slice)
}

/// A "Next page" link when the list has more.
fn next_link(list: &Value, base: &str) -> Markup {
    html! {
        @if list["has_more"].as_bool().unwrap_or(false) {
            @if let Some(n) = list["next"].as_str().or(list["last_id"].as_str()) {
                p { a href={ (base) (if base.contains('?') { "&" } else { "?" }) "after=" (enc(n)) } { "Next page" } }
            }
        }
    }
}

/// `GET /console`: to the overview.
pub async fn to_overview() -> Response {
    see_other("/console/")
}

/// `GET /console/login`.
pub async fn login_form(State(c): State<Shared>, headers: HeaderMap) -> Response {
    match c.session(&headers).await {
        Ok(Some(_)) => see_other("/console/"),
        _ => view::login_page(&c, StatusCode::OK, None, None),
    }
}

/// `POST /console/login` (`api_key`): starts a session if the key authenticates.
pub async fn login(State(c): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let form = Form::parse(&body);
    if !super::Console::login_token_valid(&headers, form.get("csrf")) {
        return view::error_page(
            StatusCode::FORBIDDEN,
            "The sign-in form carries no valid CSRF token. Open the sign-in page and try again.",
        );
    }
    let secret = form.get("api_key").trim().to_owned();
    if secret.is_empty() {
        return view::login_page(&c, StatusCode::BAD_REQUEST, None, Some("Enter an API key."));
    }
    // the key must authenticate where it will act: the organization routes, or the
    // platform's organization list for the root key and platform keys
    let probe = if c.is_platform(&secret).await {
        "/v1/platform/organizations?limit=1"
    } else {
        "/v1/organization/roles?limit=1"
    };
    match c
        .call_as(&secret, axum::http::Method::GET, probe, None)
        .await
    {
        Ok(_) => {}
        Err(f) if f.status == StatusCode::UNAUTHORIZED => {
            return view::login_page(&c, StatusCode::UNAUTHORIZED, None, Some(&f.message));
        }
        // a key without the probe's permission still signs in: its pages say what it lacks
        Err(f) if f.status == StatusCode::FORBIDDEN => {}
        Err(f) => return view::login_page(&c, f.status, None, Some(&f.message)),
    }
    match c.start(&secret).await {
        Ok(cookie) => {
            let mut res = see_other("/console/");
            res.headers_mut().insert(header::SET_COOKIE, cookie);
            res
        }
        Err(e) => view::login_page(&c, StatusCode::SERVICE_UNAVAILABLE, None, Some(&e)),
    }
}

/// `POST /console/logout`: ends the session.
pub async fn logout(State(c): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    match signed_post(&c, &headers, "/console/logout", &body).await {
        Ok((ctx, _)) => {
            c.end(&ctx.s).await;
            view::redirect_to_login(&c, "You have signed out.")
        }
        Err(r) => r,
    }
}

/// `GET /console/`: counts and recent audit events.
pub async fn overview(State(c): State<Shared>, headers: HeaderMap) -> Response {
    run(overview_page(&c, &headers).await)
}

fn run(p: Page) -> Response {
    p.unwrap_or_else(|r| r)
}

async fn overview_page(c: &Shared, headers: &HeaderMap) -> Page {
    let ctx = signed_in(c, headers, "/console/").await?;
    if ctx.s.platform {
        return Ok(see_other("/console/organizations"));
    }
    let count = |v: &Result<Value, Failure>| -> String {
        match v {
            Ok(v) => {
                let n = items(v).len();
                if v["has_more"].as_bool().unwrap_or(false) {
                    format!("{n}+")
                } else {
                    n.to_string()
                }
            }
            Err(_) => "—".to_owned(),
        }
    };
    let members = ctx.get("/v1/organization/users?limit=100").await;
    if let Err(f) = &members {
        if f.status == StatusCode::UNAUTHORIZED {
            return Err(read(&ctx, members)
                .err()
                .unwrap_or_else(|| see_other("/console/login")));
        }
    }
    let roles = ctx.get("/v1/organization/roles").await;
    let groups = ctx.get("/v1/organization/groups?limit=1000").await;
    let projects = ctx.get("/v1/organization/projects?limit=100").await;
    let invites = ctx.get("/v1/organization/invites?limit=100").await;
    let audit = ctx.get("/v1/organization/audit_logs?limit=10").await;
    Ok(page(
        &ctx,
        "Overview",
        html! {
            ul.counts {
                li { "Members: " strong { (count(&members)) } }
                li { "Roles: " strong { (count(&roles)) } }
                li { "Groups: " strong { (count(&groups)) } }
                li { "Projects: " strong { (count(&projects)) } }
                li { "Invites: " strong { (count(&invites)) } }
            }
            h2 { "Recent audit events" }
            @match &audit {
                Ok(a) => (audit_table(items(a))),
                Err(f) => p.muted { (f.message) },
            }
        },
    ))
}

fn audit_table(events: &[Value]) -> Markup {
    html! {
        table {
            thead { tr { th { "When" } th { "Type" } th { "Actor" } th { "Details" } } }
            tbody {
                @for e in events {
                    tr {
                        td { (time(e["effective_at"].as_i64().unwrap_or(0))) }
                        td { code { (s(e, "type")) } }
                        td { (actor_label(&e["actor"])) }
                        td { details { summary { "Details" } pre { (serde_json::to_string_pretty(&e[s(e, "type")]).unwrap_or_default()) } } }
                    }
                }
            }
        }
        @if events.is_empty() { p.muted { "No events." } }
    }
}

fn actor_label(a: &Value) -> String {
    let k = &a["api_key"];
    if let Some(email) = k["user"]["email"].as_str() {
        return format!("{email} (key {})", s(k, "id"));
    }
    s(a, "type").to_owned()
}

/// `GET /console/members?search=&after=`.
pub async fn members(
    State(c): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    run(members_page(&c, &headers, query).await)
}

async fn members_page(c: &Shared, headers: &HeaderMap, query: Option<String>) -> Page {
    let ctx = signed_in(c, headers, "/console/members").await?;
    let search = q(&query, "search");
    let mut uri = "/v1/organization/users?limit=50".to_owned();
    let mut base = "/console/members".to_owned();
    if let Some(s) = &search {
        uri.push_str(&format!("&emails[]={}", enc(s)));
        base.push_str(&format!("?search={}", enc(s)));
    }
    if let Some(a) = q(&query, "after") {
        uri.push_str(&format!("&after={}", enc(&a)));
    }
    let list = read(&ctx, ctx.get(&uri).await)?;
    Ok(page(
        &ctx,
        "Members",
        html! {
            form method="get" action="/console/members" role="search" {
                label for="search" { "Search" }
                input #search type="search" name="search" value=[search.as_deref()] placeholder="email address";
                " " button type="submit" { "Search" }
            }
            table {
                thead { tr { th { "Email" } th { "Name" } th { "Base role" } th { "Added" } } }
                tbody {
                    @for m in items(&list) {
                        tr {
                            td { a href={ "/console/members/" (enc(s(m, "id"))) } { (s(m, "email")) } }
                            td { (s(m, "name")) }
                            td { (s(m, "role")) }
                            td { (time(m["added_at"].as_i64().unwrap_or(0))) }
                        }
                    }
                }
            }
            @if items(&list).is_empty() { p.muted { "No members match." } }
            (next_link(&list, &base))
        },
    ))
}

/// `GET /console/members/{user_id}`.
pub async fn member(
    State(c): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    run(member_page(&c, &headers, &id, None).await)
}

async fn member_page(c: &Shared, headers: &HeaderMap, id: &str, err: Option<Failure>) -> Page {
    let path = format!("/console/members/{}", enc(id));
    let ctx = signed_in(c, headers, &path).await?;
    member_view(&ctx, id, err).await
}

async fn member_view(ctx: &Ctx, id: &str, err: Option<Failure>) -> Page {
    let path = format!("/console/members/{}", enc(id));
    let base = format!("/v1/organization/users/{}", enc(id));
    let user = read(ctx, ctx.get(&base).await)?;
    let roles = ctx.get(&format!("{base}/roles?limit=100")).await;
    let perms = ctx.get(&format!("{base}/permissions")).await;
    let keys = ctx.get(&format!("{base}/api_keys?limit=100")).await;
    let all_roles = ctx.get("/v1/organization/roles").await;
    let e = err.as_ref();
    let title = format!("Member {}", s(&user, "email"));
    Ok(page(
        ctx,
        &title,
        html! {
            p { "Id " code { (s(&user, "id")) } @if !s(&user, "name").is_empty() { " · Name " (s(&user, "name")) } }
            (form_error(e, &["role", "role_id"]))
            h2 { "Base role" }
            form method="post" action=(path) {
                (csrf(ctx))
                input type="hidden" name="action" value="base_role";
                label for="role" { "Base role" }
                select #role name="role" {
                    @for r in ["owner", "admin", "member", "reader"] {
                        option value=(r) selected[s(&user, "role") == r] { (r) }
                    }
                }
                " " button type="submit" { "Change base role" }
                (field_error(e, "role", "role_error"))
            }
            h2 { "Roles" }
            @match &roles {
                Ok(list) => {
                    table {
                        thead { tr { th { "Role" } th { "From" } th { "Expires" } th { "Remove" } } }
                        tbody {
                            @for r in items(list) {
                                tr {
                                    td { (s(r, "name")) }
                                    td {
                                        @for src in r["assignment_sources"].as_array().map_or(&[][..], Vec::as_slice) {
                                            (s(src, "principal_type")) " " code { (s(src, "principal_id")) } " "
                                        }
                                    }
                                    td { (r["expires_at"].as_i64().map_or_else(|| "never".to_owned(), time)) }
                                    td {
                                        @if !r["predefined_role"].as_bool().unwrap_or(false) && r["assignment_sources"].as_array().is_some_and(|a| a.iter().any(|x| s(x, "principal_type") == "user")) {
                                            form.inline method="post" action=(path) {
                                                (csrf(ctx))
                                                input type="hidden" name="action" value="unassign";
                                                input type="hidden" name="role_id" value=(s(r, "id"));
                                                button.danger type="submit" aria-label={ "Remove role " (s(r, "name")) } { "Remove" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                Err(f) => p.muted { (f.message) },
            }
            @if let Ok(all) = &all_roles {
                form method="post" action=(path) {
                    (csrf(ctx))
                    input type="hidden" name="action" value="assign";
                    label for="grant_role" { "Grant role" }
                    select #grant_role name="role_id" {
                        @for r in items(all).iter().filter(|r| !r["predefined_role"].as_bool().unwrap_or(false)) {
                            option value=(s(r, "id")) { (s(r, "name")) }
                        }
                    }
                    label for="expires" { "Expires on (optional)" }
                    input #expires type="date" name="expires";
                    " " button type="submit" { "Grant" }
                    (field_error(e, "role_id", "role_id_error"))
                    (field_error(e, "expires_at", "expires_error"))
                }
            }
            h2 { "Effective permissions" }
            @match &perms {
                Ok(list) => {
                    table {
                        thead { tr { th { "Permission" } th { "Comes from" } } }
                        tbody {
                            @for p in items(list) {
                                tr {
                                    td { code { (s(p, "permission")) } }
                                    td { (reasons(&p["reasons"])) }
                                }
                            }
                        }
                    }
                }
                Err(f) => p.muted { (f.message) },
            }
            h2 { "API keys" }
            @match &keys {
                Ok(list) => (key_table(ctx, items(list), &path, true)),
                Err(f) => p.muted { (f.message) },
            }
            h2 { "Remove member" }
            form method="post" action=(path) {
                (csrf(ctx))
                input type="hidden" name="action" value="remove";
                button.danger type="submit" { "Remove this member" }
            }
        },
    ))
}

fn reasons(r: &Value) -> Markup {
    html! {
        @for x in r.as_array().map_or(&[][..], Vec::as_slice) {
            span {
                "role " strong { (s(x, "role_name")) }
                " via " (s(x, "via"))
                @if let Some(g) = x["group_id"].as_str() { " (group " code { (g) } ")" }
                @if let Some(p) = x["project_id"].as_str() { " in project " code { (p) } }
                "; "
            }
        }
    }
}

/// Keys with a revoke button each: `user_keys` for a member's user keys, else admin keys.
fn key_table(ctx: &Ctx, keys: &[Value], back: &str, user_keys: bool) -> Markup {
    html! {
        table {
            thead { tr { th { "Name" } th { "Key" } th { "Owner" } th { "Created" } th { "Expires" } th { "Revoke" } } }
            tbody {
                @for k in keys {
                    tr {
                        td { (s(k, "name")) }
                        td { code { (s(k, "redacted_value")) } }
                        td { (s(&k["owner"], "email")) }
                        td { (time(k["created_at"].as_i64().unwrap_or(0))) }
                        td { (k["expires_at"].as_i64().map_or_else(|| "never".to_owned(), time)) }
                        td {
                            form.inline method="post" action="/console/keys" {
                                (csrf(ctx))
                                input type="hidden" name="action" value="revoke";
                                input type="hidden" name="key_id" value=(s(k, "id"));
                                input type="hidden" name="owner" value=(s(&k["owner"], "id"));
                                input type="hidden" name="kind" value=(if user_keys { "user" } else { "admin" });
                                input type="hidden" name="back" value=(back);
                                button.danger type="submit" aria-label={ "Revoke key " (s(k, "name")) } { "Revoke" }
                            }
                        }
                    }
                }
            }
        }
        @if keys.is_empty() { p.muted { "No keys." } }
    }
}

/// `POST /console/members/{user_id}`: base role, grant, remove a role, remove the member.
pub async fn member_action(
    State(c): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let path = format!("/console/members/{}", enc(&id));
    let (ctx, form) = match signed_post(&c, &headers, &path, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let base = format!("/v1/organization/users/{}", enc(&id));
    let r = match form.get("action") {
        "base_role" => ctx.post(&base, json!({ "role": form.get("role") })).await,
        "assign" => {
            let mut b = json!({ "role_id": form.get("role_id") });
            if let Some(d) = form.opt("expires") {
                match view::parse_date(&d) {
                    Some(t) => b["expires_at"] = json!(t + 86_399),
                    None => {
                        return run(member_view(
                            &ctx,
                            &id,
                            Some(Failure::invalid(
                                StatusCode::BAD_REQUEST,
                                "expires_at",
                                "expires: not a date (YYYY-MM-DD)".to_owned(),
                            )),
                        )
                        .await);
                    }
                }
            }
            ctx.post(&format!("{base}/roles"), b).await
        }
        "unassign" => {
            ctx.delete(&format!("{base}/roles/{}", enc(form.get("role_id"))))
                .await
        }
        "remove" => {
            return match ctx.delete(&base).await {
                Ok(_) => see_other("/console/members"),
                Err(f) => run(member_view(&ctx, &id, Some(f)).await),
            };
        }
        _ => return view::error_page(StatusCode::BAD_REQUEST, "unknown action"),
    };
    match r {
        Ok(_) => see_other(&path),
        Err(f) if f.status == StatusCode::UNAUTHORIZED => failed(&ctx, f),
        Err(f) => {
            let status = f.status;
            let mut res = run(member_view(&ctx, &id, Some(f)).await);
            *res.status_mut() = status;
            res
        }
    }
}

/// `GET /console/roles`.
pub async fn roles(State(c): State<Shared>, headers: HeaderMap) -> Response {
    run(roles_page(&c, &headers).await)
}

async fn roles_page(c: &Shared, headers: &HeaderMap) -> Page {
    let ctx = signed_in(c, headers, "/console/roles").await?;
    let list = read(&ctx, ctx.get("/v1/organization/roles").await)?;
    Ok(page(
        &ctx,
        "Roles",
        html! {
            p { a href="/console/roles/new" { "New role" } }
            table {
                thead { tr { th { "Name" } th { "Kind" } th { "Description" } th { "Permissions" } } }
                tbody {
                    @for r in items(&list) {
                        @let system = r["predefined_role"].as_bool().unwrap_or(false);
                        tr {
                            td {
                                @if system { (s(r, "name")) }
                                @else { a href={ "/console/roles/" (enc(s(r, "id"))) } { (s(r, "name")) } }
                            }
                            td { (if system { "system" } else { "custom" }) }
                            td { (s(r, "description")) }
                            td { (r["permissions"].as_array().map_or(0, Vec::len)) }
                        }
                    }
                }
            }
        },
    ))
}

async fn catalog(ctx: &Ctx) -> Vec<String> {
    match ctx.get("/v1/organization/permissions?limit=1000").await {
        Ok(v) => items(&v).iter().map(|p| s(p, "name").to_owned()).collect(),
        Err(_) => Vec::new(),
    }
}

fn role_form(
    ctx: &Ctx,
    action: &str,
    role: Option<&Value>,
    catalog: &[String],
    err: Option<&Failure>,
) -> Markup {
    let held: Vec<&str> = role
        .and_then(|r| r["permissions"].as_array())
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    html! {
        form method="post" action=(action) {
            (csrf(ctx))
            input type="hidden" name="action" value="save";
            (form_error(err, &["role_name", "description", "permissions"]))
            label for="name" { "Name" }
            input #name name="name" required value=[role.map(|r| s(r, "name"))];
            (field_error(err, "role_name", "name_error"))
            label for="description" { "Description" }
            input #description name="description" value=[role.map(|r| s(r, "description"))];
            (field_error(err, "description", "description_error"))
            fieldset {
                legend { "Permissions" }
                @for (i, p) in catalog.iter().enumerate() {
                    label.check for={ "perm" (i) } {
                        input id={ "perm" (i) } type="checkbox" name="permissions" value=(p) checked[held.contains(&p.as_str())];
                        " " (p)
                    }
                }
                (field_error(err, "permissions", "permissions_error"))
            }
            button type="submit" { "Save role" }
        }
    }
}

/// `GET /console/roles/new`.
pub async fn role_new(State(c): State<Shared>, headers: HeaderMap) -> Response {
    run(async {
        let ctx = signed_in(&c, &headers, "/console/roles/new").await?;
        let cat = catalog(&ctx).await;
        Ok(page(
            &ctx,
            "New role",
            role_form(&ctx, "/console/roles/new", None, &cat, None),
        ))
    }
    .await)
}

fn role_body(form: &Form) -> Value {
    json!({
        "role_name": form.get("name").trim(),
        "description": form.opt("description"),
        "permissions": form.all("permissions"),
    })
}

/// `POST /console/roles/new`.
pub async fn role_create(State(c): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let (ctx, form) = match signed_post(&c, &headers, "/console/roles/new", &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match ctx.post("/v1/organization/roles", role_body(&form)).await {
        Ok(_) => see_other("/console/roles"),
        Err(f) if f.status == StatusCode::UNAUTHORIZED => failed(&ctx, f),
        Err(f) => {
            let cat = catalog(&ctx).await;
            let typed = json!({ "name": form.get("name"), "description": form.get("description"), "permissions": form.all("permissions") });
            view::page_status(
                &ctx,
                f.status,
                "New role",
                role_form(&ctx, "/console/roles/new", Some(&typed), &cat, Some(&f)),
            )
        }
    }
}

/// `GET /console/roles/{role_id}`: edit, and delete with its preview.
pub async fn role_edit(
    State(c): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    run(async {
        let path = format!("/console/roles/{}", enc(&id));
        let ctx = signed_in(&c, &headers, &path).await?;
        role_view(&ctx, &id, None, None).await
    }
    .await)
}

async fn role_view(ctx: &Ctx, id: &str, typed: Option<Value>, err: Option<Failure>) -> Page {
    let path = format!("/console/roles/{}", enc(id));
    let role = read(
        ctx,
        ctx.get(&format!("/v1/organization/roles/{}", enc(id)))
            .await,
    )?;
    let cat = catalog(ctx).await;
    let losses = delete_preview(ctx, id, &role).await;
    let title = format!("Role {}", s(&role, "name"));
    Ok(page(
        ctx,
        &title,
        html! {
            (role_form(ctx, &path, Some(typed.as_ref().unwrap_or(&role)), &cat, err.as_ref()))
            h2 { "Delete this role" }
            @match &losses {
                Ok(l) if l.is_empty() => p { "Deleting it takes no permission from any member." },
                Ok(l) => {
                    p { "Deleting it would take these permissions from these numbers of members:" }
                    ul { @for (p, n) in l { li { code { (p) } ": " (n) " member" (if n == "1" { "" } else { "s" }) } } }
                }
                Err(m) => p.muted { "The effect of deleting it cannot be shown: " (m) }
            }
            form method="post" action=(path) {
                (csrf(ctx))
                input type="hidden" name="action" value="delete";
                button.danger type="submit" { "Delete role" }
            }
        },
    ))
}

/// For each permission of the role: how many members hold it only through this role.
async fn delete_preview(
    ctx: &Ctx,
    id: &str,
    role: &Value,
) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for p in role["permissions"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
    {
        let Some(p) = p.as_str() else { continue };
        let holders = ctx
            .get(&format!(
                "/v1/organization/permissions/{}/users?limit=1000",
                enc(p)
            ))
            .await
            .map_err(|f| f.message)?;
        let users: Vec<&str> = items(&holders).iter().map(|u| s(u, "id")).collect();
        if users.is_empty() {
            continue;
        }
        let checks: Vec<Value> = users
            .iter()
            .map(|u| json!({ "user_id": u, "permission": p }))
            .collect();
        let answers = ctx
            .post(
                "/v1/organization/permissions/check_batch",
                json!({ "checks": checks }),
            )
            .await
            .map_err(|f| f.message)?;
        let n = items(&answers)
            .iter()
            .filter(|a| {
                a["reasons"]
                    .as_array()
                    .is_some_and(|r| !r.is_empty() && r.iter().all(|x| s(x, "role_id") == id))
            })
            .count();
        if n > 0 {
            let more = if holders["has_more"].as_bool().unwrap_or(false) {
                "+"
            } else {
                ""
            };
            out.push((p.to_owned(), format!("{n}{more}")));
        }
    }
    Ok(out)
}

/// `POST /console/roles/{role_id}`: save or delete.
pub async fn role_action(
    State(c): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let path = format!("/console/roles/{}", enc(&id));
    let (ctx, form) = match signed_post(&c, &headers, &path, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let api = format!("/v1/organization/roles/{}", enc(&id));
    let r = if form.get("action") == "delete" {
        ctx.delete(&api).await.map(|_| "/console/roles".to_owned())
    } else {
        ctx.post(&api, role_body(&form)).await.map(|_| path.clone())
    };
    match r {
        Ok(to) => see_other(&to),
        Err(f) if f.status == StatusCode::UNAUTHORIZED => failed(&ctx, f),
        Err(f) => {
            let status = f.status;
            let typed = (form.get("action") != "delete").then(|| json!({ "name": form.get("name"), "description": form.get("description"), "permissions": form.all("permissions") }));
            let mut res = run(role_view(&ctx, &id, typed, Some(f)).await);
            *res.status_mut() = status;
            res
        }
    }
}

/// `GET /console/access?permission=&after=`: the check form and who has a permission.
pub async fn access(
    State(c): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    run(async {
        let ctx = signed_in(&c, &headers, "/console/access").await?;
        access_view(&ctx, &query, None, None).await
    }
    .await)
}

async fn access_view(
    ctx: &Ctx,
    query: &Option<String>,
    check: Option<(&Form, Result<Value, Failure>)>,
    _x: Option<()>,
) -> Page {
    let who = q(query, "permission");
    let holders = match &who {
        Some(p) => {
            let mut uri = format!("/v1/organization/permissions/{}/users?limit=100", enc(p));
            if let Some(a) = q(query, "after") {
                uri.push_str(&format!("&after={}", enc(&a)));
            }
            Some(ctx.get(&uri).await)
        }
        None => None,
    };
    let (typed, outcome) = match &check {
        Some((f, r)) => (Some(*f), Some(r)),
        None => (None, None),
    };
    let err = outcome.and_then(|r| r.as_ref().err());
    let val = |n: &str| typed.map(|f| f.get(n).to_owned());
    Ok(page(
        ctx,
        "Access",
        html! {
            h2 { "Check access" }
            form method="post" action="/console/access" {
                (csrf(ctx))
                (form_error(err, &["user_id", "permission", "project_id"]))
                label for="user" { "User" }
                input #user name="user" required value=[val("user")] placeholder="email or user id";
                (field_error(err, "user_id", "user_error"))
                label for="permission" { "Permission" }
                input #permission name="permission" required value=[val("permission")];
                (field_error(err, "permission", "permission_error"))
                label for="project" { "Project" }
                input #project name="project" value=[val("project")] placeholder="optional project id";
                (field_error(err, "project_id", "project_error"))
                p { button type="submit" { "Check access" } }
            }
            @if let Some(Ok(a)) = outcome {
                div role="status" {
                    @if a["allowed"].as_bool().unwrap_or(false) {
                        p.ok { "Allowed" }
                        p { "Because of: " (reasons(&a["reasons"])) }
                    } @else {
                        p.error { "Denied" }
                        @if let Some(r) = a["denied_reason"].as_str() { p { (r) } }
                    }
                }
            }
            h2 { "Who has" }
            form method="get" action="/console/access" {
                label for="who_permission" { "Who has permission" }
                input #who_permission name="permission" required value=[who.as_deref()];
                " " button type="submit" { "List members" }
            }
            @match &holders {
                Some(Ok(list)) => {
                    ul { @for u in items(list) { li { a href={ "/console/members/" (enc(s(u, "id"))) } { code { (s(u, "id")) } } } } }
                    @if items(list).is_empty() { p.muted { "Nobody holds it." } }
                    (next_link(list, &format!("/console/access?permission={}", enc(who.as_deref().unwrap_or("")))))
                }
                Some(Err(f)) => p.error role="alert" { (f.message) },
                None => {}
            }
        },
    ))
}

/// `POST /console/access` (`user`, `permission`, `project`): answers a check.
pub async fn access_check(State(c): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let (ctx, form) = match signed_post(&c, &headers, "/console/access", &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let user = form.get("user").trim().to_owned();
    let user_id = if user.contains('@') {
        match ctx
            .get(&format!(
                "/v1/organization/users?limit=1&emails[]={}",
                enc(&user)
            ))
            .await
        {
            Ok(v) => items(&v).first().map(|u| s(u, "id").to_owned()),
            Err(f) => return failed(&ctx, f),
        }
    } else {
        Some(user.clone())
    };
    let r = match user_id {
        None => Err(Failure::invalid(
            StatusCode::NOT_FOUND,
            "user_id",
            format!("no member has the email {user}"),
        )),
        Some(uid) => {
            ctx.post(
                "/v1/organization/permissions/check",
                json!({ "user_id": uid, "permission": form.get("permission").trim(), "project_id": form.opt("project") }),
            )
            .await
        }
    };
    if let Err(f) = &r {
        if f.status == StatusCode::UNAUTHORIZED {
            return failed(&ctx, Failure::invalid(f.status, "", f.message.clone()));
        }
    }
    let status = r.as_ref().err().map_or(StatusCode::OK, |f| f.status);
    let mut res = run(access_view(&ctx, &None, Some((&form, r)), None).await);
    *res.status_mut() = status;
    res
}

/// `GET /console/audit?type=&actor=&from=&to=&after=`.
pub async fn audit(
    State(c): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    run(async {
        let ctx = signed_in(&c, &headers, "/console/audit").await?;
        let mut uri = "/v1/organization/audit_logs?limit=50".to_owned();
        let mut base = "/console/audit?x=1".to_owned();
        let mut date_error = None;
        for (field, param) in [("type", "event_types[]"), ("actor", "actor_emails[]")] {
            if let Some(v) = q(&query, field) {
                uri.push_str(&format!("&{param}={}", enc(&v)));
                base.push_str(&format!("&{field}={}", enc(&v)));
            }
        }
        for (field, param, add) in [("from", "effective_at[gte]", 0), ("to", "effective_at[lt]", 86_400)] {
            if let Some(v) = q(&query, field) {
                match view::parse_date(&v) {
                    Some(t) => {
                        uri.push_str(&format!("&{param}={}", t + add));
                        base.push_str(&format!("&{field}={}", enc(&v)));
                    }
                    None => date_error = Some(field),
                }
            }
        }
        if let Some(a) = q(&query, "after") {
            uri.push_str(&format!("&after={}", enc(&a)));
        }
        let list = ctx.get(&uri).await;
        if let Err(f) = &list {
            if f.status == StatusCode::UNAUTHORIZED {
                return Err(read(&ctx, list).err().unwrap_or_else(|| see_other("/console/login")));
            }
        }
        let v = |n: &str| q(&query, n);
        Ok(page(
            &ctx,
            "Audit log",
            html! {
                form method="get" action="/console/audit" {
                    label for="type" { "Event type" }
                    input #type name="type" value=[v("type")] placeholder="e.g. role.created";
                    label for="actor" { "Actor email" }
                    input #actor name="actor" type="email" value=[v("actor")];
                    label for="from" { "From (date)" }
                    input #from name="from" type="date" value=[v("from")];
                    @if date_error == Some("from") { p.error role="alert" { "Not a date (YYYY-MM-DD)." } }
                    label for="to" { "To (date)" }
                    input #to name="to" type="date" value=[v("to")];
                    @if date_error == Some("to") { p.error role="alert" { "Not a date (YYYY-MM-DD)." } }
                    p { button type="submit" { "Filter" } }
                }
                @match &list {
                    Ok(l) => { (audit_table(items(l))) (next_link(l, &base)) }
                    Err(f) => p.error role="alert" { (f.message) },
                }
            },
        ))
    }
    .await)
}

/// `GET /console/invites`.
pub async fn invites(State(c): State<Shared>, headers: HeaderMap) -> Response {
    run(async {
        let ctx = signed_in(&c, &headers, "/console/invites").await?;
        invites_view(&ctx, None, None).await
    }
    .await)
}

async fn invites_view(ctx: &Ctx, created: Option<Value>, err: Option<(Form, Failure)>) -> Page {
    let list = read(ctx, ctx.get("/v1/organization/invites?limit=100").await)?;
    let e = err.as_ref().map(|(_, f)| f);
    let typed = |n: &str| err.as_ref().map(|(f, _)| f.get(n).to_owned());
    Ok(page(
        ctx,
        "Invites",
        html! {
            @if let Some(inv) = &created {
                div role="status" {
                    p.ok { "Invitation created for " (s(inv, "email")) ". Send this link; it is shown only now:" }
                    p.secret { (inv["accept_url"].as_str().unwrap_or("")) }
                }
            }
            h2 { "Invite someone" }
            form method="post" action="/console/invites" {
                (csrf(ctx))
                input type="hidden" name="action" value="create";
                (form_error(e, &["email", "role", "projects"]))
                label for="email" { "Email" }
                input #email name="email" type="email" required value=[typed("email")];
                (field_error(e, "email", "email_error"))
                label for="invite_role" { "Role" }
                select #invite_role name="role" { option value="reader" { "reader" } option value="member" selected { "member" } option value="admin" { "admin" } option value="owner" { "owner" } }
                (field_error(e, "role", "role_error"))
                label for="projects" { "Projects (optional, ids separated by spaces; joined as member)" }
                input #projects name="projects" value=[typed("projects")];
                (field_error(e, "projects", "projects_error"))
                p { button type="submit" { "Create invitation" } }
            }
            h2 { "Invitations" }
            table {
                thead { tr { th { "Email" } th { "Role" } th { "Status" } th { "Expires" } th { "Revoke" } } }
                tbody {
                    @for i in items(&list) {
                        tr {
                            td { (s(i, "email")) } td { (s(i, "role")) } td { (s(i, "status")) }
                            td { (time(i["expires_at"].as_i64().unwrap_or(0))) }
                            td {
                                @if s(i, "status") == "pending" {
                                    form.inline method="post" action="/console/invites" {
                                        (csrf(ctx))
                                        input type="hidden" name="action" value="revoke";
                                        input type="hidden" name="invite_id" value=(s(i, "id"));
                                        button.danger type="submit" aria-label={ "Revoke the invitation of " (s(i, "email")) } { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if items(&list).is_empty() { p.muted { "No invitations." } }
        },
    ))
}

/// `POST /console/invites`: create or revoke.
pub async fn invites_action(State(c): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let (ctx, form) = match signed_post(&c, &headers, "/console/invites", &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if form.get("action") == "revoke" {
        return match ctx
            .delete(&format!(
                "/v1/organization/invites/{}",
                enc(form.get("invite_id"))
            ))
            .await
        {
            Ok(_) => see_other("/console/invites"),
            Err(f) => failed(&ctx, f),
        };
    }
    let projects: Vec<Value> = form
        .get("projects")
        .split_whitespace()
        .map(|p| json!({ "id": p, "role": "member" }))
        .collect();
    let mut b = json!({ "email": form.get("email").trim(), "role": form.get("role") });
    if !projects.is_empty() {
        b["projects"] = Value::Array(projects);
    }
    match ctx.post("/v1/organization/invites", b).await {
        Ok(inv) => run(invites_view(&ctx, Some(inv), None).await),
        Err(f) if f.status == StatusCode::UNAUTHORIZED => failed(&ctx, f),
        Err(f) => {
            let status = f.status;
            let mut res = run(invites_view(&ctx, None, Some((form, f))).await);
            *res.status_mut() = status;
            res
        }
    }
}

/// A list page with a one-field create form: groups and projects.
struct Simple {
    title: &'static str,
    path: &'static str,
    api: &'static str,
    field: &'static str,
}

const GROUPS: Simple = Simple {
    title: "Groups",
    path: "/console/groups",
    api: "/v1/organization/groups",
    field: "name",
};
const PROJECTS: Simple = Simple {
    title: "Projects",
    path: "/console/projects",
    api: "/v1/organization/projects",
    field: "name",
};

async fn simple_view(ctx: &Ctx, k: &Simple, err: Option<(Form, Failure)>) -> Page {
    let list = read(ctx, ctx.get(&format!("{}?limit=100", k.api)).await)?;
    let e = err.as_ref().map(|(_, f)| f);
    Ok(page(
        ctx,
        k.title,
        html! {
            form method="post" action=(k.path) {
                (csrf(ctx))
                (form_error(e, &[k.field]))
                label for="new_name" { "Name" }
                input #new_name name="name" required value=[err.as_ref().map(|(f, _)| f.get("name"))];
                (field_error(e, k.field, "name_error"))
                " " button type="submit" { "Create" }
            }
            table {
                thead { tr { th { "Name" } th { "Id" } th { "Created" } th { "Status" } } }
                tbody {
                    @for g in items(&list) {
                        tr {
                            td { a href={ (k.path) "/" (enc(s(g, "id"))) } { (s(g, "name")) } }
                            td { code { (s(g, "id")) } }
                            td { (time(g["created_at"].as_i64().unwrap_or(0))) }
                            td { (g["status"].as_str().unwrap_or("active")) }
                        }
                    }
                }
            }
            @if items(&list).is_empty() { p.muted { "None yet." } }
        },
    ))
}

async fn simple_create(c: Shared, headers: HeaderMap, body: Bytes, k: &Simple) -> Response {
    let (ctx, form) = match signed_post(&c, &headers, k.path, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match ctx
        .post(k.api, json!({ "name": form.get("name").trim() }))
        .await
    {
        Ok(_) => see_other(k.path),
        Err(f) if f.status == StatusCode::UNAUTHORIZED => failed(&ctx, f),
        Err(f) => {
            let status = f.status;
            let mut res = run(simple_view(&ctx, k, Some((form, f))).await);
            *res.status_mut() = status;
            res
        }
    }
}

/// `GET /console/groups`.
pub async fn groups(State(c): State<Shared>, headers: HeaderMap) -> Response {
    run(async {
        let ctx = signed_in(&c, &headers, GROUPS.path).await?;
        simple_view(&ctx, &GROUPS, None).await
    }
    .await)
}

/// `POST /console/groups`: create.
pub async fn groups_action(State(c): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    simple_create(c, headers, body, &GROUPS).await
}

/// `GET /console/projects`.
pub async fn projects(State(c): State<Shared>, headers: HeaderMap) -> Response {
    run(async {
        let ctx = signed_in(&c, &headers, PROJECTS.path).await?;
        simple_view(&ctx, &PROJECTS, None).await
    }
    .await)
}

/// `POST /console/projects`: create.
pub async fn projects_action(State(c): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    simple_create(c, headers, body, &PROJECTS).await
}

/// Members and roles of a group or project, with add and remove forms.
async fn holder_view(ctx: &Ctx, kind: &str, id: &str, err: Option<Failure>) -> Page {
    let (obj, users, roles, path) = if kind == "group" {
        (
            format!("/v1/organization/groups/{}", enc(id)),
            format!("/v1/organization/groups/{}/users?limit=100", enc(id)),
            format!("/v1/organization/groups/{}/roles?limit=100", enc(id)),
            format!("/console/groups/{}", enc(id)),
        )
    } else {
        (
            format!("/v1/organization/projects/{}", enc(id)),
            format!("/v1/organization/projects/{}/users?limit=100", enc(id)),
            format!("/v1/organization/projects/{}/groups?limit=100", enc(id)),
            format!("/console/projects/{}", enc(id)),
        )
    };
    let o = read(ctx, ctx.get(&obj).await)?;
    let users = ctx.get(&users).await;
    let roles = ctx.get(&roles).await;
    let grantable = if kind == "group" {
        ctx.get("/v1/organization/roles").await.ok()
    } else {
        None
    };
    let e = err.as_ref();
    let title = format!(
        "{} {}",
        if kind == "group" { "Group" } else { "Project" },
        s(&o, "name")
    );
    Ok(page(
        ctx,
        &title,
        html! {
            p { "Id " code { (s(&o, "id")) } @if let Some(st) = o["status"].as_str() { " · " (st) } }
            (form_error(e, &["user_id", "role_id"]))
            h2 { "Members" }
            @match &users {
                Ok(l) => ul { @for u in items(l) { li { (u["email"].as_str().or(u["user"]["email"].as_str()).unwrap_or(s(u, "id"))) " " code { (u["id"].as_str().or(u["user"]["id"].as_str()).unwrap_or("")) } } } },
                Err(f) => p.muted { (f.message) },
            }
            form method="post" action=(path) {
                (csrf(ctx))
                input type="hidden" name="action" value="add";
                label for="user_id" { "Add member (user id)" }
                input #user_id name="user_id" required;
                (field_error(e, "user_id", "user_id_error"))
                " " button type="submit" { "Add" }
            }
            h2 { (if kind == "group" { "Roles" } else { "Groups" }) }
            @match &roles {
                Ok(l) => ul { @for r in items(l) { li { (r["role"]["name"].as_str().or(r["group"]["name"].as_str()).or(r["name"].as_str()).unwrap_or("")) } } },
                Err(f) => p.muted { (f.message) },
            }
            @if let Some(all) = &grantable {
                form method="post" action=(path) {
                    (csrf(ctx))
                    input type="hidden" name="action" value="grant";
                    label for="group_role" { "Grant role to the group" }
                    select #group_role name="role_id" {
                        @for r in items(all).iter().filter(|r| !r["predefined_role"].as_bool().unwrap_or(false)) {
                            option value=(s(r, "id")) { (s(r, "name")) }
                        }
                    }
                    " " button type="submit" { "Grant" }
                    (field_error(e, "role_id", "group_role_error"))
                }
            }
            @if kind == "project" && s(&o, "status") != "archived" {
                form method="post" action=(path) {
                    (csrf(ctx))
                    input type="hidden" name="action" value="archive";
                    button.danger type="submit" { "Archive project" }
                }
            }
            @if kind == "group" {
                form method="post" action=(path) {
                    (csrf(ctx))
                    input type="hidden" name="action" value="delete";
                    button.danger type="submit" { "Delete group" }
                }
            }
        },
    ))
}

async fn holder_action(
    c: Shared,
    headers: HeaderMap,
    kind: &str,
    id: String,
    body: Bytes,
) -> Response {
    let (path, api, list) = if kind == "group" {
        (
            format!("/console/groups/{}", enc(&id)),
            format!("/v1/organization/groups/{}", enc(&id)),
            "/console/groups",
        )
    } else {
        (
            format!("/console/projects/{}", enc(&id)),
            format!("/v1/organization/projects/{}", enc(&id)),
            "/console/projects",
        )
    };
    let (ctx, form) = match signed_post(&c, &headers, &path, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (r, to) = match form.get("action") {
        "add" => {
            let mut b = json!({ "user_id": form.get("user_id").trim() });
            if kind == "project" {
                b["role"] = json!("member");
            }
            (ctx.post(&format!("{api}/users"), b).await, path.clone())
        }
        "grant" => (
            ctx.post(
                &format!("{api}/roles"),
                json!({ "role_id": form.get("role_id") }),
            )
            .await,
            path.clone(),
        ),
        "archive" => (
            ctx.post(&format!("{api}/archive"), json!({})).await,
            path.clone(),
        ),
        "delete" => (ctx.delete(&api).await, list.to_owned()),
        _ => return view::error_page(StatusCode::BAD_REQUEST, "unknown action"),
    };
    match r {
        Ok(_) => see_other(&to),
        Err(f) if f.status == StatusCode::UNAUTHORIZED => failed(&ctx, f),
        Err(f) => {
            let status = f.status;
            let mut res = run(holder_view(&ctx, kind, &id, Some(f)).await);
            *res.status_mut() = status;
            res
        }
    }
}

/// `GET /console/groups/{group_id}`.
pub async fn group(
    State(c): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    run(async {
        let ctx = signed_in(&c, &headers, &format!("/console/groups/{}", enc(&id))).await?;
        holder_view(&ctx, "group", &id, None).await
    }
    .await)
}

/// `POST /console/groups/{group_id}`.
pub async fn group_action(
    State(c): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    holder_action(c, headers, "group", id, body).await
}

/// `GET /console/projects/{project_id}`.
pub async fn project(
    State(c): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    run(async {
        let ctx = signed_in(&c, &headers, &format!("/console/projects/{}", enc(&id))).await?;
        holder_view(&ctx, "project", &id, None).await
    }
    .await)
}

/// `POST /console/projects/{project_id}`.
pub async fn project_action(
    State(c): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    holder_action(c, headers, "project", id, body).await
}

/// `GET /console/permissions`: the catalog, with register and delete.
pub async fn permissions(State(c): State<Shared>, headers: HeaderMap) -> Response {
    run(async {
        let ctx = signed_in(&c, &headers, "/console/permissions").await?;
        permissions_view(&ctx, None).await
    }
    .await)
}

async fn permissions_view(ctx: &Ctx, err: Option<(Form, Failure)>) -> Page {
    let list = read(
        ctx,
        ctx.get("/v1/organization/permissions?limit=1000").await,
    )?;
    let e = err.as_ref().map(|(_, f)| f);
    Ok(page(
        ctx,
        "Permissions",
        html! {
            h2 { "Register a permission" }
            form method="post" action="/console/permissions" {
                (csrf(ctx))
                input type="hidden" name="action" value="create";
                (form_error(e, &["name", "description"]))
                label for="perm_name" { "Name" }
                input #perm_name name="name" required placeholder="e.g. invoices.read" value=[err.as_ref().map(|(f, _)| f.get("name"))];
                (field_error(e, "name", "perm_name_error"))
                label for="perm_description" { "Description" }
                input #perm_description name="description";
                p { button type="submit" { "Register" } }
            }
            h2 { "Catalog" }
            table {
                thead { tr { th { "Name" } th { "Description" } th { "Kind" } th { "Delete" } } }
                tbody {
                    @for p in items(&list) {
                        tr {
                            td { code { (s(p, "name")) } }
                            td { (s(p, "description")) }
                            td { (if p["builtin"].as_bool().unwrap_or(false) { "built-in" } else { "organization" }) }
                            td {
                                @if !p["builtin"].as_bool().unwrap_or(false) {
                                    form.inline method="post" action="/console/permissions" {
                                        (csrf(ctx))
                                        input type="hidden" name="action" value="delete";
                                        input type="hidden" name="name" value=(s(p, "name"));
                                        button.danger type="submit" aria-label={ "Delete permission " (s(p, "name")) } { "Delete" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    ))
}

/// `POST /console/permissions`: register or delete.
pub async fn permissions_action(
    State(c): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (ctx, form) = match signed_post(&c, &headers, "/console/permissions", &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let r = if form.get("action") == "delete" {
        ctx.delete(&format!(
            "/v1/organization/permissions/{}",
            enc(form.get("name"))
        ))
        .await
    } else {
        ctx.post(
            "/v1/organization/permissions",
            json!({ "name": form.get("name").trim(), "description": form.opt("description") }),
        )
        .await
    };
    match r {
        Ok(_) => see_other("/console/permissions"),
        Err(f) if f.status == StatusCode::UNAUTHORIZED => failed(&ctx, f),
        Err(f) => {
            let status = f.status;
            let mut res = run(permissions_view(&ctx, Some((form, f))).await);
            *res.status_mut() = status;
            res
        }
    }
}

/// `GET /console/keys`: admin keys (for those who may read them) and the caller's user keys.
pub async fn api_keys(State(c): State<Shared>, headers: HeaderMap) -> Response {
    run(async {
        let ctx = signed_in(&c, &headers, "/console/keys").await?;
        keys_view(&ctx, None, None).await
    }
    .await)
}

async fn keys_view(ctx: &Ctx, created: Option<Value>, err: Option<Failure>) -> Page {
    let admin = ctx.get("/v1/organization/admin_api_keys?limit=100").await;
    if let Err(f) = &admin {
        if f.status == StatusCode::UNAUTHORIZED {
            return Err(failed(
                ctx,
                Failure::invalid(f.status, "", f.message.clone()),
            ));
        }
    }
    let e = err.as_ref();
    Ok(page(
        ctx,
        "API keys",
        html! {
            @if let Some(k) = &created {
                div role="status" {
                    p.ok { "Key " (s(k, "name")) " created. Copy it now; it is never shown again:" }
                    p.secret { (s(k, "value")) }
                }
            }
            h2 { "New admin key" }
            form method="post" action="/console/keys" {
                (csrf(ctx))
                input type="hidden" name="action" value="create_admin";
                (form_error(e, &["name"]))
                label for="key_name" { "Admin key name" }
                input #key_name name="name" required;
                (field_error(e, "name", "key_name_error"))
                p { button type="submit" { "Create admin key" } }
            }
            h2 { "New user key" }
            form method="post" action="/console/keys" {
                (csrf(ctx))
                input type="hidden" name="action" value="create_user";
                label for="user_key_user" { "User id" }
                input #user_key_user name="user_id" required;
                label for="user_key_name" { "User key name" }
                input #user_key_name name="name" required;
                p { button type="submit" { "Create user key" } }
            }
            h2 { "Admin keys" }
            @match &admin {
                Ok(l) => (key_table(ctx, items(l), "/console/keys", false)),
                Err(f) => p.muted { (f.message) },
            }
            p.muted { "A member's user keys are on their page under Members." }
        },
    ))
}

/// `POST /console/keys`: create (shown once) or revoke.
pub async fn api_keys_action(State(c): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let (ctx, form) = match signed_post(&c, &headers, "/console/keys", &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let r = match form.get("action") {
        "create_admin" => {
            ctx.post(
                "/v1/organization/admin_api_keys",
                json!({ "name": form.get("name").trim() }),
            )
            .await
        }
        "create_user" => {
            ctx.post(
                &format!(
                    "/v1/organization/users/{}/api_keys",
                    enc(form.get("user_id").trim())
                ),
                json!({ "name": form.get("name").trim() }),
            )
            .await
        }
        "revoke" => {
            let uri = if form.get("kind") == "user" {
                format!(
                    "/v1/organization/users/{}/api_keys/{}",
                    enc(form.get("owner")),
                    enc(form.get("key_id"))
                )
            } else {
                format!(
                    "/v1/organization/admin_api_keys/{}",
                    enc(form.get("key_id"))
                )
            };
            return match ctx.delete(&uri).await {
                Ok(_) => {
                    let back = form.get("back");
                    see_other(if back.starts_with("/console/") {
                        back
                    } else {
                        "/console/keys"
                    })
                }
                Err(f) => failed(&ctx, f),
            };
        }
        _ => return view::error_page(StatusCode::BAD_REQUEST, "unknown action"),
    };
    match r {
        Ok(k) => run(keys_view(&ctx, Some(k), None).await),
        Err(f) if f.status == StatusCode::UNAUTHORIZED => failed(&ctx, f),
        Err(f) => {
            let status = f.status;
            let mut res = run(keys_view(&ctx, None, Some(f)).await);
            *res.status_mut() = status;
            res
        }
    }
}

/// `GET /console/organizations` (platform operators).
pub async fn organizations(
    State(c): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    run(async {
        let ctx = signed_in(&c, &headers, "/console/organizations").await?;
        orgs_view(&ctx, &query, None, None).await
    }
    .await)
}

async fn orgs_view(
    ctx: &Ctx,
    query: &Option<String>,
    shown: Option<Markup>,
    err: Option<Failure>,
) -> Page {
    let mut uri = "/v1/platform/organizations?limit=100".to_owned();
    if let Some(a) = q(query, "after") {
        uri.push_str(&format!("&after={}", enc(&a)));
    }
    let list = read(ctx, ctx.get(&uri).await)?;
    let e = err.as_ref();
    Ok(page(
        ctx,
        "Organizations",
        html! {
            @if let Some(m) = shown { div role="status" { (m) } }
            (form_error(e, &["name"]))
            h2 { "New organization" }
            form method="post" action="/console/organizations" {
                (csrf(ctx))
                input type="hidden" name="action" value="create";
                label for="org_name" { "Name" }
                input #org_name name="name" required;
                label for="owner_email" { "Owner email" }
                input #owner_email name="owner_email" type="email" required;
                (field_error(e, "name", "org_name_error"))
                p { button type="submit" { "Create organization" } }
            }
            table {
                thead { tr { th { "Name" } th { "Id" } th { "Created" } th { "Rename" } th { "Recovery" } } }
                tbody {
                    @for o in items(&list) {
                        tr {
                            td { (s(o, "name")) }
                            td { code { (s(o, "id")) } }
                            td { (time(o["created_at"].as_i64().unwrap_or(0))) }
                            td {
                                form.inline method="post" action="/console/organizations" {
                                    (csrf(ctx))
                                    input type="hidden" name="action" value="rename";
                                    input type="hidden" name="org_id" value=(s(o, "id"));
                                    label for={ "rename_" (s(o, "id")) } { "New name for " (s(o, "name")) }
                                    input id={ "rename_" (s(o, "id")) } name="name" required;
                                    " " button type="submit" aria-label={ "Rename " (s(o, "name")) } { "Rename" }
                                }
                            }
                            td {
                                form.inline method="post" action="/console/organizations" {
                                    (csrf(ctx))
                                    input type="hidden" name="action" value="recovery";
                                    input type="hidden" name="org_id" value=(s(o, "id"));
                                    button type="submit" aria-label={ "Recovery key for " (s(o, "name")) } { "Recovery key" }
                                }
                            }
                        }
                    }
                }
            }
            (next_link(&list, "/console/organizations"))
        },
    ))
}

/// `POST /console/organizations`: create, rename, recovery key.
pub async fn organizations_action(
    State(c): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (ctx, form) = match signed_post(&c, &headers, "/console/organizations", &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let org = enc(form.get("org_id"));
    let r = match form.get("action") {
        "create" => {
            ctx.post(
                "/v1/organizations",
                json!({ "name": form.get("name").trim(), "owner_email": form.get("owner_email").trim() }),
            )
            .await
        }
        "rename" => ctx.post(&format!("/v1/platform/organizations/{org}"), json!({ "name": form.get("name").trim() })).await,
        "recovery" => ctx.post(&format!("/v1/platform/organizations/{org}/admin_api_keys"), json!({})).await,
        _ => return view::error_page(StatusCode::BAD_REQUEST, "unknown action"),
    };
    match r {
        Ok(v) => {
            let secret = v["value"]
                .as_str()
                .or(v["admin_api_key"]["value"].as_str())
                .or(v["owner_admin_key"]["value"].as_str());
            let shown = secret.map(|k| html! { p.ok { "Copy this key now; it is never shown again:" } p.secret { (k) } });
            match shown {
                Some(m) => run(orgs_view(&ctx, &None, Some(m), None).await),
                None => see_other("/console/organizations"),
            }
        }
        Err(f) if f.status == StatusCode::UNAUTHORIZED => failed(&ctx, f),
        Err(f) => {
            let status = f.status;
            let mut res = run(orgs_view(&ctx, &None, None, Some(f)).await);
            *res.status_mut() = status;
            res
        }
    }
}
